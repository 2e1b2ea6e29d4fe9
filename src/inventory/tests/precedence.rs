use super::{ini, json, names, tree};
use crate::inventory::Inventory;
use serde_json::Value;

#[test]
fn deeper_groups_win_then_priority_then_name() {
    let base = "[b]\nh\n[a]\nh\n[zz]\nh\n[a:vars]\nx=a\ny=a\n[b:vars]\nx=b\ny=b\n[zz:vars]\nx=zz\ny=zz\nansible_group_priority=0\n";
    // Same depth: zz has the lowest priority, then a < b by name.
    let inv = ini(base);
    assert_eq!(
        Value::Object(inv.host_vars("h")),
        json(r#"{"x":"b","y":"b"}"#)
    );
    // Under `deep`, zz is one level deeper and wins despite its priority.
    let inv = ini(&format!("{base}[deep:children]\nzz\n[deep:vars]\ny=deep\n"));
    assert_eq!(
        Value::Object(inv.host_vars("h")),
        json(r#"{"x":"zz","y":"zz"}"#)
    );
    assert_eq!(inv.group("zz").unwrap().depth, 2);
    assert_eq!(inv.group_names("h"), names(&["a", "b", "deep", "zz"]));
}

#[test]
fn host_vars_beat_group_vars_and_all_is_lowest() {
    let inv = ini(
        "h v=host\nother\n[g]\nh\nother\n[g:vars]\nv=group\nw=group\n[all:vars]\nv=all\nw=all\nz=all\n",
    );
    assert_eq!(
        Value::Object(inv.host_vars("h")),
        json(r#"{"v":"host","w":"group","z":"all"}"#)
    );
    assert_eq!(
        Value::Object(inv.host_vars("other")),
        json(r#"{"v":"group","w":"group","z":"all"}"#)
    );
    assert!(inv.host_vars("nope").is_empty());
}

/// The layering of inline vars, inventory `group_vars/` and playbook
/// `group_vars/`, checked against `ansible-inventory --playbook-dir`.
fn layered() -> (tempfile::TempDir, Inventory) {
    let dir = tree(&[
        (
            "inv/hosts.yml",
            "all:\n  vars: {v: all, only_all: 1, inl_vs_file: inline_all}\n  children:\n    parent:\n      vars: {v: parent, p: parent, inl_vs_file: inline_parent}\n      children:\n        child:\n          vars: {v: child}\n          hosts:\n            h1:\n    zeta:\n      vars: {v: zeta, p: zeta}\n      hosts: {h1: }\n    alpha:\n      vars: {v: alpha, p: alpha, ansible_group_priority: 5}\n      hosts: {h2: {hv: inline}, h1: }\n",
        ),
        (
            "inv/group_vars/all.yml",
            "inl_vs_file: file_all\nx: inv_all\n",
        ),
        ("inv/group_vars/child/a.yml", "x: inv_child_a\n"),
        ("inv/group_vars/child/b.yaml", "x2: inv_child_b\n"),
        ("inv/group_vars/child/c.txt", "ignored: true\n"),
        ("inv/group_vars/child.yml", "x: inv_child_file\n"),
        ("inv/group_vars/zeta.json", "{\"y\": \"inv_zeta\"}\n"),
        (
            "inv/group_vars/parent",
            "{ansible_group_priority: 100, z: inv_parent}\n",
        ),
        ("inv/host_vars/h2.yml", "hv: hostfile\n"),
        ("pb/group_vars/parent.yml", "x: play_parent\n"),
        ("pb/group_vars/all.yml", "y: play_all\n"),
    ]);
    let mut inv = Inventory::load(dir.path().join("inv").to_str().unwrap(), dir.path()).unwrap();
    inv.add_vars_dirs(&dir.path().join("pb")).unwrap();
    (dir, inv)
}

#[test]
fn group_vars_files_outrank_inline_group_vars() {
    let (_dir, inv) = layered();
    let want = json(
        r#"{"_meta":{"hostvars":{"h1":{"ansible_group_priority":100,"inl_vs_file":"file_all","only_all":1,"p":"alpha","v":"child","x":"play_parent","x2":"inv_child_b","y":"inv_zeta","z":"inv_parent"},"h2":{"hv":"hostfile","inl_vs_file":"file_all","only_all":1,"p":"alpha","v":"alpha","x":"inv_all","y":"play_all"}}},"all":{"children":["ungrouped","parent","zeta","alpha"]},"alpha":{"hosts":["h2","h1"]},"child":{"hosts":["h1"]},"parent":{"children":["child"]},"zeta":{"hosts":["h1"]}}"#,
    );
    assert_eq!(inv.to_list_json(), want);
}

#[test]
fn export_shows_each_level_on_its_own() {
    let (_dir, inv) = layered();
    let want = json(
        r#"{"_meta":{"hostvars":{"h2":{"hv":"hostfile"}}},"all":{"children":["ungrouped","parent","zeta","alpha"],"vars":{"inl_vs_file":"file_all","only_all":1,"v":"all","x":"inv_all","y":"play_all"}},"alpha":{"hosts":["h2","h1"],"vars":{"ansible_group_priority":5,"p":"alpha","v":"alpha"}},"child":{"hosts":["h1"],"vars":{"v":"child","x":"inv_child_a","x2":"inv_child_b"}},"parent":{"children":["child"],"vars":{"ansible_group_priority":100,"inl_vs_file":"inline_parent","p":"parent","v":"parent","x":"play_parent","z":"inv_parent"}},"zeta":{"hosts":["h1"],"vars":{"p":"zeta","v":"zeta","y":"inv_zeta"}}}"#,
    );
    assert_eq!(inv.to_export_json(), want);
}
