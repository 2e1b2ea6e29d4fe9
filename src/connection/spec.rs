//! A connection described as data: what the executor resolved from a host's
//! variables, kept in the state store so that a rollback can reach the same
//! host the same way without re-reading the inventory.

use super::{Connection, LocalConnection, SshConnection, SshParams};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Inventory variables that shape an SSH connection.
pub const SSH_VARS: &[&str] = &[
    "ansible_host",
    "ansible_ssh_host",
    "ansible_port",
    "ansible_ssh_port",
    "ansible_user",
    "ansible_ssh_user",
    "ansible_ssh_private_key_file",
    "ansible_private_key_file",
    "ansible_ssh_common_args",
    "ansible_ssh_extra_args",
    "ansible_ssh_timeout",
    "ansible_timeout",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ConnSpec {
    Local,
    /// `host` is the inventory name; `vars` holds only the keys in `SSH_VARS`.
    Ssh {
        host: String,
        vars: Map<String, Value>,
    },
}

impl ConnSpec {
    /// From the value of `ansible_connection` (None: the default for `host`).
    pub fn resolve(
        host: &str,
        connection: Option<&str>,
        mut var: impl FnMut(&str) -> Result<Option<Value>, String>,
    ) -> Result<ConnSpec, String> {
        let kind = match connection {
            Some(k) => k,
            None if host == "localhost" => "local",
            None => "ssh",
        };
        match kind {
            "local" => Ok(ConnSpec::Local),
            "ssh" | "smart" | "paramiko" | "openssh" => {
                let mut vars = Map::new();
                for key in SSH_VARS {
                    if let Some(v) = var(key)? {
                        vars.insert(key.to_string(), v);
                    }
                }
                Ok(ConnSpec::Ssh {
                    host: host.to_string(),
                    vars,
                })
            }
            other => Err(format!(
                "connection type `{other}` is not supported (use ssh or local)"
            )),
        }
    }

    /// Sets the login user unless the host's variables already name one.
    pub fn with_default_user(mut self, user: Option<&str>) -> ConnSpec {
        if let (ConnSpec::Ssh { vars, .. }, Some(user)) = (&mut self, user)
            && !vars.contains_key("ansible_user")
            && !vars.contains_key("ansible_ssh_user")
        {
            vars.insert("ansible_user".into(), user.into());
        }
        self
    }

    /// The connection, not yet opened: SSH connects on first use.
    pub fn open(&self, accept_new_host_keys: bool) -> Box<dyn Connection> {
        match self {
            ConnSpec::Local => Box::new(LocalConnection),
            ConnSpec::Ssh { host, vars } => Box::new(SshConnection::new(SshParams::from_vars(
                host,
                vars,
                accept_new_host_keys,
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_only_connection_variables_and_round_trips() {
        let vars = json!({"ansible_host": "10.0.0.5", "ansible_port": 2222, "db_password": "x"});
        let spec = ConnSpec::resolve("web1", Some("ssh"), |k| Ok(vars.get(k).cloned())).unwrap();
        let text = serde_json::to_string(&spec).unwrap();
        assert!(!text.contains("db_password"));
        let back: ConnSpec = serde_json::from_str(&text).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn localhost_defaults_to_local_and_unknown_kinds_are_refused() {
        assert_eq!(
            ConnSpec::resolve("localhost", None, |_| Ok(None)).unwrap(),
            ConnSpec::Local
        );
        let err = ConnSpec::resolve("h", Some("winrm"), |_| Ok(None)).unwrap_err();
        assert!(err.contains("winrm"), "{err}");
    }

    #[test]
    fn default_user_does_not_override_the_inventory() {
        let spec = ConnSpec::resolve("h", None, |k| {
            Ok((k == "ansible_user").then(|| json!("deploy")))
        })
        .unwrap()
        .with_default_user(Some("root"));
        let ConnSpec::Ssh { vars, .. } = spec else {
            panic!("ssh expected")
        };
        assert_eq!(vars["ansible_user"], "deploy");
    }
}
