//! The `ssh` connection: one multiplexed OpenSSH session per host for the whole run.
//!
//! We start the control master ourselves (`ssh -M -S CTL -f -N …`) instead of using
//! `openssh::SessionBuilder`, because the builder cannot pass extra `-o` options and
//! `ansible_ssh_common_args` / `ansible_ssh_extra_args` must reach `ssh`. Commands then go
//! through the master's control socket with openssh's native mux client
//! (`Session::resume_mux`): no `ssh` process per command, about a millisecond per exec.
//!
//! Because the system `ssh` binary does the connecting, `~/.ssh/config` (Include, Match),
//! ProxyJump, the agent, certificates and known_hosts behave as they do for Ansible.
//!
//! The trait is synchronous and called from plain OS threads; the async work runs on one
//! process-wide multi-threaded tokio runtime through `block_on`. Streamed input
//! (`Stdin::Reader`) is read on a plain thread and handed to the async writer in chunks
//! through a bounded channel, so the reader may block and memory stays bounded.

use super::shell::{LOOP, ShellError, ShellIo};
use super::sudo::{self, Event, Gate, Scanner, Step, nonce};
use super::{Become, ConnError, Connection, Exec, Output, STREAM_CHUNK, Stdin, with_env};
use openssh::{Error as SshError, ForwardType, Session, Socket, Stdio};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::ffi::OsString;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// Used when neither `ansible_ssh_timeout` nor `ansible_timeout` is set.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An idle master (no command running) exits after this long, so a controller that dies
/// without dropping its connections leaves no `ssh` process behind for long. The next
/// command after an idle exit simply reconnects.
const CONTROL_PERSIST: &str = "ControlPersist=60";

/// How to reach one inventory host over SSH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshParams {
    /// The inventory name (used in messages).
    pub host: String,
    /// `ansible_host`, or the inventory name.
    pub address: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub private_key: Option<PathBuf>,
    /// Shell-split `ansible_ssh_common_args` followed by `ansible_ssh_extra_args`.
    pub common_args: Vec<String>,
    /// `StrictHostKeyChecking=accept-new` instead of `yes`.
    pub accept_new_host_keys: bool,
    pub connect_timeout: Duration,
}

impl SshParams {
    /// Reads the connection variables of one host (strings or numbers), with the legacy
    /// `ansible_ssh_host/port/user` spellings as fallbacks. A port that is not a number in
    /// 1..=65535 is ignored (ssh then uses its configured port).
    pub fn from_vars(host: &str, vars: &Map<String, Value>, accept_new_host_keys: bool) -> Self {
        let address = var_str(vars, &["ansible_host", "ansible_ssh_host"])
            .unwrap_or_else(|| host.to_string());
        let port = var_str(vars, &["ansible_port", "ansible_ssh_port"])
            .and_then(|p| p.trim().parse::<u16>().ok())
            .filter(|p| *p != 0);
        let user = var_str(vars, &["ansible_user", "ansible_ssh_user"]);
        let private_key = var_str(
            vars,
            &["ansible_ssh_private_key_file", "ansible_private_key_file"],
        )
        .map(|p| expand_tilde(&p));
        let mut common_args = Vec::new();
        for name in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
            if let Some(s) = var_str(vars, &[name]) {
                common_args.extend(split_args(&s));
            }
        }
        let connect_timeout = var_str(vars, &["ansible_ssh_timeout", "ansible_timeout"])
            .and_then(|t| t.trim().parse::<f64>().ok())
            .filter(|t| t.is_finite() && *t > 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        SshParams {
            host: host.to_string(),
            address,
            port,
            user,
            private_key,
            common_args,
            accept_new_host_keys,
            connect_timeout,
        }
    }

    /// `ssh root@10.0.0.5:22` (the port only when known).
    pub fn describe(&self) -> String {
        let mut s = String::from("ssh ");
        if let Some(u) = &self.user {
            s.push_str(u);
            s.push('@');
        }
        if self.address.contains(':') {
            s.push_str(&format!("[{}]", self.address));
        } else {
            s.push_str(&self.address);
        }
        if let Some(p) = self.port {
            s.push_str(&format!(":{p}"));
        }
        s
    }

    /// The arguments of the master `ssh` (everything after the program name).
    ///
    /// ssh keeps the *first* value it sees for an option, so the order matters: our
    /// must-haves come first, then the inventory's args, then defaults they may override.
    fn master_args(&self, ctl: &Path, log: &Path) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["-E".into(), log.into(), "-S".into(), ctl.into()];
        for s in ["-M", "-f", "-N", "-o", "BatchMode=yes"] {
            a.push(s.into());
        }
        if self.accept_new_host_keys {
            // An explicit command-line choice beats the inventory's StrictHostKeyChecking.
            a.push("-o".into());
            a.push("StrictHostKeyChecking=accept-new".into());
        }
        a.extend(self.common_args.iter().map(OsString::from));
        let timeout = self.connect_timeout.as_secs().max(1);
        for d in [
            "StrictHostKeyChecking=yes".to_string(),
            CONTROL_PERSIST.to_string(),
            format!("ConnectTimeout={timeout}"),
            "ServerAliveInterval=15".to_string(),
            "ServerAliveCountMax=4".to_string(),
        ] {
            a.push("-o".into());
            a.push(d.into());
        }
        if let Some(key) = &self.private_key {
            a.push("-o".into());
            a.push("IdentitiesOnly=yes".into());
            a.push("-i".into());
            a.push(key.into());
        }
        if let Some(p) = self.port {
            a.push("-p".into());
            a.push(p.to_string().into());
        }
        if let Some(u) = &self.user {
            a.push("-l".into());
            a.push(u.into());
        }
        a.push(self.address.clone().into());
        a
    }
}

fn var_str(vars: &Map<String, Value>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| match vars.get(*n)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn expand_tilde(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ if p == "~" => std::env::var_os("HOME").map_or_else(|| p.into(), PathBuf::from),
        _ => PathBuf::from(p),
    }
}

/// POSIX shell word splitting; an unbalanced quote falls back to whitespace splitting
/// (ssh then reports the bad option itself).
fn split_args(s: &str) -> Vec<String> {
    shlex::split(s).unwrap_or_else(|| s.split_whitespace().map(str::to_string).collect())
}

/// One control master for one host, and the persistent shells running over it (by the
/// user they run as: `None` is the login user).
struct Master {
    session: Option<Arc<Session>>,
    ctl: PathBuf,
    log: PathBuf,
    shells: HashMap<Option<String>, RemoteShell>,
}

impl std::fmt::Debug for Master {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Master")
            .field("ctl", &self.ctl)
            .field("shells", &self.shells.len())
            .finish()
    }
}

/// A persistent shell (see `shell.rs`) and the channel it runs in.
struct RemoteShell {
    io: ShellIo<openssh::ChildStdin, openssh::ChildStdout, openssh::ChildStderr>,
    /// Dropping it closes the channel; the shell then reads end of file and exits.
    _child: openssh::Child<Arc<Session>>,
}

impl Master {
    fn session(&self) -> &Arc<Session> {
        self.session.as_ref().expect("session present until close")
    }

    /// The last lines the master wrote to its log (why it died, usually).
    fn log_tail(&self) -> String {
        std::fs::read_to_string(&self.log)
            .map(|s| tidy_ssh_text(&s, 5))
            .unwrap_or_default()
    }

    /// Stops the master (if it still runs) and removes its files.
    fn close(mut self) {
        // The shells hold the session too; their channels close with them.
        self.shells.clear();
        if let Some(session) = self.session.take().and_then(|s| Arc::try_unwrap(s).ok()) {
            // A master that hangs must not hang us: the close request gets a few seconds.
            block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(5), session.close()).await;
            });
        }
        release_ctl_paths(&self.ctl, &self.log);
    }
}

/// An SSH connection to one host, connected on first use and kept for the whole run.
#[derive(Debug)]
pub struct SshConnection {
    params: SshParams,
    master: Option<Master>,
    last_connect: Option<Duration>,
    /// Whether scripts go through a persistent shell (see `shell.rs`). Turned off for the
    /// rest of the run when the host cannot keep one (no `mktemp`, `/tmp` not writable, or
    /// shells that keep dying): every command then gets its own session, as before.
    persistent: bool,
    shell_failures: u32,
    /// Why the last persistent shell failed (for tests and debugging).
    shell_error: Option<String>,
}

/// After this many persistent shells died on a host, it gets one session per command.
const MAX_SHELL_FAILURES: u32 = 2;

impl SshConnection {
    pub fn new(params: SshParams) -> Self {
        SshConnection {
            params,
            master: None,
            last_connect: None,
            persistent: true,
            shell_failures: 0,
            shell_error: None,
        }
    }

    /// Whether scripts still go through persistent shells, and why the last one failed.
    pub fn persistent_shell(&self) -> (bool, Option<&str>) {
        (self.persistent, self.shell_error.as_deref())
    }

    /// Chooses between one persistent shell per user (the default) and one SSH session
    /// per command.
    pub fn set_persistent_shell(&mut self, on: bool) {
        self.persistent = on;
        if !on && let Some(m) = self.master.as_mut() {
            m.shells.clear();
        }
    }

    pub fn params(&self) -> &SshParams {
        &self.params
    }

    /// Connects now instead of on the first `exec` (a no-op when already connected).
    pub fn connect(&mut self) -> Result<(), ConnError> {
        if self.master.is_none() {
            let started = Instant::now();
            self.master = Some(launch_master(&self.params)?);
            self.last_connect = Some(started.elapsed());
        }
        Ok(())
    }

    /// How long the most recent master start took.
    pub fn last_connect_time(&self) -> Option<Duration> {
        self.last_connect
    }

    /// Closes the master; the next `exec` connects again.
    pub fn disconnect(&mut self) {
        if let Some(m) = self.master.take() {
            m.close();
        }
    }

    fn unreachable(&self, msg: &str) -> ConnError {
        ConnError::Unreachable(format!("{} ({}): {msg}", self.params.host, self.describe()))
    }
}

/// Where a forwarded connection goes on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteEnd {
    /// A unix socket on the host.
    Unix(PathBuf),
    /// A TCP address, resolved by the host.
    Tcp { host: String, port: u16 },
}

impl RemoteEnd {
    fn socket(&self) -> Socket<'_> {
        match self {
            RemoteEnd::Unix(p) => Socket::from(p.as_path()),
            RemoteEnd::Tcp { host, port } => Socket::new(host.as_str(), *port),
        }
    }
}

impl std::fmt::Display for RemoteEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteEnd::Unix(p) => write!(f, "{}", p.display()),
            RemoteEnd::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            RemoteEnd::Tcp { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

/// A local forward through a host's control master: each connection to the unix socket
/// `listen` on the controller is carried to `remote` on the host. While it exists, an idle
/// command keeps the master from exiting (ControlPersist counts sessions, not listeners).
/// Dropping it ends the forward and removes the socket.
pub struct LocalForward {
    session: Arc<Session>,
    listen: PathBuf,
    remote: RemoteEnd,
    hold: Option<openssh::Child<Arc<Session>>>,
}

impl std::fmt::Debug for LocalForward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LocalForward({} -> {})",
            self.listen.display(),
            self.remote
        )
    }
}

impl LocalForward {
    /// The controller end.
    pub fn listen(&self) -> &Path {
        &self.listen
    }
}

impl Drop for LocalForward {
    fn drop(&mut self) {
        // Closing its input ends the idle command.
        self.hold.take();
        let (session, listen, remote) = (&self.session, &self.listen, &self.remote);
        block_on(async {
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                session.close_port_forward(ForwardType::Local, listen.as_path(), remote.socket()),
            )
            .await;
        });
        let _ = std::fs::remove_file(&self.listen);
    }
}

impl SshConnection {
    /// Opens a local forward from the unix socket `listen` on the controller (which must
    /// not exist yet; its directory should be private) to `remote` on the host, through
    /// the control master, connecting first if needed. The forward lasts until the
    /// returned value is dropped.
    pub fn forward_local(
        &mut self,
        listen: &Path,
        remote: &RemoteEnd,
    ) -> Result<LocalForward, ConnError> {
        let mut retried = false;
        loop {
            self.connect()?;
            let session = Arc::clone(self.master.as_ref().expect("connected").session());
            let opened = block_on(async {
                let session = &session;
                session
                    .request_port_forward(ForwardType::Local, listen, remote.socket())
                    .await?;
                let mut cmd = Arc::clone(session).arc_raw_command("exec cat >/dev/null");
                cmd.stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                match cmd.spawn().await {
                    Ok(child) => Ok(child),
                    Err(e) => {
                        let _ = session
                            .close_port_forward(ForwardType::Local, listen, remote.socket())
                            .await;
                        Err(e)
                    }
                }
            });
            match opened {
                Ok(hold) => {
                    return Ok(LocalForward {
                        session,
                        listen: listen.to_path_buf(),
                        remote: remote.clone(),
                        hold: Some(hold),
                    });
                }
                Err(e) => {
                    let alive = block_on(session.check()).is_ok();
                    drop(session);
                    let _ = std::fs::remove_file(listen);
                    if !alive && !retried {
                        // The master idled out or died: connect again, once.
                        self.disconnect();
                        retried = true;
                        continue;
                    }
                    return Err(ConnError::Failed(format!(
                        "{}: cannot forward {} on the controller to {remote} on the host: {}",
                        self.params.host,
                        listen.display(),
                        err_chain(&e)
                    )));
                }
            }
        }
    }
}

impl SshConnection {
    /// Runs one command, reconnecting once if the master was gone before it started.
    fn exec_input(
        &mut self,
        req: &Exec<'_>,
        input: &mut Input<'_>,
        mut sink: Option<&mut (dyn io::Write + Send)>,
    ) -> Result<Output, ConnError> {
        let data = match input {
            Input::Null => Some(None),
            Input::Bytes(b) => Some(Some(*b)),
            Input::Feed(_) => None,
        };
        // A persistent shell hands back whole outputs: streamed output takes a session.
        if let Some(data) = data
            && self.persistent
            && sink.is_none()
            && let Some(done) = self.exec_on_shell(req, data)
        {
            return done;
        }
        let mut retried = false;
        loop {
            self.connect()?;
            let master = self.master.as_ref().expect("connected");
            let result = block_on(run(
                master.session(),
                req,
                self.params.user.as_deref(),
                &mut *input,
                sink.as_deref_mut(),
            ));
            match result {
                Ok(out) => return Ok(out),
                Err(RunError::Failed(m)) => return Err(ConnError::Failed(m)),
                Err(RunError::Lost(m)) => {
                    let tail = master.log_tail();
                    self.disconnect();
                    return Err(self.unreachable(&join_msg(&m, &tail)));
                }
                Err(RunError::NotStarted(m)) => {
                    // The master is gone (it died, was killed, or idled out): the command
                    // never started (and consumed no input), so reconnecting and running
                    // it again is safe. Once.
                    let tail = master.log_tail();
                    self.disconnect();
                    if retried {
                        return Err(self.unreachable(&join_msg(&m, &tail)));
                    }
                    retried = true;
                }
            }
        }
    }
}

impl SshConnection {
    /// Runs one command on the persistent shell of its user, starting that shell first if
    /// needed. `None`: the shell could not take it and nothing ran; the caller runs it the
    /// ordinary way (which also reconnects a lost master).
    fn exec_on_shell(
        &mut self,
        req: &Exec<'_>,
        data: Option<&[u8]>,
    ) -> Option<Result<Output, ConnError>> {
        let login = self.params.user.clone();
        let key = req
            .become_as
            .filter(|b| login.as_deref() != Some(b.user.as_str()))
            .map(|b| b.user.clone());
        if let Err(e) = self.connect() {
            return Some(Err(e));
        }
        let master = self.master.as_mut().expect("connected");
        if !master.shells.contains_key(&key) {
            let session = Arc::clone(master.session());
            match block_on(start_shell(session, req.become_as, login.as_deref())) {
                Ok(shell) => {
                    master.shells.insert(key.clone(), shell);
                }
                Err(StartError::Become(msg)) => return Some(Err(ConnError::Failed(msg))),
                Err(StartError::Other(m)) => {
                    self.shell_failed(m);
                    return None;
                }
            }
        }
        let shell = master.shells.get_mut(&key).expect("started above");
        let script = with_env(req.script, req.env);
        match block_on(shell.io.run(&script, data)) {
            Ok(out) => Some(Ok(out)),
            Err(ShellError::NotStarted(m)) => {
                master.shells.remove(&key);
                self.shell_failed(m);
                None
            }
            Err(ShellError::Lost(m)) => {
                master.shells.remove(&key);
                let alive = block_on(master.session().check()).is_ok();
                let tail = master.log_tail();
                self.shell_failed(m.clone());
                if alive {
                    return Some(Err(ConnError::Failed(m)));
                }
                self.disconnect();
                Some(Err(self.unreachable(&join_msg(
                    "the ssh connection was lost while the command ran (it may have partly run)",
                    &tail,
                ))))
            }
        }
    }

    fn shell_failed(&mut self, why: String) {
        self.shell_error = Some(why);
        self.shell_failures += 1;
        if self.shell_failures >= MAX_SHELL_FAILURES {
            self.set_persistent_shell(false);
        }
    }
}

/// Why a persistent shell did not start.
enum StartError {
    /// sudo refused: the same refusal an ordinary command would get.
    Become(String),
    /// Anything else; the host gets one session per command instead.
    Other(String),
}

/// Starts `LOOP` as `become_as` (through sudo, answering its prompt like `run` does) and
/// waits until it is ready.
async fn start_shell(
    session: Arc<Session>,
    become_as: Option<&Become>,
    login_user: Option<&str>,
) -> Result<RemoteShell, StartError> {
    let req = Exec {
        script: LOOP,
        become_as,
        ..Default::default()
    };
    let plan = sudo::plan(&req, login_user);
    let password = sudo::password(&req, &plan);
    let mut cmd = session.arc_raw_command(plan.command_line());
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .await
        .map_err(|e| StartError::Other(format!("cannot start the shell: {}", err_chain(&e))))?;
    let (Some(mut stdin), Some(stdout), Some(mut stderr)) = (
        child.stdin().take(),
        child.stdout().take(),
        child.stderr().take(),
    ) else {
        return Err(StartError::Other("the shell's streams are missing".into()));
    };
    let mut err_buf = Vec::new();
    if let Some(marker) = plan.marker.as_deref() {
        let mut scanner = Scanner::new(marker, plan.prompt.as_deref());
        let mut gate = Gate::default();
        let mut chunk = vec![0u8; 4096];
        let ready = 'talk: loop {
            let n = stderr.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                break 'talk false;
            }
            for ev in scanner.feed(&chunk[..n]) {
                match gate.next(Some(ev)) {
                    Step::Answer => {
                        let line = format!(
                            "{}
",
                            password.unwrap_or_default()
                        );
                        let _ = stdin.write_all(line.as_bytes()).await;
                        let _ = stdin.flush().await;
                    }
                    Step::Proceed => break 'talk true,
                    Step::GiveUp => break 'talk false,
                }
            }
        };
        if !ready {
            // Closing its input makes sudo give up if it still waits for a password.
            drop(stdin);
            let mut rest = Vec::new();
            let _ = stderr.read_to_end(&mut rest).await;
            scanner.feed(&rest);
            let rc = child.wait().await.ok().and_then(|s| s.code()).unwrap_or(-1);
            let (prompts, wrong) = (scanner.prompts, gate.wrong_password);
            let said = tidy_ssh_text(&String::from_utf8_lossy(&scanner.into_stderr()), 6);
            let user = plan.become_user.as_deref().unwrap_or("?");
            return Err(StartError::Become(sudo::become_error(
                user, &said, wrong, prompts, rc,
            )));
        }
        err_buf = std::mem::take(&mut scanner.buf);
    }
    let mut io = ShellIo::new(stdin, stdout, stderr, err_buf);
    io.wait_ready().await.map_err(StartError::Other)?;
    Ok(RemoteShell { io, _child: child })
}

impl Connection for SshConnection {
    fn exec_stdin(&mut self, req: &Exec<'_>, stdin: Stdin<'_>) -> Result<Output, ConnError> {
        match stdin {
            Stdin::Null => self.exec_input(req, &mut Input::Null, None),
            Stdin::Bytes(b) => self.exec_input(req, &mut Input::Bytes(b), None),
            Stdin::Reader(r) => std::thread::scope(|s| {
                // A plain thread does the (blocking) reads and hands chunks to the async
                // writer through a small bounded channel: at most FEED_CHUNKS chunks are
                // in memory at any time.
                let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
                let (tx, rx) = mpsc::channel::<io::Result<Vec<u8>>>(FEED_CHUNKS);
                s.spawn(move || pump(r, go_rx, tx));
                let mut feed = Feed {
                    rx,
                    go: Some(go_tx),
                };
                let res = self.exec_input(req, &mut Input::Feed(&mut feed), None);
                // Unblocks the pump (if it waits to start or on a full channel).
                drop(feed);
                res
            }),
        }
    }

    fn exec_stdout_to(
        &mut self,
        req: &Exec<'_>,
        out: &mut (dyn io::Write + Send),
    ) -> Result<Output, ConnError> {
        self.exec_input(req, &mut Input::Null, Some(out))
    }

    fn describe(&self) -> String {
        self.params.describe()
    }

    fn ssh(&mut self) -> Option<&mut SshConnection> {
        Some(self)
    }
}

impl Drop for SshConnection {
    fn drop(&mut self) {
        self.disconnect();
    }
}

fn join_msg(m: &str, tail: &str) -> String {
    if tail.is_empty() {
        m.to_string()
    } else {
        format!("{m}; ssh said: {tail}")
    }
}

// ---------------------------------------------------------------------------------------
// Runtime and control paths

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tbuddy-ssh")
            .enable_all()
            .build()
            .expect("cannot start the tokio runtime for ssh")
    })
}

/// Runs a future to completion on the shared runtime. Callers are plain threads; should one
/// be inside a runtime anyway, the work moves to a scoped thread instead of panicking.
fn block_on<F>(f: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(|| runtime().block_on(f))
                .join()
                .expect("ssh worker thread panicked")
        })
    } else {
        runtime().block_on(f)
    }
}

/// All control sockets of this process live in one private (0700) directory with a short
/// path: Unix socket paths are limited to 108 bytes, and ssh appends 17 more while binding.
struct CtlDir {
    path: PathBuf,
    users: usize,
}

static CTL_DIR: Mutex<Option<CtlDir>> = Mutex::new(None);
static CTL_SEQ: AtomicU64 = AtomicU64::new(0);

fn acquire_ctl_paths() -> io::Result<(PathBuf, PathBuf)> {
    let mut guard = CTL_DIR.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        let tmp = std::env::temp_dir();
        let base = if tmp.as_os_str().len() <= 48 && tmp.is_absolute() {
            tmp
        } else {
            PathBuf::from("/tmp")
        };
        let mut last_err = None;
        for _ in 0..8 {
            let path = base.join(format!(
                "tbuddy-ssh-{}-{}",
                std::process::id(),
                &nonce()[..8]
            ));
            let mut b = std::fs::DirBuilder::new();
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            match b.create(&path) {
                Ok(()) => {
                    *guard = Some(CtlDir { path, users: 0 });
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        if guard.is_none() {
            return Err(last_err.unwrap_or_else(|| io::Error::other("no control directory")));
        }
    }
    let dir = guard.as_mut().expect("created above");
    dir.users += 1;
    let n = CTL_SEQ.fetch_add(1, Ordering::Relaxed);
    Ok((
        dir.path.join(format!("{n}.s")),
        dir.path.join(format!("{n}.log")),
    ))
}

fn release_ctl_paths(ctl: &Path, log: &Path) {
    let _ = std::fs::remove_file(ctl);
    let _ = std::fs::remove_file(log);
    let mut guard = CTL_DIR.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = guard.as_mut() {
        dir.users = dir.users.saturating_sub(1);
        if dir.users == 0 {
            let _ = std::fs::remove_dir(&dir.path);
            *guard = None;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Connecting

fn launch_master(p: &SshParams) -> Result<Master, ConnError> {
    let unreachable =
        |msg: String| ConnError::Unreachable(format!("{} ({}): {msg}", p.host, p.describe()));
    if p.address.starts_with('-') || p.address.is_empty() {
        return Err(unreachable(format!("invalid host address {:?}", p.address)));
    }
    let (ctl, log) = acquire_ctl_paths()
        .map_err(|e| unreachable(format!("cannot create the ssh control directory: {e}")))?;
    let args = p.master_args(&ctl, &log);
    // ConnectTimeout bounds each TCP connect and the banner exchange; the overall limit
    // also covers authentication and jump hosts.
    let overall = p.connect_timeout * 3 + Duration::from_secs(5);
    let res: Result<std::process::ExitStatus, String> = block_on(async {
        let mut cmd = tokio::process::Command::new("ssh");
        cmd.args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| format!("cannot run ssh: {e}"))?;
        match tokio::time::timeout(overall, child.wait()).await {
            Ok(r) => r.map_err(|e| format!("waiting for ssh: {e}")),
            Err(_) => {
                let _ = child.kill().await;
                Err(format!(
                    "connection timed out after {} s",
                    overall.as_secs()
                ))
            }
        }
    });
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let status = match res {
        Ok(s) => s,
        Err(e) => {
            release_ctl_paths(&ctl, &log);
            return Err(unreachable(join_msg(&e, &tidy_ssh_text(&log_text, 8))));
        }
    };
    if !status.success() {
        release_ctl_paths(&ctl, &log);
        return Err(unreachable(explain_connect_failure(p, status, &log_text)));
    }
    let session = Session::resume_mux(ctl.clone().into_boxed_path(), Some(log.clone().into()));
    Ok(Master {
        session: Some(Arc::new(session)),
        ctl,
        log,
        shells: HashMap::new(),
    })
}

fn explain_connect_failure(p: &SshParams, status: std::process::ExitStatus, log: &str) -> String {
    let text = tidy_ssh_text(log, 8);
    let hostport = match p.port {
        Some(port) => format!("-p {port} {}", p.address),
        None => p.address.clone(),
    };
    if log.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
        return format!(
            "the host key of {} has CHANGED since it was recorded in known_hosts; this may be \
             an attack, or the host was reinstalled. If the change is expected, remove the old \
             key (ssh-keygen -R {}) and connect again ({text})",
            p.host,
            known_hosts_name(p)
        );
    }
    if log.contains("Host key verification failed") || log.contains("host key is known") {
        return format!(
            "the host key of {} is not in known_hosts and host-key checking is strict. Check \
             its fingerprint and add it (for example `ssh-keyscan {hostport} >> \
             ~/.ssh/known_hosts`), or rerun with --accept-new-host-keys to trust keys of hosts \
             seen for the first time ({text})",
            p.host
        );
    }
    if text.is_empty() {
        format!("ssh exited with {status}")
    } else {
        text
    }
}

fn known_hosts_name(p: &SshParams) -> String {
    match p.port {
        Some(port) if port != 22 => format!("'[{}]:{port}'", p.address),
        _ => p.address.clone(),
    }
}

/// ssh's log text on one line: CRs gone, "Permanently added" noise dropped, last lines only.
fn tidy_ssh_text(s: &str, max_lines: usize) -> String {
    let lines: Vec<&str> = s
        .lines()
        .map(|l| l.trim_end_matches('\r').trim())
        .filter(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
        .collect();
    let start = lines.len().saturating_sub(max_lines);
    lines[start..].join(" / ")
}

// ---------------------------------------------------------------------------------------
// Running one command

#[derive(Debug)]
enum RunError {
    /// The command never reached the host because the master is gone: safe to retry.
    NotStarted(String),
    /// The connection died while the command ran; it may have partly run.
    Lost(String),
    /// Anything else (sudo refused, local I/O trouble).
    Failed(String),
}

/// Streamed input: chunks in flight between the reading thread and the writer.
const FEED_CHUNKS: usize = 4;

/// The command's input, reusable across a reconnect (nothing is consumed before the
/// command has started).
enum Input<'a> {
    Null,
    Bytes(&'a [u8]),
    Feed(&'a mut Feed),
}

/// The receiving end of `pump`.
struct Feed {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    /// Tells the pump to start reading; sent once the command runs.
    go: Option<std::sync::mpsc::Sender<()>>,
}

/// Reads `r` in chunks into `tx` once told to start; stops at the end, at the first
/// error (which it passes on), or when the receiver is gone.
fn pump(
    r: &mut (dyn io::Read + Send),
    go: std::sync::mpsc::Receiver<()>,
    tx: mpsc::Sender<io::Result<Vec<u8>>>,
) {
    if go.recv().is_err() {
        return;
    }
    loop {
        let mut buf = vec![0u8; STREAM_CHUNK];
        let item = match r.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                Ok(buf)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Err(e),
        };
        let last = item.is_err();
        if tx.blocking_send(item).is_err() || last {
            return;
        }
    }
}

async fn run(
    session: &Session,
    req: &Exec<'_>,
    login_user: Option<&str>,
    input: &mut Input<'_>,
    sink: Option<&mut (dyn io::Write + Send + '_)>,
) -> Result<Output, RunError> {
    let plan = sudo::plan(req, login_user);
    let password = sudo::password(req, &plan);
    let want_stdin = !matches!(input, Input::Null) || password.is_some();

    let mut cmd = session.raw_command(plan.command_line());
    cmd.stdin(if want_stdin {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = match cmd.spawn().await {
        Ok(c) => c,
        Err(e) => {
            let alive = session.check().await.is_ok();
            let msg = format!("cannot start the command: {}", err_chain(&e));
            return Err(if !alive || matches!(e, SshError::Disconnected) {
                RunError::NotStarted(msg)
            } else {
                RunError::Failed(msg)
            });
        }
    };
    let stdin = child.stdin().take();
    let stdout = child.stdout().take();
    let stderr = child.stderr().take();
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let gated = plan.gated();

    // Writes stdin concurrently with the readers, so a script that fills its output pipes
    // before reading all its input cannot deadlock us. Under sudo, nothing is written until
    // sudo has either asked for the password or started the script: the password must never
    // end up in the script's input (sudo does not ask when NOPASSWD or its timestamp is fresh).
    let writer = async move {
        let mut wrong_password = false;
        let mut read_error = None;
        let Some(mut w) = stdin else {
            return (wrong_password, read_error);
        };
        if gated {
            let mut g = Gate::default();
            loop {
                match g.next(rx.recv().await) {
                    Step::Answer => {
                        let pw = password.unwrap_or_default();
                        let ok = w.write_all(pw.as_bytes()).await.is_ok()
                            && w.write_all(b"\n").await.is_ok()
                            && w.flush().await.is_ok();
                        if !ok {
                            return (wrong_password, read_error);
                        }
                    }
                    Step::Proceed => break,
                    Step::GiveUp => {
                        wrong_password = g.wrong_password;
                        return (wrong_password, read_error);
                    }
                }
            }
        }
        // The script may exit without reading everything: EPIPE just ends the input.
        match input {
            Input::Null => {}
            Input::Bytes(data) => {
                let _ = w.write_all(data).await;
            }
            Input::Feed(feed) => {
                if let Some(go) = feed.go.take() {
                    let _ = go.send(());
                }
                while let Some(chunk) = feed.rx.recv().await {
                    match chunk {
                        Ok(c) => {
                            if w.write_all(&c).await.is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            read_error = Some(e);
                            break;
                        }
                    }
                }
            }
        }
        let _ = w.flush().await;
        let _ = w.shutdown().await;
        (wrong_password, read_error)
    };
    let out_reader = async move {
        let mut buf = Vec::new();
        let Some(mut r) = stdout else {
            return Ok(buf);
        };
        let Some(w) = sink else {
            return r.read_to_end(&mut buf).await.map(|_| buf);
        };
        // Streamed: chunk by chunk into the sink (a local file, so the blocking write is
        // short). On a failed write the stream is dropped, which ends the remote output.
        let mut chunk = vec![0u8; STREAM_CHUNK];
        loop {
            let n = r.read(&mut chunk).await?;
            if n == 0 {
                return Ok(buf);
            }
            w.write_all(&chunk[..n]).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("writing the output on the controller: {e}"),
                )
            })?;
        }
    };
    let marker = plan.marker.clone();
    let prompt = plan.prompt.clone();
    let err_reader = async move {
        let mut scanner = marker
            .as_deref()
            .map(|m| Scanner::new(m, prompt.as_deref()));
        let mut plain = Vec::new();
        let mut chunk = vec![0u8; 16 * 1024];
        let mut result = Ok(());
        if let Some(mut r) = stderr {
            loop {
                match r.read(&mut chunk).await {
                    Ok(0) => break,
                    Ok(n) => match scanner.as_mut() {
                        Some(s) if !s.ready => {
                            for ev in s.feed(&chunk[..n]) {
                                let _ = tx.send(ev);
                            }
                        }
                        Some(s) => s.buf.extend_from_slice(&chunk[..n]),
                        None => plain.extend_from_slice(&chunk[..n]),
                    },
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
        }
        drop(tx);
        let ready = scanner.as_ref().is_none_or(|s| s.ready);
        let prompts = scanner.as_ref().map_or(0, |s| s.prompts);
        let bytes = match scanner {
            Some(s) => s.into_stderr(),
            None => plain,
        };
        result.map(|()| (bytes, ready, prompts))
    };
    let ((wrong_password, read_error), out, err) = tokio::join!(writer, out_reader, err_reader);

    let mut note = None;
    let rc = match child.wait().await {
        Ok(status) => status.code().unwrap_or(-1),
        // openssh reports exit status 127 as an error; for us it is just a status.
        Err(SshError::Remote(e)) if e.kind() == io::ErrorKind::NotFound => 127,
        Err(e) => {
            if session.check().await.is_err() {
                return Err(RunError::Lost(format!(
                    "the ssh connection was lost while the command ran (it may have partly \
                     run): {}",
                    err_chain(&e)
                )));
            }
            if matches!(e, SshError::RemoteProcessTerminated) {
                // ssh's mux protocol gives no signal number.
                note = Some("remote process ended without an exit status (killed by a signal?)");
                -1
            } else {
                return Err(RunError::Failed(format!(
                    "running the command over ssh: {}",
                    err_chain(&e)
                )));
            }
        }
    };
    let stdout = out.map_err(|e| RunError::Failed(format!("reading remote stdout: {e}")))?;
    let (mut stderr, ready, prompts) =
        err.map_err(|e| RunError::Failed(format!("reading remote stderr: {e}")))?;
    if let Some(n) = note {
        if !stderr.is_empty() && !stderr.ends_with(b"\n") {
            stderr.push(b'\n');
        }
        stderr.extend_from_slice(n.as_bytes());
        stderr.push(b'\n');
    }
    if !ready {
        let user = plan.become_user.as_deref().unwrap_or("?");
        let said = tidy_ssh_text(&String::from_utf8_lossy(&stderr), 6);
        return Err(RunError::Failed(sudo::become_error(
            user,
            &said,
            wrong_password,
            prompts,
            rc,
        )));
    }
    if let Some(e) = read_error {
        return Err(RunError::Failed(format!(
            "reading the input for the command: {e}"
        )));
    }
    Ok(Output { rc, stdout, stderr })
}

fn err_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::testinput::{Broken, noise, noise_bytes};
    use crate::connection::{Become, sh_quote};
    use serde_json::json;

    fn vars(v: Value) -> Map<String, Value> {
        v.as_object().expect("object").clone()
    }

    #[test]
    fn params_from_vars() {
        let p = SshParams::from_vars(
            "web1",
            &vars(json!({
                "ansible_host": "10.0.0.5",
                "ansible_port": 2222,
                "ansible_user": "deploy",
                "ansible_ssh_private_key_file": "/keys/id",
                "ansible_ssh_common_args": "-o ProxyCommand='ssh -W %h:%p bastion' -o Compression=yes",
                "ansible_ssh_extra_args": "-o ForwardAgent=yes",
                "ansible_timeout": "3",
            })),
            false,
        );
        assert_eq!(p.host, "web1");
        assert_eq!(p.address, "10.0.0.5");
        assert_eq!(p.port, Some(2222));
        assert_eq!(p.user.as_deref(), Some("deploy"));
        assert_eq!(p.private_key, Some(PathBuf::from("/keys/id")));
        assert_eq!(
            p.common_args,
            [
                "-o",
                "ProxyCommand=ssh -W %h:%p bastion",
                "-o",
                "Compression=yes",
                "-o",
                "ForwardAgent=yes"
            ]
        );
        assert_eq!(p.connect_timeout, Duration::from_secs(3));
        assert_eq!(p.describe(), "ssh deploy@10.0.0.5:2222");

        let p = SshParams::from_vars(
            "db1",
            &vars(
                json!({"ansible_ssh_host": "::1", "ansible_ssh_port": "22", "ansible_port": "x"}),
            ),
            true,
        );
        assert_eq!(p.address, "::1");
        assert_eq!(
            p.port, None,
            "a bad ansible_port wins the lookup and is ignored"
        );
        assert_eq!(p.describe(), "ssh [::1]");
        assert_eq!(p.connect_timeout, DEFAULT_CONNECT_TIMEOUT);

        let p = SshParams::from_vars("plain", &Map::new(), false);
        assert_eq!(p.address, "plain");
        assert_eq!(p.describe(), "ssh plain");
        assert!(p.common_args.is_empty());
    }

    #[test]
    fn master_args_order() {
        let mut p = SshParams::from_vars(
            "h",
            &vars(json!({"ansible_port": 22000, "ansible_user": "root",
                         "ansible_ssh_common_args": "-o StrictHostKeyChecking=yes"})),
            false,
        );
        let args = |p: &SshParams| -> Vec<String> {
            p.master_args(Path::new("/t/1.s"), Path::new("/t/1.log"))
                .into_iter()
                .map(|s| s.into_string().unwrap())
                .collect()
        };
        let a = args(&p);
        assert_eq!(
            &a[..9],
            [
                "-E",
                "/t/1.log",
                "-S",
                "/t/1.s",
                "-M",
                "-f",
                "-N",
                "-o",
                "BatchMode=yes"
            ]
        );
        assert_eq!(a.last().map(String::as_str), Some("h"));
        assert!(a.windows(2).any(|w| w == ["-p", "22000"]));
        assert!(a.windows(2).any(|w| w == ["-l", "root"]));
        // ssh keeps the first value: accept-new must come before the inventory's args
        p.accept_new_host_keys = true;
        let a = args(&p);
        let first = a
            .iter()
            .position(|s| s.starts_with("StrictHostKeyChecking="))
            .unwrap();
        assert_eq!(a[first], "StrictHostKeyChecking=accept-new");
    }

    #[test]
    fn ssh_text_is_tidied() {
        let t = "Warning: Permanently added '[h]:1' (ED25519) to the list of known hosts.\r\n\
                 root@h: Permission denied (publickey).\r\n";
        assert_eq!(
            tidy_ssh_text(t, 5),
            "root@h: Permission denied (publickey)."
        );
    }

    // ---- against a real sshd (tests/hosts/sshd-up.sh) -----------------------------------
    //
    // tests/run-all.sh starts the hosts and exports TBUDDY_SSH_TEST_HOST, _PORT, _USER,
    // _KEY and _KNOWN_HOSTS for these tests; by hand:
    //   TBH_STATE=$(mktemp -d) tests/hosts/sshd-up.sh 1, then export the values from
    //   $TBH_STATE/sshd/inventory.yml and run
    //   cargo test connection::ssh -- --ignored --nocapture --test-threads=1
    //
    // Optional: TBUDDY_SSH_TEST_UNPRIV_USER (default tbuddy-pw), a login user whose sudo
    // needs a password that the same key can log in as.

    fn env(name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|s| !s.is_empty())
    }

    fn test_params() -> Option<SshParams> {
        let host = env("TBUDDY_SSH_TEST_HOST")?;
        let mut v = Map::new();
        v.insert("ansible_host".into(), host.into());
        if let Some(port) = env("TBUDDY_SSH_TEST_PORT") {
            v.insert("ansible_port".into(), port.into());
        }
        if let Some(user) = env("TBUDDY_SSH_TEST_USER") {
            v.insert("ansible_user".into(), user.into());
        }
        if let Some(key) = env("TBUDDY_SSH_TEST_KEY") {
            v.insert("ansible_ssh_private_key_file".into(), key.into());
        }
        if let Some(kh) = env("TBUDDY_SSH_TEST_KNOWN_HOSTS") {
            v.insert(
                "ansible_ssh_common_args".into(),
                format!("-o UserKnownHostsFile={kh} -o GlobalKnownHostsFile=/dev/null").into(),
            );
        }
        Some(SshParams::from_vars("th-test", &v, false))
    }

    macro_rules! params_or_skip {
        () => {
            match test_params() {
                Some(p) => p,
                None if std::env::var("CI").as_deref() == Ok("true") => {
                    panic!("TBUDDY_SSH_TEST_HOST is not set: start tests/hosts/sshd-up.sh")
                }
                None => {
                    eprintln!("NOT RUN: TBUDDY_SSH_TEST_HOST is not set");
                    return;
                }
            }
        };
    }

    fn sh(c: &mut SshConnection, script: &str) -> Output {
        c.exec(&Exec {
            script,
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    fn unpriv_user() -> String {
        env("TBUDDY_SSH_TEST_UNPRIV_USER").unwrap_or_else(|| "tbuddy-pw".into())
    }

    fn pseudo_random(n: usize) -> Vec<u8> {
        noise_bytes(n as u64)
    }

    fn sha1_hex(data: &[u8]) -> String {
        use sha1::{Digest, Sha1};
        Sha1::digest(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// PIDs of `ssh` processes whose command line mentions `needle` (our master).
    fn ssh_pids_with(needle: &Path) -> Vec<i32> {
        let needle = needle.as_os_str().as_encoded_bytes();
        let mut pids = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let mut parts = cmdline.split(|b| *b == 0);
            if parts.next() == Some(b"ssh") && parts.any(|a| a == needle) {
                pids.push(pid);
            }
        }
        pids
    }

    #[test]
    #[ignore = "needs a test sshd: set TBUDDY_SSH_TEST_HOST etc."]
    fn real_run_command_and_env() {
        let p = params_or_skip!();
        let mut c = SshConnection::new(p);
        let env = vec![
            ("GREETING".to_string(), "it's a \"b\" $HOME".to_string()),
            ("EMPTY".to_string(), String::new()),
        ];
        let out = c
            .exec(&Exec {
                script: "printf '%s|%s|' \"$GREETING\" \"$EMPTY\"; echo err >&2; pwd >/dev/null",
                env: &env,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(out.rc, 0);
        assert_eq!(out.stdout_str(), "it's a \"b\" $HOME||");
        assert_eq!(out.stderr_str(), "err\n");
        assert!(c.describe().starts_with("ssh "));
        // the shell is POSIX sh, whatever the login shell is
        let out = sh(
            &mut c,
            "echo $((6*7)); [ -n \"${BASH_VERSION:-}\" ] && echo bash || echo sh",
        );
        assert_eq!(out.stdout_str(), "42\nsh\n");
    }

    #[test]
    #[ignore = "needs a test sshd: set TBUDDY_SSH_TEST_HOST etc."]
    fn real_stdin_20mb_round_trips() {
        let p = params_or_skip!();
        let mut c = SshConnection::new(p);
        let data = pseudo_random(20 * 1024 * 1024);
        let want = sha1_hex(&data);
        let t = Instant::now();
        let out = c
            .exec(&Exec {
                script: "cat",
                stdin: Some(&data),
                ..Default::default()
            })
            .unwrap();
        eprintln!("20 MiB through cat (in + out): {:?}", t.elapsed());
        assert_eq!(out.rc, 0);
        assert_eq!(out.stdout.len(), data.len());
        assert_eq!(sha1_hex(&out.stdout), want);

        let t = Instant::now();
        let out = c
            .exec(&Exec {
                script: "sha1sum",
                stdin: Some(&data),
                ..Default::default()
            })
            .unwrap();
        eprintln!("20 MiB into sha1sum: {:?}", t.elapsed());
        assert_eq!(&out.stdout_str()[..40], want);

        // writes 4 MiB of output before reading any input: must not deadlock
        let out = c
            .exec(&Exec {
                script: "head -c 4194304 /dev/zero; wc -c",
                stdin: Some(&data),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(out.stdout.len(), 4194304 + "20971520\n".len());
        assert!(out.stdout.ends_with(b"20971520\n"));

        // a script that ignores its input still finishes
        let out = c
            .exec(&Exec {
                script: "echo done",
                stdin: Some(&data),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(out.stdout_str(), "done\n");
    }

    #[test]
    #[ignore = "needs a test sshd: set TBUDDY_SSH_TEST_HOST etc."]
    fn real_streamed_stdin() {
        let p = params_or_skip!();
        let mut c = SshConnection::new(p);
        let n: u64 = 64 * 1024 * 1024 + 3;
        let want = sha1_hex(&noise_bytes(n));
        let req = |script| Exec {
            script,
            ..Default::default()
        };
        let t = Instant::now();
        let out = c
            .exec_stdin(&req("sha1sum; echo e >&2"), Stdin::Reader(&mut noise(n)))
            .unwrap();
        eprintln!("64 MiB streamed into sha1sum: {:?}", t.elapsed());
        assert_eq!(out.stdout_str(), format!("{want}  -\n"));
        assert_eq!(out.stderr_str(), "e\n");

        // output before input, and a script that reads nothing
        let out = c
            .exec_stdin(
                &req("head -c 4194304 /dev/zero; wc -c"),
                Stdin::Reader(&mut noise(n)),
            )
            .unwrap();
        assert!(out.stdout.ends_with(format!("{n}\n").as_bytes()));
        let out = c
            .exec_stdin(&req("echo done"), Stdin::Reader(&mut noise(n)))
            .unwrap();
        assert_eq!(out.stdout_str(), "done\n");

        // a failing reader: the script sees end of input, the exec fails
        let dir = format!("/tmp/tbuddy-stream-{}", nonce());
        let script = format!("mkdir {dir} && cat > {dir}/got; wc -c < {dir}/got; rm -r {dir}");
        let err = c
            .exec_stdin(&req(&script), Stdin::Reader(&mut Broken(5)))
            .unwrap_err();
        assert!(matches!(err, ConnError::Failed(_)), "{err}");
        assert!(err.to_string().contains("disk on fire"), "{err}");
        // and the connection still works
        assert_eq!(sh(&mut c, "echo ok").stdout_str(), "ok\n");
    }

    /// A sink that keeps only a running SHA-1 and the size (bounded memory), and can be
    /// told to fail after some bytes.
    struct Digest {
        h: sha1::Sha1,
        n: u64,
        fail_after: Option<u64>,
    }

    impl io::Write for Digest {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            use sha1::Digest as _;
            if self.fail_after.is_some_and(|f| self.n >= f) {
                return Err(io::Error::other("controller disk full"));
            }
            self.h.update(buf);
            self.n += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    #[ignore = "needs a test sshd: set TBUDDY_SSH_TEST_HOST etc."]
    fn real_streamed_stdout_and_local_forward() {
        use sha1::Digest as _;
        let p = params_or_skip!();
        let mut c = SshConnection::new(p);
        let n: u64 = 48 * 1024 * 1024 + 7;
        let want = sha1_hex(&noise_bytes(n));
        let dir = format!("/tmp/tbuddy-fetch-{}", nonce());
        let mut feed = noise(n);
        let put = format!("mkdir {dir} && cat > {dir}/f");
        let out = c
            .exec_stdin(
                &Exec {
                    script: &put,
                    ..Default::default()
                },
                Stdin::Reader(&mut feed),
            )
            .unwrap();
        assert_eq!(out.rc, 0, "{}", out.stderr_str());
        let get = format!("cat {dir}/f; echo e >&2");
        let req = Exec {
            script: &get,
            ..Default::default()
        };
        let mut sink = Digest {
            h: sha1::Sha1::new(),
            n: 0,
            fail_after: None,
        };
        let out = c.exec_stdout_to(&req, &mut sink).unwrap();
        assert_eq!((out.rc, out.stdout.len()), (0, 0));
        assert_eq!(out.stderr_str(), "e\n");
        assert_eq!(sink.n, n);
        let got: String = sink
            .h
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(got, want);
        // a sink that fails: the exec fails, nothing hangs, the connection still works
        let mut sink = Digest {
            h: sha1::Sha1::new(),
            n: 0,
            fail_after: Some(1 << 20),
        };
        let err = c.exec_stdout_to(&req, &mut sink).unwrap_err();
        assert!(err.to_string().contains("controller disk full"), "{err}");
        assert_eq!(
            sh(&mut c, &format!("rm -r {dir}; echo ok")).stdout_str(),
            "ok\n"
        );

        // a local forward to a unix socket on the host: a line goes there and back
        let remote_dir = format!("/tmp/tbuddy-fwd-{}", nonce());
        let serve = format!(
            "mkdir {remote_dir} && cd {remote_dir} && python3 -c '\
import socket\n\
s = socket.socket(socket.AF_UNIX)\n\
s.bind(\"srv.sock\")\n\
s.listen(1)\n\
print(\"ready\", flush=True)\n\
c, _ = s.accept()\n\
c.sendall(c.recv(100).upper())\n\
' & until [ -S {remote_dir}/srv.sock ]; do sleep 0.05; done; echo up"
        );
        assert_eq!(sh(&mut c, &serve).stdout_str().lines().last(), Some("up"));
        let local = tempfile::tempdir().unwrap();
        let listen = local.path().join("l.sock");
        let remote = RemoteEnd::Unix(PathBuf::from(format!("{remote_dir}/srv.sock")));
        let fwd = c.forward_local(&listen, &remote).unwrap();
        {
            use std::io::{Read, Write};
            let mut s = std::os::unix::net::UnixStream::connect(fwd.listen()).unwrap();
            s.write_all(b"hello").unwrap();
            let mut back = String::new();
            s.read_to_string(&mut back).unwrap();
            assert_eq!(back, "HELLO");
        }
        drop(fwd);
        assert!(!listen.exists(), "the controller end is removed");
        assert!(std::os::unix::net::UnixStream::connect(&listen).is_err());
        sh(&mut c, &format!("rm -rf {remote_dir}"));
        // a remote end that does not exist: the forward opens, connections fail
        let e = c.forward_local(
            &listen,
            &RemoteEnd::Tcp {
                host: "localhost".into(),
                port: 1,
            },
        );
        if let Ok(f) = e {
            use std::io::Read;
            let mut s = std::os::unix::net::UnixStream::connect(f.listen()).unwrap();
            let mut buf = Vec::new();
            assert_eq!(s.read_to_end(&mut buf).map(|_| buf.len()).unwrap_or(0), 0);
        }
    }

    #[test]
    #[ignore = "needs a test sshd: set TBUDDY_SSH_TEST_HOST etc."]
    fn real_exit_status_passes_through() {
        let p = params_or_skip!();
        let mut c = SshConnection::new(p);
        assert_eq!(sh(&mut c, "exit 3").rc, 3);
        assert_eq!(sh(&mut c, "false").rc, 1);
        assert_eq!(sh(&mut c, "exit 255").rc, 255);
        assert_eq!(sh(&mut c, "exit 127").rc, 127);
        let out = sh(&mut c, "no-such-command-tbuddy");
        assert_eq!(out.rc, 127);
        assert!(
            out.stderr_str().contains("not found"),
            "{}",
            out.stderr_str()
        );
        let out = sh(&mut c, "echo before; kill -9 $$");
        eprintln!(
            "killed by a signal: rc={} stderr={:?}",
            out.rc,
            out.stderr_str()
        );
        assert_ne!(out.rc, 0);
        assert_eq!(out.stdout_str(), "before\n");
        // the connection is still good afterwards
        assert_eq!(sh(&mut c, "true").rc, 0);
    }

    #[test]
    #[ignore = "needs a test sshd: set TBUDDY_SSH_TEST_HOST etc."]
    fn real_become_without_password() {
        let p = params_or_skip!();
        if p.user.as_deref() != Some("root") {
            eprintln!("skipped: needs TBUDDY_SSH_TEST_USER=root");
            return;
        }
        let unpriv = unpriv_user();
        let mut c = SshConnection::new(p.clone());
        let to_unpriv = Become {
            user: unpriv.clone(),
            password: None,
        };
        let out = c
            .exec(&Exec {
                script: "id -un; echo to-stderr >&2; exit 4",
                become_as: Some(&to_unpriv),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(out.stdout_str(), format!("{unpriv}\n"));
        assert_eq!(
            out.stderr_str(),
            "to-stderr\n",
            "sudo noise must be stripped"
        );
        assert_eq!(out.rc, 4);
        // and back
        assert_eq!(sh(&mut c, "id -un").stdout_str(), "root\n");

        // stdin under become, and a password that sudo does not ask for (root needs none)
        // must never reach the script's input
        let data = pseudo_random(3 * 1024 * 1024 + 7);
        let with_pw = Become {
            user: unpriv.clone(),
            password: Some("never-sent-pw".into()),
        };
        for b in [&to_unpriv, &with_pw] {
            let out = c
                .exec(&Exec {
                    script: "cat",
                    stdin: Some(&data),
                    become_as: Some(b),
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(out.rc, 0);
            assert_eq!(sha1_hex(&out.stdout), sha1_hex(&data));
            assert!(!out.stderr_str().contains("never-sent-pw"));
        }
        // become with environment
        let env = vec![("X".to_string(), "y z".to_string())];
        let out = c
            .exec(&Exec {
                script: "echo \"$X\"; id -un",
                become_as: Some(&to_unpriv),
                env: &env,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(out.stdout_str(), format!("y z\n{unpriv}\n"));

        // a user without sudo rights: a clear error, not a module failure
        let mut up = p;
        up.user = Some(unpriv.clone());
        let mut c = SshConnection::new(up);
        let err = c
            .exec(&Exec {
                script: "id -un",
                become_as: Some(&Become {
                    user: "root".into(),
                    password: None,
                }),
                ..Default::default()
            })
            .unwrap_err();
        eprintln!("{err}");
        assert!(matches!(err, ConnError::Failed(_)), "{err}");
        assert!(err.to_string().contains("become root"), "{err}");
    }

    #[test]
    #[ignore = "needs a test sshd: set TBUDDY_SSH_TEST_HOST etc."]
    fn real_become_with_password() {
        let p = params_or_skip!();
        if p.user.as_deref() != Some("root") {
            eprintln!("skipped: needs TBUDDY_SSH_TEST_USER=root");
            return;
        }
        let unpriv = unpriv_user();
        let mut root = SshConnection::new(p.clone());
        // only on hosts whose /etc is private (up-sshd.sh's default mount isolation)
        if sh(&mut root, "test -f /etc/th-hostname").rc != 0 {
            eprintln!("skipped: /etc of the test host is not private (TH_ISOLATE=none)");
            return;
        }
        let pw = "Pw for test'1";
        let setup = format!(
            "printf '%s:%s\\n' {u} {pw} | chpasswd && echo '{u} ALL=(ALL) ALL' >/etc/sudoers.d/tbuddy-test && chmod 440 /etc/sudoers.d/tbuddy-test",
            u = unpriv,
            pw = sh_quote(pw)
        );
        assert_eq!(sh(&mut root, &setup).rc, 0);

        let mut up = p;
        up.user = Some(unpriv.clone());
        let mut c = SshConnection::new(up);
        let good = Become {
            user: "root".into(),
            password: Some(pw.into()),
        };
        let data = pseudo_random(1024 * 1024);
        let t = Instant::now();
        let out = c.exec(&Exec {
            script: "id -un; cat | sha1sum; echo e >&2",
            stdin: Some(&data),
            become_as: Some(&good),
            ..Default::default()
        });
        eprintln!("become with password: {:?}", t.elapsed());
        let out = out.unwrap();
        assert_eq!(out.stdout_str(), format!("root\n{}  -\n", sha1_hex(&data)));
        assert_eq!(out.stderr_str(), "e\n");
        // the same input streamed: the password goes first, then the chunks
        let out = c
            .exec_stdin(
                &Exec {
                    script: "id -un; cat | sha1sum; echo e >&2",
                    become_as: Some(&good),
                    ..Default::default()
                },
                Stdin::Reader(&mut noise(data.len() as u64)),
            )
            .unwrap();
        assert_eq!(out.stdout_str(), format!("root\n{}  -\n", sha1_hex(&data)));
        assert_eq!(out.stderr_str(), "e\n");

        let bad = Become {
            user: "root".into(),
            password: Some("wrong".into()),
        };
        let t = Instant::now();
        let err = c
            .exec(&Exec {
                script: "id -un",
                become_as: Some(&bad),
                ..Default::default()
            })
            .unwrap_err();
        eprintln!("wrong password after {:?}: {err}", t.elapsed());
        assert!(err.to_string().contains("incorrect sudo password"), "{err}");
        assert!(!err.to_string().contains("wrong"), "password leaked: {err}");

        let none = Become {
            user: "root".into(),
            password: None,
        };
        let err = c
            .exec(&Exec {
                script: "id -un",
                become_as: Some(&none),
                ..Default::default()
            })
            .unwrap_err();
        eprintln!("{err}");
        assert!(err.to_string().contains("needs a password"), "{err}");

        let cleanup = format!("rm -f /etc/sudoers.d/tbuddy-test && usermod -p '!' {unpriv}");
        assert_eq!(sh(&mut root, &cleanup).rc, 0);
    }

    #[test]
    #[ignore = "needs a test sshd: set TBUDDY_SSH_TEST_HOST etc."]
    fn real_unknown_and_changed_host_keys() {
        let mut p = params_or_skip!();
        let dir = tempfile::tempdir().unwrap();
        let kh = dir.path().join("known_hosts");
        std::fs::write(&kh, "").unwrap();
        p.common_args = vec![
            "-o".into(),
            format!("UserKnownHostsFile={}", kh.display()),
            "-o".into(),
            "GlobalKnownHostsFile=/dev/null".into(),
        ];
        let err = SshConnection::new(p.clone())
            .exec(&Exec {
                script: "true",
                ..Default::default()
            })
            .unwrap_err();
        eprintln!("{err}");
        assert!(matches!(err, ConnError::Unreachable(_)));
        let msg = err.to_string();
        assert!(msg.contains("th-test"), "{msg}");
        assert!(msg.contains("not in known_hosts"), "{msg}");
        assert!(msg.contains("--accept-new-host-keys"), "{msg}");

        // the explicit option accepts and records it
        p.accept_new_host_keys = true;
        let mut c = SshConnection::new(p.clone());
        assert_eq!(sh(&mut c, "true").rc, 0);
        drop(c);
        let recorded = std::fs::read_to_string(&kh).unwrap();
        assert!(recorded.contains("ssh-ed25519"), "{recorded}");

        // a changed key is refused even with accept-new
        let k = dir.path().join("other");
        let st = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&k)
            .status()
            .unwrap();
        assert!(st.success());
        let other = std::fs::read_to_string(k.with_extension("pub")).unwrap();
        let key: Vec<&str> = other.split_whitespace().take(2).collect();
        let name = match p.port {
            Some(port) if port != 22 => format!("[{}]:{port}", p.address),
            _ => p.address.clone(),
        };
        std::fs::write(&kh, format!("{name} {} {}\n", key[0], key[1])).unwrap();
        let err = SshConnection::new(p)
            .exec(&Exec {
                script: "true",
                ..Default::default()
            })
            .unwrap_err();
        eprintln!("{err}");
        assert!(err.to_string().contains("CHANGED"), "{err}");
    }

    #[test]
    #[ignore = "needs a test sshd: set TBUDDY_SSH_TEST_HOST etc."]
    fn real_unreachable_within_timeout() {
        let mut p = params_or_skip!();
        p.port = Some(1);
        p.connect_timeout = Duration::from_secs(2);
        let t = Instant::now();
        let err = SshConnection::new(p.clone())
            .exec(&Exec {
                script: "true",
                ..Default::default()
            })
            .unwrap_err();
        eprintln!("closed port after {:?}: {err}", t.elapsed());
        assert!(matches!(err, ConnError::Unreachable(_)));
        assert!(err.to_string().contains("refused"), "{err}");

        // a server that accepts but never speaks: ConnectTimeout covers the banner exchange
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        p.address = "127.0.0.1".into();
        p.port = Some(silent.local_addr().unwrap().port());
        let holder = std::thread::spawn(move || {
            let (sock, _) = silent.accept().unwrap();
            std::thread::sleep(Duration::from_secs(4));
            drop(sock);
        });
        let t = Instant::now();
        let err = SshConnection::new(p.clone())
            .exec(&Exec {
                script: "true",
                ..Default::default()
            })
            .unwrap_err();
        let took = t.elapsed();
        eprintln!("silent server after {took:?}: {err}");
        assert!(matches!(err, ConnError::Unreachable(_)));
        assert!(took < Duration::from_secs(4), "{took:?}");
        holder.join().unwrap();

        // a server that sends a banner and then stalls: our overall limit (3 x + 5 s) ends it
        let stall = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        p.port = Some(stall.local_addr().unwrap().port());
        p.connect_timeout = Duration::from_secs(1);
        let holder = std::thread::spawn(move || {
            use std::io::Write;
            let (mut sock, _) = stall.accept().unwrap();
            sock.write_all(b"SSH-2.0-OpenSSH_9.2p1 stalled\r\n")
                .unwrap();
            std::thread::sleep(Duration::from_secs(12));
            drop(sock);
        });
        let t = Instant::now();
        let err = SshConnection::new(p)
            .exec(&Exec {
                script: "true",
                ..Default::default()
            })
            .unwrap_err();
        let took = t.elapsed();
        eprintln!("stalled server after {took:?}: {err}");
        assert!(matches!(err, ConnError::Unreachable(_)));
        assert!(took < Duration::from_secs(11), "{took:?}");
        holder.join().unwrap();
    }

    #[test]
    #[ignore = "needs a test sshd: set TBUDDY_SSH_TEST_HOST etc."]
    fn real_connection_lost_mid_command_and_idle_master() {
        let mut p = params_or_skip!();
        let mut c = SshConnection::new(p.clone());
        assert_eq!(sh(&mut c, "true").rc, 0);
        let ctl = c.master.as_ref().unwrap().ctl.clone();
        let pid = ssh_pids_with(&ctl)[0];
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(700));
            std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .unwrap();
        });
        let t = Instant::now();
        let err = c
            .exec(&Exec {
                script: "sleep 3; echo late",
                ..Default::default()
            })
            .unwrap_err();
        killer.join().unwrap();
        eprintln!("master killed mid-command, after {:?}: {err}", t.elapsed());
        assert!(matches!(err, ConnError::Unreachable(_)), "{err}");
        assert!(
            err.to_string().contains("lost while the command ran"),
            "{err}"
        );
        // not retried (it may have partly run), but the next command reconnects
        assert_eq!(sh(&mut c, "echo ok").stdout_str(), "ok\n");

        // an inventory ControlPersist wins over ours; an idled-out master reconnects quietly
        // (a persistent shell keeps its master busy, so this needs one session per command)
        p.common_args
            .extend(["-o".to_string(), "ControlPersist=1".to_string()]);
        let mut c = SshConnection::new(p.clone());
        assert_eq!(sh(&mut c, "true").rc, 0);
        let busy = c.master.as_ref().unwrap().ctl.clone();
        let mut c = SshConnection::new(p);
        c.set_persistent_shell(false);
        assert_eq!(sh(&mut c, "true").rc, 0);
        let ctl = c.master.as_ref().unwrap().ctl.clone();
        std::thread::sleep(Duration::from_millis(2500));
        assert_eq!(ssh_pids_with(&busy).len(), 1, "the shell keeps its master");
        assert!(
            ssh_pids_with(&ctl).is_empty(),
            "master should have idled out"
        );
        assert_eq!(sh(&mut c, "echo back").stdout_str(), "back\n");
        assert_ne!(c.master.as_ref().unwrap().ctl, ctl);
    }

    #[test]
    #[ignore = "needs a test sshd: set TBUDDY_SSH_TEST_HOST etc."]
    fn real_reconnects_after_master_dies_and_drop_closes() {
        let p = params_or_skip!();
        let mut c = SshConnection::new(p);
        assert_eq!(sh(&mut c, "true").rc, 0);
        let ctl = c.master.as_ref().unwrap().ctl.clone();
        let pids = ssh_pids_with(&ctl);
        assert_eq!(pids.len(), 1, "one master for {}", ctl.display());
        let st = std::process::Command::new("kill")
            .args(["-KILL", &pids[0].to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        std::thread::sleep(Duration::from_millis(100));
        let t = Instant::now();
        let out = sh(&mut c, "echo again");
        eprintln!(
            "exec after SIGKILL of the master (reconnect): {:?}",
            t.elapsed()
        );
        assert_eq!(out.stdout_str(), "again\n");
        let ctl2 = c.master.as_ref().unwrap().ctl.clone();
        assert_ne!(ctl, ctl2);
        let pids2 = ssh_pids_with(&ctl2);
        assert_eq!(pids2.len(), 1);

        // drop closes the master and removes its socket
        drop(c);
        let deadline = Instant::now() + Duration::from_secs(3);
        while !ssh_pids_with(&ctl2).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            ssh_pids_with(&ctl2).is_empty(),
            "master still running after drop"
        );
        assert!(!ctl2.exists());
    }

    #[test]
    #[ignore = "needs a test sshd: set TBUDDY_SSH_TEST_HOST etc."]
    fn real_latency_and_many_threads() {
        let p = params_or_skip!();
        let mut connects = Vec::new();
        for _ in 0..5 {
            let mut c = SshConnection::new(p.clone());
            c.connect().unwrap();
            connects.push(c.last_connect_time().unwrap());
        }
        connects.sort();
        eprintln!("connect times: {connects:?}");

        // Per command: a persistent shell against one session each, plain and through sudo
        // (the login user then is the passwordless sudoer when the harness names one).
        let mut sudo_p = p.clone();
        sudo_p.user = env("TBUDDY_SSH_TEST_SUDO_USER").or(p.user.clone());
        let to_root = Become {
            user: "root".into(),
            password: None,
        };
        for (label, params, become_as) in [
            ("as the login user", &p, None),
            ("with sudo", &sudo_p, Some(&to_root)),
        ] {
            for persistent in [true, false] {
                let mut c = SshConnection::new(params.clone());
                c.set_persistent_shell(persistent);
                c.connect().unwrap();
                let mut times = Vec::new();
                let all = Instant::now();
                for _ in 0..100 {
                    let t = Instant::now();
                    let out = c
                        .exec(&Exec {
                            script: "true",
                            become_as,
                            ..Default::default()
                        })
                        .unwrap();
                    assert_eq!(out.rc, 0);
                    times.push(t.elapsed());
                }
                let total = all.elapsed();
                times.sort();
                eprintln!(
                    "100 x true {label}, {}: mean {:?}, p50 {:?}, p95 {:?}, max {:?}",
                    if persistent {
                        "persistent shell"
                    } else {
                        "one session each"
                    },
                    total / 100,
                    times[50],
                    times[95],
                    times[99]
                );
                assert_eq!(c.persistent_shell(), (persistent, None));
            }
        }

        // 20 OS threads, one connection each, sharing the runtime
        let t = Instant::now();
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let p = p.clone();
                std::thread::spawn(move || {
                    let mut c = SshConnection::new(p);
                    for j in 0..10 {
                        let out = sh(&mut c, &format!("echo {i}-{j}"));
                        assert_eq!(out.stdout_str(), format!("{i}-{j}\n"));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        eprintln!("20 threads x (connect + 10 execs): {:?}", t.elapsed());
    }
}
