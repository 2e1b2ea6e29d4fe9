//! A consistent copy of the source database, taken with SQLite's online
//! backup API in one step (one read transaction), so a bot that keeps
//! writing to the file neither blocks nor tears the migration.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::error::MigrateError;

/// The snapshot file; removed (with its directory) on drop.
#[derive(Debug)]
pub struct Snapshot {
    dir: PathBuf,
    path: PathBuf,
}

impl Snapshot {
    pub fn take(source: &Path) -> Result<Snapshot, MigrateError> {
        if !source.is_file() {
            return Err(MigrateError::Refused(format!(
                "SQLite source {} does not exist or is not a file",
                source.display()
            )));
        }
        let src = open_read_only(source)?;
        let dir = private_temp_dir()?;
        let path = dir.join("snapshot.sqlite");
        let snap = Snapshot { dir, path };
        let mut dst = Connection::open(&snap.path)?;
        // A scratch copy: no journal, no fsync.
        dst.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
        {
            let backup = rusqlite::backup::Backup::new(&src, &mut dst)?;
            // -1: all pages in one step, inside one read transaction.
            loop {
                match backup.step(-1)? {
                    rusqlite::backup::StepResult::Done => break,
                    rusqlite::backup::StepResult::Busy | rusqlite::backup::StepResult::Locked => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    _ => {}
                }
            }
        }
        drop(dst);
        Ok(snap)
    }

    /// A private (0700) directory for a snapshot made elsewhere: the caller writes the
    /// database to `path()`, e.g. a copy fetched from a managed host. Removed on drop
    /// like any snapshot.
    pub fn reserve() -> Result<Snapshot, MigrateError> {
        let dir = private_temp_dir()?;
        let path = dir.join("snapshot.sqlite");
        Ok(Snapshot { dir, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A read-only connection to the snapshot.
    pub fn open(&self) -> Result<Connection, MigrateError> {
        open_read_only(&self.path)
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn open_read_only(path: &Path) -> Result<Connection, MigrateError> {
    let c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| MigrateError::Source {
        path: path.to_path_buf(),
        source,
    })?;
    c.busy_timeout(Duration::from_secs(30))?;
    // Surface a file that is not a database here, with its path.
    c.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
        .map_err(|source| MigrateError::Source {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(c)
}

fn private_temp_dir() -> Result<PathBuf, MigrateError> {
    let base = std::env::temp_dir();
    for n in 0..100u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = base.join(format!("tbuddy-migrate.{}.{nanos}.{n}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(MigrateError::Refused(
        "cannot create a temporary directory".into(),
    ))
}
