use super::super::shlex::split;
use crate::pyliteral::{literal_eval, parse_value};
use serde_json::json;

#[test]
fn python_scalars() {
    let cases = [
        ("5", json!(5)),
        ("-3", json!(-3)),
        ("+5", json!(5)),
        ("1_000", json!(1000)),
        ("0x10", json!(16)),
        ("0o17", json!(15)),
        ("0b11", json!(3)),
        ("0x_1f", json!(31)),
        ("00", json!(0)),
        ("1.5", json!(1.5)),
        ("-0.5", json!(-0.5)),
        ("1e3", json!(1000.0)),
        ("1E-2", json!(0.01)),
        (".5", json!(0.5)),
        ("1.", json!(1.0)),
        ("True", json!(true)),
        ("False", json!(false)),
        ("None", json!(null)),
        ("...", json!("...")),
        (" 5", json!(5)),
        ("1 # comment", json!(1)),
        ("-(1)", json!(-1)),
    ];
    for (text, want) in cases {
        assert_eq!(literal_eval(text), Some(want), "{text}");
    }
}

#[test]
fn python_strings() {
    let cases = [
        ("'5'", "5"),
        ("\"x\"", "x"),
        ("'a' 'b'", "ab"),
        ("\"\"\"x\"\"\"", "x"),
        (r#"r"\n""#, r"\n"),
        (r#""\u00e9\x41\101""#, "éAA"),
        (r#""tab\tq\q""#, "tab\tq\\q"),
        ("u'x'", "x"),
        ("b'y'", "y"),
    ];
    for (text, want) in cases {
        assert_eq!(literal_eval(text), Some(json!(want)), "{text}");
    }
}

#[test]
fn python_containers() {
    assert_eq!(literal_eval("[1, 2]"), Some(json!([1, 2])));
    assert_eq!(literal_eval("[1,]"), Some(json!([1])));
    assert_eq!(literal_eval("(1,2)"), Some(json!([1, 2])));
    assert_eq!(literal_eval("(1,)"), Some(json!([1])));
    assert_eq!(literal_eval("()"), Some(json!([])));
    assert_eq!(literal_eval("(1)"), Some(json!(1)));
    assert_eq!(literal_eval("1, 2"), Some(json!([1, 2])));
    assert_eq!(literal_eval("{}"), Some(json!({})));
    assert_eq!(literal_eval("{1: 2}"), Some(json!({"1": 2})));
    assert_eq!(literal_eval(r#"{"a":1, "a":2}"#), Some(json!({"a": 2})));
    assert_eq!(literal_eval("{1, 2, 1}"), Some(json!([1, 2])));
    assert_eq!(
        literal_eval(r#"[1, [2, {"a": None}]]"#),
        Some(json!([1, [2, {"a": null}]]))
    );
}

#[test]
fn not_python_literals_stay_text() {
    for text in [
        "true",
        "false",
        "0777",
        "1j",
        "--1",
        "-True",
        "nan",
        "a b",
        "{k:1}",
        "5 ; z",
        "1if 1 else 2",
        "f'x'",
        "'unterminated",
        "[1, 2",
        "",
        "hello # comment",
        "1 2",
    ] {
        assert_eq!(literal_eval(text), None, "{text}");
        assert_eq!(parse_value(text), json!(text));
    }
}

#[test]
fn shell_words() {
    let s = |t: &str| split(t).unwrap();
    assert_eq!(s("h x=1 y=\"a b\""), ["h", "x=1", "y=a b"]);
    assert_eq!(s("a=b#c d"), ["a=b"]);
    assert_eq!(s("a\"#\"b c"), ["a#b", "c"]);
    assert_eq!(s("#x"), Vec::<String>::new());
    assert_eq!(s(r"a\ b"), ["a b"]);
    assert_eq!(s("x=\"\" y"), ["x=", "y"]);
    assert_eq!(s(r#"a="p\q\"r""#), [r#"a=p\q"r"#]);
    assert_eq!(s("c='p\\q'"), ["c=p\\q"]);
    assert_eq!(s(r"x=1\#2"), ["x=1#2"]);
    assert!(split(r"a=b\").is_err());
    assert!(split("a='x").is_err());
}
