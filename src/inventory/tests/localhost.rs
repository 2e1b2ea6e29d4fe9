use super::{ini, json, names};
use crate::inventory::Inventory;
use serde_json::Value;

#[test]
fn builtin_local_is_one_local_host() {
    let inv = Inventory::builtin_local();
    assert_eq!(inv.select("all").unwrap(), names(&["localhost"]));
    assert_eq!(inv.select("ungrouped").unwrap(), names(&["localhost"]));
    assert_eq!(
        Value::Object(inv.host_vars("localhost")),
        json(r#"{"ansible_connection":"local"}"#)
    );
    assert!(
        !inv.host_vars("localhost")
            .contains_key("ansible_python_interpreter")
    );
    assert_eq!(inv.group_names("localhost"), names(&["ungrouped"]));
    // The other local names resolve to it.
    assert_eq!(inv.select("127.0.0.1").unwrap(), names(&["localhost"]));
    assert_eq!(inv.graph(), "@all:\n  |--@ungrouped:\n  |  |--localhost\n");
}

#[test]
fn local_spec_without_a_file_is_builtin() {
    let dir = tempfile::tempdir().unwrap();
    let inv = Inventory::load("local", dir.path()).unwrap();
    assert_eq!(inv.select("all").unwrap(), names(&["localhost"]));
}

#[test]
fn implicit_localhost_gets_all_vars_and_no_groups() {
    let inv = ini("h1\n[all:vars]\nfoo=inline_all\n[web]\nw1\n[web:vars]\nwv=1\n");
    let lh = inv.host("localhost").unwrap();
    assert_eq!(lh.name, "localhost");
    assert_eq!(
        Value::Object(inv.host_vars("localhost")),
        json(r#"{"foo":"inline_all","ansible_connection":"local"}"#)
    );
    assert!(inv.group_names("localhost").is_empty());
    assert!(inv.groups_map()["all"].iter().all(|h| h != "localhost"));
    assert_eq!(inv.host("::1").unwrap().name, "::1");
    assert!(inv.host("elsewhere").is_none());
}

#[test]
fn an_explicit_local_name_stands_for_all_of_them() {
    let inv = ini("[db]\n127.0.0.1 ansible_connection=ssh\n");
    assert_eq!(inv.select("localhost").unwrap(), names(&["127.0.0.1"]));
    assert_eq!(inv.host("localhost").unwrap().name, "127.0.0.1");
    assert_eq!(inv.host_vars("localhost")["ansible_connection"], "ssh");
    assert_eq!(inv.group_names("localhost"), names(&["db"]));
}
