use super::{diag, json, load_one, names, yaml};

#[test]
fn nested_groups_ranges_and_ports_match_ansible() {
    let inv = yaml(
        "all:\n  hosts:\n    h0:\n    h1: {x: 1}\n  vars: {a: 1}\n  children:\n    web:\n      hosts:\n        w[1:2]:\n          p: 1\n        db:2222:\n      children:\n        sub:\n          hosts: {h1: }\n    empty:\n",
    );
    let want = json(
        r#"{"_meta":{"hostvars":{"db":{"ansible_port":2222},"h1":{"x":1},"w1":{"p":1},"w2":{"p":1}}},"all":{"children":["ungrouped","web","empty"],"vars":{"a":1}},"sub":{"hosts":["h1"]},"ungrouped":{"hosts":["h0"]},"web":{"children":["sub"],"hosts":["w1","w2","db"]}}"#,
    );
    assert_eq!(inv.to_export_json(), want);
    assert_eq!(inv.group("all").unwrap().hosts, names(&["h0", "h1"]));
}

#[test]
fn top_level_groups_besides_all() {
    let inv = yaml(
        "web:\n  hosts: {w1: }\ndb:\n  hosts: {d1: }\n  children: {web: }\nall:\n  vars: {z: 1}\n",
    );
    let want = json(
        r#"{"_meta":{"hostvars":{}},"all":{"children":["ungrouped","db"],"vars":{"z":1}},"db":{"children":["web"],"hosts":["d1"]},"web":{"hosts":["w1"]}}"#,
    );
    assert_eq!(inv.to_export_json(), want);
    assert_eq!(inv.group("web").unwrap().depth, 2);
}

#[test]
fn shorthand_sections_and_null_entries() {
    let inv = yaml("web:\n  hosts: h1\n  vars:\ndb:\n  children: web\n  hosts:\n");
    assert_eq!(inv.group("web").unwrap().hosts, names(&["h1"]));
    assert_eq!(inv.group("db").unwrap().children, names(&["web"]));
    let inv =
        yaml("a:\n  vars: {ansible_group_priority: \"7\", x: [1, {y: null}]}\n  hosts: {h: }\n");
    let a = inv.group("a").unwrap();
    assert_eq!(a.priority, 7);
    assert_eq!(
        serde_json::Value::Object(a.vars.clone()),
        json(r#"{"x":[1,{"y":null}]}"#)
    );
}

#[test]
fn empty_file_is_an_empty_inventory() {
    let inv = yaml("# nothing yet\n");
    assert_eq!(inv.hosts().count(), 0);
    assert_eq!(inv.graph(), "@all:\n  |--@ungrouped:\n");
}

#[test]
fn unknown_group_key_points_at_the_key() {
    let d = diag(load_one("hosts.yml", "all:\n  hosts: {h: }\n  host: {x: }\n").unwrap_err());
    assert_eq!((d.span.line, d.span.col), (3, 3));
    assert!(
        d.message.contains("unknown key 'host' in group 'all'"),
        "{}",
        d.message
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `hosts`?"));
    let d = diag(
        load_one(
            "hosts.yml",
            "all:\n  children:\n    web:\n      db:\n        hosts: {d: }\n",
        )
        .unwrap_err(),
    );
    assert_eq!((d.span.line, d.span.col), (4, 7));
    assert!(d.hint.unwrap().contains("children"));
}

#[test]
fn structural_errors() {
    let cases: &[(&str, u32, &str)] = &[
        ("all:\n  children:\n    web: [a]\n", 3, "must be a mapping"),
        ("web:\n  hosts: [h1]\n", 2, "must be a mapping"),
        ("web:\n  hosts: {123: }\n", 2, "must be a string"),
        ("web:\n  hosts: {h: 5}\n", 2, "must be a mapping"),
        ("- a\n", 1, "mapping of groups"),
        ("plugin: aws_ec2\n", 1, "plugin"),
        ("web:\n  hosts: {\"w[01:100]\": }\n", 2, "same width"),
        ("a:\n  vars: {ansible_group_priority: high}\n", 2, "integer"),
    ];
    for (text, line, needle) in cases {
        let d = diag(load_one("hosts.yml", text).unwrap_err());
        assert!(d.message.contains(needle), "{text:?}: {}", d.message);
        assert_eq!(d.span.line, *line, "{text:?}");
    }
}

#[test]
fn cycles_are_named() {
    let d = diag(
        load_one(
            "hosts.yml",
            "a:\n  children:\n    b:\n      children:\n        a:\n",
        )
        .unwrap_err(),
    );
    // Like Ansible, the edge b -> a is accepted first; closing a -> b fails.
    assert_eq!(d.span.line, 3);
    assert!(d.message.contains("b -> a -> b"), "{}", d.message);
}
