use super::{ini, names};
use crate::inventory::{Inventory, InventoryError};

const INV: &str = "solo\n[web]\nweb[1:4]\n[db]\ndb1\ndb2\nweb2\n[lb]\nlb.example.com\n[front:children]\nweb\nlb\n[stage]\nweb3\ndb2\n";

fn check(inv: &Inventory, pattern: &str, want: &[&str]) {
    assert_eq!(
        inv.select(pattern).unwrap(),
        names(want),
        "pattern {pattern:?}"
    );
}

#[test]
fn all_follows_ansible_group_walk_order() {
    let inv = ini(INV);
    let all = [
        "solo",
        "db1",
        "db2",
        "web2",
        "web3",
        "web1",
        "web4",
        "lb.example.com",
    ];
    check(&inv, "all", &all);
    check(&inv, "*", &all);
    // An empty pattern selects everything, as in Ansible.
    check(&inv, "", &all);
    check(&inv, ",", &all);
}

#[test]
fn groups_hosts_and_unions() {
    let inv = ini(INV);
    check(&inv, "web", &["web1", "web2", "web3", "web4"]);
    check(
        &inv,
        "front",
        &["web1", "web2", "web3", "web4", "lb.example.com"],
    );
    check(&inv, "ungrouped", &["solo"]);
    check(
        &inv,
        "web:db",
        &["web1", "web2", "web3", "web4", "db1", "db2"],
    );
    check(
        &inv,
        "web,db",
        &["web1", "web2", "web3", "web4", "db1", "db2"],
    );
    check(
        &inv,
        " web , db ",
        &["web1", "web2", "web3", "web4", "db1", "db2"],
    );
    check(
        &inv,
        "web db",
        &["web1", "web2", "web3", "web4", "db1", "db2"],
    );
    check(
        &inv,
        "db:web",
        &["db1", "db2", "web2", "web1", "web3", "web4"],
    );
    check(
        &inv,
        "stage:front",
        &["web3", "db2", "web1", "web2", "web4", "lb.example.com"],
    );
    check(&inv, "web1,nomatch", &["web1"]);
}

#[test]
fn intersection_and_exclusion() {
    let inv = ini(INV);
    check(&inv, "web:&db", &["web2"]);
    check(&inv, "web:!db", &["web1", "web3", "web4"]);
    check(
        &inv,
        "!db",
        &["solo", "web3", "web1", "web4", "lb.example.com"],
    );
    check(&inv, "&db", &["db1", "db2", "web2"]);
    check(&inv, "!web:db", &["db1", "db2"]);
    check(&inv, "web:db:!stage", &["web1", "web2", "web4", "db1"]);
    check(&inv, "web:!stage:&db", &["web2"]);
    check(&inv, "all:&web:db", &["web2", "web3", "web1", "web4"]);
    check(
        &inv,
        "all:!web[0]",
        &[
            "solo",
            "db1",
            "db2",
            "web2",
            "web3",
            "web4",
            "lb.example.com",
        ],
    );
}

#[test]
fn globs_and_regexes() {
    let inv = ini(INV);
    check(&inv, "web*", &["web1", "web2", "web3", "web4"]);
    check(
        &inv,
        "fr*",
        &["web1", "web2", "web3", "web4", "lb.example.com"],
    );
    check(&inv, "db?", &["db1", "db2"]);
    check(&inv, "lb.*", &["lb.example.com"]);
    check(&inv, "*.com", &["lb.example.com"]);
    check(&inv, "~web\\d+", &["web1", "web2", "web3", "web4"]);
    check(&inv, "~(web|db)[13]", &["web1", "web3", "db1"]);
    // Groups db and stage first, then matching host names.
    check(&inv, "[ds]*", &["db1", "db2", "web2", "web3", "solo"]);
    // `all` itself matches.
    check(
        &inv,
        "[!dsw]*",
        &[
            "solo",
            "db1",
            "db2",
            "web2",
            "web3",
            "web1",
            "web4",
            "lb.example.com",
        ],
    );
    // Names are case-sensitive.
    check(&inv, "WEB", &[]);
    check(&inv, "webs", &[]);
    check(&inv, "web:22", &[]);
}

#[test]
fn subscripts() {
    let inv = ini(INV);
    check(&inv, "web[0]", &["web1"]);
    check(&inv, "web[-1]", &["web4"]);
    check(&inv, "web[1:2]", &["web2", "web3"]);
    check(&inv, "web[1:]", &["web2", "web3", "web4"]);
    check(&inv, "web[2:9]", &["web3", "web4"]);
    check(&inv, "web[1-2]", &["web2", "web3"]);
    // An explicit end of 0 means just the start, as in Ansible.
    check(&inv, "web[1:0]", &["web2"]);
    check(&inv, "front[0:2]", &["web1", "web2", "web3"]);
    check(&inv, "web*[0]", &["web1"]);
    check(&inv, "*[1]", &["db1"]);
    check(&inv, "w?b[2]", &["web3"]);
    check(&inv, "web[1:2]:db", &["web2", "web3", "db1", "db2"]);
    check(&inv, "db:web[0:1]", &["db1", "db2", "web2", "web1"]);
    check(&inv, "web[x]", &[]);
}

#[test]
fn implicit_localhost_matches() {
    let inv = ini(INV);
    check(&inv, "localhost", &["localhost"]);
    check(&inv, "127.0.0.1", &["127.0.0.1"]);
    check(&inv, "::1", &["::1"]);
    check(
        &inv,
        "localhost:web",
        &["localhost", "web1", "web2", "web3", "web4"],
    );
    // Not part of `all`.
    assert!(
        !inv.select("all")
            .unwrap()
            .contains(&"localhost".to_string())
    );
}

#[test]
fn malformed_patterns_are_errors() {
    let inv = ini(INV);
    for pattern in [
        "web[9]", "web[-9]", "db[12]", "~web(", "web[", "~[", "!", "web:&",
    ] {
        match inv.select(pattern) {
            Err(InventoryError::Pattern { pattern: p, .. }) => assert_eq!(p, pattern),
            other => panic!("{pattern:?} gave {other:?}"),
        }
    }
}

#[test]
fn a_host_name_wins_over_a_group_of_the_same_name() {
    let inv = ini("[a]\nb\n[b]\nh\n");
    check(&inv, "b", &["b"]);
    check(&inv, "b*", &["h", "b"]);
}

#[test]
fn glob_matches_whole_names_with_classes() {
    use crate::inventory::glob::matches;
    assert!(matches("web*", "web12"));
    assert!(matches("db?", "db1"));
    assert!(!matches("db?", "db12"));
    assert!(matches("db[12]", "db2"));
    assert!(!matches("alpha", "alphabet"));
}
