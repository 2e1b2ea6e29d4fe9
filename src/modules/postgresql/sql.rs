//! SQL text building: quoting, and reading the catalogs' `aclitem` text form.

use std::collections::BTreeSet;

/// A quoted identifier: `"name"`, with embedded quotes doubled.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A role name as a grantee: `PUBLIC` stays a keyword.
pub fn grantee(role: &str) -> String {
    if role.eq_ignore_ascii_case("public") {
        "PUBLIC".into()
    } else {
        ident(role)
    }
}

/// A possibly schema-qualified name (`schema.table`): each part quoted.
pub fn qualified(name: &str) -> String {
    match name.split_once('.') {
        Some((s, n)) => format!("{}.{}", ident(s), ident(n)),
        None => ident(name),
    }
}

/// A string literal (standard_conforming_strings: only quotes need doubling).
pub fn literal(value: &str) -> String {
    if value.contains('\\') {
        format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", value.replace('\'', "''"))
    }
}

/// One entry of an ACL: `grantee=privs/grantor`, with `*` after a privilege
/// that may be granted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclItem {
    /// Empty for PUBLIC.
    pub grantee: String,
    pub privs: BTreeSet<(char, bool)>,
    pub grantor: String,
}

/// Parses the text form of an `aclitem` (quoted role names included).
pub fn parse_aclitem(s: &str) -> Option<AclItem> {
    let (grantee, rest) = take_role(s)?;
    let rest = rest.strip_prefix('=')?;
    let (privs, grantor) = rest.split_once('/')?;
    let (grantor, tail) = take_role(grantor)?;
    if !tail.is_empty() {
        return None;
    }
    let mut set = BTreeSet::new();
    let chars: Vec<char> = privs.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !c.is_ascii_alphabetic() {
            return None;
        }
        let grantable = chars.get(i + 1) == Some(&'*');
        set.insert((c, grantable));
        i += if grantable { 2 } else { 1 };
    }
    Some(AclItem {
        grantee,
        privs: set,
        grantor,
    })
}

/// A role name at the start of `s` (bare or double-quoted) and what follows.
fn take_role(s: &str) -> Option<(String, &str)> {
    if let Some(body) = s.strip_prefix('"') {
        let mut name = String::new();
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if chars.peek().map(|(_, c)| *c) == Some('"') {
                    name.push('"');
                    chars.next();
                } else {
                    return Some((name, &body[i + 1..]));
                }
            } else {
                name.push(c);
            }
        }
        None
    } else {
        let end = s.find(['=', '/', ' ']).unwrap_or(s.len());
        Some((s[..end].to_string(), &s[end..]))
    }
}

/// The privilege letter of an `aclitem` for a privilege keyword.
pub fn priv_letter(name: &str) -> Option<char> {
    Some(match name {
        "SELECT" => 'r',
        "INSERT" => 'a',
        "UPDATE" => 'w',
        "DELETE" => 'd',
        "TRUNCATE" => 'D',
        "REFERENCES" => 'x',
        "TRIGGER" => 't',
        "EXECUTE" => 'X',
        "USAGE" => 'U',
        "CREATE" => 'C',
        "CONNECT" => 'c',
        "TEMPORARY" | "TEMP" => 'T',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(ident("client_001"), "\"client_001\"");
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(qualified("public.t"), "\"public\".\"t\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal("a\\b"), "E'a\\\\b'");
        assert_eq!(grantee("public"), "PUBLIC");
    }

    #[test]
    fn aclitems_parse_with_grant_options_and_quoted_names() {
        let a = parse_aclitem("=Tc/postgres").unwrap();
        assert_eq!(a.grantee, "");
        assert_eq!(a.privs, BTreeSet::from([('T', false), ('c', false)]));
        let a = parse_aclitem("monitoring_user=r*w/client_001").unwrap();
        assert_eq!(a.grantee, "monitoring_user");
        assert!(a.privs.contains(&('r', true)) && a.privs.contains(&('w', false)));
        assert_eq!(a.grantor, "client_001");
        let a = parse_aclitem("\"we=\"\"ird\"=U/\"pg/admin\"").unwrap();
        assert_eq!(a.grantee, "we=\"ird");
        assert_eq!(a.grantor, "pg/admin");
        assert!(parse_aclitem("nonsense").is_none());
        assert!(parse_aclitem("x=r/y z").is_none());
    }
}
