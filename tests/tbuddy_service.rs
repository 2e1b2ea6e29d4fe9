//! The stand-in tbuddy service the acceptance tests deploy
//! (tests/fixtures/tbuddy-service): its sample database is deterministic and
//! its /health answers from the configured backend, 500 when that cannot be
//! read. Runs the server on a free loopback port with the system Python; the
//! PostgreSQL case (ignored: tests/run-all.sh runs it) uses a throwaway
//! cluster and Debian's python3-psycopg2.

#[path = "../src/testsupport/pg.rs"]
mod pg;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const PYTHON: &str = "/usr/bin/python3";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tbuddy-service")
        .join(name)
}

fn make_db(path: &Path, rows: usize) {
    let out = Command::new(PYTHON)
        .arg(fixture("make_sample_db.py"))
        .arg(path)
        .args(["--rows", &rows.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// The server on a free port, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(env_file: &Path, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(PYTHON);
        cmd.arg(fixture("tbuddy_health.py"))
            .arg("--env-file")
            .arg(env_file)
            .args(["--listen", "127.0.0.1:0"])
            .env_remove("DATABASE_URL")
            .env_remove("DB_TYPE")
            .env_remove("TBUDDY_SQLITE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("listening on 127.0.0.1:")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Server { child, port }
    }

    /// GET `path`: the status code and the JSON body.
    fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let code = resp
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("not HTTP: {resp:?}"));
        let body = resp.split("\r\n\r\n").nth(1).unwrap_or_default();
        (code, serde_json::from_str(body).unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rows(db: &Path) -> Vec<(i64, String, String, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut st = conn
        .prepare("SELECT chat_id, language_codes, language_names, updated_at FROM ChatSettings ORDER BY chat_id")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn the_sample_database_is_the_same_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    make_db(&a, 300);
    make_db(&b, 300);
    let (ra, rb) = (rows(&a), rows(&b));
    assert_eq!(ra.len(), 300);
    assert_eq!(ra, rb);
    assert!(ra.iter().any(|r| r.0 < 0), "group chats too");
    assert!(ra.iter().any(|r| !r.2.is_ascii()), "names outside ASCII");
    // Made again in place: replaced, not appended to.
    make_db(&a, 250);
    assert_eq!(rows(&a).len(), 250);
}

#[test]
fn health_reports_the_sqlite_backend_and_its_row_count() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat_settings.db");
    make_db(&db, 300);
    let env = dir.path().join("env");
    // The env file wins over the environment (systemd's EnvironmentFile=).
    std::fs::write(
        &env,
        format!("# tbuddy\nTBUDDY_SQLITE=\"{}\"\n", db.display()),
    )
    .unwrap();
    let server = Server::start(&env, &[("TBUDDY_SQLITE", "/nonexistent.db")]);
    let (code, body) = server.get("/health");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["backend"], "sqlite");
    assert_eq!(body["rows"], 300);
    assert_eq!(server.get("/other").0, 404);
}

#[test]
fn health_is_500_when_the_database_cannot_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let cases: [(String, &str); 4] = [
        // Missing file: never created as an empty database.
        (
            format!("TBUDDY_SQLITE={}/missing.db\n", dir.path().display()),
            "sqlite",
        ),
        // A file that is not a database, or lacks the table.
        (format!("TBUDDY_SQLITE={}\n", env.display()), "sqlite"),
        ("DB_TYPE=postgresql\n".to_string(), "postgresql"),
        // Nothing listens there (or psycopg2 is missing): unhealthy either way.
        (
            "DATABASE_URL=postgresql://tbuddy_user:s3cret-pw@127.0.0.1:9/tbuddy_db\n".to_string(),
            "postgresql",
        ),
    ];
    for (text, backend) in cases {
        std::fs::write(&env, &text).unwrap();
        let server = Server::start(&env, &[]);
        let (code, body) = server.get("/health");
        assert_eq!(code, 500, "{text}: {body}");
        assert_eq!(body["status"], "error", "{text}: {body}");
        assert_eq!(body["backend"], backend, "{text}: {body}");
        assert!(!body.to_string().contains("s3cret-pw"), "{body}");
        assert!(path_missing(&dir.path().join("missing.db")));
    }
}

fn path_missing(p: &Path) -> bool {
    !p.exists()
}

#[test]
#[ignore = "needs PostgreSQL and python3-psycopg2 (tests/run-all.sh)"]
fn health_reads_postgresql_when_database_url_is_set() {
    let test = "health_reads_postgresql_when_database_url_is_set";
    let has_driver = Command::new(PYTHON)
        .args(["-c", "import psycopg2"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_driver {
        pg::not_run(test, "python3-psycopg2 is not installed");
        return;
    }
    let Some(cluster) = pg::PgCluster::start(test) else {
        return;
    };
    let table = "(chat_id BIGINT PRIMARY KEY, language_codes TEXT NOT NULL, \
                 language_names TEXT NOT NULL, updated_at TIMESTAMP NOT NULL)";
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    // The name as the bot's SQL writes it (folded to chatsettings), the
    // SQLite spelling kept in quotes, and a database without the table.
    let cases = [
        ("unquoted", "ChatSettings", 3, 200),
        ("quoted", "\"ChatSettings\"", 2, 200),
        ("empty", "", 0, 500),
    ];
    for (db, name, rows, want) in cases {
        let url = cluster.create_database(db);
        if !name.is_empty() {
            cluster.psql(db, &format!("CREATE TABLE {name} {table}"));
            cluster.psql(
                db,
                &format!(
                    "INSERT INTO {name} SELECT g, 'en', 'English', now() FROM generate_series(1, {rows}) g"
                ),
            );
        }
        // DB_TYPE from the booking bot's env wins over the URL's presence.
        std::fs::write(&env, format!("DB_TYPE=postgresql\nDATABASE_URL={url}\n")).unwrap();
        let server = Server::start(&env, &[]);
        let (code, body) = server.get("/health");
        assert_eq!(code, want, "{db}: {body}");
        assert_eq!(body["backend"], "postgresql", "{db}: {body}");
        if want == 200 {
            assert_eq!(body["rows"], rows, "{db}: {body}");
        }
        // DB_TYPE=sqlite sends it back to the SQLite file, URL or not.
        let sqlite = dir.path().join("chat_settings.db");
        make_db(&sqlite, 10);
        std::fs::write(
            &env,
            format!(
                "DB_TYPE=sqlite\nDATABASE_URL={url}\nTBUDDY_SQLITE={}\n",
                sqlite.display()
            ),
        )
        .unwrap();
        let server = Server::start(&env, &[]);
        let (code, body) = server.get("/health");
        assert_eq!(
            (code, body["backend"].as_str()),
            (200, Some("sqlite")),
            "{body}"
        );
    }
}
