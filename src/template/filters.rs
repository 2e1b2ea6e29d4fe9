//! Ansible's filters on top of minijinja's built-ins.
//!
//! [`register`] adds the filters Ansible ships with and replaces the
//! built-ins whose behaviour differs (`bool`, `int`, `float`, `string`,
//! `join`, `unique`, `sort`, `zip`, ...). Arguments bind the Python way:
//! by position or by keyword. Values print as Python would (see
//! [`super::pyrepr`]), so `string`, `join` and `format` use Python's `str()`.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use base64::Engine as _;
use indexmap::IndexMap;
use minijinja::value::{Kwargs, Rest, Serde, Tuple, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, UndefinedBehavior};
use regex::Regex;

use super::pyrepr::{float_repr, python_repr, python_str};
use crate::pyregex;

/// Adds Ansible's filters to `env`, replacing minijinja built-ins where
/// Ansible behaves differently.
pub fn register(env: &mut Environment<'static>) {
    register_core(env);
    register_text(env);
    register_regex(env);
    register_collections(env);
    register_data(env);
    register_paths(env);
}

fn register_core(env: &mut Environment<'static>) {
    env.add_filter("default", default);
    env.add_filter("d", default);
    env.add_filter("bool", to_bool_filter);
    env.add_filter("int", int);
    env.add_filter("float", float);
    env.add_filter("string", string);
    env.add_filter("ternary", ternary);
    env.add_filter("mandatory", mandatory);
    env.add_filter("type_debug", type_debug);
    env.add_filter("log", log);
    env.add_filter("pow", pow);
    env.add_filter("root", root);
}

fn register_text(env: &mut Environment<'static>) {
    env.add_filter("lower", lower);
    env.add_filter("upper", upper);
    env.add_filter("replace", replace);
    env.add_filter("join", join);
    env.add_filter("split", split);
    env.add_filter("format", format);
    env.add_filter("center", center);
    env.add_filter("quote", quote);
    env.add_filter("comment", comment);
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("hash", hash);
    env.add_filter("checksum", checksum);
    env.add_filter("sha1", checksum);
    env.add_filter("md5", md5);
}

fn register_regex(env: &mut Environment<'static>) {
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter("regex_escape", regex_escape);
}

fn register_collections(env: &mut Environment<'static>) {
    env.add_filter("unique", unique);
    env.add_filter("sort", sort);
    env.add_filter("flatten", flatten);
    env.add_filter("difference", difference);
    env.add_filter("intersect", intersect);
    env.add_filter("union", union);
    env.add_filter("symmetric_difference", symmetric_difference);
    env.add_filter("zip", zip);
    env.add_filter("zip_longest", zip_longest);
    env.add_filter("product", product);
    env.add_filter("permutations", permutations);
    env.add_filter("combinations", combinations);
    env.add_filter("subelements", subelements);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter("combine", combine);
    env.add_filter("extract", extract);
    env.add_filter("dictsort", dictsort);
}

fn register_data(env: &mut Environment<'static>) {
    env.add_filter("to_json", to_json);
    env.add_filter("to_nice_json", to_nice_json);
    env.add_filter("from_json", from_json);
    env.add_filter("to_yaml", to_yaml);
    env.add_filter("to_nice_yaml", to_nice_yaml);
    env.add_filter("from_yaml", from_yaml);
}

fn register_paths(env: &mut Environment<'static>) {
    env.add_filter("basename", basename);
    env.add_filter("dirname", dirname);
    env.add_filter("expanduser", expanduser);
    env.add_filter("splitext", splitext);
    env.add_filter("path_join", path_join);
}

// ---------------------------------------------------------------------------
// Argument helpers

fn fail(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Binds positional and keyword arguments to `names`, as a Python call would.
pub(crate) fn bind(
    func: &str,
    names: &[&str],
    pos: &[Value],
    kwargs: &Kwargs,
) -> Result<Vec<Option<Value>>, Error> {
    if pos.len() > names.len() {
        return Err(Error::new(
            ErrorKind::TooManyArguments,
            format!("{func}() takes at most {} arguments", names.len()),
        ));
    }
    let mut out: Vec<Option<Value>> = vec![None; names.len()];
    for (slot, value) in out.iter_mut().zip(pos) {
        *slot = Some(value.clone());
    }
    for (slot, name) in out.iter_mut().zip(names) {
        if kwargs.has(name) {
            if slot.is_some() {
                return Err(fail(format!(
                    "{func}() got multiple values for argument '{name}'"
                )));
            }
            *slot = Some(kwargs.get::<Value>(name)?);
        }
    }
    kwargs.assert_all_used()?;
    Ok(out)
}

fn required<'a>(
    args: &'a [Option<Value>],
    idx: usize,
    func: &str,
    name: &str,
) -> Result<&'a Value, Error> {
    args[idx].as_ref().ok_or_else(|| {
        Error::new(
            ErrorKind::MissingArgument,
            format!("{func}() missing required argument '{name}'"),
        )
    })
}

/// Python truthiness of an optional argument.
fn flag(arg: &Option<Value>, default: bool) -> bool {
    arg.as_ref()
        .map_or(default, |v| !v.is_none() && v.is_true())
}

fn int_arg(arg: &Option<Value>, default: i64) -> Result<i64, Error> {
    match arg {
        Some(v) if !v.is_none() => i64::try_from(v.clone()),
        _ => Ok(default),
    }
}

fn opt_int(arg: &Option<Value>) -> Result<Option<i64>, Error> {
    match arg {
        Some(v) if !v.is_none() => i64::try_from(v.clone()).map(Some),
        _ => Ok(None),
    }
}

/// Fails like a strict-mode Jinja undefined would, where Ansible would fail.
fn require_defined(state: &State, value: &Value) -> Result<(), Error> {
    let strict = matches!(
        state.undefined_behavior(),
        UndefinedBehavior::Strict | UndefinedBehavior::SemiStrict
    );
    if strict && value.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            "the filter was given an undefined value",
        ));
    }
    Ok(())
}

/// Python's `str()` of a filter input; undefined fails in strict mode.
fn text(state: &State, value: &Value) -> Result<String, Error> {
    require_defined(state, value)?;
    Ok(if value.is_undefined() {
        String::new()
    } else {
        python_str(value)
    })
}

fn opt_text(state: &State, arg: &Option<Value>, default: &str) -> Result<String, Error> {
    match arg {
        Some(v) if !v.is_none() => text(state, v),
        _ => Ok(default.to_string()),
    }
}

/// Collects any iterable (strings give characters, mappings their keys).
fn items_of(state: &State, value: &Value) -> Result<Vec<Value>, Error> {
    require_defined(state, value)?;
    match value.kind() {
        ValueKind::Undefined => Ok(Vec::new()),
        ValueKind::None => Err(fail("'NoneType' object is not iterable")),
        _ => value.try_iter()?.checked().collect(),
    }
}

fn is_sequence(value: &Value) -> bool {
    matches!(value.kind(), ValueKind::Seq | ValueKind::Iterable)
}

fn is_mapping(value: &Value) -> bool {
    value.kind() == ValueKind::Map
}

fn tuple(values: Vec<Value>) -> Value {
    Value::from_object(Tuple::new(values))
}

/// Follows a Jinja attribute path such as `a.b.0`.
fn attr_path(value: &Value, path: &str) -> Value {
    path.split('.').fold(value.clone(), |cur, part| {
        let found = cur.get_item(&Value::from(part)).unwrap_or_default();
        match (found.is_undefined(), part.parse::<i64>()) {
            (true, Ok(idx)) => cur.get_item(&Value::from(idx)).unwrap_or_default(),
            _ => found,
        }
    })
}

/// Python's name for the type of a value.
fn type_name(value: &Value) -> &'static str {
    match value.kind() {
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if value.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq if value.is_tuple() => "tuple",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        ValueKind::Iterable => "generator",
        _ => "object",
    }
}

// ---------------------------------------------------------------------------
// Core filters

/// `default(default_value='', boolean=False)`.
fn default(value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let a = bind("default", &["default_value", "boolean"], &args, &kwargs)?;
    let fallback = a[0].clone().unwrap_or_else(|| Value::from(""));
    if value.is_undefined() || (flag(&a[1], false) && !value.is_true()) {
        Ok(fallback)
    } else {
        Ok(value)
    }
}

/// Ansible's boolean conversion: `yes`, `on`, `1`, `true` (any case) and 1.
pub fn ansible_bool(value: &Value) -> bool {
    match value.kind() {
        ValueKind::Bool => value.is_true(),
        ValueKind::String => matches!(
            value.as_str().unwrap_or_default().to_lowercase().as_str(),
            "yes" | "on" | "1" | "true"
        ),
        ValueKind::Number => f64::try_from(value.clone()).is_ok_and(|f| f == 1.0),
        _ => false,
    }
}

fn to_bool_filter(state: &State, value: Value) -> Result<bool, Error> {
    require_defined(state, &value)?;
    Ok(ansible_bool(&value))
}

/// `int(default=0, base=10)`: Jinja's conversion, falling back to a float parse.
fn int(state: &State, value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let a = bind("int", &["default", "base"], &args, &kwargs)?;
    require_defined(state, &value)?;
    let fallback = a[0].clone().unwrap_or_else(|| Value::from(0));
    let base = int_arg(&a[1], 10)?;
    let base = u32::try_from(base).unwrap_or(u32::MAX);
    Ok(to_int(&value, base).unwrap_or(fallback))
}

fn to_int(value: &Value, base: u32) -> Option<Value> {
    match value.kind() {
        ValueKind::String => {
            let s = value.as_str()?;
            parse_py_int(s, base)
                .map(Value::from)
                .or_else(|| parse_py_float(s).and_then(float_to_int))
        }
        ValueKind::Bool => Some(Value::from(i64::from(value.is_true()))),
        ValueKind::Number if value.is_integer() => Some(value.clone()),
        ValueKind::Number => float_to_int(f64::try_from(value.clone()).ok()?),
        _ => None,
    }
}

fn float_to_int(f: f64) -> Option<Value> {
    f.is_finite().then(|| Value::from(f.trunc() as i128))
}

/// Python's `int(text, base)`: signs, `0x`/`0o`/`0b` prefixes and `_` separators.
fn parse_py_int(s: &str, base: u32) -> Option<i128> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let lower = s.to_ascii_lowercase();
    let (base, digits, prefixed) = int_prefix(&lower, base)?;
    let digits = strip_underscores(digits, prefixed)?;
    let n = i128::from_str_radix(&digits, base).ok()?;
    Some(if neg { -n } else { n })
}

fn int_prefix(s: &str, base: u32) -> Option<(u32, &str, bool)> {
    for (prefix, b) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = s.strip_prefix(prefix)
            && (base == 0 || base == b)
        {
            return Some((b, rest, true));
        }
    }
    if base == 0 {
        // Base 0 reads decimal but refuses leading zeros, as Python does.
        let leading_zero = s.starts_with('0') && s.chars().any(|c| c != '0' && c != '_');
        return (!leading_zero).then_some((10, s, false));
    }
    (2..=36).contains(&base).then_some((base, s, false))
}

/// Removes `_` separators, which Python allows only between digits (or
/// right after a base prefix).
fn strip_underscores(s: &str, prefixed: bool) -> Option<String> {
    let bad = s.is_empty()
        || s.ends_with('_')
        || s.contains("__")
        || (!prefixed && s.starts_with('_'))
        || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (!bad).then(|| s.replace('_', ""))
}

/// Python's `float(text)`.
fn parse_py_float(s: &str) -> Option<f64> {
    let s = s.trim();
    let bytes = s.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        let between_digits = i > 0
            && bytes[i - 1].is_ascii_digit()
            && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        if *b == b'_' && !between_digits {
            return None;
        }
    }
    let cleaned = s.replace('_', "");
    let word = cleaned.trim_start_matches(['+', '-']).to_ascii_lowercase();
    if word.chars().any(|c| c.is_ascii_alphabetic() && c != 'e')
        && !matches!(word.as_str(), "inf" | "infinity" | "nan")
    {
        return None;
    }
    cleaned.parse().ok()
}

/// `float(default=0.0)`.
fn float(state: &State, value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let a = bind("float", &["default"], &args, &kwargs)?;
    require_defined(state, &value)?;
    let parsed = match value.kind() {
        ValueKind::String => parse_py_float(value.as_str().unwrap_or_default()),
        ValueKind::Bool => Some(if value.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => f64::try_from(value.clone()).ok(),
        _ => None,
    };
    Ok(match parsed {
        Some(f) => Value::from(f),
        None => a[0].clone().unwrap_or_else(|| Value::from(0.0)),
    })
}

fn string(state: &State, value: Value) -> Result<Value, Error> {
    require_defined(state, &value)?;
    if value.kind() == ValueKind::String {
        return Ok(value);
    }
    Ok(Value::from(text(state, &value)?))
}

/// `ternary(true_val, false_val, none_val=None)`.
fn ternary(state: &State, value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let a = bind(
        "ternary",
        &["true_val", "false_val", "none_val"],
        &args,
        &kwargs,
    )?;
    require_defined(state, &value)?;
    let true_val = required(&a, 0, "ternary", "true_val")?;
    let false_val = required(&a, 1, "ternary", "false_val")?;
    let none_val = a[2].as_ref().filter(|v| !v.is_none());
    Ok(match none_val {
        Some(v) if value.is_none() => v.clone(),
        _ if value.is_true() => true_val.clone(),
        _ => false_val.clone(),
    })
}

/// `mandatory(msg=None)`: fails on an undefined value.
fn mandatory(value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let a = bind("mandatory", &["msg"], &args, &kwargs)?;
    if !value.is_undefined() {
        return Ok(value);
    }
    match &a[0] {
        Some(m) if !m.is_none() => Err(fail(python_str(m))),
        // Undefined-kind errors let the caller name the missing variable.
        _ => Err(Error::new(
            ErrorKind::UndefinedError,
            "Mandatory variable not defined.",
        )),
    }
}

fn type_debug(value: Value) -> String {
    type_name(&value).to_string()
}

fn number(state: &State, value: &Value, what: &str) -> Result<f64, Error> {
    require_defined(state, value)?;
    f64::try_from(value.clone()).map_err(|_| fail(format!("{what} requires a number")))
}

/// `log(base=e)`.
fn log(state: &State, value: Value, base: Option<f64>) -> Result<f64, Error> {
    let x = number(state, &value, "log")?;
    Ok(match base {
        Some(10.0) => x.log10(),
        Some(b) => x.ln() / b.ln(),
        None => x.ln(),
    })
}

fn pow(state: &State, value: Value, exp: f64) -> Result<f64, Error> {
    Ok(number(state, &value, "pow")?.powf(exp))
}

/// `root(base=2)`.
fn root(state: &State, value: Value, base: Option<f64>) -> Result<f64, Error> {
    let x = number(state, &value, "root")?;
    Ok(match base.unwrap_or(2.0) {
        2.0 => x.sqrt(),
        b => x.powf(1.0 / b),
    })
}

// ---------------------------------------------------------------------------
// Text filters

fn keep_safety(input: &Value, out: String) -> Value {
    if input.is_safe() {
        Value::from_safe_string(out)
    } else {
        Value::from(out)
    }
}

fn lower(state: &State, value: Value) -> Result<Value, Error> {
    Ok(keep_safety(&value, text(state, &value)?.to_lowercase()))
}

fn upper(state: &State, value: Value) -> Result<Value, Error> {
    Ok(keep_safety(&value, text(state, &value)?.to_uppercase()))
}

/// `replace(old, new, count=None)`, as Python's `str.replace`.
fn replace(state: &State, value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let a = bind("replace", &["old", "new", "count"], &args, &kwargs)?;
    let s = text(state, &value)?;
    let old = text(state, required(&a, 0, "replace", "old")?)?;
    let new = text(state, required(&a, 1, "replace", "new")?)?;
    let out = match opt_int(&a[2])? {
        Some(n) if n >= 0 => s.replacen(&old, &new, n as usize),
        _ => s.replace(&old, &new),
    };
    Ok(keep_safety(&value, out))
}

/// `join(d='', attribute=None)` with Python's `str()` of each item.
fn join(state: &State, value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let a = bind("join", &["d", "attribute"], &args, &kwargs)?;
    let sep = opt_text(state, &a[0], "")?;
    let attribute = opt_text(state, &a[1], "")?;
    let mut parts = Vec::new();
    for item in items_of(state, &value)? {
        let item = if attribute.is_empty() {
            item
        } else {
            attr_path(&item, &attribute)
        };
        parts.push(text(state, &item)?);
    }
    Ok(parts.join(&sep))
}

/// `split(sep=None, maxsplit=-1)`, as Python's `str.split`.
fn split(state: &State, value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let a = bind("split", &["sep", "maxsplit"], &args, &kwargs)?;
    let s = text(state, &value)?;
    let maxsplit = usize::try_from(int_arg(&a[1], -1)?).ok();
    let parts = match &a[0] {
        Some(sep) if !sep.is_none() => {
            let sep = text(state, sep)?;
            if sep.is_empty() {
                return Err(fail("empty separator"));
            }
            match maxsplit {
                Some(n) => s.splitn(n + 1, sep.as_str()).map(String::from).collect(),
                None => s.split(sep.as_str()).map(String::from).collect(),
            }
        }
        _ => split_whitespace(&s, maxsplit),
    };
    Ok(Value::from(parts))
}

fn split_whitespace(s: &str, maxsplit: Option<usize>) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        if maxsplit.is_some_and(|m| out.len() >= m) {
            out.push(rest.to_string());
            break;
        }
        match rest.find(char::is_whitespace) {
            Some(i) => {
                out.push(rest[..i].to_string());
                rest = rest[i..].trim_start();
            }
            None => {
                out.push(rest.to_string());
                break;
            }
        }
    }
    out
}

/// printf-style `format` (`"%s" % args`), printing arguments the Python way.
fn format(state: &State, value: Value, args: Rest<Value>) -> Result<String, Error> {
    let (fmt, args) = python_printf(&text(state, &value)?, &args);
    minijinja::formatting::format(minijinja::formatting::FormatStyle::Printf, &fmt, &args)
}

/// Rewrites a printf format and its arguments so that `%s`, `%r` and `%a`
/// give Python's `str()`/`repr()`, numeric conversions of booleans give 0/1
/// and `*` widths are filled in; minijinja's printf lacks these.
fn python_printf(fmt: &str, args: &[Value]) -> (String, Vec<Value>) {
    let mut out = String::with_capacity(fmt.len());
    let mut src = args.iter();
    let mut out_args = Vec::with_capacity(args.len());
    let mut keyed = false;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '%' {
            continue;
        }
        if chars.peek() == Some(&'(') {
            keyed = true;
            for k in chars.by_ref() {
                out.push(k);
                if k == ')' {
                    break;
                }
            }
        }
        while let Some(&d) = chars.peek().filter(|d| "#0- +.*123456789hlL".contains(**d)) {
            chars.next();
            match src.clone().next().filter(|_| d == '*') {
                Some(width) => {
                    out.push_str(&python_str(width));
                    src.next();
                }
                None => out.push(d),
            }
        }
        let Some(conv) = chars.next() else { break };
        out.push(if matches!(conv, 'r' | 'a') { 's' } else { conv });
        if conv == '%' || keyed {
            continue;
        }
        if let Some(arg) = src.next() {
            out_args.push(match conv {
                'r' | 'a' => Value::from(python_repr(arg)),
                's' if arg.as_str().is_none() => Value::from(python_str(arg)),
                _ if arg.kind() == ValueKind::Bool => Value::from(i64::from(arg.is_true())),
                _ => arg.clone(),
            });
        }
    }
    if keyed {
        return (out, args.to_vec());
    }
    out_args.extend(src.cloned());
    (out, out_args)
}

/// Jinja's `center(width=80)`.
fn center(state: &State, value: Value, width: Option<usize>) -> Result<String, Error> {
    let s = text(state, &value)?;
    let len = s.chars().count();
    let width = width.unwrap_or(80);
    if width <= len {
        return Ok(s);
    }
    // Python's str.center puts the odd extra space on the left when the
    // padding is odd and the width is odd.
    let pad = width - len;
    let left = pad / 2 + (pad & width & 1);
    Ok(format!("{}{s}{}", " ".repeat(left), " ".repeat(pad - left)))
}

/// `comment(style='plain', **overrides)`: wraps text in comment markers.
/// Overrides: `decoration`, `beginning`, `end`, `prefix`, `prefix_count`,
/// `postfix`, `postfix_count`, `newline`.
fn comment(
    state: &State,
    value: Value,
    style: Option<&str>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let (beginning, decoration, end) = match style.unwrap_or("plain") {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        other => return Err(fail(format!("Invalid style '{other}'."))),
    };
    let param = |name: &str, default: &str| -> Result<String, Error> {
        let v: Option<Value> = kwargs.get(name)?;
        Ok(v.map_or_else(|| default.to_string(), |v| python_str(&v)))
    };
    let count = |name: &str| -> Result<usize, Error> {
        let v: Option<i64> = kwargs.get(name)?;
        Ok(usize::try_from(v.unwrap_or(1)).unwrap_or(0))
    };
    let newline = param("newline", "\n")?;
    let decoration = param("decoration", decoration)?;
    let (beginning, end) = (param("beginning", beginning)?, param("end", end)?);
    let (prefix, postfix) = (param("prefix", &newline)?, param("postfix", &newline)?);
    let (prefix_count, postfix_count) = (count("prefix_count")?, count("postfix_count")?);
    // A prefix or postfix equal to the newline means "a bare decoration line".
    let bare = decoration.trim_end();
    let line = |s: &str| {
        if s == newline {
            bare.to_string()
        } else {
            s.to_string()
        }
    };

    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(&beginning);
        out.push_str(&newline);
    }
    let prefix_lines = vec![line(&prefix); prefix_count].join(&newline);
    if !prefix_lines.is_empty() {
        out.push_str(&prefix_lines);
        out.push_str(&newline);
    }
    let body = text(state, &value)?.replace(&newline, &format!("{newline}{decoration}"));
    let body = format!("{decoration}{body}").replace(
        &format!("{decoration}{newline}"),
        &format!("{bare}{newline}"),
    );
    out.push_str(&body);
    if postfix_count > 0 {
        out.push_str(&newline);
        out.push_str(&vec![line(&postfix); postfix_count].join(&newline));
    }
    if !end.is_empty() {
        out.push_str(&newline);
        out.push_str(&end);
    }
    Ok(out)
}

/// Python's `shlex.quote`.
pub fn shell_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    let safe = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\"'\"'"))
    }
}

fn quote(state: &State, value: Value) -> Result<String, Error> {
    let s = if value.is_none() {
        String::new()
    } else {
        text(state, &value)?
    };
    Ok(shell_quote(&s))
}

/// Text encodings for `b64encode`/`b64decode`.
#[derive(Clone, Copy)]
enum Encoding {
    Utf8,
    /// Python's `utf-16`: little-endian with a byte-order mark.
    Utf16,
    Utf16Le,
    Utf16Be,
    Latin1,
    Ascii,
}

impl Encoding {
    fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Self::Utf8,
            "utf-16" | "utf16" => Self::Utf16,
            "utf-16-le" | "utf-16le" => Self::Utf16Le,
            "utf-16-be" | "utf-16be" => Self::Utf16Be,
            "latin-1" | "latin1" | "iso-8859-1" => Self::Latin1,
            "ascii" | "us-ascii" => Self::Ascii,
            _ => return None,
        })
    }

    fn encode(self, s: &str) -> Option<Vec<u8>> {
        let units = || s.encode_utf16();
        Some(match self {
            Self::Utf8 => s.as_bytes().to_vec(),
            Self::Utf16 => [0xff, 0xfe]
                .into_iter()
                .chain(units().flat_map(u16::to_le_bytes))
                .collect(),
            Self::Utf16Le => units().flat_map(u16::to_le_bytes).collect(),
            Self::Utf16Be => units().flat_map(u16::to_be_bytes).collect(),
            Self::Latin1 => s
                .chars()
                .map(|c| u8::try_from(c).ok())
                .collect::<Option<_>>()?,
            Self::Ascii => s.is_ascii().then(|| s.as_bytes().to_vec())?,
        })
    }

    fn decode(self, bytes: &[u8]) -> Option<String> {
        let utf16 = |b: &[u8], le: bool| {
            let units = b.chunks(2).map(|c| match (c, le) {
                ([lo, hi], true) => Some(u16::from_le_bytes([*lo, *hi])),
                ([hi, lo], false) => Some(u16::from_be_bytes([*hi, *lo])),
                _ => None,
            });
            String::from_utf16(&units.collect::<Option<Vec<u16>>>()?).ok()
        };
        match self {
            Self::Utf8 => String::from_utf8(bytes.to_vec()).ok(),
            Self::Utf16 => match bytes {
                [0xfe, 0xff, rest @ ..] => utf16(rest, false),
                [0xff, 0xfe, rest @ ..] => utf16(rest, true),
                _ => utf16(bytes, true),
            },
            Self::Utf16Le => utf16(bytes, true),
            Self::Utf16Be => utf16(bytes, false),
            Self::Latin1 => Some(bytes.iter().map(|&b| char::from(b)).collect()),
            Self::Ascii => bytes
                .is_ascii()
                .then(|| String::from_utf8_lossy(bytes).into_owned()),
        }
    }
}

/// Binds `(encoding='utf-8', urlsafe=False)`.
fn b64_options(
    state: &State,
    func: &str,
    args: &[Value],
    kwargs: &Kwargs,
) -> Result<(Encoding, base64::engine::GeneralPurpose), Error> {
    let a = bind(func, &["encoding", "urlsafe"], args, kwargs)?;
    let name = opt_text(state, &a[0], "utf-8")?;
    let encoding = Encoding::parse(&name)
        .ok_or_else(|| fail(format!("{func}: unsupported encoding {name}")))?;
    let engine = if flag(&a[1], false) {
        base64::engine::general_purpose::URL_SAFE
    } else {
        base64::engine::general_purpose::STANDARD
    };
    Ok((encoding, engine))
}

/// `b64encode(encoding='utf-8', urlsafe=False)`.
fn b64encode(
    state: &State,
    value: Value,
    args: Rest<Value>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let (encoding, engine) = b64_options(state, "b64encode", &args, &kwargs)?;
    let bytes = encoding
        .encode(&text(state, &value)?)
        .ok_or_else(|| fail("b64encode: the text cannot be encoded in that encoding"))?;
    Ok(engine.encode(bytes))
}

/// `b64decode(encoding='utf-8', urlsafe=False)`; like Python's
/// `base64.b64decode`, characters outside the alphabet are skipped.
fn b64decode(
    state: &State,
    value: Value,
    args: Rest<Value>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let (encoding, engine) = b64_options(state, "b64decode", &args, &kwargs)?;
    let cleaned: String = text(state, &value)?
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+/-_=".contains(*c))
        .collect();
    let bytes = engine
        .decode(cleaned.as_bytes())
        .map_err(|e| fail(format!("b64decode: {e}")))?;
    encoding
        .decode(&bytes)
        .ok_or_else(|| fail("b64decode: the decoded data is not valid in that encoding"))
}

fn hex_digest<D: sha2::Digest>(data: &[u8]) -> String {
    D::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex digest of `data` with a hashlib algorithm name.
pub fn digest(hashtype: &str, data: &[u8]) -> Option<String> {
    Some(match hashtype {
        "md5" => hex_digest::<md5::Md5>(data),
        "sha1" => hex_digest::<sha1::Sha1>(data),
        "sha224" => hex_digest::<sha2::Sha224>(data),
        "sha256" => hex_digest::<sha2::Sha256>(data),
        "sha384" => hex_digest::<sha2::Sha384>(data),
        "sha512" => hex_digest::<sha2::Sha512>(data),
        _ => return None,
    })
}

fn hash(state: &State, value: Value, hashtype: Option<&str>) -> Result<String, Error> {
    let hashtype = hashtype.unwrap_or("sha1");
    let data = text(state, &value)?;
    digest(hashtype, data.as_bytes())
        .ok_or_else(|| fail(format!("unsupported hash type {hashtype}")))
}

fn checksum(state: &State, value: Value) -> Result<String, Error> {
    hash(state, value, Some("sha1"))
}

fn md5(state: &State, value: Value) -> Result<String, Error> {
    hash(state, value, Some("md5"))
}

// ---------------------------------------------------------------------------
// Regular expressions

/// Compiles a Python pattern, caching recent ones: filters such as
/// `map('regex_replace', ...)` run the same pattern once per item.
pub(crate) fn compile(pattern: &str, ignorecase: bool, multiline: bool) -> Result<Regex, Error> {
    type Cache = Mutex<HashMap<(String, bool, bool), Regex>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (pattern.to_string(), ignorecase, multiline);
    if let Some(re) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(re);
    }
    let re = pyregex::compile(pattern, ignorecase, multiline).map_err(fail)?;
    if let Ok(mut c) = cache.lock() {
        if c.len() >= 256 {
            c.clear();
        }
        c.insert(key, re.clone());
    }
    Ok(re)
}

/// Matches in the order Python's `re` reports them (3.7+): an empty match
/// may directly follow a non-empty one, but never repeats at one position.
fn py_captures<'t>(re: &Regex, text: &'t str, limit: usize) -> Vec<regex::Captures<'t>> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut after_empty = false;
    while pos <= text.len() && out.len() < limit {
        let Some(mut caps) = re.captures_at(text, pos) else {
            break;
        };
        let whole = caps.get(0).expect("group 0 always matches");
        if after_empty && whole.start() == pos && whole.is_empty() {
            let Some(ch) = text[pos..].chars().next() else {
                break;
            };
            match re.captures_at(text, pos + ch.len_utf8()) {
                Some(next) => caps = next,
                None => break,
            }
        }
        let whole = caps.get(0).expect("group 0 always matches");
        after_empty = whole.is_empty();
        pos = whole.end();
        out.push(caps);
    }
    out
}

/// `regex_replace(pattern='', replacement='', ignorecase=False,
/// multiline=False, count=0, mandatory_count=0)`.
fn regex_replace(
    state: &State,
    value: Value,
    args: Rest<Value>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let names = [
        "pattern",
        "replacement",
        "ignorecase",
        "multiline",
        "count",
        "mandatory_count",
    ];
    let a = bind("regex_replace", &names, &args, &kwargs)?;
    let subject = text(state, &value)?;
    let pattern = opt_text(state, &a[0], "")?;
    let template = pyregex::expand_replacement(&opt_text(state, &a[1], "")?);
    let re = compile(&pattern, flag(&a[2], false), flag(&a[3], false))?;
    let limit = usize::try_from(int_arg(&a[4], 0)?).unwrap_or(0);
    let matches = py_captures(&re, &subject, if limit == 0 { usize::MAX } else { limit });
    let mandatory = int_arg(&a[5], 0)?;
    if mandatory > 0 && matches.len() as i64 != mandatory {
        return Err(fail(format!(
            "'{pattern}' should match {mandatory} times, but matches {} times in '{subject}'",
            matches.len()
        )));
    }
    let mut out = String::with_capacity(subject.len());
    let mut last = 0;
    for caps in &matches {
        let whole = caps.get(0).expect("group 0 always matches");
        out.push_str(&subject[last..whole.start()]);
        caps.expand(&template, &mut out);
        last = whole.end();
    }
    out.push_str(&subject[last..]);
    Ok(out)
}

enum GroupRef {
    Index(usize),
    Name(String),
}

fn parse_group_ref(arg: &str) -> Result<GroupRef, Error> {
    if let Some(rest) = arg.strip_prefix("\\g<") {
        let name = rest.strip_suffix('>').filter(|n| !n.is_empty());
        return name
            .map(|n| GroupRef::Name(n.to_string()))
            .ok_or_else(|| fail("Unknown argument"));
    }
    let digits = arg.strip_prefix('\\').unwrap_or_default();
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end]
        .parse()
        .map(GroupRef::Index)
        .map_err(|_| fail("Unknown argument"))
}

/// `regex_search(regex, *groups, ignorecase=False, multiline=False)`: the
/// match, a list of the requested groups, or None.
fn regex_search(
    state: &State,
    value: Value,
    args: Rest<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let ignorecase = flag(&kwargs.get("ignorecase")?, false);
    let multiline = flag(&kwargs.get("multiline")?, false);
    kwargs.assert_all_used()?;
    let (pattern, groups) = args
        .split_first()
        .ok_or_else(|| fail("regex_search() missing required argument 'regex'"))?;
    let groups = groups
        .iter()
        .map(|g| text(state, g).and_then(|g| parse_group_ref(&g)))
        .collect::<Result<Vec<_>, _>>()?;
    let subject = text(state, &value)?;
    let re = compile(&text(state, pattern)?, ignorecase, multiline)?;
    let Some(caps) = re.captures(&subject) else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(Value::from(&caps[0]));
    }
    let mut out = Vec::new();
    for group in &groups {
        let known = match group {
            GroupRef::Index(i) => *i < re.captures_len(),
            GroupRef::Name(n) => re.capture_names().flatten().any(|x| x == n),
        };
        if !known {
            return Err(fail("no such group"));
        }
        let m = match group {
            GroupRef::Index(i) => caps.get(*i),
            GroupRef::Name(n) => caps.name(n),
        };
        out.push(m.map_or(Value::from(()), |m| Value::from(m.as_str())));
    }
    Ok(Value::from(out))
}

/// `regex_findall(regex, multiline=False, ignorecase=False)`, as `re.findall`.
fn regex_findall(
    state: &State,
    value: Value,
    args: Rest<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let names = ["regex", "multiline", "ignorecase"];
    let a = bind("regex_findall", &names, &args, &kwargs)?;
    let subject = text(state, &value)?;
    let pattern = text(state, required(&a, 0, "regex_findall", "regex")?)?;
    let re = compile(&pattern, flag(&a[2], false), flag(&a[1], false))?;
    let groups = re.captures_len() - 1;
    let group_text =
        |caps: &regex::Captures, i: usize| Value::from(caps.get(i).map_or("", |m| m.as_str()));
    let found = py_captures(&re, &subject, usize::MAX)
        .iter()
        .map(|caps| match groups {
            0 => group_text(caps, 0),
            1 => group_text(caps, 1),
            n => tuple((1..=n).map(|i| group_text(caps, i)).collect()),
        })
        .collect::<Vec<_>>();
    Ok(Value::from(found))
}

/// `regex_escape(re_type='python')`.
fn regex_escape(state: &State, value: Value, re_type: Option<&str>) -> Result<String, Error> {
    let s = text(state, &value)?;
    let special: &str = match re_type.unwrap_or("python") {
        "python" => "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c",
        "posix_basic" => "[].^$*\\",
        // POSIX ERE metacharacters (ansible-core refuses this type; escaping it is well defined).
        "posix_extended" => "[].^$*+?(){}|\\",
        other => return Err(fail(format!("Invalid regex type ({other})"))),
    };
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if special.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Collections

/// Keeps the first of each item; strings compare case-insensitively unless
/// `case_sensitive` (Jinja's default, kept by Ansible).
fn unique_values(items: Vec<Value>, case_sensitive: bool, attribute: Option<&str>) -> Vec<Value> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for item in items {
        let key = attribute.map_or_else(|| item.clone(), |a| attr_path(&item, a));
        let key = match key.as_str() {
            Some(s) if !case_sensitive => Value::from(s.to_lowercase()),
            _ => key,
        };
        if seen.insert(key) {
            out.push(item);
        }
    }
    out
}

/// `unique(case_sensitive=None, attribute=None)`.
fn unique(state: &State, value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let a = bind("unique", &["case_sensitive", "attribute"], &args, &kwargs)?;
    let attribute = match &a[1] {
        Some(v) if !v.is_none() => Some(text(state, v)?),
        _ => None,
    };
    let items = items_of(state, &value)?;
    Ok(Value::from(unique_values(
        items,
        flag(&a[0], false),
        attribute.as_deref(),
    )))
}

/// `sort(reverse=False, case_sensitive=False, attribute=None)`; adds
/// positional arguments to minijinja's keyword-only `sort`.
fn sort(state: &State, value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let names = ["reverse", "case_sensitive", "attribute"];
    let a = bind("sort", &names, &args, &kwargs)?;
    let pairs = names
        .iter()
        .zip(a)
        .filter_map(|(name, v)| v.map(|v| (*name, v)));
    minijinja::filters::sort(state, value, Kwargs::from_iter(pairs))
}

/// `flatten(levels=None, skip_nulls=True)`: `None` and the strings `'None'`
/// and `'null'` are dropped unless `skip_nulls` is false.
fn flatten(state: &State, value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let a = bind("flatten", &["levels", "skip_nulls"], &args, &kwargs)?;
    let levels = opt_int(&a[0])?;
    let mut out = Vec::new();
    flatten_into(
        &items_of(state, &value)?,
        levels,
        flag(&a[1], true),
        &mut out,
    )?;
    Ok(Value::from(out))
}

fn flatten_into(
    items: &[Value],
    levels: Option<i64>,
    skip_nulls: bool,
    out: &mut Vec<Value>,
) -> Result<(), Error> {
    for item in items {
        let null = item.is_none() || matches!(item.as_str(), Some("None" | "null"));
        if skip_nulls && null {
            continue;
        }
        match levels {
            _ if !is_sequence(item) => out.push(item.clone()),
            Some(n) if n < 1 => out.push(item.clone()),
            _ => {
                let inner: Vec<Value> = item.try_iter()?.collect();
                flatten_into(&inner, levels.map(|n| n - 1), skip_nulls, out)?;
            }
        }
    }
    Ok(())
}

fn two_lists(state: &State, a: &Value, b: &Value) -> Result<(Vec<Value>, Vec<Value>), Error> {
    Ok((items_of(state, a)?, items_of(state, b)?))
}

/// Items of `a` not in `b`, unique, in order.
fn difference(state: &State, a: Value, b: Value) -> Result<Value, Error> {
    let (a, b) = two_lists(state, &a, &b)?;
    let kept = a.into_iter().filter(|x| !b.contains(x)).collect();
    Ok(Value::from(unique_values(kept, true, None)))
}

fn intersect(state: &State, a: Value, b: Value) -> Result<Value, Error> {
    let (a, b) = two_lists(state, &a, &b)?;
    let kept = a.into_iter().filter(|x| b.contains(x)).collect();
    Ok(Value::from(unique_values(kept, true, None)))
}

fn union(state: &State, a: Value, b: Value) -> Result<Value, Error> {
    let (mut a, b) = two_lists(state, &a, &b)?;
    a.extend(b);
    Ok(Value::from(unique_values(a, true, None)))
}

fn symmetric_difference(state: &State, a: Value, b: Value) -> Result<Value, Error> {
    let (a, b) = two_lists(state, &a, &b)?;
    let both: Vec<Value> = a.iter().filter(|x| b.contains(x)).cloned().collect();
    let mut all = a;
    all.extend(b);
    let kept = unique_values(all, true, None)
        .into_iter()
        .filter(|x| !both.contains(x))
        .collect::<Vec<_>>();
    Ok(Value::from(kept))
}

fn lists_of(state: &State, first: &Value, rest: &[Value]) -> Result<Vec<Vec<Value>>, Error> {
    std::iter::once(first)
        .chain(rest)
        .map(|v| items_of(state, v))
        .collect()
}

/// Python's `zip(*lists)`, as tuples.
fn zip(state: &State, value: Value, others: Rest<Value>) -> Result<Value, Error> {
    let lists = lists_of(state, &value, &others)?;
    let len = lists.iter().map(Vec::len).min().unwrap_or(0);
    let rows = (0..len)
        .map(|i| tuple(lists.iter().map(|l| l[i].clone()).collect()))
        .collect::<Vec<_>>();
    Ok(Value::from(rows))
}

/// `zip_longest(*lists, fillvalue=None)`.
fn zip_longest(
    state: &State,
    value: Value,
    others: Rest<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let fill: Option<Value> = kwargs.get("fillvalue")?;
    kwargs.assert_all_used()?;
    let fill = fill.unwrap_or_else(|| Value::from(()));
    let lists = lists_of(state, &value, &others)?;
    let len = lists.iter().map(Vec::len).max().unwrap_or(0);
    let rows = (0..len)
        .map(|i| {
            tuple(
                lists
                    .iter()
                    .map(|l| l.get(i).unwrap_or(&fill).clone())
                    .collect(),
            )
        })
        .collect::<Vec<_>>();
    Ok(Value::from(rows))
}

/// `itertools.product(*lists, repeat=1)`.
fn product(
    state: &State,
    value: Value,
    others: Rest<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let repeat: Option<usize> = kwargs.get("repeat")?;
    kwargs.assert_all_used()?;
    let lists = lists_of(state, &value, &others)?;
    let pools: Vec<&Vec<Value>> = (0..repeat.unwrap_or(1))
        .flat_map(|_| lists.iter())
        .collect();
    let mut rows: Vec<Vec<Value>> = vec![Vec::new()];
    for pool in pools {
        rows = rows
            .iter()
            .flat_map(|row| {
                pool.iter().map(move |item| {
                    let mut next = row.clone();
                    next.push(item.clone());
                    next
                })
            })
            .collect();
    }
    Ok(Value::from(rows.into_iter().map(tuple).collect::<Vec<_>>()))
}

/// Index tuples of length `r` in `itertools` order; `distinct` gives
/// permutations, otherwise combinations.
fn index_tuples(n: usize, r: usize, distinct: bool) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut current = Vec::with_capacity(r);
    fn walk(n: usize, r: usize, distinct: bool, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if cur.len() == r {
            out.push(cur.clone());
            return;
        }
        let start = if distinct {
            0
        } else {
            cur.last().map_or(0, |l| l + 1)
        };
        for i in start..n {
            if distinct && cur.contains(&i) {
                continue;
            }
            cur.push(i);
            walk(n, r, distinct, cur, out);
            cur.pop();
        }
    }
    if r <= n {
        walk(n, r, distinct, &mut current, &mut out);
    }
    out
}

fn pick(state: &State, value: &Value, r: Option<usize>, distinct: bool) -> Result<Value, Error> {
    let items = items_of(state, value)?;
    let r = r.unwrap_or(items.len());
    let rows = index_tuples(items.len(), r, distinct)
        .into_iter()
        .map(|idx| tuple(idx.into_iter().map(|i| items[i].clone()).collect()))
        .collect::<Vec<_>>();
    Ok(Value::from(rows))
}

fn permutations(state: &State, value: Value, r: Option<usize>) -> Result<Value, Error> {
    pick(state, &value, r, true)
}

fn combinations(state: &State, value: Value, r: usize) -> Result<Value, Error> {
    pick(state, &value, Some(r), false)
}

/// `subelements(subelements, skip_missing=False)`: (item, subitem) pairs.
fn subelements(
    state: &State,
    value: Value,
    args: Rest<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let a = bind(
        "subelements",
        &["subelements", "skip_missing"],
        &args,
        &kwargs,
    )?;
    require_defined(state, &value)?;
    let elements: Vec<Value> = if is_mapping(&value) {
        value
            .try_iter()?
            .map(|k| value.get_item(&k).unwrap_or_default())
            .collect()
    } else if is_sequence(&value) {
        value.try_iter()?.collect()
    } else {
        return Err(fail("obj must be a list of dicts or a nested dict"));
    };
    let path = required(&a, 0, "subelements", "subelements")?;
    let keys: Vec<Value> = match path.as_str() {
        Some(s) => s.split('.').map(Value::from).collect(),
        None if is_sequence(path) => path.try_iter()?.collect(),
        None => return Err(fail("subelements must be a list or a string")),
    };
    let skip_missing = flag(&a[1], false);
    let mut out = Vec::new();
    for element in elements {
        for sub in subelement_values(&element, &keys, skip_missing)? {
            out.push(tuple(vec![element.clone(), sub]));
        }
    }
    Ok(Value::from(out))
}

fn subelement_values(
    element: &Value,
    keys: &[Value],
    skip_missing: bool,
) -> Result<Vec<Value>, Error> {
    let mut values = element.clone();
    for key in keys {
        if !is_mapping(&values) {
            return Err(fail(format!(
                "the key {} should point to a dictionary, got '{}'",
                python_str(key),
                python_str(&values)
            )));
        }
        let next = values.get_item(key).unwrap_or_default();
        if next.is_undefined() {
            if skip_missing {
                return Ok(Vec::new());
            }
            return Err(fail(format!(
                "could not find {} key in iterated item {}",
                python_repr(key),
                python_repr(&values)
            )));
        }
        values = next;
    }
    if values.kind() != ValueKind::Seq || values.is_tuple() {
        return Err(fail(format!(
            "the key {} should point to a list, got {}",
            python_repr(keys.last().unwrap_or(&Value::from(""))),
            python_repr(&values)
        )));
    }
    Ok(values.try_iter()?.collect())
}

fn map_entries(value: &Value) -> Result<Vec<(Value, Value)>, Error> {
    Ok(value
        .try_iter()?
        .map(|k| {
            let v = value.get_item(&k).unwrap_or_default();
            (k, v)
        })
        .collect())
}

/// `dict2items(key_name='key', value_name='value')`.
fn dict2items(
    state: &State,
    value: Value,
    args: Rest<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let a = bind("dict2items", &["key_name", "value_name"], &args, &kwargs)?;
    require_defined(state, &value)?;
    if !is_mapping(&value) {
        return Err(fail(format!(
            "dict2items requires a dictionary, got <class '{}'> instead.",
            type_name(&value)
        )));
    }
    let key_name = opt_text(state, &a[0], "key")?;
    let value_name = opt_text(state, &a[1], "value")?;
    let out = map_entries(&value)?
        .into_iter()
        .map(|(k, v)| Value::from_pairs([(key_name.as_str(), k), (value_name.as_str(), v)]))
        .collect::<Vec<_>>();
    Ok(Value::from(out))
}

/// `items2dict(key_name='key', value_name='value')`.
fn items2dict(
    state: &State,
    value: Value,
    args: Rest<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let a = bind("items2dict", &["key_name", "value_name"], &args, &kwargs)?;
    require_defined(state, &value)?;
    if !is_sequence(&value) {
        return Err(fail(format!(
            "items2dict requires a list, got <class '{}'> instead.",
            type_name(&value)
        )));
    }
    let key_name = Value::from(opt_text(state, &a[0], "key")?);
    let value_name = Value::from(opt_text(state, &a[1], "value")?);
    let mut out = IndexMap::new();
    for item in value.try_iter()? {
        if !is_mapping(&item) {
            return Err(fail(format!(
                "items2dict requires a list of dictionaries, got {} instead.",
                python_repr(&value)
            )));
        }
        let k = item.get_item(&key_name).unwrap_or_default();
        let v = item.get_item(&value_name).unwrap_or_default();
        if k.is_undefined() || v.is_undefined() {
            return Err(fail(format!(
                "items2dict requires each dictionary in the list to contain the keys {} and {}, got {} instead.",
                python_repr(&key_name),
                python_repr(&value_name),
                python_repr(&value)
            )));
        }
        out.insert(k, v);
    }
    Ok(Value::from_pairs(out))
}

/// How `combine` merges two lists found under the same key.
#[derive(Clone, Copy)]
enum ListMerge {
    Replace,
    Keep,
    Append,
    Prepend,
    AppendRp,
    PrependRp,
}

impl ListMerge {
    fn parse(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "replace" => Self::Replace,
            "keep" => Self::Keep,
            "append" => Self::Append,
            "prepend" => Self::Prepend,
            "append_rp" => Self::AppendRp,
            "prepend_rp" => Self::PrependRp,
            _ => {
                return Err(fail(
                    "merge_hash: 'list_merge' argument can only be equal to 'replace', 'keep', 'append', 'prepend', 'append_rp' or 'prepend_rp'",
                ));
            }
        })
    }

    fn merge(self, old: Vec<Value>, new: Vec<Value>) -> Vec<Value> {
        let rest = |from: &[Value], without: &[Value]| -> Vec<Value> {
            from.iter()
                .filter(|x| !without.contains(x))
                .cloned()
                .collect()
        };
        match self {
            Self::Replace => new,
            Self::Keep => old,
            Self::Append => old.into_iter().chain(new).collect(),
            Self::Prepend => new.into_iter().chain(old).collect(),
            Self::AppendRp => rest(&old, &new).into_iter().chain(new).collect(),
            Self::PrependRp => {
                let kept = rest(&old, &new);
                new.into_iter().chain(kept).collect()
            }
        }
    }
}

/// Ansible's `merge_hash`: `new` wins; nested dicts merge when `recursive`,
/// lists follow `list_merge`.
fn merge_hash(
    old: &Value,
    new: &Value,
    recursive: bool,
    list_merge: ListMerge,
) -> Result<Value, Error> {
    let mut merged: IndexMap<Value, Value> = map_entries(old)?.into_iter().collect();
    for (key, new_value) in map_entries(new)? {
        let value = match merged.get(&key) {
            Some(old_value) if is_mapping(old_value) && is_mapping(&new_value) && recursive => {
                merge_hash(old_value, &new_value, recursive, list_merge)?
            }
            Some(old_value) if is_sequence(old_value) && is_sequence(&new_value) => {
                let old_items = old_value.try_iter()?.collect();
                let new_items = new_value.try_iter()?.collect();
                Value::from(list_merge.merge(old_items, new_items))
            }
            _ => new_value,
        };
        merged.insert(key, value);
    }
    Ok(Value::from_pairs(merged))
}

/// `combine(*dicts, recursive=False, list_merge='replace')`; lists of dicts
/// among the arguments are expanded.
fn combine(state: &State, value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let recursive = flag(&kwargs.get("recursive")?, false);
    let list_merge: Option<String> = kwargs.get("list_merge")?;
    if kwargs.assert_all_used().is_err() {
        return Err(fail(
            "'recursive' and 'list_merge' are the only valid keyword arguments",
        ));
    }
    let list_merge = ListMerge::parse(list_merge.as_deref().unwrap_or("replace"))?;
    let mut dicts = Vec::new();
    for term in std::iter::once(&value).chain(args.iter()) {
        require_defined(state, term)?;
        if is_sequence(term) {
            dicts.extend(term.try_iter()?);
        } else {
            dicts.push(term.clone());
        }
    }
    let mut result = Value::from_pairs(Vec::<(Value, Value)>::new());
    for dict in dicts {
        if !is_mapping(&dict) {
            return Err(fail(format!(
                "failed to combine variables, expected dicts but got a '{}' and a '{}'",
                type_name(&result),
                type_name(&dict)
            )));
        }
        result = merge_hash(&result, &dict, recursive, list_merge)?;
    }
    Ok(result)
}

/// `extract(container, morekeys=None)`: `container[item]`, then each of `morekeys`.
fn extract(
    state: &State,
    item: Value,
    container: Value,
    morekeys: Option<Value>,
) -> Result<Value, Error> {
    require_defined(state, &container)?;
    let mut value = container.get_item(&item).unwrap_or_default();
    let keys = match morekeys {
        Some(k) if is_sequence(&k) => k.try_iter()?.collect(),
        Some(k) if !k.is_none() => vec![k],
        _ => Vec::new(),
    };
    for key in keys {
        value = value.get_item(&key).unwrap_or_default();
    }
    Ok(value)
}

/// `dictsort(case_sensitive=False, by='key', reverse=False)`; adds
/// positional arguments to minijinja's keyword-only `dictsort`.
fn dictsort(value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let names = ["case_sensitive", "by", "reverse"];
    let a = bind("dictsort", &names, &args, &kwargs)?;
    let pairs = names
        .iter()
        .zip(a)
        .filter_map(|(name, v)| v.map(|v| (*name, v)));
    minijinja::filters::dictsort(&value, Kwargs::from_iter(pairs))
}

// ---------------------------------------------------------------------------
// JSON and YAML

struct JsonStyle {
    indent: Option<usize>,
    sort_keys: bool,
    ensure_ascii: bool,
    item_sep: String,
    key_sep: String,
}

impl JsonStyle {
    fn new(
        indent: Option<usize>,
        sort_keys: bool,
        ensure_ascii: bool,
        separators: Option<(String, String)>,
    ) -> Self {
        // json.dumps drops the space after ',' once lines are indented.
        let default_item = if indent.is_some() { "," } else { ", " };
        let (item_sep, key_sep) =
            separators.unwrap_or_else(|| (default_item.to_string(), ": ".to_string()));
        JsonStyle {
            indent,
            sort_keys,
            ensure_ascii,
            item_sep,
            key_sep,
        }
    }
}

/// Python's `json.dumps(value)` with its default settings, e.g. for data
/// given to `copy`'s `content`.
pub fn python_json(value: &serde_json::Value) -> String {
    let style = JsonStyle::new(None, false, true, None);
    dump_json(&Value::from(minijinja::value::Serde(value)), &style)
        .unwrap_or_else(|_| value.to_string())
}

/// Serialises like Python's `json.dumps`, including float spelling.
fn dump_json(value: &Value, style: &JsonStyle) -> Result<String, Error> {
    let mut out = String::new();
    write_json(&mut out, value, style, 0)?;
    Ok(out)
}

fn write_json(
    out: &mut String,
    value: &Value,
    style: &JsonStyle,
    level: usize,
) -> Result<(), Error> {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => out.push_str(&json_number(value)),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter()?.collect();
            write_json_container(out, style, level, ('[', ']'), &items, |out, item, lvl| {
                write_json(out, item, style, lvl)
            })?;
        }
        ValueKind::Map => {
            let mut entries = map_entries(value)?
                .into_iter()
                .map(|(k, v)| Ok((json_key(&k)?, v)))
                .collect::<Result<Vec<_>, Error>>()?;
            if style.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(&b.0));
            }
            write_json_container(
                out,
                style,
                level,
                ('{', '}'),
                &entries,
                |out, (k, v), lvl| {
                    write_json_str(out, k, style.ensure_ascii);
                    out.push_str(&style.key_sep);
                    write_json(out, v, style, lvl)
                },
            )?;
        }
        _ => write_json_str(out, &python_str(value), style.ensure_ascii),
    }
    Ok(())
}

fn write_json_container<T>(
    out: &mut String,
    style: &JsonStyle,
    level: usize,
    brackets: (char, char),
    items: &[T],
    mut write_item: impl FnMut(&mut String, &T, usize) -> Result<(), Error>,
) -> Result<(), Error> {
    out.push(brackets.0);
    if items.is_empty() {
        out.push(brackets.1);
        return Ok(());
    }
    let newline = |out: &mut String, lvl: usize| {
        if let Some(n) = style.indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * lvl));
        }
    };
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(&style.item_sep);
        }
        newline(out, level + 1);
        write_item(out, item, level + 1)?;
    }
    newline(out, level);
    out.push(brackets.1);
    Ok(())
}

fn json_number(value: &Value) -> String {
    if value.is_integer() {
        return value.to_string();
    }
    match f64::try_from(value.clone()) {
        Ok(f) if f.is_nan() => "NaN".into(),
        Ok(f) if f.is_infinite() => if f > 0.0 { "Infinity" } else { "-Infinity" }.into(),
        Ok(f) => float_repr(f),
        Err(_) => value.to_string(),
    }
}

/// JSON object keys: strings, or scalars spelled as `json.dumps` does.
fn json_key(key: &Value) -> Result<String, Error> {
    Ok(match key.kind() {
        ValueKind::String => key.as_str().unwrap_or_default().to_string(),
        ValueKind::Bool => if key.is_true() { "true" } else { "false" }.into(),
        ValueKind::None => "null".into(),
        ValueKind::Number => json_number(key),
        _ => {
            return Err(fail(format!(
                "keys must be str, int, float, bool or None, not {}",
                type_name(key)
            )));
        }
    })
}

fn write_json_str(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && !c.is_ascii()) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn separators(arg: Option<Value>) -> Result<Option<(String, String)>, Error> {
    let Some(arg) = arg.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let parts: Vec<Value> = arg.try_iter()?.collect();
    match parts.as_slice() {
        [a, b] => Ok(Some((python_str(a), python_str(b)))),
        _ => Err(fail(
            "separators must be a (item_separator, key_separator) pair",
        )),
    }
}

fn json_style(a: &[Option<Value>], defaults: (Option<usize>, bool)) -> Result<JsonStyle, Error> {
    let indent = match &a[0] {
        Some(v) if v.is_none() => None,
        Some(v) => Some(usize::try_from(i64::try_from(v.clone())?.max(0)).unwrap_or(0)),
        None => defaults.0,
    };
    Ok(JsonStyle::new(
        indent,
        flag(&a[1], defaults.1),
        flag(&a[2], true),
        separators(a[3].clone())?,
    ))
}

const JSON_ARGS: [&str; 4] = ["indent", "sort_keys", "ensure_ascii", "separators"];

/// `to_json(indent=None, sort_keys=False, ensure_ascii=True, separators=None)`.
fn to_json(state: &State, value: Value, kwargs: Kwargs) -> Result<String, Error> {
    let a = bind("to_json", &JSON_ARGS, &[], &kwargs)?;
    require_defined(state, &value)?;
    dump_json(&value, &json_style(&a, (None, false))?)
}

/// `to_nice_json(indent=4, sort_keys=True, ...)`.
fn to_nice_json(
    state: &State,
    value: Value,
    args: Rest<Value>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let a = bind("to_nice_json", &JSON_ARGS, &args, &kwargs)?;
    require_defined(state, &value)?;
    let mut style = json_style(&a, (Some(4), true))?;
    if a[3].is_none() {
        style.item_sep = ",".into();
    }
    dump_json(&value, &style)
}

fn from_json(state: &State, value: Value) -> Result<Value, Error> {
    let s = text(state, &value)?;
    let parsed: serde_json::Value =
        serde_json::from_str(&s).map_err(|e| fail(format!("from_json: {e}")))?;
    Ok(Value::from(Serde(parsed)))
}

fn to_json_value(state: &State, value: &Value) -> Result<serde_json::Value, Error> {
    require_defined(state, value)?;
    serde_json::to_value(value).map_err(|e| fail(format!("cannot serialise value: {e}")))
}

/// PyYAML `dump` options that matter here: `indent`, and
/// `default_flow_style=False` (block style throughout). `width`,
/// `allow_unicode` and `sort_keys` are accepted because playbooks pass them
/// routinely, but the emitter's output does not vary with them.
struct YamlLayout {
    block: bool,
    indent: Option<usize>,
}

fn yaml_layout(func: &str, kwargs: &Kwargs, indent: Option<Value>) -> Result<YamlLayout, Error> {
    let flow: Option<Value> = kwargs.get("default_flow_style")?;
    let indent = match indent.or(kwargs.get("indent")?) {
        Some(v) if !v.is_none() => usize::try_from(i64::try_from(v)?.clamp(1, 64)).ok(),
        _ => None,
    };
    for ignored in ["width", "allow_unicode", "sort_keys"] {
        let _: Option<Value> = kwargs.get(ignored)?;
    }
    kwargs
        .assert_all_used()
        .map_err(|e| fail(format!("{func}: {e}")))?;
    match flow {
        Some(f) if f.is_true() => Err(fail(format!(
            "{func}: default_flow_style=True is not supported"
        ))),
        Some(f) => Ok(YamlLayout {
            block: !f.is_none(),
            indent,
        }),
        None => Ok(YamlLayout {
            block: false,
            indent,
        }),
    }
}

/// `to_yaml(**dump_options)`: PyYAML's default layout (flow style for
/// innermost collections).
fn to_yaml(state: &State, value: Value, kwargs: Kwargs) -> Result<String, Error> {
    let json = to_json_value(state, &value)?;
    let layout = yaml_layout("to_yaml", &kwargs, None)?;
    let out = if layout.block {
        crate::yaml::to_nice_yaml(&json, layout.indent.unwrap_or(2))
    } else {
        crate::yaml::to_yaml(&json)
    };
    Ok(without_document_end(out))
}

/// Ansible's dumper never closes a bare scalar document with `...`.
fn without_document_end(mut out: String) -> String {
    if out.ends_with("\n...\n") {
        out.truncate(out.len() - 4);
    }
    out
}

/// `to_nice_yaml(indent=4, **dump_options)`: block style throughout.
fn to_nice_yaml(
    state: &State,
    value: Value,
    indent: Option<Value>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let json = to_json_value(state, &value)?;
    let layout = yaml_layout("to_nice_yaml", &kwargs, indent)?;
    Ok(without_document_end(crate::yaml::to_nice_yaml(
        &json,
        layout.indent.unwrap_or(4),
    )))
}

/// Parses a YAML string; anything else passes through, as in Ansible.
fn from_yaml(state: &State, value: Value) -> Result<Value, Error> {
    require_defined(state, &value)?;
    let Some(s) = value.as_str() else {
        return Ok(value);
    };
    let parsed = crate::yaml::load_str_value(s).map_err(|e| fail(format!("from_yaml: {e}")))?;
    Ok(Value::from(Serde(parsed)))
}

// ---------------------------------------------------------------------------
// Paths (POSIX rules, as Python's posixpath)

pub fn posix_basename(p: &str) -> &str {
    p.rfind('/').map_or(p, |i| &p[i + 1..])
}

pub fn posix_dirname(p: &str) -> &str {
    let head = p.rfind('/').map_or("", |i| &p[..=i]);
    if !head.is_empty() && head.chars().any(|c| c != '/') {
        head.trim_end_matches('/')
    } else {
        head
    }
}

/// `os.path.splitext`: a leading dot of the file name does not start an extension.
pub fn posix_splitext(p: &str) -> (&str, &str) {
    let name_start = p.rfind('/').map_or(0, |i| i + 1);
    if let Some(dot) = p.rfind('.').filter(|&d| d > name_start)
        && p[name_start..dot].chars().any(|c| c != '.')
    {
        return (&p[..dot], &p[dot..]);
    }
    (p, "")
}

fn basename(state: &State, value: Value) -> Result<String, Error> {
    Ok(posix_basename(&text(state, &value)?).to_string())
}

fn dirname(state: &State, value: Value) -> Result<String, Error> {
    Ok(posix_dirname(&text(state, &value)?).to_string())
}

fn splitext(state: &State, value: Value) -> Result<Value, Error> {
    let s = text(state, &value)?;
    let (root, ext) = posix_splitext(&s);
    Ok(tuple(vec![Value::from(root), Value::from(ext)]))
}

/// `os.path.expanduser` on the controller.
pub fn expand_user(p: &str) -> String {
    let Some(rest) = p.strip_prefix('~') else {
        return p.to_string();
    };
    let (user, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let home = if user.is_empty() {
        std::env::var("HOME").ok().or_else(|| {
            let uid = nix::unistd::Uid::current();
            nix::unistd::User::from_uid(uid)
                .ok()
                .flatten()
                .map(|u| u.dir.display().to_string())
        })
    } else {
        nix::unistd::User::from_name(user)
            .ok()
            .flatten()
            .map(|u| u.dir.display().to_string())
    };
    match home {
        // As Python: strip the home's trailing slash, but never return "".
        Some(home) => {
            let joined = format!("{}{tail}", home.trim_end_matches('/'));
            if joined.is_empty() {
                "/".into()
            } else {
                joined
            }
        }
        None => p.to_string(),
    }
}

fn expanduser(state: &State, value: Value) -> Result<String, Error> {
    Ok(expand_user(&text(state, &value)?))
}

/// `os.path.join(*paths)`; a string passes through.
fn path_join(state: &State, value: Value) -> Result<String, Error> {
    if let Some(s) = value.as_str() {
        return Ok(s.to_string());
    }
    let parts = items_of(state, &value)?;
    if parts.is_empty() {
        return Err(fail("path_join requires at least one path"));
    }
    let mut path = String::new();
    for part in parts {
        let part = text(state, &part)?;
        if part.starts_with('/') {
            path = part;
        } else if path.is_empty() || path.ends_with('/') {
            path.push_str(&part);
        } else {
            path.push('/');
            path.push_str(&part);
        }
    }
    Ok(path)
}

#[cfg(test)]
mod unit {
    use super::*;
    use minijinja::context;

    fn env() -> Environment<'static> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_formatter(super::super::pyrepr::formatter);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        register(&mut env);
        super::super::tests::register(&mut env);
        env
    }

    fn vars() -> Value {
        let users = serde_json::json!([
            {"name": "alice", "uid": 1001, "groups": ["wheel", "dev"], "shell": "/bin/bash", "enabled": true},
            {"name": "bob", "uid": 1002, "groups": ["dev"], "shell": "/bin/sh"}
        ]);
        context! {
            users => Value::from(Serde(users)),
            d => Value::from(Serde(serde_json::json!({"b": 2, "a": 1}))),
            s => "Hello World",
            n => 42,
            e => "",
            nested => Value::from(Serde(serde_json::json!({"a": {"x": 1, "l": [1, 2]}, "b": [1, 2]}))),
            items => Value::from(Serde(serde_json::json!([{"key": "a", "value": 1}, {"key": "b", "value": 2}]))),
        }
    }

    /// Renders each template and compares with the output Ansible produced.
    fn check(cases: &[(&str, &str)]) {
        let env = env();
        for (src, expected) in cases {
            let got = env
                .render_str(src, vars())
                .unwrap_or_else(|e| panic!("{src}: {e:#}"));
            assert_eq!(&got, expected, "template: {src}");
        }
    }

    /// Asserts that rendering fails with a message containing `needle`.
    fn check_err(cases: &[(&str, &str)]) {
        let env = env();
        for (src, needle) in cases {
            let err = env.render_str(src, vars()).expect_err(src).to_string();
            assert!(err.contains(needle), "{src}: {err}");
        }
    }

    #[test]
    fn expanduser_uses_the_controller_home() {
        if let Ok(home) = std::env::var("HOME") {
            let home = home.trim_end_matches('/');
            assert_eq!(expand_user("~/x"), format!("{home}/x"));
            assert_eq!(expand_user("~"), if home.is_empty() { "/" } else { home });
        }
        assert_eq!(expand_user("~no_such_user_here/a"), "~no_such_user_here/a");
        assert_eq!(expand_user("/abs/~"), "/abs/~");
    }

    // Expected strings are ansible-core's output for the same templates.
    #[test]
    fn core_errors() {
        check_err(&[
            ("={{ undef_var | mandatory }}", "Mandatory variable"),
            ("={{ undef_var | mandatory('custom msg') }}", "custom msg"),
            ("={{ 1 | ternary('a') }}", "ternary() missing"),
        ]);
    }

    #[test]
    fn core() {
        check(&[
            ("={{ undef_var | default('x') }}", "=x"),
            ("={{ e | default('x') }}", "="),
            ("={{ e | default('x', true) }}", "=x"),
            ("={{ e | d('x', boolean=true) }}", "=x"),
            ("={{ none | default('x') }}", "="),
            ("={{ d.missing | default('m') }}", "=m"),
            ("={{ undef_var | default }}", "="),
            ("={{ 0 | default('z', true) }}", "=z"),
            (
                "={{ 'yes' | bool }}{{ 'on' | bool }}{{ '1' | bool }}{{ 'true' | bool }}{{ 'y' | bool }}{{ 'Yes' | bool }}{{ 'TRUE' | bool }}",
                "=TrueTrueTrueTrueFalseTrueTrue",
            ),
            (
                "={{ 'no' | bool }}{{ 'off' | bool }}{{ '0' | bool }}{{ 'false' | bool }}{{ 'n' | bool }}{{ 'foo' | bool }}",
                "=FalseFalseFalseFalseFalseFalse",
            ),
            (
                "={{ 1 | bool }}{{ 0 | bool }}{{ 2 | bool }}{{ 1.0 | bool }}{{ true | bool }}{{ none | bool }}{{ '' | bool }}",
                "=TrueFalseFalseTrueTrueFalseFalse",
            ),
            (
                "={{ 't' | bool }}{{ ' yes ' | bool }}{{ 'On' | bool }}",
                "=FalseFalseTrue",
            ),
            (
                "={{ '42' | int }}|{{ '0x1F' | int(base=16) }}|{{ '0x1F' | int(0, 16) }}|{{ '1F' | int(base=16) }}|{{ '0x1F' | int }}",
                "=42|31|31|31|0",
            ),
            (
                "={{ 'abc' | int }}|{{ 'abc' | int(5) }}|{{ '3.7' | int }}|{{ 3.7 | int }}|{{ true | int }}|{{ -3.7 | int }}",
                "=0|5|3|3|1|-3",
            ),
            (
                "={{ '0b101' | int(base=2) }}|{{ ' 12 ' | int }}|{{ '1_000' | int }}|{{ '-5' | int }}|{{ '+5' | int }}|{{ '1e3' | int }}",
                "=5|12|1000|-5|5|1000",
            ),
            (
                "={{ '0o17' | int(base=0) }}|{{ '017' | int(base=8) }}|{{ none | int }}|{{ 'abc' | int(default=7) }}",
                "=15|15|0|7",
            ),
            (
                "={{ '3.14' | float }}|{{ 'abc' | float }}|{{ 'abc' | float(1.5) }}|{{ '1e3' | float }}|{{ 5 | float }}|{{ ' 2.5 ' | float }}",
                "=3.14|0.0|1.5|1000.0|5.0|2.5",
            ),
            (
                "={{ 'inf' | float }}|{{ '-inf' | float }}|{{ true | float }}|{{ '1_0.5' | float }}",
                "=inf|-inf|1.0|10.5",
            ),
            (
                "={{ 5 | string }}|{{ [1, 'a'] | string }}|{{ none | string }}|{{ true | string }}|{{ 1.50 | string }}",
                "=5|[1, 'a']|None|True|1.5",
            ),
            (
                "={{ ([1, 'a'] | string)[0] }}|{{ (d | string) | length }}",
                "=[|16",
            ),
            (
                "={{ true | ternary('y', 'n') }}|{{ false | ternary('y', 'n') }}|{{ none | ternary('y', 'n', 'nil') }}|{{ none | ternary('y', 'n') }}|{{ '' | ternary('y', 'n') }}|{{ [0] | ternary('y', 'n') }}",
                "=y|n|nil|n|n|y",
            ),
            ("={{ 1 | mandatory }}", "=1"),
            ("={{ none | mandatory }}", "="),
            (
                "={{ 1 | type_debug }}|{{ 'a' | type_debug }}|{{ [1] | type_debug }}|{{ {} | type_debug }}|{{ true | type_debug }}|{{ none | type_debug }}|{{ 1.5 | type_debug }}|{{ s | type_debug }}|{{ users | type_debug }}",
                "=int|str|list|dict|bool|NoneType|float|str|list",
            ),
            (
                "={{ range(3) | list }}|{{ lookup_missing | default([]) | length }}",
                "=[0, 1, 2]|0",
            ),
            (
                "={{ 3.14159 | round(2) }}|{{ 3.5 | round }}|{{ 2.5 | round }}|{{ 3.7 | round(0, 'floor') }}|{{ -3 | abs }}|{{ 3.5 | round | int }}",
                "=3.14|4.0|2.0|3.0|3|4",
            ),
            (
                "={{ 100 | log(10) }}|{{ 8 | log(2) }}|{{ 1 | log }}|{{ 2 | pow(10) }}|{{ 9 | root }}|{{ 27 | root(3) }}",
                "=2.0|3.0|0.0|1024.0|3.0|3.0",
            ),
            (
                "={{ '0x1F' | int(16) }}|{{ '12abc' | int }}|{{ '1e400' | float }}|{{ [1] | int }}|{{ '' | int }}|{{ '0_7' | int(base=0) }}|{{ '07' | int(base=0) }}|{{ '00' | int(base=0) }}",
                "=16|0|inf|0|0|7|7|0",
            ),
            (
                "={{ 'z' | int(base=36) }}|{{ '10' | int(base=1) }}|{{ 9999999999999999999 | int }}|{{ '-0x10' | int(base=16) }}",
                "=35|10|9999999999999999999|-16",
            ),
            (
                "={{ 'nan' | float }}|{{ '1.5e3' | float }}|{{ '.5' | float }}|{{ '5.' | float }}|{{ 'Infinity' | float }}|{{ none | float }}|{{ '1__0' | float }}",
                "=nan|1500.0|0.5|5.0|inf|0.0|0.0",
            ),
            (
                "={{ 1 | ternary('a', 'b') }}|{{ 0 | ternary('a', 'b') }}|{{ 'x' | ternary(1, 2) }}|{{ none | ternary('a', 'b', none) }}",
                "=a|b|1|b",
            ),
            (
                "={{ 'a' | default('b') }}|{{ false | default('b', true) }}|{{ [] | default('b', true) }}|{{ false | default('b') }}",
                "=a|b|b|False",
            ),
            (
                "={{ true | mandatory }}|{{ 'x' | mandatory('m') }}",
                "=True|x",
            ),
            (
                "={{ 5 | string | type_debug }}|{{ 'a' | string }}|{{ {'a': none} | string }}|{{ ('a', 1) | string }}|{{ (1,) | string }}",
                "=str|a|{'a': None}|('a', 1)|(1,)",
            ),
        ]);
    }

    #[test]
    fn dicts_errors() {
        check_err(&[
            (
                "={{ {'a': 1} | combine({'a': 2}, list_merge='bogus') }}",
                "merge_hash: 'list_merge' argument can only be equal to 'replace', 'keep', 'append', 'prepend', 'append_rp' or 'prepend_rp'",
            ),
            (
                "={{ {'a': 1} | combine(5) }}",
                "failed to combine variables, expected dicts but got a 'dict' and a 'int'",
            ),
            (
                "={{ users | subelements('enabled') | length }}",
                "the key 'enabled' should point to a list, got True",
            ),
            (
                "={{ users | subelements('enabled', skip_missing=true) | length }}",
                "the key 'enabled' should point to a list, got True",
            ),
            (
                "={{ users | subelements('nope') }}",
                "could not find 'nope' key in iterated item {'name': 'alice', 'uid': 1001, 'groups': ['wheel', 'dev'], 'shell': '/bin/bash', 'enabled': True}",
            ),
            (
                "={{ {'a': 1} | combine({'b': 2}, bogus=1) }}",
                "'recursive' and 'list_merge' are the only valid keyword arguments",
            ),
            (
                "={{ [1] | dict2items }}",
                "dict2items requires a dictionary, got <class 'list'> instead.",
            ),
            (
                "={{ [1] | items2dict }}",
                "items2dict requires a list of dictionaries, got [1] instead.",
            ),
            (
                "={{ {'a': 1} | items2dict }}",
                "items2dict requires a list, got <class 'dict'> instead.",
            ),
            (
                "={{ [{'key': 'a'}] | items2dict }}",
                "items2dict requires each dictionary in the list to contain the keys 'key' and 'value', got [{'key': 'a'}] instead.",
            ),
            (
                "={{ {'a': [1, 2], 'b': [3]} | subelements('x', skip_missing=true) | list }}",
                "the key x should point to a dictionary, got '[1, 2]'",
            ),
            (
                "={{ 5 | subelements('l') }}",
                "obj must be a list of dicts or a nested dict",
            ),
            (
                "={{ [{'l': 5}] | subelements('l') }}",
                "the key 'l' should point to a list, got 5",
            ),
            (
                "={{ ['b', 'a'] | items2dict }}",
                "items2dict requires a list of dictionaries, got ['b', 'a'] instead.",
            ),
        ]);
    }

    #[test]
    fn dicts() {
        check(&[
            (
                "={{ {'a': 1, 'b': 2} | dict2items }}",
                "=[{'key': 'a', 'value': 1}, {'key': 'b', 'value': 2}]",
            ),
            (
                "={{ {'a': 1} | dict2items(key_name='k', value_name='v') }}",
                "=[{'k': 'a', 'v': 1}]",
            ),
            ("={{ items | items2dict }}", "={'a': 1, 'b': 2}"),
            (
                "={{ [{'k': 'a', 'v': 1}] | items2dict(key_name='k', value_name='v') }}",
                "={'a': 1}",
            ),
            ("={{ d | dict2items | items2dict }}", "={'b': 2, 'a': 1}"),
            ("={{ {'a': 1} | combine({'b': 2}) }}", "={'a': 1, 'b': 2}"),
            (
                "={{ {'a': {'x': 1}} | combine({'a': {'y': 2}}) }}",
                "={'a': {'y': 2}}",
            ),
            (
                "={{ {'a': {'x': 1}} | combine({'a': {'y': 2}}, recursive=true) }}",
                "={'a': {'x': 1, 'y': 2}}",
            ),
            (
                "={{ {'a': 1} | combine({'b': 2}, {'a': 3}) }}",
                "={'a': 3, 'b': 2}",
            ),
            ("={{ [{'a': 1}, {'b': 2}] | combine }}", "={'a': 1, 'b': 2}"),
            (
                "={{ {'a': [1, 2]} | combine({'a': [3]}, list_merge='append') }}",
                "={'a': [1, 2, 3]}",
            ),
            (
                "={{ {'a': [1, 2]} | combine({'a': [3]}, list_merge='prepend') }}",
                "={'a': [3, 1, 2]}",
            ),
            (
                "={{ {'a': [1, 2]} | combine({'a': [3]}, list_merge='keep') }}",
                "={'a': [1, 2]}",
            ),
            (
                "={{ {'a': [1, 2]} | combine({'a': [3]}, list_merge='replace') }}",
                "={'a': [3]}",
            ),
            (
                "={{ {'a': [1, 2, 3]} | combine({'a': [3, 4]}, list_merge='append_rp') }}",
                "={'a': [1, 2, 3, 4]}",
            ),
            (
                "={{ {'a': [1, 2, 3]} | combine({'a': [3, 4]}, list_merge='prepend_rp') }}",
                "={'a': [3, 4, 1, 2]}",
            ),
            (
                "={{ {'a': {'l': [1]}} | combine({'a': {'l': [2]}}, recursive=true, list_merge='append') }}",
                "={'a': {'l': [1, 2]}}",
            ),
            (
                "={{ {'a': {'l': [1]}} | combine({'a': {'l': [2]}}, list_merge='append') }}",
                "={'a': {'l': [2]}}",
            ),
            (
                "={{ {'a': 1, 'b': {'c': 1}} | combine({'b': none}, recursive=true) }}",
                "={'a': 1, 'b': None}",
            ),
            (
                "={{ users | subelements('groups') | map('last') | list }}",
                "=['wheel', 'dev', 'dev']",
            ),
            (
                "={{ users | subelements('groups') | map('first') | map(attribute='name') | list }}",
                "=['alice', 'alice', 'bob']",
            ),
            (
                "={{ [{'n': 1, 's': {'t': [1, 2]}}] | subelements('s.t') | map('last') | list }}",
                "=[1, 2]",
            ),
            ("={{ ['a', 'b'] | map('extract', d) | list }}", "=[1, 2]"),
            (
                "={{ [0] | map('extract', users, 'name') | list }}",
                "=['alice']",
            ),
            (
                "={{ ['a'] | map('extract', nested, ['l', 0]) | list }}",
                "=[1]",
            ),
            (
                "={{ {'a': {'x': [1]}, 'b': 1} | combine({'a': {'x': [2], 'y': 3}, 'c': 4}, recursive=true, list_merge='prepend') }}",
                "={'a': {'x': [2, 1], 'y': 3}, 'b': 1, 'c': 4}",
            ),
            (
                "={{ {'a': [1, {'b': 1}]} | combine({'a': [{'b': 1}, 2]}, list_merge='append_rp') }}",
                "={'a': [1, {'b': 1}, 2]}",
            ),
            (
                "={{ {'a': 1} | combine({'a': 1}) }}|{{ {} | combine({'a': 1}) }}|{{ {'a': 1} | combine({}) }}|{{ {'a': 1} | combine }}",
                "={'a': 1}|{'a': 1}|{'a': 1}|{'a': 1}",
            ),
            (
                "={{ [{'name': 'a', 'v': 1}] | items2dict(key_name='name', value_name='v') }}",
                "={'a': 1}",
            ),
            (
                "={{ {'u1': {'n': 'a', 'l': [1, 2]}} | subelements('l') | map('last') | list }}",
                "=[1, 2]",
            ),
            (
                "={{ [1, 2] | map('extract', {1: 'a', 2: 'b'}) | list }}|{{ ['x'] | map('extract', {'x': {'y': {'z': 1}}}, ['y', 'z']) | list }}|{{ ['x'] | map('extract', {'x': {'y': 2}}, 'y') | list }}",
                "=['a', 'b']|[1]|[2]",
            ),
            (
                "={{ 'x' | extract({'x': 1}) }}|{{ ['missing'] | map('extract', d) | select('defined') | list }}",
                "=1|[]",
            ),
        ]);
    }

    #[test]
    fn encoding_errors() {
        check_err(&[
            ("={{ 'test' | hash('nope') }}", "unsupported hash type nope"),
            ("={{ 'aGVsbG8' | b64decode }}", "b64decode: Invalid padding"),
        ]);
    }

    #[test]
    fn encoding() {
        check(&[
            (
                "={{ 'hello' | b64encode }}|{{ 'aGVsbG8=' | b64decode }}|{{ 'é' | b64encode }}|{{ 'w6k=' | b64decode }}",
                "=aGVsbG8=|hello|w6k=|é",
            ),
            (
                "={{ 'test' | hash('sha1') }}|{{ 'test' | hash('md5') }}",
                "=a94a8fe5ccb19ba61c4c0873d391e987982fbbd3|098f6bcd4621d373cade4e832627b4f6",
            ),
            (
                "={{ 'test' | hash('sha256') }}",
                "=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            ),
            (
                "={{ 'test' | hash('sha512') }}",
                "=ee26b0dd4af7e749aa1a8ee3c10ae9923f618980772e473f8819a5d4940e0db27ac185f8a0e1d5f84f88bc887fd67b143732c304cc5fa9ad8e6f57f50028a8ff",
            ),
            (
                "={{ 'test' | hash }}|{{ 'test' | checksum }}|{{ 'test' | md5 }}|{{ 'test' | sha1 }}",
                "=a94a8fe5ccb19ba61c4c0873d391e987982fbbd3|a94a8fe5ccb19ba61c4c0873d391e987982fbbd3|098f6bcd4621d373cade4e832627b4f6|a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
            ),
            ("={{ 123 | md5 }}", "=202cb962ac59075b964b07152d234b70"),
            (
                r#"={{ 'hello' | quote }}|{{ "it's" | quote }}|{{ 'a b' | quote }}|{{ '' | quote }}|{{ none | quote }}|{{ 'é' | quote }}|{{ 'a@b%c+d=e:f,g./-_' | quote }}|{{ 5 | quote }}"#,
                r#"=hello|'it'"'"'s'|'a b'|''|''|'é'|a@b%c+d=e:f,g./-_|5"#,
            ),
            (
                r#"={{ 'aGVsbG8=\n' | b64decode }}|{{ 'a b' | b64encode }}"#,
                "=hello|YSBi",
            ),
            (
                r#"={{ 'a\nb' | quote }}|{{ 'x;y' | quote }}|{{ '$HOME' | quote }}"#,
                "='a\nb'|'x;y'|'$HOME'",
            ),
            (
                "={{ 'b' | hash('sha224') }}|{{ 'b' | hash('sha384') }}",
                "=c681e18b81edaf2b66dd22376734dba5992e362bc3f91ab225854c17|98a906182cdcfb1eb4eb47117600f68958e2ddd140248b47984f4bde6587b89c8215c3da895a336e94ad1aca39015c40",
            ),
            (
                "={{ none | hash('md5') }}|{{ true | md5 }}|{{ [1] | checksum }}",
                "=6adf97f83acf6453d4a6a4b1070f3754|f827cf462f62848df37c5e1e94a4da74|f629ae44b7b3dcfed444d363e626edf411ec69a8",
            ),
            (
                "={{ none | b64encode }}|{{ 5 | b64encode }}",
                "=Tm9uZQ==|NQ==",
            ),
            (
                "={{ 'hello?>' | b64encode(urlsafe=true) }}|{{ 'aGVsbG8_Pg==' | b64decode(urlsafe=true) }}|{{ 'hello?>' | b64encode }}",
                "=aGVsbG8_Pg==|hello?>|aGVsbG8/Pg==",
            ),
            (
                "={{ 'x' | b64encode(encoding='utf-16') }}|{{ 'é€' | b64encode(encoding='utf-16-le') }}|{{ 'é€' | b64encode(encoding='utf-16-be') }}|{{ 'é' | b64encode(encoding='latin-1') }}|{{ '6QA=' | b64decode(encoding='utf-16-le') }}|{{ '//5pAA==' | b64decode(encoding='utf-16') }}|{{ '6Q==' | b64decode(encoding='latin1') }}",
                "=//54AA==|6QCsIA==|AOkgrA==|6Q==|é|i|é",
            ),
        ]);
    }

    #[test]
    fn json_errors() {
        check_err(&[("={{ '[1, 2' | from_json }}", "line 1 column")]);
    }

    #[test]
    fn json() {
        check(&[
            (
                "={{ {'a': 1, 'b': [true, none, 1.5]} | to_json }}",
                r#"={"a": 1, "b": [true, null, 1.5]}"#,
            ),
            (r#"={{ 'é<&>\'' | to_json }}"#, r#"="\u00e9<&>'""#),
            (
                "={{ {'b': 1, 'a': [1, 2], 'c': {}, 'd': []} | to_nice_json }}",
                "={\n    \"a\": [\n        1,\n        2\n    ],\n    \"b\": 1,\n    \"c\": {},\n    \"d\": []\n}",
            ),
            (
                "={{ {'b': 1, 'a': 'é'} | to_nice_json(indent=2) }}",
                "={\n  \"a\": \"\\u00e9\",\n  \"b\": 1\n}",
            ),
            (
                "={{ {'b': 1, 'a': 2} | to_json(sort_keys=true) }}",
                r#"={"a": 2, "b": 1}"#,
            ),
            (
                "={{ {'b': 1, 'a': 2} | to_json(indent=2) }}",
                "={\n  \"b\": 1,\n  \"a\": 2\n}",
            ),
            (
                "={{ {'a': 1.0, 'b': 1e20} | to_json }}",
                r#"={"a": 1.0, "b": 1e+20}"#,
            ),
            (
                r#"={{ '{"a": [1, 2], "b": null, "c": 1.5}' | from_json }}"#,
                "={'a': [1, 2], 'b': None, 'c': 1.5}",
            ),
            (r#"={{ ('{"a": 1}' | from_json).a }}"#, "=1"),
            (
                "={{ {'b': 1, 'a': 2} | to_nice_json(sort_keys=false) }}",
                "={\n    \"b\": 1,\n    \"a\": 2\n}",
            ),
            ("={{ [] | to_nice_json }}", "=[]"),
            ("={{ 'x' | to_nice_json }}", r#"="x""#),
            (
                "={{ {'a': 'é', 'b': [1, {'c': none}]} | to_json(ensure_ascii=false) }}",
                r#"={"a": "é", "b": [1, {"c": null}]}"#,
            ),
            (
                "={{ {'a': 1, 'b': [1, 2]} | to_json(separators=[',', ':']) }}",
                r#"={"a":1,"b":[1,2]}"#,
            ),
            (
                r#"={{ {'a': 'x\ny"\\'} | to_json }}|{{ [1, [2, []], {}] | to_nice_json(indent=1) }}"#,
                "={\"a\": \"x\\ny\\\"\\\\\"}|[\n 1,\n [\n  2,\n  []\n ],\n {}\n]",
            ),
            (
                "={{ {1: 'a', true: 'b', none: 'c'} | to_json }}",
                r#"={"1": "b", "null": "c"}"#,
            ),
        ]);
    }

    #[test]
    fn lists_errors() {
        check_err(&[
            ("={{ [] | max }}", "undefined value"),
            (
                "={{ users | sort('name') }}",
                "cannot convert string to bool",
            ),
        ]);
    }

    #[test]
    fn lists() {
        check(&[
            ("={{ [1, 2, 1, 'a', 'a'] | unique }}", "=[1, 2, 'a']"),
            ("={{ ['a', 'A', 'b'] | unique }}", "=['a', 'b']"),
            (
                "={{ ['a', 'A', 'b'] | unique(case_sensitive=false) }}",
                "=['a', 'b']",
            ),
            (
                "={{ users | unique(attribute='shell') | map(attribute='name') | list }}",
                "=['alice', 'bob']",
            ),
            ("={{ [[1], [1], [2]] | unique }}", "=[[1], [2]]"),
            (
                "={{ [3, 1, 2] | sort }}|{{ ['b', 'A', 'c'] | sort }}|{{ ['b', 'A', 'c'] | sort(case_sensitive=true) }}|{{ [3, 1, 2] | sort(reverse=true) }}|{{ [3, 1, 2] | sort(true) }}",
                "=[1, 2, 3]|['A', 'b', 'c']|['A', 'b', 'c']|[3, 2, 1]|[3, 2, 1]",
            ),
            (
                "={{ users | sort(attribute='uid', reverse=true) | map(attribute='name') | list }}",
                "=['bob', 'alice']",
            ),
            (
                "={{ users | sort(attribute='name') | map(attribute='uid') | list }}",
                "=[1001, 1002]",
            ),
            (
                "={{ users | map(attribute='name') | list }}|{{ [1, 2] | map('string') | list }}|{{ ['a', 'b'] | map('upper') | list }}",
                "=['alice', 'bob']|['1', '2']|['A', 'B']",
            ),
            (
                "={{ users | map(attribute='missing', default='x') | list }}",
                "=['x', 'x']",
            ),
            ("={{ ['1', '2'] | map('int') | sum }}", "=3"),
            (
                "={{ [1, 2, 3, 4] | select('odd') | list }}|{{ [1, 0, 2] | select | list }}|{{ [1, 2, 3] | reject('equalto', 2) | list }}",
                "=[1, 3]|[1, 2]|[1, 3]",
            ),
            (
                "={{ ['ab', 'cd'] | select('match', 'a') | list }}|{{ ['ab', 'cd'] | reject('search', 'd') | list }}",
                "=['ab']|['ab']",
            ),
            (
                "={{ users | selectattr('enabled', 'defined') | map(attribute='name') | list }}",
                "=['alice']",
            ),
            (
                "={{ users | selectattr('uid', 'gt', 1001) | map(attribute='name') | list }}",
                "=['bob']",
            ),
            (
                "={{ users | rejectattr('name', 'equalto', 'bob') | map(attribute='name') | list }}",
                "=['alice']",
            ),
            (
                "={{ users | selectattr('groups', 'contains', 'wheel') | map(attribute='name') | list }}",
                "=['alice']",
            ),
            (
                "={{ users | map(attribute='groups') | flatten | unique }}",
                "=['wheel', 'dev']",
            ),
            ("={{ [1, 2] | map('string') }}", "=['1', '2']"),
            (
                "={{ [1, [2, [3, [4]]]] | flatten }}|{{ [1, [2, [3, [4]]]] | flatten(levels=1) }}|{{ [1, [2, [3, [4]]]] | flatten(1) }}",
                "=[1, 2, 3, 4]|[1, 2, [3, [4]]]|[1, 2, [3, [4]]]",
            ),
            (
                "={{ [1, none, [2, 'None', [none]], ''] | flatten }}",
                "=[1, 2, '']",
            ),
            (
                "={{ [1, none, [2]] | flatten(skip_nulls=false) }}",
                "=[1, None, 2]",
            ),
            ("={{ [1, [2, [3]]] | flatten(levels=0) }}", "=[1, [2, [3]]]"),
            (
                "={{ [1, 2, 3] | difference([2]) }}|{{ [1, 2, 3] | intersect([2, 3, 4]) }}|{{ [1, 2] | union([2, 3]) }}|{{ [1, 2, 3] | symmetric_difference([2, 3, 4]) }}",
                "=[1, 3]|[2, 3]|[1, 2, 3]|[1, 4]",
            ),
            (
                "={{ [{'a': 1}, {'b': 2}] | difference([{'a': 1}]) }}",
                "=[{'b': 2}]",
            ),
            (
                "={{ [1, 2] | zip(['a', 'b']) | list }}|{{ [1, 2, 3] | zip(['a']) | list }}",
                "=[(1, 'a'), (2, 'b')]|[(1, 'a')]",
            ),
            (
                "={{ [1, 2, 3] | zip_longest(['a'], fillvalue='x') | list }}|{{ [1, 2] | zip_longest(['a']) | list }}",
                "=[(1, 'a'), (2, 'x'), (3, 'x')]|[(1, 'a'), (2, None)]",
            ),
            (
                "={{ [1, 2] | product(['a', 'b']) | list }}",
                "=[(1, 'a'), (1, 'b'), (2, 'a'), (2, 'b')]",
            ),
            (
                "={{ [1, 2] | product(repeat=2) | list }}",
                "=[(1, 1), (1, 2), (2, 1), (2, 2)]",
            ),
            (
                "={{ [3, 1, 2] | min }}|{{ [3, 1, 2] | max }}|{{ users | max(attribute='uid') }}|{{ ['b', 'A'] | min }}",
                "=1|3|{'name': 'bob', 'uid': 1002, 'groups': ['dev'], 'shell': '/bin/sh'}|A",
            ),
            (
                "={{ users | map(attribute='name') | join(', ') }}",
                "=alice, bob",
            ),
            ("={{ d | dictsort }}", "=[('a', 1), ('b', 2)]"),
            (
                "={{ users | groupby('shell') | map('first') | list }}",
                "=['/bin/bash', '/bin/sh']",
            ),
            (
                "={{ 'abc' | count }}|{{ [1, 2, 3] | max }}|{{ 'x' | pprint }}",
                "=3|3|'x'",
            ),
            (
                "={{ [1, 2, 3] | permutations(2) | list }}|{{ [1, 2, 3] | combinations(2) | list }}|{{ [1, 2] | permutations | list }}",
                "=[(1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2)]|[(1, 2), (1, 3), (2, 3)]|[(1, 2), (2, 1)]",
            ),
            (
                "={{ ' a b  c ' | split(none, 1) }}|{{ 'a,,b' | split(',') }}|{{ 'a b' | split(maxsplit=0) }}",
                "=['a', 'b  c ']|['a', '', 'b']|['a b']",
            ),
            (
                "={{ [3, 1] | sort(false, true) }}|{{ ['b', 'A'] | sort(false, true) }}|{{ ['b', 'A'] | sort(true) }}",
                "=[1, 3]|['A', 'b']|['b', 'A']",
            ),
            (
                "={{ [{'a': {'b': 1}}] | map(attribute='a.b') | list }}|{{ [{'a': [5, 6]}] | map(attribute='a.1') | list }}|{{ [{'a': {'b': 1}}] | join(',', attribute='a.b') }}",
                "=[1]|[6]|1",
            ),
            (
                "={{ [[1, 2], [3]] | flatten(levels=1) }}|{{ ['a', ['null', 'b']] | flatten }}|{{ [(1, 2), [3]] | flatten }}|{{ 'abc' | flatten }}",
                "=[1, 2, 3]|['a', 'b']|[1, 2, 3]|['a', 'b', 'c']",
            ),
            (
                "={{ [1, 2, 3] | zip([4, 5, 6], ['a', 'b', 'c']) | list }}|{{ [] | zip([1]) | list }}|{{ 'ab' | zip('cd') | list }}",
                "=[(1, 4, 'a'), (2, 5, 'b'), (3, 6, 'c')]|[]|[('a', 'c'), ('b', 'd')]",
            ),
            (
                "={{ [1] | product([2], [3]) | list }}|{{ [] | product([1]) | list }}|{{ [1, 2] | product | list }}",
                "=[(1, 2, 3)]|[]|[(1,), (2,)]",
            ),
            (
                "={{ [{'b': 1}, {'a': 1}] | unique }}|{{ [1, 1.0, true] | unique }}|{{ ['a', 'A'] | unique(case_sensitive=true) }}|{{ 'aAb' | unique | list }}",
                "=[{'b': 1}, {'a': 1}]|[1]|['a', 'A']|['a', 'b']",
            ),
            ("={{ [0, '', none, 'a'] | select | list }}", "=['a']"),
        ]);
    }

    #[test]
    fn paths_errors() {
        check_err(&[("={{ [] | path_join }}", "path_join")]);
    }

    #[test]
    fn paths() {
        check(&[
            (
                "={{ '/etc/hosts' | basename }}|{{ '/etc/' | basename }}|{{ '/etc/hosts' | dirname }}|{{ 'hosts' | dirname }}|{{ '/' | dirname }}|{{ '//a//b' | dirname }}|{{ '/a/' | dirname }}",
                "=hosts||/etc||/|//a|/a",
            ),
            (
                "={{ '/a/b.tar.gz' | splitext }}|{{ '.bashrc' | splitext }}|{{ 'a.b/c' | splitext }}|{{ ('x.txt' | splitext)[1] }}|{{ 'a..' | splitext }}",
                "=('/a/b.tar', '.gz')|('.bashrc', '')|('a.b/c', '')|.txt|('a.', '.')",
            ),
            ("={{ '/abs/x' | expanduser }}", "=/abs/x"),
            (
                "={{ ('/etc', 'x') | path_join }}|{{ ['a', '/b', 'c'] | path_join }}|{{ ['a/', 'b'] | path_join }}",
                "=/etc/x|/b/c|a/b",
            ),
            (
                "={{ '/a/b/' | basename }}|{{ 'a' | basename }}|{{ '' | dirname }}|{{ 'a/b' | dirname }}|{{ '///' | dirname }}|{{ '~' | basename }}",
                "=|a||a|///|~",
            ),
            (
                "={{ '/a.b/c.d.e' | splitext }}|{{ '...' | splitext }}|{{ '/.x.y' | splitext }}|{{ '' | splitext }}|{{ 'a.' | splitext }}",
                "=('/a.b/c.d', '.e')|('...', '')|('/.x', '.y')|('', '')|('a', '.')",
            ),
            (
                "={{ 'x' | path_join }}|{{ ['', 'a'] | path_join }}|{{ ['a', ''] | path_join }}|{{ ['/'] | path_join }}",
                "=x|a|a/|/",
            ),
        ]);
    }

    #[test]
    fn printing_errors() {
        check_err(&[
            ("={{ [] | first }}", "undefined value"),
            ("<{{ 'x' | comment('nope') }}>", "Invalid style 'nope'."),
        ]);
    }

    #[test]
    fn printing() {
        check(&[
            ("={{ [1, 'a', true, none] }}", "=[1, 'a', True, None]"),
            (
                "={{ {'k': 'v', 'n': [1.5, false]} }}",
                "={'k': 'v', 'n': [1.5, False]}",
            ),
            ("={{ true }}|{{ false }}|{{ none }}", "=True|False|"),
            (
                "={{ 1.0 }}|{{ 2.50 }}|{{ 1e20 }}|{{ 0.00001 }}|{{ 1e16 }}|{{ 123456789012345.0 }}|{{ 0.1 + 0.2 }}",
                "=1.0|2.5|1e+20|1e-05|1e+16|123456789012345.0|0.30000000000000004",
            ),
            (
                r#"={{ ["it's", 'say "hi"', 'both \'"', 'tab\there', 'nl\n', 'back\\slash', 'é', '\x01'] }}"#,
                r#"=["it's", 'say "hi"', 'both \'"', 'tab\there', 'nl\n', 'back\\slash', 'é', '\x01']"#,
            ),
            (
                "={{ users[1] }}",
                "={'name': 'bob', 'uid': 1002, 'groups': ['dev'], 'shell': '/bin/sh'}",
            ),
            ("={{ d }}", "={'b': 2, 'a': 1}"),
            ("={{ [] }}{{ {} }}", "=[]{}"),
            ("={{ n }}{{ s }}", "=42Hello World"),
            (
                "={{ 10 / 4 }}|{{ 10 // 4 }}|{{ 2 ** 10 }}|{{ 7 % 3 }}|{{ 4 / 2 }}",
                "=2.5|2|1024|1|2.0",
            ),
            (
                "={{ [1, 2] | length }}|{{ 'abc' | length }}|{{ d | length }}|{{ 'abc' | first }}|{{ [1, 2] | last }}|{{ 'abc' | last }}",
                "=2|3|2|a|2|c",
            ),
            (
                "={{ d.keys() | list }}|{{ d.values() | list }}|{{ d.items() | list }}",
                "=['b', 'a']|[2, 1]|[('b', 2), ('a', 1)]",
            ),
            (
                "={{ [1, 2] + [3] }}|{{ 'a' ~ 1 ~ none ~ true }}|{{ 'a' + 'b' }}",
                "=[1, 2, 3]|a1NoneTrue|ab",
            ),
            (
                "={{ {'a': 1}.get('a') }}|{{ {'a': 1}.get('b', 'z') }}|{{ {'a': 1}.get('b') }}",
                "=1|z|",
            ),
            (
                "={{ [1, 2, 3][1:] }}|{{ 'hello'[::-1] }}|{{ [1, [2, 3]] }}",
                "=[2, 3]|olleh|[1, [2, 3]]",
            ),
            ("={{ d | items | list }}", "=[('b', 2), ('a', 1)]"),
            ("={{ 'a' in ['a'] }}|{{ 'x' not in 'abc' }}", "=True|True"),
            (
                "={{ [1, 2] | sum }}|{{ [1.5, 2] | sum }}|{{ [3, 1] | reverse | list }}|{{ 'abc' | reverse }}",
                "=3|3.5|[1, 3]|cba",
            ),
            (
                "={{ 'a&b' | e }}|{{ '<x>' | escape }}|{{ 'a b' | urlencode }}",
                "=a&amp;b|&lt;x&gt;|a%20b",
            ),
            (
                "={{ [1, 2, 3] | batch(2) | list }}|{{ [1, 2, 3] | slice(2) | list }}",
                "=[[1, 2], [3]]|[[1, 2], [3]]",
            ),
            (
                "={{ (1, 2) }}|{{ (1,) }}|{{ () }}|{{ [(1, 'a')] }}|{{ {'k': (1, 2)} }}",
                "=(1, 2)|(1,)|()|[(1, 'a')]|{'k': (1, 2)}",
            ),
            (
                "={{ 1.5e300 * 1e10 }}|{{ -0.0 }}|{{ 1e-7 }}|{{ 12345678.9 }}|{{ 1/3 }}|{{ 2e-5 * 3 }}",
                "=inf|-0.0|1e-07|12345678.9|0.3333333333333333|6.000000000000001e-05",
            ),
            (
                "={{ 'x' ~ [1] ~ {'a': none} ~ 1.0 ~ false }}",
                "=x[1]{'a': None}1.0False",
            ),
            (
                "={{ d.get('a') }}|{{ d['b'] }}|{{ users[0].groups[1] }}",
                "=1|2|dev",
            ),
            ("<{{ 'hello' | comment }}>", "<#\n# hello\n#>"),
            (r#"<{{ 'a\nb' | comment }}>"#, "<#\n# a\n# b\n#>"),
            (
                r#"<{{ 'a\n\nb' | comment('c') }}>"#,
                "<//\n// a\n//\n// b\n//>",
            ),
            (
                r#"<{{ 'a\nb' | comment('cblock') }}>"#,
                "</*\n *\n * a\n * b\n *\n */>",
            ),
            (
                r#"<{{ 'a\nb' | comment('xml') }}>"#,
                "<<!--\n -\n - a\n - b\n -\n-->>",
            ),
            (
                "<{{ 'a' | comment('erlang') }}>|<{{ 'a' | comment(decoration='; ') }}>|<{{ 'a' | comment(prefix='', postfix='') }}>",
                "<%\n% a\n%>|<;\n; a\n;>|<# a\n>",
            ),
            (
                "<{{ 'a' | comment(prefix_count=2, postfix_count=0) }}>|<{{ 'a' | comment('plain', beginning='BEGIN', end='END') }}>",
                "<#\n#\n# a>|<BEGIN\n#\n# a\n#\nEND>",
            ),
            (
                r#"<{{ '' | comment }}>|<{{ 'a\n' | comment }}>|<{{ 'a' | comment(newline='\r\n') }}>|<{{ 'a' | comment('cblock', prefix='P', postfix='Q') }}>"#,
                "<#\n# \n#>|<#\n# a\n# \n#>|<#\u{d}\n# a\u{d}\n#>|</*\nP\n * a\nQ\n */>",
            ),
            (
                r#"<{{ 'a  \n  b' | comment('xml', decoration='  ') }}>|<{{ 'x' | comment(bogus=1) }}>"#,
                "<<!--\n  a\n    b\n\n-->>|<#\n# x\n#>",
            ),
            (
                r#"<{{ 'a\n\n\nb' | comment(decoration='') }}>|<{{ 'a \n\t\nb' | comment }}>|<{{ 'a\n\n' | comment }}>|<{{ 'a' | comment(prefix_count=0, postfix_count=2) }}>"#,
                "<a\n\n\nb\n>|<#\n# a \n# \t\n# b\n#>|<#\n# a\n#\n# \n#>|<# a\n#\n#>",
            ),
            (
                r#"<{{ 'a' | comment('cblock', end='') }}>|<{{ 'a\nb' | comment(newline='X') }}>"#,
                "</*\n *\n * a\n *>|<#X# a\nbX#>",
            ),
        ]);
    }

    #[test]
    fn regex_errors() {
        check_err(&[
            (
                r#"={{ 'ab' | regex_search('(a)(b)', '\\g<2>', '\\1') }}"#,
                "no such group",
            ),
            (
                "={{ 'hello' | regex_replace('l', 'L', mandatory_count=3) }}",
                "'l' should match 3 times, but matches",
            ),
            (
                "={{ 'ab' | regex_search('a', 'bogus') }}",
                "Unknown argument",
            ),
            (
                "={{ 'x' | regex_escape('bogus') }}",
                "Invalid regex type (bogus)",
            ),
        ]);
    }

    #[test]
    fn regex() {
        check(&[
            (
                r#"={{ 'hello world' | regex_replace('(\\w+) (\\w+)', '\\2 \\1') }}"#,
                "=world hello",
            ),
            (
                r#"={{ 'ansible' | regex_replace('^a.*i(.*)$', 'a\\1') }}"#,
                "=able",
            ),
            (
                r#"={{ 'foobar' | regex_replace('^f.*o(.*)$', '\\1') }}"#,
                "=bar",
            ),
            (
                r#"={{ 'localhost:80' | regex_replace('^(?P<host>.+):(?P<port>\\d+)$', '\\g<host>, \\g<port>') }}"#,
                "=localhost, 80",
            ),
            (
                "={{ 'ABC' | regex_replace('b', 'x', ignorecase=true) }}",
                "=AxC",
            ),
            (
                r#"={{ 'a\nb' | regex_replace('^', '# ', multiline=true) }}"#,
                "=# a\n# b",
            ),
            (r#"={{ 'a\nb' | regex_replace('^', '# ') }}"#, "=# a\nb"),
            ("={{ 'aaa' | regex_replace('a', 'b', count=2) }}", "=bba"),
            ("={{ 'cost' | regex_replace('c', '$1') }}", "=$1ost"),
            ("={{ 'abc' | regex_replace('b') }}", "=ac"),
            ("={{ 123 | regex_replace('2', 'x') }}", "=1x3"),
            (
                r#"={{ 'x.y.z' | regex_replace('\\.', '\\\\') }}"#,
                r#"=x\y\z"#,
            ),
            ("={{ 'abxd' | regex_replace('x*', '-') }}", "=-a-b--d-"),
            (
                "={{ 'server1/database42' | regex_search('database[0-9]+') }}",
                "=database42",
            ),
            ("={{ 'foo' | regex_search('bar') }}", "="),
            (
                r#"={{ 'server1/database42' | regex_search('server([0-9]+)/database([0-9]+)', '\\1', '\\2') }}"#,
                "=['1', '42']",
            ),
            (
                r#"={{ 'ab' | regex_search('(?P<x>a)', '\\g<x>') }}"#,
                "=['a']",
            ),
            ("={{ 'ABC' | regex_search('b', ignorecase=true) }}", "=B"),
            (
                r#"={{ 'a\nb' | regex_search('^b', multiline=true) }}"#,
                "=b",
            ),
            (r#"={{ 'a\nb' | regex_search('^b') }}"#, "="),
            (r#"={{ 'foo' | regex_search('(b)ar', '\\1') }}"#, "="),
            ("={{ 'abc' | regex_search('x?') }}", "="),
            (
                r#"={{ 'Some DNS servers are 8.8.8.8 and 8.8.4.4' | regex_findall('\\b(?:[0-9]{1,3}\\.){3}[0-9]{1,3}\\b') }}"#,
                "=['8.8.8.8', '8.8.4.4']",
            ),
            (
                "={{ 'a1b2' | regex_findall('([a-z])([0-9])') }}",
                "=[('a', '1'), ('b', '2')]",
            ),
            (
                "={{ 'a1b2' | regex_findall('[a-z]([0-9])') }}",
                "=['1', '2']",
            ),
            (
                "={{ 'ABab' | regex_findall('a', ignorecase=true) }}",
                "=['A', 'a']",
            ),
            (
                r#"={{ 'a\nb' | regex_findall('^.', multiline=true) }}"#,
                "=['a', 'b']",
            ),
            ("={{ 'abc' | regex_findall('x') }}", "=[]"),
            (
                "={{ '^f.*o(.*)$' | regex_escape }}",
                r#"=\^f\.\*o\(\.\*\)\$"#,
            ),
            (
                "={{ 'a b-c#d&e~f_g:h/i' | regex_escape }}",
                r#"=a\ b\-c\#d\&e\~f_g:h/i"#,
            ),
            (
                "={{ '^f.*o(.*)$' | regex_escape('posix_basic') }}",
                r#"=\^f\.\*o(\.\*)\$"#,
            ),
            (
                "={{ '^f.*o(a|b+){2}?$' | regex_escape('posix_extended') }}",
                r#"=\^f\.\*o\(a\|b\+\)\{2\}\?\$"#,
            ),
            (
                "={{ 'hello' | regex_replace('l', 'L', mandatory_count=2) }}",
                "=heLLo",
            ),
            (
                "={{ 'aXbXc' | regex_replace('x', '-', ignorecase=true, count=1) }}",
                "=a-bXc",
            ),
            (
                "={{ 'abc' | regex_findall('(a)|(z)') }}|{{ 'abab' | regex_findall('') }}",
                "=[('a', '')]|['', '', '', '', '']",
            ),
            (
                r#"={{ 'ab' | regex_search('(a)(x)?', '\\1', '\\2') }}"#,
                "=['a', None]",
            ),
            (
                r#"={{ 'key=val' | regex_search('(?P<k>\\w+)=(?P<v>\\w+)', '\\g<v>', '\\g<k>') }}"#,
                "=['val', 'key']",
            ),
            (
                r#"={{ 'é' | regex_escape }}|{{ '\t\n' | regex_escape }}"#,
                "=é|\\\t\\\n",
            ),
            (
                "={{ 'a' | type_debug }}|{{ (1, 2) | type_debug }}|{{ ('a.b' | splitext) | type_debug }}|{{ [1] | map('string') | type_debug }}|{{ 'ab' | regex_findall('(a)(b)') | first | type_debug }}",
                "=str|tuple|tuple|list|tuple",
            ),
            (
                "={{ [1, 2] | map('ternary', 'y', 'n') | list }}|{{ ['a=1'] | map('regex_replace', '=', ':') | list }}|{{ ['x', 'yy'] | map('length') | list }}",
                "=['y', 'y']|['a:1']|[1, 2]",
            ),
        ]);
    }

    #[test]
    fn text_errors() {
        check_err(&[(
            "={{ none | join(',') }}",
            "'NoneType' object is not iterable",
        )]);
    }

    #[test]
    fn text() {
        check(&[
            (
                "={{ 'AbC' | lower }}|{{ 'AbC' | upper }}|{{ 5 | upper }}|{{ true | lower }}|{{ none | upper }}|{{ [1, 'a'] | upper }}",
                "=abc|ABC|5|true|NONE|[1, 'A']",
            ),
            (
                "={{ 'aaa' | replace('a', 'b') }}|{{ 'aaa' | replace('a', 'b', 2) }}|{{ 123 | replace('2', 'x') }}",
                "=bbb|bba|1x3",
            ),
            (
                "={{ [1, 2] | join(',') }}|{{ ['a', 'b'] | join }}|{{ [[1], ['x']] | join(' ') }}|{{ [true, none, 1.5] | join(',') }}",
                "=1,2|ab|[1] ['x']|True,None,1.5",
            ),
            ("={{ users | join(',', attribute='name') }}", "=alice,bob"),
            ("={{ 'abc' | join('-') }}", "=a-b-c"),
            (
                "={{ 'a,b,c' | split(',') }}|{{ 'a b  c' | split }}|{{ 'a,b,c' | split(',', 1) }}|{{ ('a,b' | split(','))[1] }}",
                "=['a', 'b', 'c']|['a', 'b', 'c']|['a', 'b,c']|b",
            ),
            ("={{ (users | first).groups | join(',') }}", "=wheel,dev"),
            (r#"={{ "%s-%s" | format('a', 1) }}"#, "=a-1"),
            (r#"={{ "%s" | format([1, 'a']) }}"#, "=[1, 'a']"),
            (
                "={{ s.split(' ') }}|{{ s.upper() }}|{{ s.startswith('He') }}|{{ s.replace('l', 'L') }}|{{ s.lower() }}",
                "=['Hello', 'World']|HELLO WORLD|True|HeLLo WorLd|hello world",
            ),
            (
                "={{ 'abc' | replace('', '-') }}|{{ 'aaa' | replace('a', 'bb', 0) }}|{{ 'aaa' | replace('a', 'b', -1) }}",
                "=-a-b-c-|aaa|bbb",
            ),
            (
                "={{ 'Hello' | lower | upper }}|{{ 'ß' | upper }}",
                "=HELLO|SS",
            ),
            ("={{ {'a': 1, 'b': 2} | join(',') }}", "=a,b"),
            (
                "={{ [1, 'a', none, true] | join('-') }}|{{ [1.0, 2.5] | join(' ') }}|{{ [{'a': 1}] | join }}",
                "=1-a-None-True|1.0 2.5|{'a': 1}",
            ),
            (
                r#"={{ "%s|%d|%r|%.2f" | format(none, 3, 'x', 1.5) }}|{{ "%s %s" | format(true, {'a': 1}) }}|{{ "%d%%|%5s|%-3s|%x" | format(true, [1], 2, 255) }}|{{ "%*d" | format(4, 7) }}|{{ "%s" | format(1.0) }}"#,
                "=None|3|'x'|1.50|True {'a': 1}|1%|  [1]|2  |ff|   7|1.0",
            ),
        ]);
    }

    #[test]
    fn yaml_errors() {
        check_err(&[(
            "={{ '[1, 2' | from_yaml }}",
            "while parsing a flow sequence",
        )]);
    }

    #[test]
    fn yaml() {
        check(&[
            (
                "={{ {'a': 1, 'b': [1, 2]} | to_yaml }}",
                "=a: 1\nb: [1, 2]\n",
            ),
            (
                "={{ {'a': 1, 'b': [1, 2]} | to_nice_yaml }}",
                "=a: 1\nb:\n- 1\n- 2\n",
            ),
            (
                "={{ {'a': {'b': [1, 2]}} | to_nice_yaml(indent=2) }}",
                "=a:\n  b:\n  - 1\n  - 2\n",
            ),
            (
                r#"={{ 'a: 1\nb: [x, yes]' | from_yaml }}"#,
                "={'a': 1, 'b': ['x', True]}",
            ),
            ("={{ ('a: 1' | from_yaml).a + 1 }}", "=2"),
            (
                "={{ {'a': [1, 2], 'b': {'c': 'd'}} | to_yaml(default_flow_style=false) }}",
                "=a:\n- 1\n- 2\nb:\n  c: d\n",
            ),
            (
                "={{ {'a': [1, 2], 'b': {'c': 'd'}} | to_yaml(width=1000) }}",
                "=a: [1, 2]\nb: {c: d}\n",
            ),
            (
                "={{ {'a': [1, 2], 'b': {'c': 'd'}} | to_nice_yaml(width=1000, indent=2) }}",
                "=a:\n- 1\n- 2\nb:\n  c: d\n",
            ),
            ("={{ {'a': [1, 2]} | to_nice_yaml(2) }}", "=a:\n- 1\n- 2\n"),
            (
                "={{ [{'name': 'x', 'v': [1, 2.5, true, none]}, 'yes', '123', 'a: b', ''] | to_yaml }}",
                "=- name: x\n  v: [1, 2.5, true, null]\n- 'yes'\n- '123'\n- 'a: b'\n- ''\n",
            ),
            (
                "={{ users | to_nice_yaml }}",
                "=-   enabled: true\n    groups:\n    - wheel\n    - dev\n    name: alice\n    shell: /bin/bash\n    uid: 1001\n-   groups:\n    - dev\n    name: bob\n    shell: /bin/sh\n    uid: 1002\n",
            ),
            (
                r#"={{ {'t': (1, 2), 'u': 'é', 'm': 'a\nb'} | to_nice_yaml(indent=2) }}"#,
                "=m: 'a\n\n  b'\nt:\n- 1\n- 2\nu: é\n",
            ),
            (
                "={{ 'x' | to_yaml }}|{{ 5 | to_yaml }}|{{ none | to_yaml }}",
                "=x\n|5\n|null\n",
            ),
            (
                r#"={{ '- 1\n- {a: 0644, b: 0x1f, c: ~, d: 1:30}' | from_yaml }}"#,
                "=[1, {'a': 420, 'b': 31, 'c': None, 'd': 90}]",
            ),
            ("={{ 5 | from_yaml }}|{{ [1] | from_yaml }}", "=5|[1]"),
        ]);
    }
}
