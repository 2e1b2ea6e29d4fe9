//! The PostgreSQL modules end to end, through the binary, against a throwaway
//! PostgreSQL cluster started with `log_statement = all`: the booking bot's
//! layout (three clients and a monitoring role) over both transports (`psql`
//! on the host via become, and a direct session for `connection: postgres`),
//! what each role can reach afterwards, pg_hba edits checked by the server, and
//! the plan's SQL against what the server logged.
//!
//! Without PostgreSQL installed these tests report NOT RUN, and fail under CI.

mod common;
#[path = "../src/testsupport/pg.rs"]
mod pg;

use serde_json::Value;
use std::fs;
use std::path::Path;

const CLIENTS: [&str; 3] = ["client_001", "client_002", "client_003"];

fn start(test: &str) -> Option<pg::PgCluster> {
    pg::PgCluster::start_with(
        test,
        &[
            ("log_statement", "all"),
            ("log_line_prefix", "%m [%p] "),
            ("password_encryption", "scram-sha-256"),
        ],
    )
}

/// Tasks become `postgres` when the tests run as root (as the cluster does).
fn become_lines() -> &'static str {
    if nix::unistd::Uid::effective().is_root() {
        "  become: true\n  become_user: postgres\n"
    } else {
        ""
    }
}

/// The booking bot's layout, for `hosts` with `login` arguments added to each task.
fn layout(hosts: &str, become_: &str, login: &str) -> String {
    let task = |module: &str, args: &str, looped: bool| {
        let mut t = format!("    - name: {module}\n      {module}:\n");
        for line in args.lines() {
            t.push_str(&format!("        {line}\n"));
        }
        for line in login.lines() {
            t.push_str(&format!("        {line}\n"));
        }
        if looped {
            t.push_str("      loop: \"{{ clients }}\"\n");
        }
        t
    };
    let mut y = format!(
        "- hosts: {hosts}\n  gather_facts: false\n{become_}  vars:\n    clients: [{}]\n  tasks:\n",
        CLIENTS.join(", ")
    );
    y += &task(
        "postgresql_user",
        "name: \"{{ item }}\"\npassword: \"pw-{{ item }}\"\nconn_limit: 50\nrole_attr_flags: LOGIN,NOCREATEDB",
        true,
    );
    y += &task(
        "postgresql_user",
        "name: monitoring_user\npassword: pw-monitoring\nconn_limit: 10",
        false,
    );
    y += &task(
        "postgresql_db",
        "name: \"{{ item }}_db\"\nowner: \"{{ item }}\"\nencoding: UTF8\ntemplate: template0",
        true,
    );
    y += &task(
        "postgresql_privs",
        "database: \"{{ item }}_db\"\ntype: database\nprivs: CONNECT,CREATE\nroles: PUBLIC\nstate: absent",
        true,
    );
    y += &task(
        "postgresql_privs",
        "database: \"{{ item }}_db\"\ntype: database\nprivs: CONNECT\nroles: monitoring_user",
        true,
    );
    y += &task(
        "postgresql_privs",
        "database: \"{{ item }}_db\"\ntype: schema\nobjs: public\nprivs: USAGE\nroles: monitoring_user",
        true,
    );
    y += &task(
        "postgresql_privs",
        "database: \"{{ item }}_db\"\ntype: table\nobjs: ALL_IN_SCHEMA\nprivs: SELECT\nroles: monitoring_user",
        true,
    );
    y += &task(
        "postgresql_privs",
        "database: \"{{ item }}_db\"\ntype: default_privs\nobjs: TABLES\nprivs: SELECT\nroles: monitoring_user\ntarget_roles: \"{{ item }}\"",
        true,
    );
    y
}

fn json_run(dir: &Path, args: &[&str]) -> (i32, Vec<Value>) {
    let mut all: Vec<&str> = args.to_vec();
    all.push("--json");
    let (code, text) = common::run(dir, &all);
    let events = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect();
    (code, events)
}

fn recap(events: &[Value], host: &str) -> Value {
    events
        .iter()
        .rev()
        .find(|e| e["event"] == "recap")
        .unwrap_or_else(|| panic!("no recap in {events:?}"))["hosts"][host]
        .clone()
}

/// Statements of the changed results (`queries`), in order.
fn changed_queries(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["event"] == "host_result" && e["status"] == "changed")
        .flat_map(|e| {
            e["result"]["queries"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|q| q.as_str().map(String::from))
        .collect()
}

/// The statements the server logged in `log` (one `statement:` each).
fn logged(log: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut in_stmt = false;
    for line in log.lines() {
        if let Some(i) = line.find("LOG:  statement: ") {
            out.push(line[i + "LOG:  statement: ".len()..].to_string());
            in_stmt = true;
        } else if in_stmt && line.starts_with('\t') {
            let last = out.last_mut().expect("a statement is open");
            last.push('\n');
            last.push_str(&line[1..]);
        } else {
            in_stmt = false;
        }
    }
    out.iter()
        .map(|s| s.trim_end().trim_end_matches(';').to_string())
        .collect()
}

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("tbuddy-pgmod-")
        .tempdir()
        .unwrap();
    for (name, text) in files {
        fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// pg_hba.conf with the superuser first, so tests can tighten the rest.
fn base_hba(c: &pg::PgCluster) -> String {
    let text = "local all postgres trust\nlocal all all trust\n".to_string();
    let path = c.data_dir().join("pg_hba.conf");
    fs::write(&path, &text).unwrap();
    c.psql("postgres", "SELECT pg_reload_conf()");
    text
}

#[test]
#[ignore = "starts PostgreSQL and runs several playbooks (tests/run-all.sh runs it)"]
fn booking_layout_over_psql_converges_plans_exactly_and_isolates_clients() {
    let Some(c) = start("booking_layout_over_psql") else {
        return;
    };
    let hba = base_hba(&c);
    let sock = c.socket_dir().display().to_string();
    let login = format!("login_unix_socket: {sock}");
    let site = layout("localhost", become_lines(), &login);
    let dir = project(&[
        ("site.yml", &site),
        (
            "hosts.yml",
            "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n",
        ),
    ]);
    let inv = ["-i", "hosts.yml"];

    // A plan sends reads only.
    let before = c.log().len();
    let (code, events) = json_run(dir.path(), &[&["plan", "site.yml"][..], &inv].concat());
    assert_eq!(code, 0, "{events:?}");
    let during_plan = logged(&c.log()[before..]);
    assert!(!during_plan.is_empty());
    for s in &during_plan {
        assert!(s.starts_with("SELECT "), "the plan sent a non-read: {s}");
    }
    let planned = changed_queries(&events);
    assert!(
        planned
            .iter()
            .any(|q| q.starts_with("CREATE ROLE \"client_001\" WITH NOCREATEDB LOGIN CONNECTION LIMIT 50 PASSWORD <redacted>")),
        "{planned:?}"
    );

    // Apply: the statements reported are the ones the server ran.
    let before = c.log().len();
    let (code, events) = json_run(
        dir.path(),
        &[&["apply", "site.yml", "-y"][..], &inv].concat(),
    );
    let r = recap(&events, "localhost");
    assert_eq!(code, 0, "{events:?}");
    assert_eq!(r["failed"], 0, "{r}");
    let applied = changed_queries(&events);
    let ran = logged(&c.log()[before..]);
    let writes: Vec<&String> = ran.iter().filter(|s| !s.starts_with("SELECT ")).collect();
    let mut at = 0;
    for q in &applied {
        let shown = q.split(" PASSWORD <redacted>").next().unwrap();
        let pos = writes[at..]
            .iter()
            .position(|w| {
                w.starts_with(shown) && (w.len() == shown.len() || q.contains("<redacted>"))
            })
            .unwrap_or_else(|| panic!("{q} is not in the server log after #{at}: {writes:#?}"));
        at += pos + 1;
    }
    assert_eq!(
        at,
        writes.len(),
        "the server ran statements the plan did not show: {writes:#?}"
    );
    // The plan showed every statement apply ran, in the same order.
    assert_eq!(planned, applied);
    let log = c.log();
    for client in CLIENTS {
        assert!(
            !log.contains(&format!("pw-{client}")),
            "a password reached the server log"
        );
    }
    assert!(log.contains("PASSWORD 'SCRAM-SHA-256$4096:"));

    // Converged: nothing to do, nothing planned.
    let (code, events) = json_run(
        dir.path(),
        &[&["apply", "site.yml", "-y"][..], &inv].concat(),
    );
    let r = recap(&events, "localhost");
    assert_eq!(
        (code, r["changed"].as_u64(), r["failed"].as_u64()),
        (0, Some(0), Some(0)),
        "{r}"
    );
    let (code, text) = common::run(
        dir.path(),
        &[&["plan", "site.yml", "--detailed-exitcode"][..], &inv].concat(),
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("No changes"), "{text}");

    // What each role can reach.
    let denied = c
        .psql_as(
            "client_002",
            Some("pw-client_002"),
            "client_001_db",
            "SELECT 1",
        )
        .unwrap_err();
    assert!(denied.contains("CONNECT"), "{denied}");
    c.psql_as(
        "client_001",
        Some("pw-client_001"),
        "client_001_db",
        "CREATE TABLE bookings (id int); INSERT INTO bookings VALUES (1)",
    )
    .unwrap();
    let seen = c
        .psql_as(
            "monitoring_user",
            None,
            "client_001_db",
            "SELECT count(*) FROM bookings",
        )
        .unwrap();
    assert_eq!(seen.trim(), "1");
    let refused = c
        .psql_as(
            "monitoring_user",
            None,
            "client_001_db",
            "INSERT INTO bookings VALUES (2)",
        )
        .unwrap_err();
    assert!(refused.contains("permission denied"), "{refused}");
    let limits = c.psql(
        "postgres",
        "SELECT string_agg(rolname || '=' || rolconnlimit, ',' ORDER BY rolname) FROM pg_roles \
         WHERE rolname LIKE 'client_%' OR rolname = 'monitoring_user'",
    );
    assert_eq!(
        limits.trim(),
        "client_001=50,client_002=50,client_003=50,monitoring_user=10"
    );

    // pg_hba: passwords required for everyone but the superuser.
    let tighten = format!(
        "- hosts: localhost\n  gather_facts: false\n{}  tasks:\n    - name: passwords\n      postgresql_pg_hba:\n        contype: local\n        databases: all\n        users: all\n        method: scram-sha-256\n        login_unix_socket: {sock}\n      notify: note\n  handlers:\n    - name: note\n      debug: msg=reloaded\n",
        become_lines()
    );
    fs::write(dir.path().join("hba.yml"), tighten).unwrap();
    let (code, events) = json_run(
        dir.path(),
        &[&["apply", "hba.yml", "-y"][..], &inv].concat(),
    );
    assert_eq!(code, 0, "{events:?}");
    let r = recap(&events, "localhost");
    assert_eq!(
        (r["changed"].as_u64(), r["ok"].as_u64()),
        (Some(1), Some(2)),
        "the handler ran: {r}"
    );
    let now = fs::read_to_string(c.data_dir().join("pg_hba.conf")).unwrap();
    assert_eq!(
        now,
        "local all postgres trust\nlocal\tall\tall\tscram-sha-256\n"
    );
    assert_ne!(now, hba);
    c.psql_as(
        "client_002",
        Some("pw-client_002"),
        "client_002_db",
        "SELECT 1",
    )
    .unwrap();
    let wrong = c
        .psql_as("client_002", Some("nope"), "client_002_db", "SELECT 1")
        .unwrap_err();
    assert!(wrong.contains("password authentication failed"), "{wrong}");

    // A rule the server rejects never becomes active.
    let broken = format!(
        "- hosts: localhost\n  gather_facts: false\n{}  tasks:\n    - postgresql_pg_hba:\n        contype: host\n        databases: all\n        users: all\n        source: 300.1.2.3/33\n        method: scram-sha-256\n        login_unix_socket: {sock}\n",
        become_lines()
    );
    fs::write(dir.path().join("broken.yml"), broken).unwrap();
    let (code, text) = common::run(
        dir.path(),
        &[&["apply", "broken.yml", "-y"][..], &inv].concat(),
    );
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("rejected"), "{text}");
    assert_eq!(
        fs::read_to_string(c.data_dir().join("pg_hba.conf")).unwrap(),
        now
    );
    c.psql_as(
        "client_002",
        Some("pw-client_002"),
        "client_002_db",
        "SELECT 1",
    )
    .unwrap();
}

#[test]
fn direct_sessions_plan_apply_and_roll_back_on_a_managed_host() {
    let Some(c) = start("direct_sessions") else {
        return;
    };
    // A password in pg_url (the cluster trusts the socket, so any will do)
    // must stay out of the state store.
    let url = c
        .url("postgres")
        .replace("postgres@", "postgres:url-secret@")
        + "?sslmode=disable";
    let hosts = format!(
        "all:\n  hosts:\n    managed:\n      ansible_connection: postgres\n      pg_url: \"{url}\"\n"
    );
    let site = "- hosts: managed\n  tasks:\n    - postgresql_ping:\n      register: ping\n    - assert:\n        that: ping.is_available and ping.server_version.major >= 13\n    - postgresql_user:\n        name: reporting\n        password: s3cret-reporting\n        conn_limit: 5\n        configuration: {work_mem: 8MB}\n    - postgresql_db:\n        name: reports\n        owner: reporting\n    - postgresql_privs:\n        database: reports\n        type: database\n        privs: CONNECT\n        roles: PUBLIC\n        state: absent\n    - postgresql_user: {name: readers, role_attr_flags: NOLOGIN}\n    - postgresql_membership: {groups: readers, target_roles: reporting}\n    - postgresql_ext: {name: pg_trgm, db: reports}\n    - postgresql_set: {name: work_mem, value: 12MB}\n      register: wm\n    - assert:\n        that: not wm.restart_required\n    - postgresql_info: {filter: [version, roles, extensions], db: reports}\n      register: info\n    - assert:\n        that:\n          - \"'readers' in info.roles.reporting.member_of\"\n          - \"'pg_trgm' in info.extensions\"\n";
    let dir = project(&[("site.yml", site), ("hosts.yml", &hosts)]);
    let inv = ["-i", "hosts.yml"];
    let (code, events) = json_run(
        dir.path(),
        &[&["apply", "site.yml", "-y"][..], &inv].concat(),
    );
    assert_eq!(code, 0, "{events:?}");
    assert_eq!(recap(&events, "managed")["changed"], 7);
    let work_mem = c.psql("postgres", "SHOW work_mem");
    assert_eq!(work_mem.trim(), "12MB", "reloaded after ALTER SYSTEM");
    let (code, events) = json_run(
        dir.path(),
        &[&["apply", "site.yml", "-y"][..], &inv].concat(),
    );
    assert_eq!(
        (code, recap(&events, "managed")["changed"].as_u64()),
        (0, Some(0))
    );
    let verifier = c.psql(
        "postgres",
        "SELECT rolpassword FROM pg_authid WHERE rolname = 'reporting'",
    );
    assert!(verifier.starts_with("SCRAM-SHA-256$4096:"), "{verifier}");
    for f in fs::read_dir(dir.path().join(".tbuddy")).unwrap() {
        let path = f.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let state = String::from_utf8_lossy(&fs::read(path).unwrap()).into_owned();
        assert!(
            !state.contains("s3cret-reporting") && !state.contains("url-secret"),
            "a password reached the state store"
        );
    }

    // Only postgresql_* modules run on such a host.
    fs::write(
        dir.path().join("shell.yml"),
        "- hosts: managed\n  gather_facts: false\n  tasks:\n    - name: list files\n      command: ls\n",
    )
    .unwrap();
    let (code, text) = common::run(
        dir.path(),
        &[&["apply", "shell.yml", "-y"][..], &inv].concat(),
    );
    assert_ne!(code, 0);
    assert!(
        text.contains("list files")
            && text.contains("host managed")
            && text.contains("postgresql_"),
        "{text}"
    );

    // Rollback of the first run: grants back, database (still empty) and role dropped.
    let (code, text) = common::run(dir.path(), &["rollback", "1", "-y"]);
    assert_eq!(code, 0, "{text}");
    let left = c.psql(
        "postgres",
        "SELECT (SELECT count(*) FROM pg_roles WHERE rolname = 'reporting') + \
         (SELECT count(*) FROM pg_database WHERE datname = 'reports')",
    );
    assert_eq!(left.trim(), "0", "{text}");
    let after = c.psql(
        "postgres",
        "SELECT (SELECT count(*) FROM pg_roles WHERE rolname = 'readers') || ' ' || \
         (SELECT count(*) FROM pg_file_settings WHERE name = 'work_mem')",
    );
    assert_eq!(after.trim(), "0 0", "{text}");
}

#[test]
fn dump_and_restore_on_the_database_host() {
    let Some(c) = start("dump_and_restore") else {
        return;
    };
    c.psql("postgres", "CREATE DATABASE shop");
    c.psql(
        "shop",
        "CREATE TABLE orders (id int); INSERT INTO orders VALUES (1), (2)",
    );
    let sock = c.socket_dir().display().to_string();
    let out = c.dir().display().to_string();
    let mut site = format!(
        "- hosts: localhost\n  gather_facts: false\n{}  tasks:\n",
        become_lines()
    );
    for (copy, file) in [("copy_custom", "shop.pgc"), ("copy_plain", "shop.sql")] {
        site += &format!(
            "    - postgresql_db: {{name: shop, state: dump, target: {out}/{file}, login_unix_socket: {sock}}}\n\
             \x20   - postgresql_db: {{name: {copy}, login_unix_socket: {sock}}}\n\
             \x20   - postgresql_db: {{name: {copy}, state: restore, target: {out}/{file}, login_unix_socket: {sock}}}\n"
        );
    }
    let dir = project(&[
        ("site.yml", &site),
        (
            "hosts.yml",
            "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n",
        ),
    ]);
    let (code, text) = common::run(dir.path(), &["plan", "site.yml", "-i", "hosts.yml"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("pg_dump -Fc") && text.contains("pg_restore --exit-on-error"),
        "{text}"
    );
    assert!(!c.dir().join("shop.pgc").exists(), "the plan wrote a dump");
    let (code, text) = common::run(dir.path(), &["apply", "site.yml", "-i", "hosts.yml", "-y"]);
    assert_eq!(code, 0, "{text}");
    for copy in ["copy_custom", "copy_plain"] {
        assert_eq!(
            c.psql(copy, "SELECT sum(id) FROM orders").trim(),
            "3",
            "{text}"
        );
    }
}

#[test]
fn a_dropped_connection_is_an_error_not_a_hang() {
    // Nothing listens there: the host fails within the connect timeout.
    let hosts = "all:\n  hosts:\n    gone:\n      ansible_connection: postgres\n      pg_url: \"postgresql://u@127.0.0.1:1/d?sslmode=disable&connect_timeout=2\"\n";
    let site =
        "- hosts: gone\n  gather_facts: false\n  tasks:\n    - postgresql_user:\n        name: x\n";
    let dir = project(&[("site.yml", site), ("hosts.yml", hosts)]);
    let started = std::time::Instant::now();
    let (code, text) = common::run(dir.path(), &["apply", "site.yml", "-i", "hosts.yml", "-y"]);
    assert_ne!(code, 0, "{text}");
    assert!(
        text.contains("unreachable=1") || text.contains("UNREACHABLE"),
        "{text}"
    );
    assert!(started.elapsed().as_secs() < 20);
}
