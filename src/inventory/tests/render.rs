use super::{ini, json, names, yaml};

#[test]
fn graph_matches_ansible() {
    let inv = ini("top1\ntop2\n[web]\nweb[01:03]\ndb1\n[db]\ndb1\ndb2\n[app:children]\nweb\ndb\n");
    let want = "@all:
  |--@ungrouped:
  |  |--top1
  |  |--top2
  |--@app:
  |  |--@web:
  |  |  |--web01
  |  |  |--web02
  |  |  |--web03
  |  |  |--db1
  |  |--@db:
  |  |  |--db1
  |  |  |--db2
";
    assert_eq!(inv.graph(), want);
}

#[test]
fn graph_lists_children_before_hosts_and_skips_hosts_of_all() {
    let inv = yaml(
        "all:\n  hosts:\n    h0:\n    h1: {x: 1}\n  children:\n    web:\n      hosts:\n        w[1:2]:\n        db:2222:\n      children:\n        sub:\n          hosts: {h1: }\n    empty:\n",
    );
    let want = "@all:
  |--@ungrouped:
  |  |--h0
  |--@web:
  |  |--@sub:
  |  |  |--h1
  |  |--w1
  |  |--w2
  |  |--db
  |--@empty:
";
    assert_eq!(inv.graph(), want);
}

#[test]
fn list_skips_empty_groups_and_hosts_without_vars() {
    let inv = yaml(
        "all:\n  children:\n    web:\n      hosts: {w1: , w2: {b: 2, a: {z: 1, y: 0}}}\n    empty:\n",
    );
    assert_eq!(
        inv.to_list_json(),
        json(
            r#"{"_meta":{"hostvars":{"w2":{"a":{"y":0,"z":1},"b":2}}},"all":{"children":["ungrouped","web","empty"]},"web":{"hosts":["w1","w2"]}}"#
        )
    );
    // Keys come out sorted, like `ansible-inventory`.
    let text = serde_json::to_string(&inv.to_list_json()).unwrap();
    assert!(
        text.starts_with(r#"{"_meta":{"hostvars":{"w2":{"a":{"y":0,"z":1},"b":2}}},"all""#),
        "{text}"
    );
}

#[test]
fn groups_map_is_transitive_in_definition_order() {
    let inv = ini(
        "solo\n[web]\nweb[1:4]\n[db]\ndb1\ndb2\nweb2\n[lb]\nlb.example.com\n[front:children]\nweb\nlb\n[stage]\nweb3\ndb2\n",
    );
    let map = inv.groups_map();
    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["all", "ungrouped", "web", "db", "lb", "front", "stage"]
    );
    assert_eq!(
        map["all"],
        names(&[
            "solo",
            "db1",
            "db2",
            "web2",
            "web3",
            "web1",
            "web4",
            "lb.example.com"
        ])
    );
    assert_eq!(
        map["front"],
        names(&["web1", "web2", "web3", "web4", "lb.example.com"])
    );
    assert_eq!(map["db"], names(&["db1", "db2", "web2"]));
    assert_eq!(map["ungrouped"], names(&["solo"]));
    assert_eq!(inv.group_names("web2"), names(&["db", "front", "web"]));
}
