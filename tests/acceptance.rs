//! The shipped playbooks, run as a new user would, on nspawn test hosts
//! (Debian 12 with systemd and apt):
//!
//! * `playbooks/tbuddy/`: a stand-in tbuddy bot on SQLite moves to
//!   PostgreSQL on its host (plan, apply, a second apply with no change),
//!   goes back with `rollback --last` (everything the apply did is undone),
//!   moves again, and goes back once more with `rollback.yml`.
//! * `playbooks/booking/fleet.yml`: three clients' databases on a
//!   PostgreSQL cluster of this machine acting as the managed server, three
//!   app hosts rolled over in serial batches; a health failure in batch 2
//!   rolls that batch back to SQLite and stops the rollout.
//!
//! Passwords come from the vault, from the `password` lookup and from the
//! managed server's URL; none may appear in any output or in the state store.
//! Ignored: tests/run-all.sh starts the hosts and runs them.

mod common;
#[path = "../src/testsupport/pg.rs"]
mod pg;

use common::{recap_hosts, state_text};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const VAULT_PASSWORD: &str = "acceptance-vault-pass-7Hq";

fn nspawn_inventory() -> Option<PathBuf> {
    match std::env::var_os("TBUDDY_TEST_NSPAWN_INVENTORY") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var("CI").as_deref() == Ok("true") => panic!(
            "TBUDDY_TEST_NSPAWN_INVENTORY is not set: start tests/hosts/nspawn-up.sh 6 (tests/run-all.sh does)"
        ),
        None => {
            eprintln!("NOT RUN: set TBUDDY_TEST_NSPAWN_INVENTORY (see tests/hosts/README.md)");
            None
        }
    }
}

/// A user's project: the shipped playbooks and templates (and the stand-in
/// bots they install), an inventory directory over the test hosts, a vault
/// password file; every command's output is kept for the secrets check.
struct Project {
    dir: tempfile::TempDir,
    ssh_config: PathBuf,
    outputs: std::cell::RefCell<String>,
}

impl Project {
    fn new(hosts_inventory: &Path) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for sub in ["playbooks", "templates", "tests/fixtures/tbuddy-service"] {
            copy_tree(&root.join(sub), &dir.path().join(sub));
        }
        std::fs::create_dir_all(dir.path().join("bench/migrate")).unwrap();
        std::fs::copy(
            root.join("bench/migrate/gen_booking.py"),
            dir.path().join("bench/migrate/gen_booking.py"),
        )
        .unwrap();
        let inv = dir.path().join("inventory/test");
        std::fs::create_dir_all(inv.join("group_vars")).unwrap();
        std::fs::copy(hosts_inventory, inv.join("hosts.yml")).unwrap();
        std::fs::write(dir.path().join("vault-pass"), format!("{VAULT_PASSWORD}\n")).unwrap();
        Project {
            dir,
            ssh_config: hosts_inventory.parent().unwrap().join("ssh_config"),
            outputs: Default::default(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).unwrap();
    }

    /// Runs the binary in the project; returns the exit code and stdout+stderr.
    fn run(&self, args: &[&str]) -> (i32, String) {
        let (code, text) = common::run(self.dir.path(), args);
        self.outputs.borrow_mut().push_str(&text);
        (code, text)
    }

    /// `KEY: !vault |` lines for an inventory file.
    fn vault_value(&self, name: &str, secret: &str) -> String {
        let (code, text) = self.run(&[
            "vault",
            "encrypt_string",
            "--vault-password-file",
            "vault-pass",
            "--name",
            name,
            secret,
        ]);
        assert_eq!(code, 0, "{text}");
        text.lines()
            .filter(|l| !l.starts_with("Encryption successful"))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    }

    /// `apply` (or `plan`) with the test inventory and the vault password.
    fn tbuddy(&self, verb: &str, playbook: &str, more: &[&str]) -> (i32, String) {
        let mut args = vec![
            verb,
            "-i",
            "test",
            playbook,
            "--vault-password-file",
            "vault-pass",
        ];
        if verb == "apply" {
            args.push("-y");
        }
        args.extend_from_slice(more);
        self.run(&args)
    }

    /// A shell command on a host as root; returns stdout.
    fn sh(&self, host: &str, script: &str) -> String {
        let out = Command::new("ssh")
            .arg("-F")
            .arg(&self.ssh_config)
            .arg(host)
            .arg(script)
            .output()
            .expect("ssh runs");
        assert!(
            out.status.code().is_some_and(|c| c != 255),
            "ssh to {host} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The host's /health answer (retried for a few seconds while the bot starts).
    fn health(&self, host: &str) -> serde_json::Value {
        let mut last = String::new();
        for _ in 0..20 {
            last = self.sh(host, "curl -s --max-time 5 http://127.0.0.1:8080/health");
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&last)
                && v["status"] == "ok"
            {
                return v;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("{host}: /health is not ok: {last}");
    }

    /// No secret in any output of this project or in its state store.
    fn assert_no_secret(&self, secrets: &[String]) {
        let state = state_text(&self.path(".tbuddy/state.db"));
        let outputs = self.outputs.borrow();
        for s in secrets {
            assert!(s.len() >= 8, "a real secret: {s:?}");
            assert!(
                !outputs.contains(s.as_str()),
                "`{s}` in the output:\n{outputs}"
            );
            assert!(!state.contains(s.as_str()), "`{s}` in the state store");
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name == "credentials" || name == "__pycache__" {
            continue;
        }
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(&name));
        } else {
            std::fs::copy(e.path(), to.join(&name)).unwrap();
        }
    }
}

fn has_database_url(env_file: &str) -> bool {
    env_file.lines().any(|l| l.starts_with("DATABASE_URL="))
}

/// The bridge address of the nspawn hosts: the machine as they reach it.
fn bridge_address(inventory: &Path) -> String {
    let text = std::fs::read_to_string(inventory).unwrap();
    let host = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("ansible_host:"))
        .expect("an nspawn host address")
        .trim()
        .trim_matches(['\'', '"']);
    let (net, _) = host.rsplit_once('.').unwrap();
    format!("{net}.1")
}

#[test]
#[ignore = "needs nspawn test hosts: run tests/run-all.sh"]
fn tbuddy_moves_to_postgresql_and_back() {
    let Some(inv) = nspawn_inventory() else {
        return;
    };
    let host = "nspawn3";
    let p = Project::new(&inv);
    let db_password = "tbuddy-db-Pw-from-the-vault-41";
    p.write(
        "inventory/test/groups.yml",
        &format!("all:\n  children:\n    tbuddy:\n      hosts:\n        {host}:\n"),
    );
    p.write(
        "inventory/test/group_vars/tbuddy.yml",
        &p.vault_value("vault_tbuddy_db_password", db_password),
    );

    let (code, text) = p.tbuddy("apply", "playbooks/standin/tbuddy.yml", &[]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(p.health(host)["backend"], "sqlite");

    // The plan names every step and changes nothing.
    let before = p.sh(host, "dpkg -l | sort; ls /etc/tbuddy /var/lib/tbuddy 2>&1");
    let (code, plan) = p.tbuddy(
        "plan",
        "playbooks/tbuddy/site.yml",
        &["--detailed-exitcode"],
    );
    assert_eq!(code, 5, "{plan}");
    for step in [
        "apt: install postgresql",
        "CREATE ROLE \"tbuddy_user\"",
        "PASSWORD <redacted>",
        "CREATE DATABASE \"tbuddy_db\" OWNER \"tbuddy_user\"",
        "create /etc/postgresql/15/main/pg_hba.conf",
        "migrate 1 tables (300 rows)",
        "keeping a copy of the source next to it",
        "create /etc/tbuddy/env (0600)",
        "restart service tbuddy",
    ] {
        assert!(plan.contains(step), "the plan lacks `{step}`:\n{plan}");
    }
    assert_eq!(
        p.sh(host, "dpkg -l | sort; ls /etc/tbuddy /var/lib/tbuddy 2>&1"),
        before,
        "the plan changed the host"
    );

    // Apply: healthy on PostgreSQL with the same rows.
    let (code, text) = p.tbuddy("apply", "playbooks/tbuddy/site.yml", &[]);
    assert_eq!(code, 0, "{text}");
    let h = p.health(host);
    assert_eq!(h["backend"], "postgresql", "{h}");
    assert_eq!(h["rows"], 300, "{h}");
    let sqlite_rows = p.sh(
        host,
        "sqlite3 -separator '|' /var/lib/tbuddy/chat_settings.db \
         \"SELECT chat_id, language_codes, language_names, updated_at \
         FROM ChatSettings ORDER BY chat_id\"",
    );
    let pg_rows = p.sh(
        host,
        "runuser -u postgres -- psql -X -A -t -F '|' -d tbuddy_db <<'SQL'\n\
         SELECT chat_id, language_codes, language_names, updated_at \
         FROM ChatSettings ORDER BY chat_id;\nSQL\n",
    );
    assert_eq!(sqlite_rows.lines().count(), 300);
    assert_eq!(pg_rows, sqlite_rows, "the rows differ");
    let env = p.sh(host, "stat -c '%a %U' /etc/tbuddy/env; cat /etc/tbuddy/env");
    assert!(env.starts_with("600 tbuddy\n"), "{env}");
    assert!(
        env.contains(&format!(
            "DATABASE_URL=postgresql://tbuddy_user:{db_password}@localhost:5432/tbuddy_db"
        )),
        "{env}"
    );
    let backups = "ls /var/lib/tbuddy | grep -c '^chat_settings[.]db[.].*@.*~$'";
    assert_eq!(p.sh(host, backups), "1\n");

    // Converged: a second apply changes nothing, and the plan agrees.
    let (code, text) = p.tbuddy("apply", "playbooks/tbuddy/site.yml", &["--json"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(recap_hosts(&text)[host]["changed"], 0, "{text}");
    let (code, text) = p.tbuddy(
        "plan",
        "playbooks/tbuddy/site.yml",
        &["--detailed-exitcode"],
    );
    assert_eq!(code, 0, "{text}");

    // `rollback --last` undoes the first apply (the second changed nothing):
    // the bot is back on SQLite, PostgreSQL is gone, the backup stays.
    let (code, text) = p.run(&[
        "rollback",
        "--last",
        "-i",
        "test",
        "-y",
        "--vault-password-file",
        "vault-pass",
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("restart service tbuddy again (after the restores)"),
        "{text}"
    );
    assert_eq!(p.health(host)["backend"], "sqlite");
    assert_eq!(
        p.sh(host, "test -e /etc/tbuddy/env || echo gone"),
        "gone\n",
        "{text}"
    );
    let pg = p.sh(
        host,
        "dpkg-query -W -f='${db:Status-Status}' postgresql-15 2>&1",
    );
    assert!(!pg.starts_with("installed"), "postgresql-15 {pg}\n{text}");
    assert_eq!(p.sh(host, backups), "1\n");

    // Move again, then rollback.yml: back on SQLite, the PostgreSQL data kept.
    let (code, text) = p.tbuddy("apply", "playbooks/tbuddy/site.yml", &[]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(p.health(host)["backend"], "postgresql");
    let (code, text) = p.tbuddy("apply", "playbooks/tbuddy/rollback.yml", &[]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(p.health(host)["backend"], "sqlite");
    assert!(!has_database_url(&p.sh(host, "cat /etc/tbuddy/env")));
    assert_eq!(
        p.sh(
            host,
            "runuser -u postgres -- psql -X -A -t -d tbuddy_db -c 'SELECT count(*) FROM ChatSettings'"
        ),
        "300\n"
    );

    p.assert_no_secret(&[VAULT_PASSWORD.into(), db_password.into()]);
}

#[test]
#[ignore = "needs nspawn test hosts: run tests/run-all.sh"]
fn booking_fleet_rolls_out_and_rolls_back_a_failed_batch() {
    let Some(inv) = nspawn_inventory() else {
        return;
    };
    let apps = ["nspawn4", "nspawn5", "nspawn6"];
    let clients = ["client_001", "client_002", "client_003"];
    let bridge = bridge_address(&inv);
    let port = {
        let l = std::net::TcpListener::bind((bridge.as_str(), 0)).expect("bind on the bridge");
        l.local_addr().unwrap().port()
    };
    let Some(server) = pg::PgCluster::start_with(
        "booking_fleet_rolls_out_and_rolls_back_a_failed_batch",
        &[("listen_addresses", &bridge), ("port", &port.to_string())],
    ) else {
        return;
    };
    // As a managed server: the superuser and the clients log in with passwords over TCP.
    let admin_password = "managed-admin-Pw-93k";
    server.psql(
        "postgres",
        &format!("ALTER ROLE postgres PASSWORD '{admin_password}'"),
    );
    std::fs::write(
        server.data_dir().join("pg_hba.conf"),
        format!("local all postgres trust\nhost all all {bridge}/24 scram-sha-256\n"),
    )
    .unwrap();
    server.psql("postgres", "SELECT pg_reload_conf()");

    let p = Project::new(&inv);
    let monitoring_password = "monitoring-Pw-from-the-vault-5";
    let mut groups = format!(
        "all:\n  vars:\n    booking_clients: [{}]\n    booking_pg_host: {bridge}\n    \
         booking_pg_port: {port}\n    booking_pg_ssl_mode: disable\n  children:\n    \
         booking_db:\n      hosts:\n        managed-pg:\n          ansible_connection: postgres\n          \
         pg_url: \"postgresql://postgres:{admin_password}@{bridge}:{port}/postgres?sslmode=disable\"\n    \
         booking_app:\n      hosts:\n",
        clients.join(", ")
    );
    for (host, client) in apps.iter().zip(clients) {
        groups += &format!("        {host}:\n          booking_client: {client}\n");
    }
    // Batch 2's host reaches the database at a wrong address: its bot fails the gate.
    let broken = groups.replace(
        "          booking_client: client_002\n",
        "          booking_client: client_002\n          booking_app_db_host: 127.0.0.1\n",
    );
    p.write("inventory/test/groups.yml", &broken);
    p.write(
        "inventory/test/group_vars/all.yml",
        &p.vault_value("vault_monitoring_password", monitoring_password),
    );

    let (code, text) = p.tbuddy("apply", "playbooks/standin/booking.yml", &[]);
    assert_eq!(code, 0, "{text}");
    let sqlite_bookings = p.health(apps[0])["rows"].clone();
    assert!(sqlite_bookings.as_i64().unwrap() > 0);

    let (code, plan) = p.tbuddy("plan", "playbooks/booking/fleet.yml", &[]);
    assert_eq!(code, 0, "{plan}");
    assert!(plan.contains("CREATE DATABASE \"client_003_db\""), "{plan}");

    // The rollout: batch 1 (nspawn4) passes, batch 2 (nspawn5) fails its
    // gate and is rolled back, batch 3 (nspawn6) never starts.
    let (code, text) = p.tbuddy(
        "apply",
        "playbooks/booking/fleet.yml",
        &["--rollback-on-failure"],
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("Batch 2 of play"), "{text}");
    assert!(text.contains("Rolled back: nspawn5"), "{text}");
    assert!(
        text.contains("restart service booking again (after the restores)"),
        "{text}"
    );
    let h = p.health("nspawn4");
    assert_eq!(h["backend"], "postgresql", "{h}");
    assert_eq!(h["rows"], sqlite_bookings);
    let h = p.health("nspawn5");
    assert_eq!(h["backend"], "sqlite", "{h}");
    assert_eq!(p.sh("nspawn5", "cat /etc/booking/env"), "DB_TYPE=sqlite\n");
    assert_eq!(p.sh("nspawn6", "cat /etc/booking/env"), "DB_TYPE=sqlite\n");
    let tables = |db: &str| {
        server.psql(
            db,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
        )
    };
    assert_eq!(tables("client_001_db"), "11\n");
    assert_eq!(
        tables("client_002_db"),
        "0\n",
        "the batch's migration is undone"
    );
    assert_eq!(tables("client_003_db"), "0\n", "batch 3 never started");

    // Fixed: the rollout goes through, and then nothing is left to change.
    p.write("inventory/test/groups.yml", &groups);
    let (code, text) = p.tbuddy(
        "apply",
        "playbooks/booking/fleet.yml",
        &["--rollback-on-failure"],
    );
    assert_eq!(code, 0, "{text}");
    for host in apps {
        let h = p.health(host);
        assert_eq!(h["backend"], "postgresql", "{host}: {h}");
        assert_eq!(h["rows"], sqlite_bookings, "{host}: {h}");
    }
    let (code, text) = p.tbuddy("apply", "playbooks/booking/fleet.yml", &["--json"]);
    assert_eq!(code, 0, "{text}");
    let recap = recap_hosts(&text);
    for host in ["managed-pg", "nspawn4", "nspawn5", "nspawn6"] {
        assert_eq!(recap[host]["changed"], 0, "{host}:\n{text}");
    }

    // Isolation, read-only monitoring, limits.
    let password = |client: &str| {
        std::fs::read_to_string(p.path(&format!("playbooks/booking/credentials/{client}")))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_string()
    };
    let over_tcp = |user: &str, pw: &str, db: &str, sql: &str| {
        let out = Command::new("psql")
            .args([
                "-X",
                "-A",
                "-t",
                "-w",
                "-h",
                &bridge,
                "-p",
                &port.to_string(),
            ])
            .args(["-U", user, "-d", db, "-c", sql])
            .env("PGPASSWORD", pw)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = over_tcp(
        "client_001",
        &password("client_001"),
        "client_001_db",
        "SELECT count(*) FROM bookings",
    );
    assert!(ok, "{out}");
    assert_eq!(out.trim(), sqlite_bookings.to_string());
    let (ok, out) = over_tcp(
        "client_002",
        &password("client_002"),
        "client_001_db",
        "SELECT 1",
    );
    assert!(
        !ok && out.contains("permission denied for database"),
        "{out}"
    );
    let (ok, out) = over_tcp(
        "monitoring_user",
        monitoring_password,
        "client_003_db",
        "SELECT count(*) FROM users",
    );
    assert!(ok, "{out}");
    let (ok, out) = over_tcp(
        "monitoring_user",
        monitoring_password,
        "client_003_db",
        "INSERT INTO admins (user_id, role, added_at) VALUES (1, 'x', now())",
    );
    assert!(!ok && out.contains("permission denied"), "{out}");
    assert_eq!(
        server.psql(
            "postgres",
            "SELECT rolname || '=' || rolconnlimit FROM pg_roles \
             WHERE rolname IN ('client_001', 'monitoring_user') ORDER BY 1"
        ),
        "client_001=50\nmonitoring_user=10\n"
    );

    let mut secrets: Vec<String> = clients.iter().map(|c| password(c)).collect();
    secrets.extend([
        VAULT_PASSWORD.to_string(),
        admin_password.to_string(),
        monitoring_password.to_string(),
    ]);
    p.assert_no_secret(&secrets);
}
