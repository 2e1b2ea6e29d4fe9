use super::super::address::{expand_host_pattern, parse_address};
use super::super::range::expand;
use super::names;

#[test]
fn numeric_ranges_pad_to_the_begin_width() {
    assert_eq!(expand("w[01:03]").unwrap(), names(&["w01", "w02", "w03"]));
    assert_eq!(expand("y[9:11]").unwrap(), names(&["y9", "y10", "y11"]));
    assert_eq!(expand("h[:2]").unwrap(), names(&["h0", "h1", "h2"]));
}

#[test]
fn steps_and_letters() {
    assert_eq!(expand("x[0:10:4]").unwrap(), names(&["x0", "x4", "x8"]));
    assert_eq!(expand("d-[a:c]").unwrap(), names(&["d-a", "d-b", "d-c"]));
    // Letters run a..z then A..Z.
    let z = expand("z[y:B]").unwrap();
    assert_eq!(z, names(&["zy", "zz", "zA", "zB"]));
    assert_eq!(expand("l[a:e:2]").unwrap(), names(&["la", "lc", "le"]));
}

#[test]
fn several_ranges_expand_left_to_right() {
    assert_eq!(
        expand("m[1:2]-[a:b].example.com").unwrap(),
        names(&[
            "m1-a.example.com",
            "m1-b.example.com",
            "m2-a.example.com",
            "m2-b.example.com"
        ])
    );
}

#[test]
fn descending_numeric_range_is_empty() {
    assert!(expand("w[3:1]").unwrap().is_empty());
}

#[test]
fn range_errors() {
    let width = expand("w[01:100]").unwrap_err();
    assert!(width.contains("same width"), "{width}");
    assert!(expand("w[c:a]").unwrap_err().contains("begin <= end"));
    assert!(expand("w[1:]").unwrap_err().contains("end value"));
    assert!(expand("w[1:2:0]").unwrap_err().contains("step"));
    assert!(expand("w[1]").unwrap_err().contains("begin:end"));
    assert!(expand("w[a:5]").unwrap_err().contains("numeric"));
    assert!(expand("w[1:2").unwrap_err().contains("unterminated"));
}

#[test]
fn addresses_with_ports() {
    assert_eq!(parse_address("h1:22"), Some(("h1".into(), Some(22))));
    assert_eq!(
        parse_address("10.0.0.1:2222"),
        Some(("10.0.0.1".into(), Some(2222)))
    );
    assert_eq!(parse_address("[::1]:23"), Some(("::1".into(), Some(23))));
    assert_eq!(parse_address("fe80::1"), Some(("fe80::1".into(), None)));
    assert_eq!(
        parse_address("w[1:2]:99"),
        Some(("w[1:2]".into(), Some(99)))
    );
    // Labels may not end in `_` or `-`; such text is not an address.
    assert_eq!(parse_address("bad_:22"), None);
    assert_eq!(parse_address("web:db"), None);
}

#[test]
fn host_patterns_in_inventory_files() {
    assert_eq!(
        expand_host_pattern("w[1:2]:99").unwrap(),
        (names(&["w1", "w2"]), Some(99))
    );
    assert_eq!(
        expand_host_pattern("bad_:22").unwrap(),
        (names(&["bad_:22"]), None)
    );
    assert!(expand_host_pattern("h1:").unwrap_err().contains("port"));
}
