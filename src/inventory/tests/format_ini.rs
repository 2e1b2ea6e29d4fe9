use super::{diag, ini, json, load_one, names};

const SAMPLE: &str = r#"top1
top2 x=1

[web]
web[01:03] a=5 b="5" c="'5'" d=True e=true f=[1,2] g={'k':1} h=1.5 i=0x10 j=None k=a#b l="hello world"
db1:2222

[web:vars]
wv1=5
wv2="5"
wv3=True
wv4=[1, 2]
wv5=hello # comment
wv6 = spaced value 

[db]
db1
db2 ansible_host=10.0.0.2

[app:children]
web
db

[app:vars]
ansible_group_priority=10
av=1

[all:vars]
allv=1
"#;

#[test]
fn sample_export_matches_ansible() {
    let want = json(
        r#"{"_meta":{"hostvars":{"db1":{"ansible_port":2222},"db2":{"ansible_host":"10.0.0.2"},"top2":{"x":1},"web01":{"a":5,"b":5,"c":"5","d":true,"e":"true","f":[1,2],"g":"{k:1}","h":1.5,"i":16,"j":null,"k":"a"},"web02":{"a":5,"b":5,"c":"5","d":true,"e":"true","f":[1,2],"g":"{k:1}","h":1.5,"i":16,"j":null,"k":"a"},"web03":{"a":5,"b":5,"c":"5","d":true,"e":"true","f":[1,2],"g":"{k:1}","h":1.5,"i":16,"j":null,"k":"a"}}},"all":{"children":["ungrouped","app"],"vars":{"allv":1}},"app":{"children":["web","db"],"vars":{"ansible_group_priority":10,"av":1}},"db":{"hosts":["db1","db2"]},"ungrouped":{"hosts":["top1","top2"]},"web":{"hosts":["web01","web02","web03","db1"],"vars":{"wv1":5,"wv2":"5","wv3":true,"wv4":[1,2],"wv5":"hello # comment","wv6":"spaced value"}}}"#,
    );
    assert_eq!(ini(SAMPLE).to_export_json(), want);
}

#[test]
fn sample_list_matches_ansible() {
    let want = json(
        r#"{"_meta":{"hostvars":{"db1":{"allv":1,"ansible_port":2222,"av":1,"wv1":5,"wv2":"5","wv3":true,"wv4":[1,2],"wv5":"hello # comment","wv6":"spaced value"},"db2":{"allv":1,"ansible_host":"10.0.0.2","av":1},"top1":{"allv":1},"top2":{"allv":1,"x":1},"web01":{"a":5,"allv":1,"av":1,"b":5,"c":"5","d":true,"e":"true","f":[1,2],"g":"{k:1}","h":1.5,"i":16,"j":null,"k":"a","wv1":5,"wv2":"5","wv3":true,"wv4":[1,2],"wv5":"hello # comment","wv6":"spaced value"},"web02":{"a":5,"allv":1,"av":1,"b":5,"c":"5","d":true,"e":"true","f":[1,2],"g":"{k:1}","h":1.5,"i":16,"j":null,"k":"a","wv1":5,"wv2":"5","wv3":true,"wv4":[1,2],"wv5":"hello # comment","wv6":"spaced value"},"web03":{"a":5,"allv":1,"av":1,"b":5,"c":"5","d":true,"e":"true","f":[1,2],"g":"{k:1}","h":1.5,"i":16,"j":null,"k":"a","wv1":5,"wv2":"5","wv3":true,"wv4":[1,2],"wv5":"hello # comment","wv6":"spaced value"}}},"all":{"children":["ungrouped","app"]},"app":{"children":["web","db"]},"db":{"hosts":["db1","db2"]},"ungrouped":{"hosts":["top1","top2"]},"web":{"hosts":["web01","web02","web03","db1"]}}"#,
    );
    let inv = ini(SAMPLE);
    assert_eq!(inv.to_list_json(), want);
    assert_eq!(inv.group("app").unwrap().priority, 10);
}

#[test]
fn comments_quotes_and_vars_values() {
    let inv = ini(
        "# c\n; c2\n[a] # header comment\nh1 x=1 # c\nh2 y=\"a b\" z='q r' e=\n[a:vars]\n; c\nk = v=w\nc=True # c\nd=[1, \"a b\"]\ne={\"k\": [1]}\nf= \nh=#x\ni=x;y\nl=b\"y\"\nm=1 2\n",
    );
    let want = json(
        r##"{"_meta":{"hostvars":{"h1":{"x":1},"h2":{"e":"","y":"a b","z":"q r"}}},"a":{"hosts":["h1","h2"],"vars":{"c":true,"d":[1,"a b"],"e":{"k":[1]},"f":"","h":"#x","i":"x;y","k":"v=w","l":"y","m":"1 2"}},"all":{"children":["ungrouped","a"]}}"##,
    );
    assert_eq!(inv.to_export_json(), want);
}

#[test]
fn later_definitions_extend_hosts_and_groups() {
    let inv = ini("[a]\nh x=1 y=1\n[b]\nh x=2\n[c:vars]\nv=1\n[c:children]\nd\n[d]\nh\n[c]\n");
    let want = json(
        r#"{"_meta":{"hostvars":{"h":{"x":2,"y":1}}},"a":{"hosts":["h"]},"all":{"children":["ungrouped","a","b","c"]},"b":{"hosts":["h"]},"c":{"children":["d"],"vars":{"v":1}},"d":{"hosts":["h"]}}"#,
    );
    assert_eq!(inv.to_export_json(), want);
}

#[test]
fn all_and_ungrouped_sections() {
    let inv = ini("[all]\nh1\n[all:children]\nweb\n[web]\nw1\n[ungrouped]\nu1\nw1\n");
    // `u1` was listed there; `h1` joins when nothing else claims it.
    assert_eq!(inv.group("ungrouped").unwrap().hosts, names(&["u1", "h1"]));
    assert_eq!(inv.select("all").unwrap(), names(&["h1", "u1", "w1"]));
    assert_eq!(
        inv.group("all").unwrap().children,
        names(&["ungrouped", "web"])
    );
    assert_eq!(inv.group("web").unwrap().depth, 1);
}

#[test]
fn port_shorthand_and_ranges() {
    let inv = ini("[a]\nh1:22\n10.0.0.1:2222\n[::1]:23\nfe80::1\nw[1:2]:99\nbad_:22\nh1:33\n");
    assert_eq!(
        inv.group("a").unwrap().hosts,
        names(&["h1", "10.0.0.1", "::1", "fe80::1", "w1", "w2", "bad_:22"])
    );
    // The port of a host's first definition sticks.
    assert_eq!(inv.host("h1").unwrap().vars["ansible_port"], 22);
    assert_eq!(inv.host("::1").unwrap().vars["ansible_port"], 23);
    assert_eq!(inv.host("w2").unwrap().vars["ansible_port"], 99);
    assert!(inv.host("fe80::1").unwrap().vars.is_empty());
}

#[test]
fn errors_point_at_the_line() {
    let cases: &[(&str, u32, u32, &str)] = &[
        ("[a:children]\nb\n", 2, 1, "never defined"),
        ("[a]\nh\n[b:vars]\nx=1\n", 3, 1, "[b:vars]"),
        ("\n[a:foo]\nh\n", 2, 1, "unknown type"),
        ("[a b]\nh\n", 1, 1, "invalid section header"),
        ("[a]\nh  foo=1 bar\n", 2, 10, "expected key=value"),
        ("[a]\nh\n[a:vars]\nnovalue\n", 4, 1, "expected key=value"),
        ("[a]\n  h1:\n", 2, 3, "port"),
        ("[a]\nw[01:100]\n", 2, 1, "same width"),
        ("[a]\nw[c:a]\n", 2, 1, "begin <= end"),
        ("[a]\nh x='open\n", 2, 1, "closing quotation"),
        ("[a:children]\na\n", 2, 1, "child of itself"),
        ("[a:children]\n:x\n", 2, 1, "expected a group name"),
        (
            "[a]\nh\n[a:vars]\nansible_group_priority=x\n",
            4,
            1,
            "must be an integer",
        ),
        ("---\nall:\n", 1, 1, "YAML"),
    ];
    for (text, line, col, needle) in cases {
        let d = diag(load_one("hosts.ini", text).unwrap_err());
        assert!(
            d.message.contains(needle) || d.hint.as_deref().unwrap_or("").contains(needle),
            "{text:?}: {}",
            d.message
        );
        assert_eq!(
            (d.span.line, d.span.col),
            (*line, *col),
            "{text:?}: {}",
            d.message
        );
        assert!(d.span.path().ends_with("hosts.ini"));
    }
}

#[test]
fn cycles_are_named() {
    let err = load_one(
        "hosts.ini",
        "[a:children]\nb\n[b:children]\nc\n[c:children]\na\n",
    )
    .unwrap_err();
    let d = diag(err);
    assert_eq!(d.span.line, 6);
    assert!(d.message.contains("a -> b -> c -> a"), "{}", d.message);
}
