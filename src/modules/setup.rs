//! `setup`: gather host facts in one round trip.

use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg};
use super::{Action, Args, Change, ModResult, Module, ModuleCx, Returns, Target};
use serde_json::{Map, Value, json};

pub static SETUP: ModuleSpec = ModuleSpec {
    name: "setup",
    summary: "Gather facts about the host (OS, hostname, CPU, memory)",
    free_form: false,
    check: CheckSupport::ReadOnly,
    open_args: false,
    args: &[
        arg(
            "gather_subset",
            Raw,
            "Accepted for compatibility; the same facts are always gathered.",
        ),
        arg("filter", Raw, "Accepted for compatibility."),
    ],
};

pub struct Setup;

impl Module for Setup {
    fn spec(&self) -> &'static ModuleSpec {
        &SETUP
    }

    fn validate(&self, _args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        Ok(Box::new(Gather(Map::new())))
    }
}

struct Gather(Map<String, Value>);

const SCRIPT: &str = r#"
echo "hostname=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)"
echo "fqdn=$(hostname -f 2>/dev/null || hostname)"
echo "kernel=$(uname -r)"
echo "system=$(uname -s)"
echo "machine=$(uname -m)"
echo "nproc=$(nproc 2>/dev/null || echo 1)"
echo "memkb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null)"
echo "uid=$(id -u)"
echo "user=$(id -un)"
echo "home=$HOME"
if [ -d /run/systemd/system ]; then echo "service_mgr=systemd"; else echo "service_mgr=$(cat /proc/1/comm 2>/dev/null)"; fi
if command -v apt-get >/dev/null 2>&1; then echo "pkg_mgr=apt"; elif command -v dnf >/dev/null 2>&1; then echo "pkg_mgr=dnf"; else echo "pkg_mgr=unknown"; fi
if [ -r /etc/os-release ]; then sed -n 's/^\(ID\|VERSION_ID\|VERSION_CODENAME\|ID_LIKE\)=/os_\1=/p' /etc/os-release | tr -d '"'; fi
ip -4 route get 1.1.1.1 2>/dev/null | head -1 | sed -n 's/.* dev \([^ ]*\).* src \([^ ]*\).*/ipv4_dev=\1\nipv4_addr=\2/p'
ip -4 route show default 2>/dev/null | sed -n '1s/^default via \([^ ]*\).*/ipv4_gw=\1/p'
"#;

impl Action for Gather {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        if t.conn.postgres().is_some() {
            // A PostgreSQL server reached directly has no shell: no facts.
            self.0 = Map::new();
            return Ok(());
        }
        let out = t.run_ok(SCRIPT, None)?;
        let kv: Map<String, Value> = out
            .stdout_str()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), Value::from(v)))
            .collect();
        let get = |k: &str| kv.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let distribution = match get("os_ID").as_str() {
            "debian" => "Debian".to_string(),
            "ubuntu" => "Ubuntu".to_string(),
            "" => "Unknown".to_string(),
            other => capitalize(other),
        };
        let os_family = match get("os_ID").as_str() {
            "debian" | "ubuntu" => "Debian".to_string(),
            _ if get("os_ID_LIKE").contains("debian") => "Debian".to_string(),
            _ if get("os_ID_LIKE").contains("rhel") => "RedHat".to_string(),
            _ => distribution.clone(),
        };
        let version = get("os_VERSION_ID");
        let memtotal_mb = get("memkb").parse::<u64>().unwrap_or(0) / 1024;
        let nproc: u64 = get("nproc").parse().unwrap_or(1);
        let facts = json!({
            "hostname": get("hostname").split('.').next().unwrap_or_default(),
            "nodename": get("hostname"),
            "fqdn": get("fqdn"),
            "system": get("system"),
            "kernel": get("kernel"),
            "architecture": get("machine"),
            "machine": get("machine"),
            "distribution": distribution,
            "distribution_release": get("os_VERSION_CODENAME"),
            "distribution_version": version,
            "distribution_major_version": version.split('.').next().unwrap_or_default(),
            "os_family": os_family,
            "processor_count": nproc,
            "processor_vcpus": nproc,
            "memtotal_mb": memtotal_mb,
            "service_mgr": get("service_mgr"),
            "pkg_mgr": get("pkg_mgr"),
            "user_id": get("user"),
            "user_uid": get("uid").parse::<u64>().unwrap_or(0),
            "user_dir": get("home"),
            "default_ipv4": {
                "interface": get("ipv4_dev"),
                "address": get("ipv4_addr"),
                "gateway": get("ipv4_gw"),
            },
        });
        if let Value::Object(m) = facts {
            self.0 = m;
        }
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        Ok(None)
    }

    fn apply(&mut self, _: &Change, _: &mut Target<'_>) -> ModResult<()> {
        Ok(())
    }

    fn returns(&self) -> Returns {
        let mut r = Returns::new();
        r.insert("ansible_facts".into(), Value::Object(self.0.clone()));
        r
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}
