//! Host identifiers with an optional port: `web1`, `web1:2222`, `10.0.0.1:22`,
//! `[::1]:22`, `fe80::1`, and the same with `[x:y]` ranges in names.

use regex::Regex;
use std::sync::LazyLock;

static BRACKETED_HOSTPORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[(.+)\]:([0-9]+)$").unwrap());
/// A port after a name whose brackets (ranges) are complete.
static HOSTPORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$").unwrap());
static RANGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[(?:[a-zA-Z]:[a-zA-Z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]").unwrap());

/// Splits a host identifier into name and port. `None` when the text is not a
/// valid hostname, IPv4 or IPv6 address (callers then take it verbatim).
pub fn parse_address(text: &str) -> Option<(String, Option<u64>)> {
    let mut host = text.to_string();
    let mut port = None;
    // Both forms are tried in turn, so `[name:22]:33` keeps the last port.
    for re in [&*BRACKETED_HOSTPORT, &*HOSTPORT] {
        if let Some(caps) = re.captures(&host) {
            port = Some(caps[2].parse().ok()?);
            host = caps[1].to_string();
        }
    }
    (is_ipv6(&host) || is_hostname(&host)).then_some((host, port))
}

fn is_ipv6(text: &str) -> bool {
    text.contains(':') && text.parse::<std::net::Ipv6Addr>().is_ok()
}

/// Dot-separated labels of word characters and `-`, not ending in `-` or `_`,
/// where any character may be a host range. Covers IPv4 addresses too.
fn is_hostname(text: &str) -> bool {
    text.split('.').all(is_label)
}

fn is_label(label: &str) -> bool {
    let mut rest = label;
    let mut first = true;
    let mut last_ok = false;
    while !rest.is_empty() {
        if let Some(m) = RANGE.find(rest) {
            rest = &rest[m.end()..];
            last_ok = true;
        } else {
            let c = rest.chars().next().unwrap_or_default();
            let word = c.is_alphanumeric() || c == '_';
            if !(word || (!first && c == '-')) {
                return false;
            }
            last_ok = c != '_' && c != '-';
            rest = &rest[c.len_utf8()..];
        }
        first = false;
    }
    !first && last_ok
}

/// Expands a host entry of an inventory file into host names and a port.
/// Text that is no valid address is taken as one literal name, as Ansible does.
pub fn expand_host_pattern(text: &str) -> Result<(Vec<String>, Option<u64>), String> {
    let (name, port) = parse_address(text).unwrap_or_else(|| (text.to_string(), None));
    if text.trim_end().ends_with(':') && port.is_none() {
        return Err(format!(
            "invalid host '{text}': a trailing ':' must be followed by a port"
        ));
    }
    let names = super::range::expand(&name)?;
    if names.iter().any(|n| n.is_empty()) {
        return Err("empty host name".into());
    }
    Ok((names, port))
}
