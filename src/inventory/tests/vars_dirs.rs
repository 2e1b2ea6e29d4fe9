use super::{diag, json, tree};
use crate::inventory::{Decrypt, Inventory, InventoryError};
use serde_json::Value;
use std::sync::Arc;

fn load(dir: &tempfile::TempDir) -> Result<Inventory, InventoryError> {
    Inventory::load(dir.path().join("hosts.ini").to_str().unwrap(), dir.path())
}

fn vars(inv: &Inventory, host: &str) -> Value {
    Value::Object(inv.host_vars(host))
}

#[test]
fn file_forms_first_match_wins() {
    let dir = tree(&[
        ("hosts.ini", "[a]\nh1\n[b]\nh1\n[c]\nh1\n[d]\nh1\n"),
        ("group_vars/a", "from_a: plain\n"),
        ("group_vars/b.yml", "from_b: yml\n"),
        ("group_vars/b.yaml", "from_b: yaml\nignored: true\n"),
        ("group_vars/c.yaml", "from_c: yaml\n"),
        ("group_vars/d.json", "{\"from_d\": [1, 2]}"),
        ("group_vars/nosuchgroup.yml", "ghost: true\n"),
        ("group_vars/ungrouped.yml", "u: 1\n"),
        ("host_vars/h1.yml", "from_host: 1\n"),
    ]);
    let inv = load(&dir).unwrap();
    assert_eq!(
        vars(&inv, "h1"),
        json(r#"{"from_a":"plain","from_b":"yml","from_c":"yaml","from_d":[1,2],"from_host":1}"#)
    );
    assert_eq!(inv.host("h1").unwrap().vars["from_host"], 1);
}

#[test]
fn directory_form_merges_in_name_order() {
    let dir = tree(&[
        ("hosts.ini", "h1\n[web]\nw1\n"),
        ("group_vars/web/10-base.yml", "port: 80\nname: base\n"),
        ("group_vars/web/20-override.yaml", "port: 8080\n"),
        (
            "group_vars/web/nested/30.yml",
            "nested: true\nname: nested\n",
        ),
        ("group_vars/web/zz-no-extension", "last: true\n"),
        ("group_vars/web/.hidden.yml", "hidden: true\n"),
        ("group_vars/web/backup.yml~", "backup: true\n"),
        ("group_vars/web/notes.txt", "txt: true\n"),
        ("group_vars/web/dir.d/x.yml", "dotted_dir: true\n"),
        ("group_vars/web/empty.yml", ""),
        ("group_vars/web.yml", "shadowed: true\n"),
        ("group_vars/ungrouped.yml", "u: 1\n"),
    ]);
    let inv = load(&dir).unwrap();
    assert_eq!(
        vars(&inv, "w1"),
        json(r#"{"port":8080,"name":"nested","nested":true,"last":true}"#)
    );
    assert_eq!(vars(&inv, "h1"), json(r#"{"u":1}"#));
}

#[test]
fn playbook_dirs_rank_above_the_inventory_at_each_level() {
    let dir = tree(&[
        ("inv/hosts.ini", "[web]\nw1\n"),
        ("inv/group_vars/all.yml", "a: inv\n"),
        ("inv/group_vars/web.yml", "w: inv\n"),
        ("inv/host_vars/w1.yml", "h: inv\nkeep: inv\n"),
        ("inv/host_vars/localhost.yml", "lh: inv\n"),
        ("play/group_vars/all.yml", "a: play\nw: play_all\n"),
        ("play/host_vars/w1.yml", "h: play\n"),
    ]);
    let mut inv = Inventory::load(
        dir.path().join("inv/hosts.ini").to_str().unwrap(),
        dir.path(),
    )
    .unwrap();
    inv.add_vars_dirs(&dir.path().join("play")).unwrap();
    assert_eq!(
        vars(&inv, "w1"),
        json(r#"{"a":"play","w":"inv","h":"play","keep":"inv"}"#)
    );
    assert_eq!(
        vars(&inv, "localhost"),
        json(r#"{"a":"play","w":"play_all","ansible_connection":"local","lh":"inv"}"#)
    );
}

#[test]
fn a_vars_file_must_be_a_mapping() {
    let dir = tree(&[
        ("hosts.ini", "[web]\nw1\n"),
        ("group_vars/web.yml", "- a\n- b\n"),
    ]);
    let d = diag(load(&dir).unwrap_err());
    assert!(d.message.contains("mapping"), "{}", d.message);
    assert!(d.span.path().ends_with("group_vars/web.yml"));
    assert_eq!(d.span.line, 1);
}

const VAULT_FILE: &str = "$ANSIBLE_VAULT;1.1;AES256\n6162636465\n";

#[test]
fn vault_files_need_a_decryptor() {
    let dir = tree(&[
        ("hosts.ini", "[web]\nw1\n"),
        ("group_vars/web/vault.yml", VAULT_FILE),
    ]);
    let d = diag(load(&dir).unwrap_err());
    assert!(d.message.contains("vault-encrypted"), "{}", d.message);
    assert!(d.hint.unwrap().contains("vault-password"));

    let decrypt: Decrypt = Arc::new(|path, text| {
        assert!(path.ends_with("vault.yml"));
        assert!(text.starts_with("$ANSIBLE_VAULT"));
        Ok("secret: s3cret\n".to_string())
    });
    let inv = Inventory::load_with_vault(
        dir.path().join("hosts.ini").to_str().unwrap(),
        dir.path(),
        decrypt,
    )
    .unwrap();
    assert_eq!(vars(&inv, "w1"), json(r#"{"secret":"s3cret"}"#));

    let refuse: Decrypt = Arc::new(|_, _| Err("wrong password".into()));
    let err = Inventory::load_with_vault(
        dir.path().join("hosts.ini").to_str().unwrap(),
        dir.path(),
        refuse,
    )
    .unwrap_err();
    assert!(diag(err).message.contains("wrong password"));
}

#[test]
fn inline_vault_values_stay_tagged() {
    let dir = tree(&[
        ("hosts.ini", "[web]\nw1\n"),
        (
            "group_vars/web.yml",
            "pw: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n",
        ),
    ]);
    let inv = load(&dir).unwrap();
    let pw = &inv.host_vars("w1")["pw"];
    assert_eq!(pw["__tag__"], "vault");
    assert!(
        pw["value"]
            .as_str()
            .unwrap()
            .starts_with("$ANSIBLE_VAULT;1.1;AES256")
    );
    let listed = &inv.to_list_json()["_meta"]["hostvars"]["w1"]["pw"];
    assert!(
        listed["__ansible_vault"]
            .as_str()
            .unwrap()
            .starts_with("$ANSIBLE_VAULT")
    );
}
