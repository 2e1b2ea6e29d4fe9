//! A throwaway PostgreSQL cluster for tests: `initdb` into a temporary
//! directory, `postgres` listening only on a unix socket in that directory,
//! trust authentication, stopped (`pg_ctl stop -m fast`) and removed on drop.
//!
//! Self-contained (std, nix, tempfile), so an integration test can include it
//! with `#[path = "../src/testsupport/pg.rs"] mod pg;`.
//!
//! Binaries come from `$TBUDDY_PG_BINDIR` or the newest
//! `/usr/lib/postgresql/<version>/bin` (Debian's layout). As root, the
//! cluster runs as the `postgres` OS user, since `initdb` refuses root.

#![allow(dead_code)]

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Port number in the socket file name; nothing listens on TCP unless a
/// test sets `listen_addresses` (and then `port`) itself.
const PORT: u16 = 5432;

pub struct PgCluster {
    dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    child: Option<Child>,
    /// uid/gid the server runs as, when not the current user.
    run_as: Option<(u32, u32)>,
    /// Extra `-c name=value` server settings.
    settings: Vec<(String, String)>,
    /// `PORT`, or the `port` setting given to `start_with`.
    port: u16,
}

/// Where the PostgreSQL server binaries are, if installed.
pub fn find_bin_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("TBUDDY_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        return dir.join("initdb").is_file().then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Reports a missing prerequisite: a failure under CI, a notice elsewhere.
pub fn not_run(test: &str, why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: prerequisite missing under CI: {why}");
    }
    eprintln!("NOT RUN: {test}: {why}");
}

impl PgCluster {
    /// Starts a cluster, or returns `None` after [`not_run`] when PostgreSQL
    /// is not installed. Panics when it is installed but will not start.
    pub fn start(test: &str) -> Option<PgCluster> {
        Self::start_with(test, &[])
    }

    /// [`PgCluster::start`] with extra server settings, e.g.
    /// `("log_statement", "all")` to see every statement in [`PgCluster::log`].
    pub fn start_with(test: &str, settings: &[(&str, &str)]) -> Option<PgCluster> {
        let Some(bin) = find_bin_dir() else {
            not_run(
                test,
                "PostgreSQL server binaries not found (install postgresql, or set TBUDDY_PG_BINDIR)",
            );
            return None;
        };
        let run_as = if nix::unistd::Uid::effective().is_root() {
            match nix::unistd::User::from_name("postgres") {
                Ok(Some(u)) => Some((u.uid.as_raw(), u.gid.as_raw())),
                _ => {
                    not_run(test, "running as root and there is no `postgres` OS user");
                    return None;
                }
            }
        } else {
            None
        };
        // /tmp rather than $TMPDIR: the postgres user must be able to reach
        // it, and unix socket paths are limited to about 100 bytes.
        let base = Path::new("/tmp");
        let base = if base.is_dir() {
            base.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = tempfile::Builder::new()
            .prefix("tbuddy-pg.")
            .tempdir_in(base)
            .expect("temporary directory for the PostgreSQL cluster");
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("chown the cluster directory to postgres");
        }
        let data = dir.path().join("data");
        let mut cluster = PgCluster {
            data,
            bin,
            child: None,
            run_as,
            dir,
            settings: settings
                .iter()
                .filter(|(k, _)| *k != "port")
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            port: settings
                .iter()
                .find(|(k, _)| *k == "port")
                .map_or(PORT, |(_, v)| v.parse().expect("a port number")),
        };
        cluster.initdb();
        cluster.spawn_server();
        cluster.wait_ready();
        Some(cluster)
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        cmd.current_dir(self.dir.path()).env("LC_ALL", "C");
        if let Some((uid, gid)) = self.run_as {
            // std drops supplementary groups when switching from root.
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn initdb(&self) {
        let out = self
            .command("initdb")
            .args(["-D"])
            .arg(&self.data)
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ])
            .stdin(Stdio::null())
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn spawn_server(&mut self) {
        let log = File::create(self.log_path()).expect("create the server log");
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(self.log_path(), Some(uid), Some(gid))
                .expect("chown the server log");
        }
        // Given after the defaults, so a test's `listen_addresses` wins.
        let extra: Vec<String> = self
            .settings
            .iter()
            .flat_map(|(k, v)| ["-c".to_string(), format!("{k}={v}")])
            .collect();
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(&self.data)
            .arg("-k")
            .arg(self.dir.path())
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses="])
            // Durability is not under test here; speed is welcome.
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            .args(&extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start postgres");
        self.child = Some(child);
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "postgres exited during start-up ({status}):\n{}",
                    self.log_tail()
                );
            }
            let ready = Command::new(self.bin.join("pg_isready"))
                .arg("-h")
                .arg(self.dir.path())
                .args(["-p", &self.port.to_string(), "-U", "postgres", "-q"])
                .stdin(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not become ready within 60 s:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The cluster's temporary directory (socket, log; room for test files
    /// the server must read, since the postgres OS user can reach it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Hands a file to the user the server runs as (a TLS key it must read).
    pub fn give_to_server(&self, path: &Path) {
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown to postgres");
        }
    }

    /// The data directory (holds pg_hba.conf).
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// Runs SQL with `psql` as `user` (with `password`, if any) on `db`;
    /// returns stdout, or stderr when psql fails.
    pub fn psql_as(
        &self,
        user: &str,
        password: Option<&str>,
        db: &str,
        sql: &str,
    ) -> Result<String, String> {
        let mut cmd = Command::new(self.bin.join("psql"));
        cmd.arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &self.port.to_string(), "-U", user, "-d", db])
            .args(["-X", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .env_remove("PGPASSWORD")
            .stdin(Stdio::null());
        if let Some(p) = password {
            cmd.env("PGPASSWORD", p);
        }
        let out = cmd.output().expect("run psql");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Directory of the server's unix socket.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// URL of database `db` as the superuser `postgres`, over the socket.
    pub fn url(&self, db: &str) -> String {
        let host: String = self
            .socket_dir()
            .to_string_lossy()
            .bytes()
            .map(|b| match b {
                b'/' => "%2F".to_string(),
                b'%' => "%25".to_string(),
                b => (b as char).to_string(),
            })
            .collect();
        format!("postgresql://postgres@{host}:{}/{db}", self.port)
    }

    /// Runs SQL with `psql` as `postgres` on database `db`; returns stdout
    /// (unaligned, tuples only). Panics on failure.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &self.port.to_string(), "-U", "postgres", "-d", db])
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Creates an empty database and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        self.url(name)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let stopped = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "-t", "30", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            // Fast shutdown by signal, to the server we started and no other.
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGINT,
                );
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}
