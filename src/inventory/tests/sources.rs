use super::{json, names, path_of, tree};
use crate::inventory::{Inventory, InventoryError};

#[test]
fn a_name_resolves_under_the_project_inventory_folder() {
    let dir = tree(&[
        ("inventory/prod.yml", "all:\n  hosts: {p1: }\n"),
        ("inventory/stage.ini", "s1\n"),
        ("inventory/legacy", "[old]\nl1\n"),
        ("inventory/qa/hosts.yml", "qa:\n  hosts: {q1: }\n"),
        ("inventory/qa/group_vars/qa.yml", "env: qa\n"),
    ]);
    let load = |spec: &str| {
        Inventory::load(spec, dir.path())
            .unwrap()
            .select("all")
            .unwrap()
    };
    assert_eq!(load("prod"), names(&["p1"]));
    assert_eq!(load("stage"), names(&["s1"]));
    assert_eq!(load("legacy"), names(&["l1"]));
    assert_eq!(load("qa"), names(&["q1"]));
    assert_eq!(load(&path_of(&dir, "inventory/prod.yml")), names(&["p1"]));
    let qa = Inventory::load("qa", dir.path()).unwrap();
    assert_eq!(qa.host_vars("q1")["env"], "qa");
    assert_eq!(
        qa.host("q1").unwrap().inventory_file.as_deref(),
        Some(dir.path().join("inventory/qa/hosts.yml").as_path())
    );
}

#[test]
fn group_vars_next_to_an_inventory_file_apply() {
    let dir = tree(&[
        ("inventory/prod.ini", "[web]\nw1\n"),
        ("inventory/group_vars/web.yml", "port: 80\n"),
    ]);
    let inv = Inventory::load("prod", dir.path()).unwrap();
    assert_eq!(inv.host_vars("w1")["port"], 80);
}

#[test]
fn unknown_names_list_what_was_tried() {
    let dir = tempfile::tempdir().unwrap();
    let err = Inventory::load("nope", dir.path()).unwrap_err();
    let InventoryError::NotFound { spec, tried } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(spec, "nope");
    assert!(tried[0].ends_with("inventory/nope.yml"));
    assert!(err.to_string().contains("inventory/nope.ini"));
}

#[test]
fn inline_host_lists() {
    let dir = tempfile::tempdir().unwrap();
    let inv = Inventory::load("10.0.0.5:2222, web1,", dir.path()).unwrap();
    assert_eq!(inv.select("all").unwrap(), names(&["10.0.0.5", "web1"]));
    assert_eq!(inv.host_vars("10.0.0.5")["ansible_port"], 2222);
    assert_eq!(
        inv.select("ungrouped").unwrap(),
        names(&["10.0.0.5", "web1"])
    );
}

/// A directory of mixed files, checked against `ansible-inventory -i DIR`.
#[test]
fn directory_of_inventory_files_matches_ansible() {
    let dir = tree(&[
        ("01.ini", "[web]\nw1\n"),
        ("02.yml", "front:\n  children:\n    web:\n  hosts: {f1: }\n"),
        ("hosts", "h_noext\n[x]\nxh\n"),
        ("yamlnoext", "a:\n  hosts: {ya: }\n"),
        ("sub/inner.ini", "[s]\nsubh\n"),
        ("README.md", "notes"),
        ("t.txt", "[t]\nth\n"),
        ("j.json", "{\"j\": {\"hosts\": {\"jh\": null}}}"),
        (".hidden", "[hidden]\nhh\n"),
        ("group_vars/all.yml", "g: 1\n"),
        ("sub/group_vars/s.yml", "not_read: true\n"),
    ]);
    let inv = Inventory::load(dir.path().to_str().unwrap(), dir.path()).unwrap();
    let want = json(
        r#"{"_meta":{"hostvars":{"f1":{"g":1},"h_noext":{"g":1},"jh":{"g":1},"subh":{"g":1},"w1":{"g":1},"xh":{"g":1},"ya":{"g":1}}},"a":{"hosts":["ya"]},"all":{"children":["ungrouped","front","x","j","s","a"]},"front":{"children":["web"],"hosts":["f1"]},"j":{"hosts":["jh"]},"s":{"hosts":["subh"]},"ungrouped":{"hosts":["h_noext"]},"web":{"hosts":["w1"]},"x":{"hosts":["xh"]}}"#,
    );
    assert_eq!(inv.to_list_json(), want);
    assert_eq!(
        inv.select("all").unwrap(),
        names(&["h_noext", "f1", "xh", "jh", "subh", "ya", "w1"])
    );
}

#[test]
fn unsupported_sources_are_refused() {
    let dir = tree(&[("inv.toml", "[all.hosts]\n")]);
    let err = Inventory::load(&path_of(&dir, "inv.toml"), dir.path()).unwrap_err();
    assert!(err.to_string().contains("TOML"), "{err}");
}
