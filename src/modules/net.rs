//! `uri` and `wait_for`: health checks that run on the target, as in Ansible.
//!
//! `uri` sends its request with `curl` on the target (http and https; a target
//! without curl gets a clear error). Like Ansible's uri it is skipped in check
//! mode and `plan`, since a request may change the remote service; it never
//! reports a change. `wait_for` polls from the controller, one short round trip
//! per attempt, and always stops at its `timeout`; port checks connect from the
//! target with `nc -z` or bash's `/dev/tcp` under `timeout`.

use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg, required};
use super::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target, Undo, argx,
};
use crate::connection::sh_quote;
use serde_json::{Map, Value};
use std::time::{Duration, Instant};

pub static URI: ModuleSpec = ModuleSpec {
    name: "uri",
    summary: "Send an HTTP(S) request from the target (with curl) and check the answer",
    free_form: false,
    check: CheckSupport::Skipped,
    open_args: false,
    args: &[
        required("url", Str, "The http:// or https:// URL."),
        arg("method", Str, "The request method (default GET)."),
        arg("body", Raw, "The request body."),
        arg(
            "body_format",
            Str,
            "How to encode a structured `body` (default raw).",
        )
        .choices(&["raw", "json", "form-urlencoded"]),
        arg("headers", Dict, "Request headers."),
        arg(
            "status_code",
            Raw,
            "Accepted status code(s): a number or a list (default 200).",
        ),
        arg(
            "return_content",
            Bool,
            "Return the body as `content` (JSON bodies are parsed into `json` anyway).",
        ),
        arg(
            "timeout",
            Int,
            "Seconds for the whole request (default 30).",
        ),
        arg(
            "validate_certs",
            Bool,
            "Verify https certificates (default yes).",
        ),
        arg(
            "follow_redirects",
            Str,
            "`safe` (GET/HEAD only, default), `all`/yes, or `none`/no.",
        ),
    ],
};

pub static WAIT_FOR: ModuleSpec = ModuleSpec {
    name: "wait_for",
    summary: "Wait for a port or a file on the target, within a timeout",
    free_form: false,
    check: CheckSupport::ReadOnly,
    open_args: false,
    args: &[
        arg("host", Str, "The host to connect to (default 127.0.0.1)."),
        arg("port", Int, "The TCP port to wait for."),
        arg("path", Path, "A file to wait for."),
        arg(
            "state",
            Str,
            "started/present: wait until it is there; stopped/absent: until it is gone.",
        )
        .choices(&["started", "stopped", "present", "absent", "drained"]),
        arg(
            "search_regex",
            Str,
            "With `path`: wait until the file matches (Python regex).",
        ),
        arg(
            "timeout",
            Int,
            "Give up after this many seconds (default 300).",
        ),
        arg("delay", Int, "Seconds to wait before the first check."),
        arg("sleep", Int, "Seconds between checks (default 1)."),
        arg(
            "connect_timeout",
            Int,
            "Seconds allowed for one connection attempt (default 5).",
        ),
        arg("msg", Str, "The failure message instead of the default."),
    ],
};

pub struct Uri;
pub struct WaitFor;

fn secs(args: &Args, key: &str, default: u64) -> ModResult<u64> {
    match argx::number(args, key)? {
        None => Ok(default),
        Some(n) if n >= 0.0 => Ok(n.ceil() as u64),
        Some(n) => Err(ModuleError::new(format!(
            "argument `{key}` must not be negative, got {n}"
        ))),
    }
}

// ---- uri --------------------------------------------------------------------

struct Request {
    url: String,
    method: String,
    body: Option<Vec<u8>>,
    headers: Vec<(String, String)>,
    status_codes: Vec<i64>,
    return_content: bool,
    timeout: u64,
    validate_certs: bool,
    follow: bool,
    result: Returns,
}

/// Percent-encodes for `application/x-www-form-urlencoded` (space as `+`).
pub fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn encode_form(body: &Value) -> ModResult<String> {
    let pairs: Vec<(String, String)> = match body {
        Value::String(s) => return Ok(s.clone()),
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), scalar(v))).collect(),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::Array(p) if p.len() == 2 => Ok((scalar(&p[0]), scalar(&p[1]))),
                other => Err(ModuleError::new(format!(
                    "form-urlencoded body items must be [key, value] pairs, got {other}"
                ))),
            })
            .collect::<ModResult<_>>()?,
        other => {
            return Err(ModuleError::new(format!(
                "a form-urlencoded body must be a dict or a list of pairs, got {other}"
            )));
        }
    };
    Ok(pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&"))
}

fn status_codes(v: Option<&Value>) -> ModResult<Vec<i64>> {
    let one = |v: &Value| -> ModResult<i64> {
        match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| ModuleError::new(format!("status_code must be a number, got {v}")))
    };
    match v {
        None | Some(Value::Null) => Ok(vec![200]),
        Some(Value::Array(a)) => a.iter().map(one).collect(),
        Some(Value::String(s)) if s.contains(',') => {
            s.split(',').map(|p| one(&Value::from(p.trim()))).collect()
        }
        Some(v) => Ok(vec![one(v)?]),
    }
}

impl Module for Uri {
    fn spec(&self) -> &'static ModuleSpec {
        &URI
    }

    fn validate(&self, args: &Args, cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let url = argx::req_string(args, "url")?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ModuleError::new(format!(
                "url must start with http:// or https://, got {url}"
            )));
        }
        let method = argx::string(args, "method")?
            .unwrap_or_else(|| "GET".into())
            .to_ascii_uppercase();
        if method.is_empty() || !method.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(ModuleError::new(format!("invalid method {method:?}")));
        }
        let format = argx::choice(
            args,
            "body_format",
            &["raw", "json", "form-urlencoded"],
            "raw",
        )?;
        let mut headers: Vec<(String, String)> = match args.get("headers") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), scalar(v))).collect(),
            Some(other) => {
                return Err(ModuleError::new(format!(
                    "headers must be a dict, got {other}"
                )));
            }
        };
        for (k, v) in &headers {
            if k.contains([':', '\n', '\r']) || v.contains(['\n', '\r']) {
                return Err(ModuleError::new(format!("invalid header {k:?}")));
            }
        }
        let has = |h: &[(String, String)], name: &str| {
            h.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
        };
        let body = match args.get("body") {
            None | Some(Value::Null) => None,
            Some(b) => Some(match format.as_str() {
                "json" => {
                    if !has(&headers, "content-type") {
                        headers.push(("Content-Type".into(), "application/json".into()));
                    }
                    match b {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }
                }
                "form-urlencoded" => {
                    headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
                    headers.push((
                        "Content-Type".into(),
                        "application/x-www-form-urlencoded".into(),
                    ));
                    encode_form(b)?
                }
                _ => scalar(b),
            }),
        };
        let follow = match argx::string(args, "follow_redirects")?
            .unwrap_or_else(|| "safe".into())
            .to_ascii_lowercase()
            .as_str()
        {
            "safe" | "urllib2" => method == "GET" || method == "HEAD",
            "all" | "yes" | "true" => true,
            "none" | "no" | "false" => false,
            other => {
                return Err(ModuleError::new(format!(
                    "follow_redirects must be one of safe, all, none, got {other}"
                )));
            }
        };
        let req = Request {
            url,
            method,
            body: body.map(String::into_bytes),
            headers,
            status_codes: status_codes(args.get("status_code"))?,
            return_content: argx::boolean(args, "return_content", false)?,
            timeout: secs(args, "timeout", 30)?.max(1),
            validate_certs: argx::boolean(args, "validate_certs", true)?,
            follow,
            result: Returns::new(),
        };
        if cx.check_mode {
            return Ok(Box::new(SkipInCheck(format!("{} {}", req.method, req.url))));
        }
        Ok(Box::new(req))
    }
}

/// Check mode for modules that Ansible skips there: an unpredictable change
/// the runner reports as skipped.
struct SkipInCheck(String);

impl Action for SkipInCheck {
    fn observe(&mut self, _: &mut Target<'_>) -> ModResult<()> {
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        Ok(Some(Change {
            summary: format!("request {}", self.0),
            diff: None,
            undo: Undo::Nothing,
            predictable: false,
            after: Vec::new(),
        }))
    }

    fn apply(&mut self, _: &Change, _: &mut Target<'_>) -> ModResult<()> {
        Ok(())
    }
}

const BODY_MARK: &[u8] = b"\n--tbuddy-body--\n";

/// What curl reported: its exit code and message, the status line numbers,
/// the headers of the final response, and the body.
#[derive(Debug, Default)]
pub struct Response {
    pub curl_rc: i32,
    pub error: String,
    pub status: i64,
    pub redirects: u64,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Parses the output of the uri script: `rc=N`, `meta=CODE REDIRECTS URL`,
/// the header blocks (only the last one counts), the body mark, the body.
pub fn parse_response(out: &[u8]) -> Option<Response> {
    let split = out.windows(BODY_MARK.len()).position(|w| w == BODY_MARK)?;
    let head = String::from_utf8_lossy(&out[..split]);
    let mut r = Response {
        body: out[split + BODY_MARK.len()..].to_vec(),
        ..Response::default()
    };
    let mut lines = head.lines();
    r.curl_rc = lines.next()?.strip_prefix("rc=")?.trim().parse().ok()?;
    let meta = lines.next()?.strip_prefix("meta=")?;
    let mut m = meta.splitn(3, ' ');
    r.status = m.next()?.parse().ok()?;
    r.redirects = m.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    r.url = m.next().unwrap_or_default().to_string();
    for line in lines {
        let line = line.trim_end_matches('\r');
        if let Some(e) = line.strip_prefix("err=") {
            r.error = e.to_string();
        } else if line.starts_with("HTTP/") {
            r.headers.clear();
        } else if let Some((k, v)) = line.split_once(':') {
            r.headers
                .push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    Some(r)
}

impl Request {
    fn script(&self) -> String {
        let mut curl = vec![
            "curl".to_string(),
            "-sS".into(),
            "-D".into(),
            "\"$h\"".into(),
            "-o".into(),
            "\"$b\"".into(),
            "-w".into(),
            sh_quote("%{http_code} %{num_redirects} %{url_effective}"),
            "--max-time".into(),
            self.timeout.to_string(),
        ];
        if self.method == "HEAD" {
            curl.push("-I".into());
        } else {
            curl.extend(["-X".into(), sh_quote(&self.method)]);
        }
        if !self.validate_certs {
            curl.push("-k".into());
        }
        if self.follow {
            curl.extend(["-L".into(), "--max-redirs".into(), "50".into()]);
        }
        for (k, v) in &self.headers {
            curl.extend(["-H".into(), sh_quote(&format!("{k}: {v}"))]);
        }
        if self.body.is_some() {
            curl.extend(["--data-binary".into(), "@-".into()]);
        } else {
            curl.push("</dev/null".into());
        }
        curl.extend(["--".into(), sh_quote(&self.url)]);
        format!(
            r#"command -v curl >/dev/null 2>&1 || {{ echo "uri needs curl on the target" >&2; exit 127; }}
h=$(mktemp) && b=$(mktemp) && e=$(mktemp) || exit 1
trap 'rm -f "$h" "$b" "$e"' EXIT
m=$({curl} 2>"$e"); rc=$?
printf 'rc=%s\nmeta=%s\nerr=%s\n' "$rc" "$m" "$(tr '\n' ' ' < "$e")"
cat "$h"
printf '\n--tbuddy-body--\n'
cat "$b"
"#,
            curl = curl.join(" ")
        )
    }
}

impl Action for Request {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let started = Instant::now();
        let out = t.run_ok(&self.script(), self.body.as_deref())?;
        let resp = parse_response(&out.stdout)
            .ok_or_else(|| ModuleError::new("could not read curl's answer"))?;
        let mut r = Returns::new();
        let status = if resp.curl_rc != 0 && resp.status == 0 {
            -1
        } else {
            resp.status
        };
        r.insert("status".into(), status.into());
        r.insert(
            "url".into(),
            if resp.url.is_empty() {
                self.url.clone()
            } else {
                resp.url.clone()
            }
            .into(),
        );
        r.insert("redirected".into(), (resp.redirects > 0).into());
        r.insert("elapsed".into(), started.elapsed().as_secs().into());
        for (k, v) in &resp.headers {
            r.insert(k.replace('-', "_"), v.clone().into());
        }
        let ctype = resp
            .headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&resp.body).into_owned();
        if ctype.contains("json")
            && let Ok(j) = serde_json::from_str::<Value>(&text)
        {
            r.insert("json".into(), j);
        }
        if self.return_content {
            r.insert("content".into(), text.into());
        }
        if !self.status_codes.contains(&status) {
            let why = if status == -1 {
                format!("Request failed: {}", resp.error.trim())
            } else {
                format!("HTTP Error {status}")
            };
            let codes: Vec<String> = self.status_codes.iter().map(|c| c.to_string()).collect();
            let mut err = ModuleError::new(format!(
                "Status code was {status} and not [{}]: {why}",
                codes.join(", ")
            ));
            err.returns = r;
            return Err(err);
        }
        r.insert(
            "msg".into(),
            format!("OK ({} bytes)", resp.body.len()).into(),
        );
        self.result = r;
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        Ok(None)
    }

    fn apply(&mut self, _: &Change, _: &mut Target<'_>) -> ModResult<()> {
        Ok(())
    }

    fn returns(&self) -> Returns {
        self.result.clone()
    }
}

// ---- wait_for ---------------------------------------------------------------

struct Wait {
    host: String,
    port: Option<u16>,
    path: Option<String>,
    /// Wait for presence (started/present) or absence (stopped/absent).
    present: bool,
    state: String,
    regex: Option<(String, regex::Regex)>,
    timeout: u64,
    delay: u64,
    sleep: u64,
    connect_timeout: u64,
    msg: Option<String>,
    result: Returns,
}

impl Module for WaitFor {
    fn spec(&self) -> &'static ModuleSpec {
        &WAIT_FOR
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let state = argx::choice(
            args,
            "state",
            &["started", "stopped", "present", "absent", "drained"],
            "started",
        )?;
        if state == "drained" {
            return Err(ModuleError::new("wait_for: state drained is not supported"));
        }
        let port = match argx::number(args, "port")? {
            None => None,
            Some(p) if (1.0..=65535.0).contains(&p) && p.fract() == 0.0 => Some(p as u16),
            Some(p) => return Err(ModuleError::new(format!("invalid port {p}"))),
        };
        let path = argx::string(args, "path")?;
        if port.is_some() && path.is_some() {
            return Err(ModuleError::new("port and path are mutually exclusive"));
        }
        let regex = match argx::string(args, "search_regex")? {
            None => None,
            Some(_) if path.is_none() => {
                return Err(ModuleError::new("search_regex is supported with path only"));
            }
            Some(p) => {
                let re = crate::pyregex::compile(&p, false, true).map_err(ModuleError::new)?;
                Some((p, re))
            }
        };
        let host = argx::string(args, "host")?.unwrap_or_else(|| "127.0.0.1".into());
        if host.is_empty() || host.contains(['/', ' ', '\'', '"', '\n']) {
            return Err(ModuleError::new(format!("invalid host {host:?}")));
        }
        Ok(Box::new(Wait {
            host,
            port,
            path,
            present: matches!(state.as_str(), "started" | "present"),
            state,
            regex,
            timeout: secs(args, "timeout", 300)?,
            delay: secs(args, "delay", 0)?,
            sleep: secs(args, "sleep", 1)?.max(1),
            connect_timeout: secs(args, "connect_timeout", 5)?.max(1),
            msg: argx::string(args, "msg")?,
            result: Returns::new(),
        }))
    }
}

impl Wait {
    /// One check: whether the awaited condition holds now, and the match groups.
    fn check(&self, t: &mut Target<'_>) -> ModResult<(bool, Option<Vec<Value>>)> {
        if let Some(port) = self.port {
            let h = sh_quote(&self.host);
            let ct = self.connect_timeout;
            let script = format!(
                r#"if command -v nc >/dev/null 2>&1; then nc -z -w {ct} {h} {port} </dev/null >/dev/null 2>&1
elif command -v bash >/dev/null 2>&1; then timeout {ct} bash -c 'exec 3<>"/dev/tcp/$0/$1"' {h} {port} 2>/dev/null
else echo "wait_for needs nc or bash on the target" >&2; exit 127; fi"#
            );
            let out = t.exec(&script, None)?;
            if out.rc == 127 {
                return Err(ModuleError::new(out.stderr_str().trim().to_string()));
            }
            let open = out.rc == 0;
            return Ok((open == self.present, None));
        }
        let Some(path) = &self.path else {
            // Neither port nor path: just the delay/timeout sleep, as in Ansible.
            return Ok((true, None));
        };
        let p = sh_quote(path);
        let script = match &self.regex {
            Some(_) => format!("if [ -e {p} ]; then echo yes; cat -- {p}; else echo no; fi"),
            None => format!("if [ -e {p} ]; then echo yes; else echo no; fi"),
        };
        let out = t.run_ok(&script, None)?;
        let text = out.stdout_str();
        let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
        let exists = first.trim() == "yes";
        if !self.present {
            return Ok((!exists, None));
        }
        match &self.regex {
            _ if !exists => Ok((false, None)),
            None => Ok((true, None)),
            Some((_, re)) => Ok(match re.captures(rest) {
                None => (false, None),
                Some(c) => (
                    true,
                    Some(
                        c.iter()
                            .skip(1)
                            .map(|g| g.map(|m| Value::from(m.as_str())).unwrap_or(Value::Null))
                            .collect(),
                    ),
                ),
            }),
        }
    }

    fn timeout_msg(&self) -> String {
        if let Some(m) = &self.msg {
            return m.clone();
        }
        match (self.port, &self.path, self.present) {
            (Some(p), _, true) => format!("Timeout when waiting for {}:{p}", self.host),
            (Some(p), _, false) => {
                format!("Timeout when waiting for {}:{p} to stop", self.host)
            }
            (None, Some(path), true) if self.regex.is_some() => {
                format!("Timeout when waiting for search string in {path}")
            }
            (None, Some(path), true) => format!("Timeout when waiting for file {path}"),
            (None, Some(path), false) => {
                format!("Timeout when waiting for {path} to be absent.")
            }
            (None, None, _) => "Timeout".into(),
        }
    }
}

impl Action for Wait {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let start = Instant::now();
        std::thread::sleep(Duration::from_secs(self.delay));
        let deadline = start + Duration::from_secs(self.delay + self.timeout);
        let mut r = Returns::new();
        r.insert("state".into(), self.state.clone().into());
        if let Some(p) = self.port {
            r.insert("port".into(), p.into());
        }
        if let Some(p) = &self.path {
            r.insert("path".into(), p.clone().into());
        }
        if let Some((p, _)) = &self.regex {
            r.insert("search_regex".into(), p.clone().into());
        }
        if self.port.is_none() && self.path.is_none() {
            std::thread::sleep(Duration::from_secs(self.timeout));
            r.insert("elapsed".into(), start.elapsed().as_secs().into());
            self.result = r;
            return Ok(());
        }
        loop {
            let (done, groups) = self.check(t)?;
            if done {
                if let Some(g) = groups {
                    r.insert("match_groups".into(), Value::Array(g));
                    r.insert("match_groupdict".into(), Value::Object(Map::new()));
                }
                r.insert("elapsed".into(), start.elapsed().as_secs().into());
                self.result = r;
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_secs(self.sleep).min(deadline - now));
        }
        r.insert("elapsed".into(), start.elapsed().as_secs().into());
        let mut err = ModuleError::new(self.timeout_msg());
        err.returns = r;
        Err(err)
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        Ok(None)
    }

    fn apply(&mut self, _: &Change, _: &mut Target<'_>) -> ModResult<()> {
        Ok(())
    }

    fn returns(&self) -> Returns {
        self.result.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_are_encoded_like_browsers() {
        assert_eq!(form_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
        let body = serde_json::json!({"n": 1, "x": "a b"});
        assert_eq!(encode_form(&body).unwrap(), "n=1&x=a+b");
        let pairs = serde_json::json!([["k", "v"], ["k", "w"]]);
        assert_eq!(encode_form(&pairs).unwrap(), "k=v&k=w");
    }

    #[test]
    fn status_codes_accept_numbers_lists_and_strings() {
        assert_eq!(status_codes(None).unwrap(), vec![200]);
        assert_eq!(
            status_codes(Some(&serde_json::json!([200, "201"]))).unwrap(),
            vec![200, 201]
        );
        assert_eq!(
            status_codes(Some(&serde_json::json!("200, 204"))).unwrap(),
            vec![200, 204]
        );
        assert!(status_codes(Some(&serde_json::json!("ok"))).is_err());
    }

    #[test]
    fn responses_keep_the_last_header_block() {
        let out = b"rc=0\nmeta=200 1 http://h/health\nerr=\nHTTP/1.1 302 Found\r\nLocation: /health\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n\n--tbuddy-body--\n{\"a\":1}";
        let r = parse_response(out).unwrap();
        assert_eq!((r.curl_rc, r.status, r.redirects), (0, 200, 1));
        assert_eq!(r.url, "http://h/health");
        assert_eq!(
            r.headers,
            vec![("content-type".to_string(), "application/json".to_string())]
        );
        assert_eq!(r.body, b"{\"a\":1}");
        let refused =
            b"rc=7\nmeta=000 0 http://h/\nerr=curl: (7) Failed to connect\n\n--tbuddy-body--\n";
        let r = parse_response(refused).unwrap();
        assert_eq!((r.curl_rc, r.status), (7, 0));
        assert!(r.error.contains("Failed to connect"));
        assert!(parse_response(b"garbage").is_none());
    }
}
