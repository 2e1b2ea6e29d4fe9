//! `sqlite_to_postgres` where the task runs: an SQLite file on an SSH test host
//! (snapshot taken there as the become user, fetched, removed) migrated into a
//! throwaway PostgreSQL 15 cluster reached through an SSH forward of the host's
//! unix socket with a password role; and an `ansible_connection: postgres`
//! host (`pg_url`) with the file on the controller.
//!
//! The SSH tests read TBUDDY_TEST_SSH_INVENTORY (the `sandbox` of `sshd1`) and
//! TBUDDY_SSH_TEST_HOST/PORT/KEY/KNOWN_HOSTS/SUDO_USER, as tests/run-all.sh
//! sets them. The sshd test hosts share /tmp with the machine, so the cluster's
//! socket directory is the same path on both sides. Under CI=true a missing
//! prerequisite fails these tests.

mod common;
#[path = "../src/testsupport/pg.rs"]
mod pg;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use pg::{PgCluster, not_run};

const ROLE_PASSWORD: &str = "s3cret-app-pw";

/// The SSH test host settings, or None after `not_run`.
struct SshHost {
    addr: String,
    port: String,
    key: String,
    known_hosts: String,
    sudo_user: String,
    sandbox: PathBuf,
}

fn ssh_host(test: &str) -> Option<SshHost> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let names = [
        "TBUDDY_TEST_SSH_INVENTORY",
        "TBUDDY_SSH_TEST_HOST",
        "TBUDDY_SSH_TEST_PORT",
        "TBUDDY_SSH_TEST_KEY",
        "TBUDDY_SSH_TEST_KNOWN_HOSTS",
        "TBUDDY_SSH_TEST_SUDO_USER",
    ];
    if let Some(missing) = names.iter().find(|n| var(n).is_none()) {
        not_run(
            test,
            &format!("{missing} is not set (tests/run-all.sh sets it; see tests/hosts/README.md)"),
        );
        return None;
    }
    let inventory = fs::read_to_string(var(names[0]).unwrap()).expect("the test inventory");
    let sandbox = inventory
        .lines()
        .skip_while(|l| l.trim() != "sshd1:")
        .find_map(|l| l.trim().strip_prefix("sandbox: ").map(PathBuf::from))
        .expect("a sandbox for sshd1 in the test inventory");
    Some(SshHost {
        addr: var(names[1]).unwrap(),
        port: var(names[2]).unwrap(),
        key: var(names[3]).unwrap(),
        known_hosts: var(names[4]).unwrap(),
        sudo_user: var(names[5]).unwrap(),
        sandbox,
    })
}

impl SshHost {
    /// An inventory with host `sshd1`, logging in as the passwordless-sudo user.
    fn inventory(&self) -> String {
        format!(
            "all:\n  hosts:\n    sshd1:\n      ansible_connection: ssh\n      ansible_host: {}\n      ansible_port: {}\n      ansible_user: {}\n      ansible_ssh_private_key_file: {}\n      ansible_ssh_common_args: '-o UserKnownHostsFile={} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'\n",
            self.addr, self.port, self.sudo_user, self.key, self.known_hosts
        )
    }
}

/// A cluster whose socket the hosts' login users can reach, with roles `app`
/// (password, scram-sha-256 on the socket) and `peeruser` (peer only), and an
/// empty database `db` owned by `app`.
fn cluster(test: &str, dbs: &[&str]) -> Option<PgCluster> {
    let pg = PgCluster::start(test)?;
    fs::set_permissions(pg.dir(), fs::Permissions::from_mode(0o711)).unwrap();
    pg.psql(
        "postgres",
        &format!("CREATE ROLE app LOGIN PASSWORD '{ROLE_PASSWORD}'"),
    );
    pg.psql("postgres", "CREATE ROLE peeruser LOGIN");
    for db in dbs {
        pg.psql("postgres", &format!("CREATE DATABASE {db} OWNER app"));
    }
    let hba = pg.data_dir().join("pg_hba.conf");
    let old = fs::read_to_string(&hba).unwrap();
    fs::write(
        &hba,
        format!("local all app scram-sha-256\nlocal all peeruser peer\n{old}"),
    )
    .unwrap();
    pg.psql("postgres", "SELECT pg_reload_conf()");
    // The password is needed now.
    let refused = pg.psql_as("app", None, "postgres", "SELECT 1").unwrap_err();
    assert!(refused.contains("password"), "{refused}");
    Some(pg)
}

fn tables(pg: &PgCluster, db: &str) -> String {
    pg.psql(
        db,
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
    )
    .trim()
    .to_string()
}

fn write_source(path: &Path) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE ChatSettings (chat_id TEXT PRIMARY KEY, language_codes TEXT, updated_at TEXT);
         INSERT INTO ChatSettings VALUES ('-1001', 'en,de', '2024-05-01T10:00:00.123456'),
                                         ('-1002', 'fr', '2024-05-02T11:00:00');",
    )
    .unwrap();
}

fn changed(text: &str, host: &str) -> u64 {
    common::recap_hosts(text)[host]["changed"]
        .as_u64()
        .unwrap_or_else(|| panic!("no recap for {host}:\n{text}"))
}

/// Snapshot directories this test left in /tmp (none may stay).
fn snapshot_dirs() -> Vec<String> {
    fs::read_dir("/tmp")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tbuddy-snapshot."))
        .collect()
}

#[test]
#[ignore = "needs sshd test hosts: run tests/run-all.sh"]
fn ssh_host_file_into_the_hosts_server_through_a_forward() {
    let test = "migrate_remote::ssh_host_file";
    let Some(host) = ssh_host(test) else { return };
    let Some(pg) = cluster(test, &["remote"]) else {
        return;
    };
    let before = snapshot_dirs();
    // On the host, readable only by root: the task's become must be honoured.
    let area = host.sandbox.join("migrate-remote");
    let _ = fs::remove_dir_all(&area);
    fs::create_dir_all(&area).unwrap();
    let src = area.join("bot.db");
    write_source(&src);
    fs::set_permissions(&src, fs::Permissions::from_mode(0o600)).unwrap();

    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("hosts.yml"), host.inventory()).unwrap();
    let play = |user: &str, state: &str| {
        format!(
            "- hosts: sshd1\n  gather_facts: no\n  become: true\n  tasks:\n    - name: move the bot's settings to PostgreSQL\n      sqlite_to_postgres:\n        src: {}\n        db: remote\n        login_unix_socket: {}\n        login_port: {}\n        login_user: {user}\n        login_password: {ROLE_PASSWORD}\n        state: {state}\n",
            src.display(),
            pg.socket_dir().display(),
            pg.port()
        )
    };
    fs::write(dir.path().join("site.yml"), play("app", "present")).unwrap();
    fs::write(dir.path().join("absent.yml"), play("app", "absent")).unwrap();
    fs::write(dir.path().join("peer.yml"), play("peeruser", "present")).unwrap();
    let run = |args: &[&str]| common::run(dir.path(), args);

    // Without become the file cannot be read: the host and the reason are named.
    let nobecome = play("app", "present").replace("  become: true\n", "");
    fs::write(dir.path().join("nobecome.yml"), nobecome).unwrap();
    let (code, text) = run(&["plan", "-i", "hosts.yml", "nobecome.yml"]);
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("host sshd1"), "{text}");
    assert!(text.contains("not readable by"), "{text}");

    let (code, text) = run(&["plan", "-i", "hosts.yml", "site.yml", "--diff"]);
    assert_eq!(code, 0, "{text}");
    let from = format!("from sshd1:{}", src.display());
    assert!(text.contains("migrate 1 tables (2 rows)"), "{text}");
    assert!(text.contains(&from), "{text}");
    assert!(text.contains("(through ssh)"), "{text}");
    assert!(
        text.contains("CREATE TABLE \"public\".\"chatsettings\""),
        "{text}"
    );
    assert_eq!(tables(&pg, "remote"), "0", "plan wrote to the target");

    let (code, text) = run(&["apply", "-i", "hosts.yml", "site.yml", "-y", "--json"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(changed(&text, "sshd1"), 1, "{text}");
    assert_eq!(
        pg.psql(
            "remote",
            "SELECT string_agg(chat_id || ' ' || language_codes, ';' ORDER BY chat_id) FROM chatsettings"
        )
        .trim(),
        "-1001 en,de;-1002 fr"
    );
    // The migrated tables belong to the role that loaded them.
    assert_eq!(
        pg.psql(
            "remote",
            "SELECT tableowner FROM pg_tables WHERE tablename = 'chatsettings'"
        )
        .trim(),
        "app"
    );

    let (code, text) = run(&["apply", "-i", "hosts.yml", "site.yml", "-y", "--json"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(changed(&text, "sshd1"), 0, "second apply:\n{text}");

    let (code, text) = run(&["rollback", "1", "-y"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(tables(&pg, "remote"), "0", "rollback left tables:\n{text}");

    // Migrated again, then rolled back with state: absent.
    let (code, text) = run(&["apply", "-i", "hosts.yml", "site.yml", "-y", "--json"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(changed(&text, "sshd1"), 1, "{text}");
    let (code, text) = run(&["apply", "-i", "hosts.yml", "absent.yml", "-y", "--json"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(changed(&text, "sshd1"), 1, "{text}");
    assert_eq!(tables(&pg, "remote"), "0", "state: absent left tables");
    let (code, text) = run(&["apply", "-i", "hosts.yml", "absent.yml", "-y", "--json"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(changed(&text, "sshd1"), 0, "{text}");

    // Peer authentication through the forward: the reason and the way out.
    let (code, text) = run(&["apply", "-i", "hosts.yml", "peer.yml", "-y"]);
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("Peer authentication failed"), "{text}");
    assert!(
        text.contains("peer/ident authentication cannot work"),
        "{text}"
    );

    let left: Vec<String> = snapshot_dirs()
        .into_iter()
        .filter(|d| !before.contains(d))
        .collect();
    assert_eq!(left, Vec::<String>::new(), "snapshots left on the host");
    let forwards: Vec<String> = fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("tbuddy-pgfwd-{}-", std::process::id())))
        .collect();
    assert_eq!(forwards, Vec::<String>::new());
    let _ = fs::remove_dir_all(&area);
}

#[test]
#[ignore = "needs PostgreSQL 15: run tests/run-all.sh"]
fn postgres_host_with_the_file_on_the_controller() {
    let test = "migrate_remote::postgres_host";
    let Some(pg) = cluster(test, &["managed"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("bot.db");
    write_source(&src);
    let socket: String = pg
        .socket_dir()
        .to_string_lossy()
        .replace('%', "%25")
        .replace('/', "%2F");
    fs::write(
        dir.path().join("hosts.yml"),
        format!(
            "all:\n  hosts:\n    pgdb:\n      ansible_connection: postgres\n      pg_url: 'postgresql://app:{ROLE_PASSWORD}@{socket}:{}/postgres?sslmode=disable'\n",
            pg.port()
        ),
    )
    .unwrap();
    let play = |state: &str| {
        format!(
            "- hosts: pgdb\n  gather_facts: no\n  tasks:\n    - sqlite_to_postgres:\n        src: {}\n        db: managed\n        state: {state}\n",
            src.display()
        )
    };
    fs::write(dir.path().join("site.yml"), play("present")).unwrap();
    fs::write(dir.path().join("absent.yml"), play("absent")).unwrap();
    fs::write(
        dir.path().join("moved.yml"),
        play("present").replace("db: managed", "db: managed\n        login_host: elsewhere"),
    )
    .unwrap();
    let run = |args: &[&str]| common::run(dir.path(), args);

    let (code, text) = run(&["plan", "-i", "hosts.yml", "site.yml"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("migrate 1 tables (2 rows)"), "{text}");
    assert!(text.contains(&format!("from {}", src.display())), "{text}");
    assert!(text.contains("app@"), "{text}");
    assert!(text.contains("/managed"), "{text}");
    assert!(!text.contains(ROLE_PASSWORD), "{text}");
    assert_eq!(tables(&pg, "managed"), "0");

    let (code, text) = run(&["apply", "-i", "hosts.yml", "site.yml", "-y", "--json"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(changed(&text, "pgdb"), 1, "{text}");
    assert_eq!(
        pg.psql("managed", "SELECT count(*) FROM chatsettings")
            .trim(),
        "2"
    );
    let (code, text) = run(&["apply", "-i", "hosts.yml", "site.yml", "-y", "--json"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(changed(&text, "pgdb"), 0, "{text}");

    // The address is pg_url's.
    let (code, text) = run(&["plan", "-i", "hosts.yml", "moved.yml"]);
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("comes from pg_url"), "{text}");

    let (code, text) = run(&["apply", "-i", "hosts.yml", "absent.yml", "-y", "--json"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(changed(&text, "pgdb"), 1, "{text}");
    assert_eq!(tables(&pg, "managed"), "0");
}
