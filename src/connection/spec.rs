//! A connection described as data: what the executor resolved from a host's
//! variables, kept in the state store so that a rollback can reach the same
//! host the same way without re-reading the inventory.

use super::postgres::{PgOptions, PostgresConnection};
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
    /// A PostgreSQL server reached from the controller (`pg_url`). The URL is
    /// kept without its password, which is never stored: a later rollback
    /// takes it from `PGPASSWORD` (or the URL's own `password=` is refused).
    Postgres {
        host: String,
        url: String,
        #[serde(skip)]
        password: Option<PgPassword>,
    },
}

/// A password kept out of `Debug` output and the state store.
#[derive(Clone, PartialEq)]
pub struct PgPassword(pub String);

impl std::fmt::Debug for PgPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
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
            "postgres" => {
                let url = match var("pg_url")? {
                    Some(Value::String(u)) => u,
                    _ => {
                        return Err(format!(
                            "host {host} has `ansible_connection: postgres` but no `pg_url` variable"
                        ));
                    }
                };
                let (url, password) = split_password(&url);
                PgOptions::parse(&url).map_err(|e| format!("pg_url of host {host}: {e}"))?;
                Ok(ConnSpec::Postgres {
                    host: host.to_string(),
                    url,
                    password: password.map(PgPassword),
                })
            }
            other => Err(format!(
                "connection type `{other}` is not supported (use ssh, local or postgres)"
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
            ConnSpec::Postgres {
                host,
                url,
                password,
            } => {
                let options = PgOptions::parse(url)
                    .map(|mut o| {
                        if let Some(p) = password {
                            o.config.password(p.0.as_str());
                        }
                        o
                    })
                    .map_err(|e| e.to_string());
                Box::new(PostgresConnection::new(host, options))
            }
        }
    }
}

/// Takes the password out of a libpq URI (`user:pw@`, `?password=`) or keyword
/// string (`password=…`), so that the rest can be recorded.
pub fn split_password(url: &str) -> (String, Option<String>) {
    let s = url.trim();
    if let Some(rest) = s
        .strip_prefix("postgresql://")
        .map(|r| ("postgresql://", r))
        .or_else(|| s.strip_prefix("postgres://").map(|r| ("postgres://", r)))
    {
        let (scheme, rest) = rest;
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (auth, tail) = rest.split_at(auth_end);
        let mut password = None;
        let auth = match auth.rfind('@') {
            Some(at) => {
                let (userinfo, hostpart) = auth.split_at(at);
                match userinfo.split_once(':') {
                    Some((user, pw)) => {
                        password = Some(pw.to_string());
                        format!("{user}{hostpart}")
                    }
                    None => auth.to_string(),
                }
            }
            None => auth.to_string(),
        };
        let tail = match tail.split_once('?') {
            Some((path, query)) => {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|kv| match kv.split_once('=') {
                        Some(("password", v)) => {
                            password = Some(v.to_string());
                            false
                        }
                        _ => true,
                    })
                    .collect();
                if kept.is_empty() {
                    path.to_string()
                } else {
                    format!("{path}?{}", kept.join("&"))
                }
            }
            None => tail.to_string(),
        };
        (format!("{scheme}{auth}{tail}"), password)
    } else {
        let mut password = None;
        let kept: Vec<&str> = s
            .split_whitespace()
            .filter(|kv| match kv.split_once('=') {
                Some(("password", v)) => {
                    password = Some(v.trim_matches('\'').to_string());
                    false
                }
                _ => true,
            })
            .collect();
        (kept.join(" "), password)
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
    fn postgres_hosts_keep_their_password_out_of_the_record() {
        let vars =
            json!({"pg_url": "postgresql://app:s3cret@db.example:5432/main?sslmode=require"});
        let spec = ConnSpec::resolve("db", Some("postgres"), |k| Ok(vars.get(k).cloned())).unwrap();
        let text = serde_json::to_string(&spec).unwrap();
        assert!(!text.contains("s3cret"), "{text}");
        assert!(!format!("{spec:?}").contains("s3cret"));
        assert!(
            text.contains("postgresql://app@db.example:5432/main?sslmode=require"),
            "{text}"
        );
        let err = ConnSpec::resolve("db", Some("postgres"), |_| Ok(None)).unwrap_err();
        assert!(err.contains("pg_url"), "{err}");
        assert_eq!(
            split_password("host=h password=pw dbname=d"),
            ("host=h dbname=d".to_string(), Some("pw".to_string()))
        );
        assert_eq!(
            split_password("postgres://u@h/d?password=pw&sslmode=disable"),
            (
                "postgres://u@h/d?sslmode=disable".to_string(),
                Some("pw".to_string())
            )
        );
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
