//! `uri` and `wait_for` end to end through the binary on the local connection,
//! against a small HTTP server the test starts on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use common::run;

// ---- uri, wait_for, get_url against a local HTTP server ------------------------

/// A tiny HTTP/1.1 server on 127.0.0.1 answering a fixed set of paths, for at
/// most `max` connections; it stops when the test's handle is dropped.
struct Server {
    port: u16,
    _thread: std::thread::JoinHandle<()>,
}

fn respond(mut s: TcpStream) {
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut len = 0usize;
    let mut headers = String::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        headers.push_str(&h);
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok();
    let (status, ctype, extra, payload): (&str, &str, String, Vec<u8>) = match path.as_str() {
        "/health" => (
            "200 OK",
            "application/json",
            String::new(),
            br#"{"status":"up","n":3}"#.to_vec(),
        ),
        "/echo" => (
            "201 Created",
            "text/plain",
            String::new(),
            format!("{method} {}", String::from_utf8_lossy(&body)).into_bytes(),
        ),
        "/headers" => ("200 OK", "text/plain", String::new(), headers.into_bytes()),
        "/moved" => (
            "302 Found",
            "text/plain",
            "Location: /health\r\n".into(),
            Vec::new(),
        ),
        "/file.txt" => (
            "200 OK",
            "text/plain",
            String::new(),
            b"downloaded content\n".to_vec(),
        ),
        _ => (
            "404 Not Found",
            "text/plain",
            String::new(),
            b"nope".to_vec(),
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        payload.len()
    );
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(&payload);
}

fn server(max: usize) -> Server {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let thread = std::thread::spawn(move || {
        for s in l.incoming().take(max).flatten() {
            respond(s);
        }
    });
    Server {
        port,
        _thread: thread,
    }
}

fn local_project(playbook: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("site.yml"), playbook).unwrap();
    dir
}

#[test]
fn uri_checks_status_parses_json_and_sends_bodies() {
    let srv = server(20);
    let pb = format!(
        r#"
- hosts: localhost
  gather_facts: no
  vars:
    base: http://127.0.0.1:{port}
  tasks:
    - uri: {{url: "{{{{ base }}}}/health"}}
      register: h
    - assert:
        that:
          - h.status == 200
          - h.json.status == 'up'
          - h.json.n == 3
          - h.changed == false
          - h.url == base ~ '/health'
    - uri:
        url: "{{{{ base }}}}/echo"
        method: POST
        body: {{a: 1}}
        body_format: json
        status_code: [200, 201]
        return_content: yes
      register: e
    - assert:
        that:
          - e.status == 201
          - (e.content | replace(' ', '')) is search('^POST[{{]"a":1[}}]$')
    - uri:
        url: "{{{{ base }}}}/echo"
        method: PUT
        body: {{x: "a b", y: "1&2"}}
        body_format: form-urlencoded
        status_code: 201
        return_content: yes
      register: f
    - assert: {{that: ["f.content == 'PUT x=a+b&y=1%262'"]}}
    - uri:
        url: "{{{{ base }}}}/headers"
        headers: {{X-Probe: tbuddy}}
        return_content: yes
      register: hd
    - assert: {{that: ["'x-probe: tbuddy' in hd.content | lower"]}}
    - uri: {{url: "{{{{ base }}}}/moved"}}
      register: m
    - assert: {{that: ["m.redirected", "m.status == 200", "m.url == base ~ '/health'"]}}
    - uri: {{url: "{{{{ base }}}}/missing"}}
      register: miss
      ignore_errors: yes
    - assert: {{that: ["miss.failed", "miss.status == 404"]}}
"#,
        port = srv.port
    );
    let dir = local_project(&pb);
    let (code, text) = run(dir.path(), &["apply", "site.yml", "-y"]);
    assert_eq!(code, 0, "{text}");
    // Check mode skips uri as Ansible does.
    let (code, text) = run(dir.path(), &["apply", "site.yml", "--check", "-y"]);
    assert!(
        text.contains("skipping") || text.contains("skipped"),
        "{code} {text}"
    );
}

#[test]
fn wait_for_ports_and_files_with_bounded_waits() {
    let srv = server(5);
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ready.txt");
    std::fs::write(&marker, "booting\nstatus: READY\n").unwrap();
    let pb = format!(
        r#"
- hosts: localhost
  gather_facts: no
  tasks:
    - wait_for: {{host: 127.0.0.1, port: {open}, timeout: 5}}
      register: w
    - assert: {{that: ["w.elapsed is defined", "w.state == 'started'", "w.changed == false"]}}
    - wait_for: {{host: 127.0.0.1, port: {closed}, state: stopped, timeout: 5}}
    - wait_for: {{path: "{marker}", search_regex: "status: (READY)", timeout: 5}}
      register: f
    - assert: {{that: ["f.match_groups == ['READY']"]}}
    - wait_for: {{path: "{marker}.none", state: absent, timeout: 2}}
    - wait_for: {{host: 127.0.0.1, port: {closed}, timeout: 2, sleep: 1, msg: "port never opened"}}
      register: bad
      ignore_errors: yes
    - assert: {{that: ["bad.failed", "bad.msg == 'port never opened'", "bad.elapsed >= 2"]}}
"#,
        open = srv.port,
        marker = marker.display()
    );
    std::fs::write(dir.path().join("site.yml"), pb).unwrap();
    let start = std::time::Instant::now();
    let (code, text) = run(dir.path(), &["apply", "site.yml", "-y"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "waits are not bounded"
    );
}

#[test]
fn get_url_downloads_atomically_checks_checksums_and_rolls_back() {
    let srv = server(30);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("file.txt");
    let pb = format!(
        r#"
- hosts: localhost
  gather_facts: no
  vars:
    base: http://127.0.0.1:{port}
  tasks:
    - get_url:
        url: "{{{{ base }}}}/file.txt"
        dest: "{dest}"
        mode: "0640"
        checksum: "sha1:{sha1}"
      register: g
    - assert: {{that: ["g.dest == '{dest}'", "g.url == base ~ '/file.txt'"]}}
"#,
        port = srv.port,
        dest = dest.display(),
        // sha1 of "downloaded content\n"
        sha1 = "6d0ad36f8e4a2fc7bed5e5f2c2f1d6deb0b2b6e0"
    );
    // The recorded checksum above is wrong on purpose first: a mismatch fails
    // the task and leaves no file behind.
    std::fs::write(dir.path().join("site.yml"), &pb).unwrap();
    let (code, text) = run(dir.path(), &["apply", "site.yml", "-y"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("did not match"), "{text}");
    assert!(!dest.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tbuddy-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "a temp file was left behind");

    let good = sha1_of(b"downloaded content\n");
    std::fs::write(
        dir.path().join("site.yml"),
        pb.replace("6d0ad36f8e4a2fc7bed5e5f2c2f1d6deb0b2b6e0", &good),
    )
    .unwrap();
    let (code, text) = run(dir.path(), &["plan", "site.yml"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("download"), "{text}");
    assert!(!dest.exists(), "plan downloaded into dest");

    let (code, text) = run(dir.path(), &["apply", "site.yml", "-y"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"downloaded content\n");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
        0o640
    );
    let (code, text) = run(dir.path(), &["apply", "site.yml", "-y"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("changed=0"),
        "a second run is a no-op: {text}"
    );

    let (code, text) = run(dir.path(), &["rollback", "--last", "-y"]);
    assert_eq!(code, 0, "{text}");
    assert!(!dest.exists(), "rollback removes the download: {text}");
}

fn sha1_of(data: &[u8]) -> String {
    let out = Command::new("sha1sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(data)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&out.stdout)[..40].to_string()
}
