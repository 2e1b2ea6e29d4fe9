//! Packages, services and apt sources on real Debian 12 hosts with systemd as PID 1: the
//! systemd-nspawn test hosts that tests/run-all.sh starts (tests/hosts/nspawn-up.sh). The
//! inventory path comes from TBUDDY_TEST_NSPAWN_INVENTORY; without it these tests fail
//! under CI=true and are reported as not run otherwise.
//!
//! The SysV fallback (no systemd) is tested on the loopback sshd hosts
//! (TBUDDY_TEST_SSH_INVENTORY), which have no init system.
//!
//! Each test works on a host of its own, so they share one boot of the hosts and may run
//! in parallel.

mod common;

use common::booking::layout;
use std::path::{Path, PathBuf};
use std::process::Command;

fn inventory() -> Option<PathBuf> {
    match std::env::var_os("TBUDDY_TEST_NSPAWN_INVENTORY") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "TBUDDY_TEST_NSPAWN_INVENTORY is not set: start tests/hosts/nspawn-up.sh (tests/run-all.sh does)"
            )
        }
        None => {
            eprintln!("NOT RUN: set TBUDDY_TEST_NSPAWN_INVENTORY (see tests/hosts/README.md)");
            None
        }
    }
}

/// The sshd hosts' inventory, when each host has an /etc of its own (init
/// scripts and clusters go there). Missing: a failure under CI, else not run.
fn sshd_inventory_with_private_etc() -> Option<PathBuf> {
    let inv = match std::env::var_os("TBUDDY_TEST_SSH_INVENTORY") {
        Some(p) => PathBuf::from(p),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("TBUDDY_TEST_SSH_INVENTORY is not set: start tests/hosts/sshd-up.sh")
        }
        None => {
            eprintln!("NOT RUN: set TBUDDY_TEST_SSH_INVENTORY (see tests/hosts/README.md)");
            return None;
        }
    };
    if !std::fs::read_to_string(&inv)
        .unwrap()
        .contains("tbuddy_isolation: mount")
    {
        eprintln!("NOT RUN: the sshd hosts share the machine's /etc (TBH_ISOLATION=none)");
        return None;
    }
    Some(inv)
}

struct Project {
    dir: tempfile::TempDir,
    /// The ssh_config the harness writes next to the inventory.
    ssh_config: PathBuf,
    host: &'static str,
}

impl Project {
    fn new(inv: &Path, host: &'static str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(inv, dir.path().join("inv.yml")).unwrap();
        std::fs::create_dir(dir.path().join("templates")).unwrap();
        Project {
            dir,
            ssh_config: inv.parent().unwrap().join("ssh_config"),
            host,
        }
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.dir.path().join(rel), text).unwrap();
    }

    /// Runs the binary; returns the exit code and stdout+stderr.
    fn run(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_tbuddy-deploy"))
            .args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .output()
            .expect("binary runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code().unwrap_or(-1), text)
    }

    /// `apply` limited to this project's host; returns its recap counters and the output.
    fn apply(&self, playbook: &str) -> (serde_json::Value, String) {
        let (_, text) = self.run(&[
            "apply", "-i", "inv.yml", playbook, "-l", self.host, "-y", "--json",
        ]);
        let line = text
            .lines()
            .rev()
            .find(|l| l.contains("\"event\":\"recap\""))
            .unwrap_or_else(|| panic!("no recap in:\n{text}"));
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        (v["hosts"][self.host].clone(), text)
    }

    /// A shell command on the host as root; returns stdout (fails the test on ssh errors).
    fn sh(&self, script: &str) -> String {
        let out = Command::new("ssh")
            .arg("-F")
            .arg(&self.ssh_config)
            .arg(self.host)
            .arg(script)
            .output()
            .expect("ssh runs");
        assert!(
            out.status.code().is_some_and(|c| c != 255),
            "ssh to {} failed: {}",
            self.host,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The id of the newest run in the project's state store.
    fn newest_run(&self) -> String {
        let (code, text) = self.run(&["runs", "--json", "-n", "1"]);
        assert_eq!(code, 0, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).expect("runs --json");
        v[0]["id"].to_string()
    }

    /// What a plan must not change: the package database and the unit files.
    fn snapshot(&self) -> String {
        self.sh(
            "{ dpkg -l | sort; systemctl list-unit-files --no-legend --no-pager | sort; \
             systemctl list-units --all --no-legend --no-pager --plain | awk '{print $1, $3, $4}' | sort; \
             ls -la --time-style=+%s /etc/apt/sources.list.d /etc/systemd/system; } \
             | grep -v -e '\\.scope' -e 'session-'",
        )
    }

    /// Fails with the lines that differ.
    fn assert_unchanged(&self, before: &str, what: &str) {
        let after = self.snapshot();
        if after != before {
            let b: std::collections::BTreeSet<&str> = before.lines().collect();
            let a: std::collections::BTreeSet<&str> = after.lines().collect();
            let gone: Vec<&&str> = b.difference(&a).collect();
            let new: Vec<&&str> = a.difference(&b).collect();
            panic!("{what} changed the host:\n- {gone:?}\n+ {new:?}");
        }
    }
}

const SITE: &str = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: packages
      apt:
        name: [tree, cron, curl]
        update_cache: true
        cache_valid_time: 3600
        install_recommends: false
    - name: cron runs
      ansible.builtin.service: {name: cron, state: started, enabled: true}
    - name: service user
      user: {name: tbweb, system: true, create_home: false, shell: /usr/sbin/nologin}
    - name: web unit
      template: {src: tbweb.service.j2, dest: /etc/systemd/system/tbweb.service}
    - name: web runs
      ansible.builtin.systemd_service:
        name: tbweb
        state: started
        enabled: true
        daemon_reload: true
    - name: smoke check
      uri: {url: "http://127.0.0.1:{{ web_port }}/", status_code: 200}
      register: health
      until: health.status == 200
      retries: 30
      delay: 1
"#;

const UNIT: &str = "[Unit]\nDescription=tbuddy test web server\n\n[Service]\nUser=tbweb\n\
ExecStart=/usr/bin/python3 -m http.server {{ web_port }} --bind 127.0.0.1 --directory /srv\n\n\
[Install]\nWantedBy=multi-user.target\n";

#[test]
#[ignore = "needs nspawn test hosts: run tests/run-all.sh"]
fn install_enable_start_then_roll_back() {
    let Some(inv) = inventory() else { return };
    let p = Project::new(&inv, "nspawn1");
    p.write("site.yml", SITE);
    p.write("templates/tbweb.service.j2", UNIT);
    p.write("vars.yml", "web_port: 8087\n");
    let site = SITE.replace("  tasks:", "  vars_files: [vars.yml]\n  tasks:");
    p.write("site.yml", &site);
    // A host as fresh as possible, also when the test runs again on the same boot.
    p.sh(
        "systemctl disable --now tbweb cron 2>/dev/null; rm -f /etc/systemd/system/tbweb.service; \
         userdel tbweb 2>/dev/null; \
         DEBIAN_FRONTEND=noninteractive apt-get -y -q purge tree cron cron-daemon-common curl >/dev/null 2>&1; \
         systemctl daemon-reload; true",
    );

    // The plan shows every step, the service ones included, and changes nothing.
    let before = p.snapshot();
    let (code, text) = p.run(&["plan", "-i", "inv.yml", "site.yml", "-l", "nspawn1"]);
    assert_eq!(code, 0, "{text}");
    for step in [
        "tree",
        "enable and start service cron",
        "user tbweb",
        "create /etc/systemd/system/tbweb.service",
        "enable and start service tbweb",
    ] {
        assert!(text.contains(step), "plan lacks `{step}`:\n{text}");
    }
    assert!(!text.contains("FAILED"), "{text}");
    p.assert_unchanged(&before, "plan");

    // Apply, then nothing left to do.
    let (r, text) = p.apply("site.yml");
    assert_eq!(r["failed"], 0, "{text}");
    assert!(r["changed"].as_u64().unwrap() >= 3, "{text}");
    assert_eq!(
        p.sh("dpkg-query -W -f='${db:Status-Abbrev}' tree cron"),
        "ii ii "
    );
    assert_eq!(
        p.sh("systemctl is-active tbweb cron; systemctl is-enabled tbweb cron"),
        "active\nactive\nenabled\nenabled\n"
    );
    let served = p.sh(
        "for i in $(seq 50); do python3 -c 'import urllib.request as u; print(u.urlopen(\"http://127.0.0.1:8087/\").status)' 2>/dev/null && break; sleep 0.1; done",
    );
    assert_eq!(served.trim(), "200", "the stand-in service answers");
    let (r, text) = p.apply("site.yml");
    assert_eq!(r["changed"], 0, "second run:\n{text}");
    assert_eq!(r["failed"], 0, "{text}");

    // Rollback: the service stops, the unit and the packages go.
    let (code, text) = p.run(&["rollback", "--last", "-i", "inv.yml", "-y"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("apt: remove") && text.contains("cron"),
        "{text}"
    );
    assert_eq!(
        p.sh(
            "dpkg-query -W -f='${db:Status-Abbrev}\\n' tree cron 2>/dev/null | grep -c '^ii'; true"
        ),
        "0\n",
        "{text}"
    );
    assert_eq!(p.sh("systemctl is-active tbweb; true"), "inactive\n");
    assert_eq!(
        p.sh("test -e /etc/systemd/system/tbweb.service && echo left; true"),
        ""
    );
    assert_eq!(p.sh("getent passwd tbweb; true"), "", "the user is removed");
}

#[test]
#[ignore = "needs nspawn test hosts: run tests/run-all.sh"]
fn sources_errors_and_postgresql() {
    let Some(inv) = inventory() else { return };
    let p = Project::new(&inv, "nspawn2");
    p.sh("rm -f /etc/apt/sources.list.d/tbuddy-backports.sources");
    p.write(
        "repo.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: backports source
      ansible.builtin.deb822_repository:
        name: tbuddy-backports
        uris: http://deb.debian.org/debian
        suites: bookworm-backports
        components: [main]
        signed_by: /usr/share/keyrings/debian-archive-keyring.gpg
    - name: lists refreshed
      apt: {update_cache: true}
      changed_when: false
"#,
    );
    let before = p.snapshot();
    let (code, text) = p.run(&["plan", "-i", "inv.yml", "repo.yml", "-l", "nspawn2"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("create /etc/apt/sources.list.d/tbuddy-backports.sources"),
        "{text}"
    );
    p.assert_unchanged(&before, "plan");
    let (r, text) = p.apply("repo.yml");
    assert_eq!(r["failed"], 0, "{text}");
    assert_eq!(r["changed"], 1, "{text}");
    assert_eq!(
        p.sh("cat /etc/apt/sources.list.d/tbuddy-backports.sources"),
        "X-Repolib-Name: tbuddy-backports\nTypes: deb\nURIs: http://deb.debian.org/debian\n\
Suites: bookworm-backports\nComponents: main\n\
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    );
    assert!(
        p.sh("apt-cache policy").contains("bookworm-backports"),
        "apt reads the new source"
    );
    let (r, text) = p.apply("repo.yml");
    assert_eq!(r["changed"], 0, "{text}");
    let (code, text) = p.run(&["rollback", "--last", "-i", "inv.yml", "-y"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        p.sh("ls /etc/apt/sources.list.d/"),
        "",
        "the source is removed"
    );

    // A package apt does not know, and a unit whose process fails at once.
    p.write(
        "bad.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: unknown package
      apt: {name: no-such-package-tbuddy}
      ignore_errors: true
    - name: broken unit
      copy:
        dest: /etc/systemd/system/tbfail.service
        content: "[Service]\nExecStart=/bin/sh -c 'echo tbfail-broken-config >&2; exit 3'\n"
    - name: broken service
      service: {name: tbfail, state: started, daemon_reload: true}
"#,
    );
    let (r, text) = p.apply("bad.yml");
    assert_eq!(r["failed"], 1, "{text}");
    assert!(
        text.contains("Unable to locate package no-such-package-tbuddy"),
        "{text}"
    );
    assert!(text.contains("Unable to start service tbfail"), "{text}");
    assert!(
        text.contains("tbfail-broken-config"),
        "the journal's lines are in the error:\n{text}"
    );
    p.sh(
        "rm -f /etc/systemd/system/tbfail.service; systemctl daemon-reload; systemctl reset-failed",
    );

    // PostgreSQL: the cluster's unit is an instance of a template the package ships.
    p.sh(
        "if dpkg-query -W -f='${db:Status-Abbrev}' postgresql-common 2>/dev/null | grep -q ii; then \
           DEBIAN_FRONTEND=noninteractive apt-get -y -q purge --autoremove postgresql postgresql-15 \
             postgresql-common postgresql-client-common >/dev/null 2>&1; fi; true",
    );
    p.write(
        "pg.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: postgresql installed
      ansible.builtin.package: {name: postgresql, update_cache: true, cache_valid_time: 3600}
    - name: postgresql enabled
      service: {name: postgresql, state: started, enabled: true}
    - name: cluster running
      ansible.builtin.systemd: {name: postgresql@15-main, state: started}
"#,
    );
    let before = p.snapshot();
    let (code, text) = p.run(&["plan", "-i", "inv.yml", "pg.yml", "-l", "nspawn2"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("install postgresql"), "{text}");
    assert!(text.contains("start service postgresql@15-main"), "{text}");
    p.assert_unchanged(&before, "plan");
    let (r, text) = p.apply("pg.yml");
    assert_eq!(r["failed"], 0, "{text}");
    assert_eq!(
        p.sh("runuser -u postgres -- psql -tAc 'select 40 + 2'")
            .trim(),
        "42"
    );
    let pg_run = p.newest_run();
    let (r, text) = p.apply("pg.yml");
    assert_eq!(r["changed"], 0, "{text}");

    booking_layout_on_the_host_cluster(&p);

    let (code, text) = p.run(&["rollback", &pg_run, "-i", "inv.yml", "-y"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        p.sh("dpkg-query -W -f='${db:Status-Abbrev}\\n' postgresql postgresql-15 2>/dev/null | grep -c '^ii'; true"),
        "0\n",
        "{text}"
    );
    assert_eq!(
        p.sh("systemctl is-active postgresql@15-main; true"),
        "inactive\n"
    );
}

/// The PostgreSQL modules on a packaged cluster, through `psql` as the `postgres` OS user
/// over the host's SSH connection: the booking bot's layout converges, plans nothing once
/// converged, keeps clients apart, and rolls back.
fn booking_layout_on_the_host_cluster(p: &Project) {
    p.write(
        "booking.yml",
        &layout("all", "  become: true\n  become_user: postgres\n", ""),
    );
    let before = p.sh("runuser -u postgres -- psql -tAc 'select rolname from pg_roles order by 1'");
    let (code, text) = p.run(&["plan", "-i", "inv.yml", "booking.yml", "-l", p.host]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("CREATE ROLE"), "{text}");
    assert!(
        !text.contains("pw-client_001"),
        "a password in the plan:\n{text}"
    );
    let (r, text) = p.apply("booking.yml");
    assert_eq!(r["failed"], 0, "{text}");
    assert!(r["changed"].as_u64().unwrap() > 0, "{text}");
    let (r, text) = p.apply("booking.yml");
    assert_eq!(r["changed"], 0, "second run:\n{text}");
    let (code, text) = p.run(&[
        "plan",
        "-i",
        "inv.yml",
        "booking.yml",
        "-l",
        p.host,
        "--detailed-exitcode",
    ]);
    assert_eq!(
        code, 0,
        "the converged cluster still plans changes:\n{text}"
    );

    // Debian's pg_hba lets password logins in over 127.0.0.1.
    let psql = |user: &str, db: &str, sql: &str| {
        let password = match user {
            "monitoring_user" => "pw-monitoring".to_string(),
            client => format!("pw-{client}"),
        };
        p.sh(&format!(
            "PGPASSWORD={password} psql -h 127.0.0.1 -U {user} -d {db} -tAc '{sql}' 2>&1; echo rc=$?"
        ))
    };
    let (own, other) = (
        psql("client_002", "client_002_db", "select 1"),
        psql("client_002", "client_001_db", "select 1"),
    );
    assert!(own.contains("rc=0"), "{own}");
    assert!(
        other.contains("permission denied for database") && !other.contains("rc=0"),
        "{other}"
    );
    let made = psql(
        "client_001",
        "client_001_db",
        "create table bookings (id int); insert into bookings values (7)",
    );
    assert!(made.contains("rc=0"), "{made}");
    let read = psql(
        "monitoring_user",
        "client_001_db",
        "select id from bookings",
    );
    assert!(read.starts_with("7\n") && read.contains("rc=0"), "{read}");
    let write = psql(
        "monitoring_user",
        "client_001_db",
        "insert into bookings values (8)",
    );
    assert!(
        write.contains("permission denied for table bookings"),
        "{write}"
    );
    assert!(
        !p.sh("grep -rh 'pw-client' /var/log/postgresql/ 2>/dev/null; true")
            .contains("pw-"),
        "a password reached the server log"
    );

    // The data client_001 added is dropped first: a rollback refuses to drop a database
    // that gained data.
    assert!(psql("client_001", "client_001_db", "drop table bookings").contains("rc=0"));
    let (code, text) = p.run(&["rollback", "--last", "-i", "inv.yml", "-y"]);
    assert_eq!(code, 0, "{text}");
    let after = p.sh("runuser -u postgres -- psql -tAc 'select rolname from pg_roles order by 1'");
    assert_eq!(after, before, "the roles are gone again");
    assert!(
        !p.sh("runuser -u postgres -- psql -tAc 'select datname from pg_database'")
            .contains("client_"),
    );
}

const SYSV_SCRIPT: &str = r#"#!/bin/sh
### BEGIN INIT INFO
# Provides:          tbsvc
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: tbuddy test service
### END INIT INFO
f=/etc/tbsvc.running
case "$1" in
  start|restart|reload|force-reload) touch $f ;;
  stop) rm -f $f ;;
  status) [ -e $f ] ;;
  *) exit 3 ;;
esac
"#;

#[test]
#[ignore = "needs sshd test hosts: run tests/run-all.sh"]
fn sysv_service_without_systemd() {
    let Some(inv) = sshd_inventory_with_private_etc() else {
        return;
    };
    let p = Project::new(&inv, "sshd2");
    p.write("tbsvc", SYSV_SCRIPT);
    p.write(
        "sysv.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: init script
      copy: {src: tbsvc, dest: /etc/init.d/tbsvc, mode: "0755"}
    - name: service runs
      service: {name: tbsvc, state: started, enabled: true}
"#,
    );
    let (r, text) = p.apply("sysv.yml");
    assert_eq!(r["failed"], 0, "{text}");
    assert_eq!(r["changed"], 2, "{text}");
    assert_eq!(
        p.sh("test -e /etc/tbsvc.running && ls /etc/rc2.d | grep -c '^S..tbsvc'"),
        "1\n"
    );
    let (r, text) = p.apply("sysv.yml");
    assert_eq!(r["changed"], 0, "{text}");
    let (code, text) = p.run(&["rollback", "--last", "-i", "inv.yml", "-y"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        p.sh("ls /etc/tbsvc.running /etc/init.d/tbsvc 2>/dev/null; ls /etc/rc2.d | grep -c '^S..tbsvc'; true"),
        "0\n",
        "{text}"
    );
}

/// Without systemd, `postgresql@VERSION-CLUSTER` is driven by pg_ctlcluster
/// and start.conf. The cluster lives in an sshd host's private /etc and
/// /var/lib; it listens on a socket and a port of its own.
#[test]
#[ignore = "needs sshd test hosts: run tests/run-all.sh"]
fn postgresql_cluster_without_systemd() {
    let Some(inv) = sshd_inventory_with_private_etc() else {
        return;
    };
    let p = Project::new(&inv, "sshd1");
    let setup = p.sh(
        "command -v pg_createcluster >/dev/null || { echo no-postgresql; exit 0; }; \
         pg_dropcluster --stop 15 tbtest >/dev/null 2>&1; \
         pg_createcluster 15 tbtest -p 54329 >/dev/null 2>&1 || echo create-failed; \
         printf 'manual\\n' > /etc/postgresql/15/tbtest/start.conf",
    );
    assert!(
        !setup.contains("no-postgresql"),
        "PostgreSQL 15 is not installed (tests/hosts/install-deps.sh installs it)"
    );
    assert!(!setup.contains("create-failed"), "pg_createcluster failed");
    p.write(
        "pg.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - service: {name: postgresql@15-tbtest, state: started, enabled: true}\n",
    );
    let (r, text) = p.apply("pg.yml");
    assert_eq!(r["failed"], 0, "{text}");
    assert_eq!(r["changed"], 1, "{text}");
    assert!(
        p.sh("pg_lsclusters -h 15 tbtest").contains("online"),
        "{text}"
    );
    assert_eq!(p.sh("cat /etc/postgresql/15/tbtest/start.conf"), "auto\n");
    let (r, text) = p.apply("pg.yml");
    assert_eq!(r["changed"], 0, "second run:\n{text}");

    let (code, text) = p.run(&["rollback", "--last", "-i", "inv.yml", "-y"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        p.sh("pg_lsclusters -h 15 tbtest").contains("down"),
        "{text}"
    );
    assert_eq!(p.sh("cat /etc/postgresql/15/tbtest/start.conf"), "manual\n");
    p.sh("pg_dropcluster --stop 15 tbtest >/dev/null 2>&1; true");
}
