//! `ansible_connection: postgres`: a host that is a PostgreSQL server reached
//! straight from the controller (managed PostgreSQL), with no shell behind it.
//!
//! Only the `postgresql_*` modules (through [`PostgresConnection::client`]) and
//! `sqlite_to_postgres` (with the host's options) run on such a host. Every other
//! module fails, naming the host.
//!
//! The address comes from the host's `pg_url`, a libpq URI or keyword string.
//! `sslmode` takes all of libpq's values: `disable`, `allow`/`prefer` (TLS when the
//! server offers it, unverified), `require` (TLS, unverified), `verify-ca` (chain
//! checked) and `verify-full` (chain and host name checked); `sslrootcert` names
//! the CA file (otherwise the system's roots). Waits are bounded: connecting, and
//! each statement, end with an error after their timeouts instead of hanging on a
//! dropped connection.

use super::{ConnError, Connection, Exec, Output, Stdin};
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::config::SslMode as WireSsl;
use tokio_postgres::{Client, Config, SimpleQueryMessage};

/// How long connecting may take unless the URL says (`connect_timeout`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one statement may take before the host is reported failed.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("invalid PostgreSQL connection string: {0}")]
    Url(String),
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("cannot connect to {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error("{0}")]
    Server(String),
    #[error("{target}: no answer within {secs} s (connection lost?)")]
    Timeout { target: String, secs: u64 },
    #[error("cannot start the I/O runtime: {0}")]
    Runtime(String),
}

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = PgError;
    fn from_str(s: &str) -> Result<Self, PgError> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => return Err(PgError::Url(format!("unknown sslmode `{other}`"))),
        })
    }
}

/// Everything needed to open a session: the parsed connection string plus TLS.
#[derive(Clone)]
pub struct PgOptions {
    pub config: Config,
    pub ssl: SslMode,
    pub root_cert: Option<PathBuf>,
    pub statement_timeout: Duration,
}

impl fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl PgOptions {
    /// Parses a libpq URI (`postgresql://user@host:port/db?sslmode=…`) or keyword
    /// string (`host=… dbname=… sslmode=…`).
    pub fn parse(conninfo: &str) -> Result<PgOptions, PgError> {
        let (rest, ssl, root) = split_tls_params(conninfo);
        let mut config = Config::from_str(&rest).map_err(|e| PgError::Url(e.to_string()))?;
        let ssl = match ssl {
            Some(s) => s.parse()?,
            None => SslMode::Prefer,
        };
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_password().is_none()
            && let Ok(pw) = std::env::var("PGPASSWORD")
        {
            config.password(pw);
        }
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(15))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3)
            .tcp_user_timeout(Duration::from_secs(30))
            .application_name("tbuddy-deploy");
        Ok(PgOptions {
            config,
            ssl,
            root_cert: root.map(PathBuf::from),
            statement_timeout: STATEMENT_TIMEOUT,
        })
    }

    /// `user@host:port/db`, never the password.
    pub fn describe(&self) -> String {
        describe_config(&self.config)
    }
}

/// `user@host:port/db` of a session's settings, never the password.
pub fn describe_config(c: &Config) -> String {
    let host = match c.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{host}:{port}/{}",
        c.get_user().unwrap_or(""),
        c.get_dbname().unwrap_or("")
    )
}

/// Takes `sslmode` and `sslrootcert` out of a connection string (tokio-postgres
/// knows only some sslmode values), returning the rest.
/// Takes `sslmode` and `sslrootcert` out of a connection string (tokio-postgres
/// knows neither fully): the rest, the mode and the CA file.
pub fn split_tls_params(conninfo: &str) -> (String, Option<String>, Option<String>) {
    let (mut ssl, mut root) = (None, None);
    let mut take = |k: &str, v: &str| match k {
        "sslmode" => {
            ssl = Some(v.to_string());
            true
        }
        "sslrootcert" => {
            root = Some(v.to_string());
            true
        }
        _ => false,
    };
    let s = conninfo.trim();
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        let Some((head, query)) = s.split_once('?') else {
            return (s.to_string(), None, None);
        };
        let kept: Vec<&str> = query
            .split('&')
            .filter(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                !take(k, &percent_decode(v))
            })
            .collect();
        let rest = if kept.is_empty() {
            head.to_string()
        } else {
            format!("{head}?{}", kept.join("&"))
        };
        (rest, ssl, root)
    } else {
        let kept: Vec<&str> = s
            .split_whitespace()
            .filter(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                !take(k.trim(), v.trim_matches('\''))
            })
            .collect();
        (kept.join(" "), ssl, root)
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One open session, driven on its own small runtime (hosts run on plain threads).
pub struct PgClient {
    rt: tokio::runtime::Runtime,
    client: Client,
    dbname: Option<String>,
    target: String,
    timeout: Duration,
}

impl PgClient {
    pub fn connect(opts: &PgOptions) -> Result<PgClient, PgError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| PgError::Runtime(e.to_string()))?;
        let target = opts.describe();
        let config = &opts.config;
        let connect_limit = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(CONNECT_TIMEOUT)
            + Duration::from_secs(5);
        let fail = |reason: String| PgError::Connect {
            target: target.clone(),
            reason,
        };
        let client = block(&rt, async {
            let connecting = connect_with(config, opts.ssl, opts.root_cert.as_deref());
            match tokio::time::timeout(connect_limit, connecting).await {
                Err(_) => Err(fail("timed out".into())),
                Ok(Err(ConnectFailure::Tls(e))) => Err(e),
                Ok(Err(ConnectFailure::Server(e))) => Err(fail(describe_error(&e))),
                Ok(Ok((client, _task))) => Ok(client),
            }
        })?;
        Ok(PgClient {
            rt,
            client,
            dbname: opts.config.get_dbname().map(String::from),
            target,
            timeout: opts.statement_timeout,
        })
    }

    /// Runs one statement (simple protocol); returns its rows as text, the
    /// first row's first column being what the callers read.
    pub fn simple(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, PgError> {
        let limit = self.timeout;
        let target = self.target.clone();
        let client = &self.client;
        block(&self.rt, async move {
            let msgs = tokio::time::timeout(limit, client.simple_query(sql))
                .await
                .map_err(|_| PgError::Timeout {
                    target,
                    secs: limit.as_secs(),
                })?
                .map_err(|e| PgError::Server(describe_error(&e)))?;
            Ok(msgs
                .into_iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::Row(r) => Some(
                        (0..r.len())
                            .map(|i| r.get(i).map(String::from))
                            .collect::<Vec<_>>(),
                    ),
                    _ => None,
                })
                .collect())
        })
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

fn block<F>(rt: &tokio::runtime::Runtime, fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| match s.spawn(|| rt.block_on(fut)).join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    } else {
        rt.block_on(fut)
    }
}

/// The server's own words when there are some.
pub fn describe_error(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{}: {}", db.severity(), db.message());
        if let Some(d) = db.detail() {
            s.push_str(&format!(" ({d})"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(&format!(": {inner}"));
        src = inner.source();
    }
    s
}

/// A TLS connector for `ssl` (anything but `Disable`), checking the server against
/// `root_cert` or the system's roots as the mode asks. Also used by the data migration.
pub fn tls_connector(
    ssl: SslMode,
    root_cert: Option<&std::path::Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, PgError> {
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(
        ssl, root_cert,
    )?))
}

/// Why `connect_with` failed.
#[derive(Debug)]
pub enum ConnectFailure {
    /// The TLS settings themselves (a CA file that cannot be read, no roots).
    Tls(PgError),
    /// Connecting, the TLS handshake or logging in.
    Server(tokio_postgres::Error),
}

/// Opens a session with `config` as `ssl` asks (TLS through rustls unless `Disable`),
/// the connection driven by a task on the current runtime. Shared by the `postgres`
/// connection, the data migration and the state store.
pub async fn connect_with(
    config: &Config,
    ssl: SslMode,
    root_cert: Option<&std::path::Path>,
) -> Result<(Client, tokio::task::JoinHandle<()>), ConnectFailure> {
    let mut config = config.clone();
    config.ssl_mode(wire_ssl_mode(ssl));
    let (client, task) = if ssl == SslMode::Disable {
        let (client, conn) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(ConnectFailure::Server)?;
        (client, tokio::spawn(async move { drop(conn.await) }))
    } else {
        let tls = tls_connector(ssl, root_cert).map_err(ConnectFailure::Tls)?;
        let (client, conn) = config.connect(tls).await.map_err(ConnectFailure::Server)?;
        (client, tokio::spawn(async move { drop(conn.await) }))
    };
    Ok((client, task))
}

/// The sslmode tokio-postgres negotiates for `ssl`: the checks beyond "encrypted"
/// are done by the connector.
pub fn wire_ssl_mode(ssl: SslMode) -> WireSsl {
    match ssl {
        SslMode::Disable => WireSsl::Disable,
        SslMode::Prefer => WireSsl::Prefer,
        _ => WireSsl::Require,
    }
}

fn tls_config(
    ssl: SslMode,
    root_cert: Option<&std::path::Path>,
) -> Result<rustls::ClientConfig, PgError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| PgError::Tls(e.to_string()))?;
    if matches!(ssl, SslMode::Prefer | SslMode::Require) {
        // libpq's prefer/require encrypt without checking who answers.
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| PgError::Tls(format!("{}: {e}", path.display())))?;
            for c in certs {
                let c = c.map_err(|e| PgError::Tls(format!("{}: {e}", path.display())))?;
                roots
                    .add(c)
                    .map_err(|e| PgError::Tls(format!("{}: {e}", path.display())))?;
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(c);
            }
        }
    }
    if roots.is_empty() {
        return Err(PgError::Tls(
            "no CA certificates to verify the server with (set sslrootcert / ca_cert)".into(),
        ));
    }
    let webpki =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| PgError::Tls(e.to_string()))?;
    let builder = builder.dangerous();
    Ok(if ssl == SslMode::VerifyCa {
        builder
            .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
            .with_no_client_auth()
    } else {
        builder
            .with_custom_certificate_verifier(webpki)
            .with_no_client_auth()
    })
}

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// `sslmode=require`: any certificate, but the handshake signatures must hold.
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain must lead to a trusted CA; the name is not checked.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::{CertificateError, Error};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, name, ocsp, now)
        {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// A managed PostgreSQL server as an inventory host: sessions per database,
/// opened on first use and kept for the run.
pub struct PostgresConnection {
    host: String,
    /// An unusable `pg_url` fails the first module that needs it.
    options: Result<PgOptions, String>,
    clients: HashMap<String, PgClient>,
}

impl PostgresConnection {
    pub fn new(host: &str, options: Result<PgOptions, String>) -> PostgresConnection {
        PostgresConnection {
            host: host.to_string(),
            options,
            clients: HashMap::new(),
        }
    }

    /// The host's connection options (its `pg_url`).
    pub fn options(&self) -> Result<&PgOptions, PgError> {
        self.options
            .as_ref()
            .map_err(|e| PgError::Url(format!("pg_url of host {}: {e}", self.host)))
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// An open session for `opts` (the host's options with a task's overrides),
    /// reused while it stays open.
    pub fn client(&mut self, opts: &PgOptions) -> Result<&PgClient, PgError> {
        let key = format!(
            "{}|{:?}|{}",
            opts.describe(),
            opts.ssl,
            opts.config
                .get_password()
                .map(crate::modules::target::sha1_hex)
                .unwrap_or_default()
        );
        if self.clients.get(&key).is_some_and(|c| c.is_closed()) {
            self.clients.remove(&key);
        }
        if !self.clients.contains_key(&key) {
            let c = PgClient::connect(opts)?;
            self.clients.insert(key.clone(), c);
        }
        Ok(self.clients.get(&key).expect("just inserted"))
    }
}

impl PostgresConnection {
    /// Closes the sessions on database `db` (before dropping it).
    pub fn close_sessions_on(&mut self, db: &str) {
        self.clients.retain(|_, c| c.dbname.as_deref() != Some(db));
    }
}

impl Connection for PostgresConnection {
    fn exec_stdin(&mut self, _req: &Exec<'_>, _stdin: Stdin<'_>) -> Result<Output, ConnError> {
        Err(ConnError::Failed(format!(
            "host {} is reached with `ansible_connection: postgres` (a PostgreSQL server, no shell): \
             only the postgresql_* modules and sqlite_to_postgres can run on it",
            self.host
        )))
    }

    fn describe(&self) -> String {
        match &self.options {
            Ok(o) => format!("postgres {}", o.describe()),
            Err(_) => format!("postgres {}", self.host),
        }
    }

    fn postgres(&mut self) -> Option<&mut PostgresConnection> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_libpq_sslmode_parses_and_the_rest_reaches_tokio_postgres() {
        let o = PgOptions::parse(
            "postgresql://app:pw@db.example:6432/main?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(o.ssl, SslMode::VerifyFull);
        assert_eq!(
            o.root_cert.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
        assert_eq!(
            o.config.get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
        assert_eq!(o.describe(), "app@db.example:6432/main");
        for (m, want) in [
            ("disable", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
        ] {
            let o = PgOptions::parse(&format!("host=h dbname=d sslmode={m}")).unwrap();
            assert_eq!(o.ssl, want);
            assert_eq!(o.config.get_dbname(), Some("d"));
        }
        assert!(PgOptions::parse("postgresql://h/d?sslmode=sometimes").is_err());
        let o = PgOptions::parse("postgresql://h/d").unwrap();
        assert_eq!(o.ssl, SslMode::Prefer);
        assert_eq!(o.config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
    }

    #[test]
    fn verify_modes_need_roots_from_somewhere() {
        let mut o = PgOptions::parse("postgresql://h/d?sslmode=verify-full").unwrap();
        o.root_cert = Some("/nonexistent/ca.pem".into());
        assert!(matches!(
            tls_config(o.ssl, o.root_cert.as_deref()),
            Err(PgError::Tls(_))
        ));
        o.ssl = SslMode::Require;
        assert!(tls_config(o.ssl, o.root_cert.as_deref()).is_ok());
    }

    #[test]
    fn a_closed_port_is_a_connect_error_not_a_hang() {
        let mut o = PgOptions::parse("postgresql://u@127.0.0.1:1/d?sslmode=disable").unwrap();
        o.config.connect_timeout(Duration::from_secs(2));
        let started = std::time::Instant::now();
        let e = PgClient::connect(&o)
            .err()
            .expect("nothing listens on port 1");
        assert!(matches!(e, PgError::Connect { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    /// Makes a CA and a server certificate for `localhost` (not 127.0.0.1) in `dir`.
    fn make_certs(dir: &std::path::Path) {
        let run = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("openssl runs");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        for ca in ["ca", "other_ca"] {
            run(&[
                &["req", "-x509"][..],
                &ec,
                &[
                    "-subj",
                    &format!("/CN={ca}"),
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.crt"),
                    "-days",
                    "2",
                ],
            ]
            .concat());
        }
        run(&[
            &["req"][..],
            &ec,
            &[
                "-subj",
                "/CN=localhost",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
        ]
        .concat());
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
    }

    /// TLS in every sslmode and SCRAM login with a verifier made by this
    /// crate, against a cluster listening on loopback.
    #[test]
    #[ignore = "starts PostgreSQL with TLS (tests/run-all.sh runs it)"]
    fn tls_modes_and_scram_against_a_real_server() {
        use crate::testsupport::pg;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string();
        let Some(c) = pg::PgCluster::start_with(
            "tls_modes_and_scram",
            &[("listen_addresses", "127.0.0.1"), ("port", &port)],
        ) else {
            return;
        };
        if std::process::Command::new("openssl")
            .arg("version")
            .output()
            .is_err()
        {
            pg::not_run("tls_modes_and_scram", "openssl is not installed");
            return;
        }
        let dir = c.dir();
        make_certs(dir);
        for f in ["server.key", "server.crt"] {
            c.give_to_server(&dir.join(f));
        }
        std::fs::write(
            c.data_dir().join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 reject\n",
        )
        .unwrap();
        let verifier = crate::modules::postgresql::scram::verifier(
            "tls-pw",
            &crate::modules::postgresql::scram::new_salt(),
            4096,
        );
        for (k, v) in [
            (
                "ssl_cert_file",
                dir.join("server.crt").display().to_string(),
            ),
            ("ssl_key_file", dir.join("server.key").display().to_string()),
            ("ssl", "on".to_string()),
        ] {
            c.psql("postgres", &format!("ALTER SYSTEM SET {k} = '{v}'"));
        }
        c.psql(
            "postgres",
            &format!("CREATE ROLE tls_user LOGIN PASSWORD '{verifier}'"),
        );
        c.psql("postgres", "SELECT pg_reload_conf()");
        std::thread::sleep(Duration::from_millis(300));
        let ca = dir.join("ca.crt").display().to_string();
        let other = dir.join("other_ca.crt").display().to_string();
        let attempt = |host: &str, mode: &str, root: &str, pw: &str| {
            let url = format!(
                "postgresql://tls_user:{pw}@{host}:{port}/postgres?sslmode={mode}&sslrootcert={root}"
            );
            let o = PgOptions::parse(&url).unwrap();
            PgClient::connect(&o).and_then(|cl| {
                cl.simple("SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            })
        };
        let ssl_on = |r: Result<Vec<Vec<Option<String>>>, PgError>| match r {
            Ok(rows) => rows[0][0].as_deref() == Some("true"),
            Err(e) => panic!("{e}"),
        };
        assert!(ssl_on(attempt("localhost", "verify-full", &ca, "tls-pw")));
        assert!(ssl_on(attempt("127.0.0.1", "verify-ca", &ca, "tls-pw")));
        assert!(ssl_on(attempt("127.0.0.1", "require", &other, "tls-pw")));
        assert!(ssl_on(attempt("127.0.0.1", "prefer", &other, "tls-pw")));
        let e = attempt("127.0.0.1", "verify-full", &ca, "tls-pw").unwrap_err();
        assert!(
            e.to_string().contains("cannot connect"),
            "name mismatch accepted: {e}"
        );
        let e = attempt("localhost", "verify-full", &other, "tls-pw").unwrap_err();
        assert!(
            matches!(e, PgError::Connect { .. }),
            "unknown CA accepted: {e}"
        );
        let e = attempt("127.0.0.1", "disable", &ca, "tls-pw").unwrap_err();
        assert!(e.to_string().contains("reject"), "{e}");
        let e = attempt("localhost", "verify-full", &ca, "wrong").unwrap_err();
        assert!(
            e.to_string().contains("password authentication failed"),
            "{e}"
        );

        // The data migration connects the same way.
        let migrate_ssl = |root: &str| {
            let url = format!(
                "postgresql://tls_user:tls-pw@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={root}"
            );
            let spec = crate::migrate::TargetSpec::parse(&url, None).unwrap();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let c = spec.connect().await.map_err(|e| e.to_string())?;
                let row = c
                    .query_one(
                        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                        &[],
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<bool, String>(row.get(0))
            })
        };
        assert_eq!(migrate_ssl(&ca), Ok(true));
        assert!(migrate_ssl(&other).is_err(), "unknown CA accepted");

        // And so does the state store.
        let state = |root: &str| {
            crate::state::open(&crate::state::StateSpec::Postgres(format!(
                "postgresql://tls_user:tls-pw@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={root}"
            )))
        };
        c.psql("postgres", "GRANT CREATE ON DATABASE postgres TO tls_user");
        let store = state(&ca).unwrap_or_else(|e| panic!("{e}"));
        assert!(store.runs(1).unwrap().is_empty());
        let err = state(&other).err().expect("unknown CA accepted");
        assert!(!err.to_string().contains("tls-pw"), "{err}");
    }
}
