//! Python-style printing of template values.
//!
//! Ansible renders through Python, so a list printed inside a string comes
//! out as `[1, 'a', True, None]`, a float as `1e+20`, and a bare `none` as an
//! empty string. [`formatter`] gives minijinja the same output; [`python_repr`]
//! and [`python_str`] are the `repr()`/`str()` used by filters such as
//! `string` and `join`.

use minijinja::value::{Value, ValueKind};
use minijinja::{AutoEscape, Error, Output, State, escape_formatter};

/// Formatter for `Environment::set_formatter`.
///
/// Strings print as they are, `none` (like Ansible's finalize step) and
/// lenient undefined values as nothing, everything else as Python's `str()`.
/// Strict-mode undefined errors are raised by the engine before this runs,
/// and HTML auto-escaping still applies to the text produced here; other
/// auto-escape modes (JSON) keep minijinja's own rendering.
pub fn formatter(out: &mut Output, state: &mut State, value: &Value) -> Result<(), Error> {
    if !matches!(state.auto_escape(), AutoEscape::None | AutoEscape::Html) {
        return escape_formatter(out, state, value);
    }
    match value.kind() {
        ValueKind::String | ValueKind::Invalid => escape_formatter(out, state, value),
        ValueKind::Undefined | ValueKind::None => Ok(()),
        _ => escape_formatter(out, state, &Value::from(python_str(value))),
    }
}

/// Python's `str()`: strings unchanged, everything else as [`python_repr`].
pub fn python_str(value: &Value) -> String {
    match value.as_str() {
        Some(s) => s.to_string(),
        None => python_repr(value),
    }
}

/// Python's `repr()` of a template value.
pub fn python_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

fn write_repr(out: &mut String, value: &Value) {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => out.push_str(&number_repr(value)),
        ValueKind::String => out.push_str(&str_repr(value.as_str().unwrap_or_default())),
        ValueKind::Bytes => out.push_str(&bytes_repr(value.as_bytes().unwrap_or_default())),
        ValueKind::Seq | ValueKind::Iterable => write_seq(out, value),
        ValueKind::Map => write_map(out, value),
        _ => out.push_str(&value.to_string()),
    }
}

fn write_seq(out: &mut String, value: &Value) {
    let tuple = value.is_tuple();
    out.push(if tuple { '(' } else { '[' });
    let mut count = 0;
    if let Ok(iter) = value.try_iter() {
        for item in iter {
            if count > 0 {
                out.push_str(", ");
            }
            write_repr(out, &item);
            count += 1;
        }
    }
    if tuple && count == 1 {
        out.push(',');
    }
    out.push(if tuple { ')' } else { ']' });
}

fn write_map(out: &mut String, value: &Value) {
    out.push('{');
    if let Ok(keys) = value.try_iter() {
        for (idx, key) in keys.enumerate() {
            if idx > 0 {
                out.push_str(", ");
            }
            write_repr(out, &key);
            out.push_str(": ");
            write_repr(out, &value.get_item(&key).unwrap_or_default());
        }
    }
    out.push('}');
}

fn number_repr(value: &Value) -> String {
    if value.is_integer() {
        return value.to_string();
    }
    match f64::try_from(value.clone()) {
        Ok(f) => float_repr(f),
        Err(_) => value.to_string(),
    }
}

/// Python's `repr(float)`: the shortest round-tripping digits, in positional
/// form for exponents -5 < e < 16 and scientific (`1e+20`, `1e-05`) otherwise.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let body = if (-4..16).contains(&exp) {
        positional(&digits, exp)
    } else {
        let (head, tail) = digits.split_at(1);
        let frac = if tail.is_empty() {
            String::new()
        } else {
            format!(".{tail}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{head}{frac}e{esign}{:02}", exp.unsigned_abs())
    };
    format!("{sign}{body}")
}

/// Lays out `0.d1d2d3… × 10^(exp+1)` positionally, always with a fraction.
fn positional(digits: &str, exp: i32) -> String {
    if exp < 0 {
        let zeros = "0".repeat(exp.unsigned_abs() as usize - 1);
        return format!("0.{zeros}{digits}");
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        let pad = "0".repeat(int_len - digits.len());
        format!("{digits}{pad}.0")
    } else {
        let (int, frac) = digits.split_at(int_len);
        format!("{int}.{frac}")
    }
}

/// Python's `repr(str)`: single quotes unless the text holds only `'`.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
    out
}

/// Approximates `str.isprintable()`: control, format, separator (other than
/// the ASCII space) and private-use characters are escaped.
fn is_printable(c: char) -> bool {
    let cp = c as u32;
    !matches!(
        cp,
        0..=0x1f
            | 0x7f..=0xa0
            | 0xad
            | 0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x1680
            | 0x180e
            | 0x2000..=0x200f
            | 0x2028..=0x202f
            | 0x205f..=0x206f
            | 0x3000
            | 0xd800..=0xf8ff
            | 0xfeff
            | 0xfff9..=0xfffb
            | 0xe0001..=0xe007f
            | 0xf0000..
    )
}

fn bytes_repr(bytes: &[u8]) -> String {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = format!("b{quote}");
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b if b as char == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(b as char),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod unit {
    use super::*;
    use minijinja::value::Tuple;
    use minijinja::{Environment, UndefinedBehavior, context};

    fn render(src: &str) -> Result<String, Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_formatter(formatter);
        env.render_str(src, context! { d => context! { b => 2, a => 1 } })
    }

    #[test]
    fn containers_print_like_python() {
        assert_eq!(
            render("={{ [1, 'a', true, none] }}").unwrap(),
            "=[1, 'a', True, None]"
        );
        assert_eq!(
            render("={{ {'k': 'v', 'n': [1.5, false]} }}").unwrap(),
            "={'k': 'v', 'n': [1.5, False]}"
        );
        assert_eq!(render("={{ d }}").unwrap(), "={'b': 2, 'a': 1}");
        assert_eq!(render("={{ [] }}{{ {} }}").unwrap(), "=[]{}");
        assert_eq!(
            render("={{ [1, [2, 3]] }}|{{ [1, 2] + [3] }}").unwrap(),
            "=[1, [2, 3]]|[1, 2, 3]"
        );
    }

    #[test]
    fn scalars_print_like_ansible() {
        assert_eq!(
            render("={{ true }}|{{ false }}|{{ none }}").unwrap(),
            "=True|False|"
        );
        assert_eq!(
            render("={{ 10 / 4 }}|{{ 10 // 4 }}|{{ 2 ** 10 }}|{{ 7 % 3 }}|{{ 4 / 2 }}").unwrap(),
            "=2.5|2|1024|1|2.0"
        );
        assert_eq!(
            render("={{ 1.0 }}|{{ 2.50 }}|{{ 1e20 }}|{{ 0.00001 }}|{{ 1e16 }}|{{ 123456789012345.0 }}|{{ 0.1 + 0.2 }}").unwrap(),
            "=1.0|2.5|1e+20|1e-05|1e+16|123456789012345.0|0.30000000000000004"
        );
    }

    #[test]
    fn strict_undefined_still_errors() {
        assert!(render("={{ missing }}").is_err());
        let mut env = Environment::new();
        env.set_formatter(formatter);
        assert_eq!(env.render_str("={{ missing }}", ()).unwrap(), "=");
    }

    #[test]
    fn html_autoescape_applies_to_repr() {
        let mut env = Environment::new();
        env.set_formatter(formatter);
        env.add_template("x.html", "{{ ['<a>'] }}{{ '<' }}")
            .unwrap();
        let out = env.get_template("x.html").unwrap().render(()).unwrap();
        assert_eq!(out, "[&#x27;&lt;a&gt;&#x27;]&lt;");
    }

    #[test]
    fn string_repr_quoting_and_escapes() {
        let v = Value::from(vec![
            "it's",
            "say \"hi\"",
            "both '\"",
            "tab\there",
            "nl\n",
            "back\\slash",
            "é",
            "\x01",
        ]);
        assert_eq!(
            python_repr(&v),
            r#"["it's", 'say "hi"', 'both \'"', 'tab\there', 'nl\n', 'back\\slash', 'é', '\x01']"#
        );
        assert_eq!(
            str_repr("\u{a0}\u{200b}\u{1F600}"),
            "'\\xa0\\u200b\u{1F600}'"
        );
    }

    #[test]
    fn tuples_and_bytes() {
        let pair = Value::from_object(Tuple::from([Value::from(1), Value::from("a")]));
        assert_eq!(python_repr(&pair), "(1, 'a')");
        let one = Value::from_object(Tuple::from([Value::from(1)]));
        assert_eq!(python_repr(&one), "(1,)");
        assert_eq!(
            python_repr(&Value::from_bytes(b"a'\x00".to_vec())),
            "b\"a'\\x00\""
        );
    }

    #[test]
    fn floats() {
        for (f, s) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (1e-4, "0.0001"),
            (1.5e-5, "1.5e-05"),
            (9999999999999998.0, "9999999999999998.0"),
            (1e300, "1e+300"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (100.0, "100.0"),
            (123.456, "123.456"),
        ] {
            assert_eq!(float_repr(f), s);
        }
    }
}
