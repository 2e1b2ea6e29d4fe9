//! Ansible's Jinja tests (`is match`, `is version`, `is failed`, ...).
//!
//! minijinja already provides `defined`, `undefined`, `none`, `string`,
//! `number`, `mapping`, `iterable`, `boolean`, `integer`, `float`, `in`
//! and the comparison tests with Jinja's semantics; [`register`] adds
//! Ansible's tests and replaces `sequence`, which in Jinja is also true
//! for strings and mappings.

use std::cmp::Ordering;
use std::path::Path;

use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, UndefinedBehavior};

use super::filters::{bind, compile};
use super::pyrepr::python_str;

/// Adds Ansible's tests to `env`.
pub fn register(env: &mut Environment<'static>) {
    register_text(env);
    register_sets(env);
    register_results(env);
    register_paths(env);
}

fn register_text(env: &mut Environment<'static>) {
    env.add_test("match", is_match);
    env.add_test("search", is_search);
    env.add_test("regex", is_regex);
    env.add_test("version", is_version);
    env.add_test("version_compare", is_version);
    env.add_test("truthy", is_truthy);
    env.add_test("falsy", is_falsy);
    env.add_test("sequence", is_sequence);
    env.add_test("nan", is_nan);
    env.add_test("isnan", is_nan);
}

fn register_sets(env: &mut Environment<'static>) {
    env.add_test("contains", contains);
    env.add_test("subset", is_subset);
    env.add_test("issubset", is_subset);
    env.add_test("superset", is_superset);
    env.add_test("issuperset", is_superset);
    env.add_test("any", is_any);
    env.add_test("all", is_all);
}

fn register_results(env: &mut Environment<'static>) {
    env.add_test("failed", is_failed);
    env.add_test("failure", is_failed);
    env.add_test("succeeded", is_succeeded);
    env.add_test("success", is_succeeded);
    env.add_test("successful", is_succeeded);
    env.add_test("changed", is_changed);
    env.add_test("change", is_changed);
    env.add_test("skipped", is_skipped);
    env.add_test("skip", is_skipped);
    env.add_test("unreachable", is_unreachable);
    env.add_test("reachable", is_reachable);
}

fn register_paths(env: &mut Environment<'static>) {
    env.add_test("abs", is_abs);
    env.add_test("is_abs", is_abs);
    env.add_test("exists", exists);
    env.add_test("file", is_file);
    env.add_test("is_file", is_file);
    env.add_test("directory", is_dir);
    env.add_test("is_dir", is_dir);
    env.add_test("link", is_link);
    env.add_test("is_link", is_link);
    env.add_test("link_exists", link_exists);
}

fn fail(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Python's `str()` of a test subject; undefined fails in strict mode.
fn text(state: &State, value: &Value) -> Result<String, Error> {
    let strict = matches!(
        state.undefined_behavior(),
        UndefinedBehavior::Strict | UndefinedBehavior::SemiStrict
    );
    if value.is_undefined() {
        if strict {
            return Err(Error::new(
                ErrorKind::UndefinedError,
                "the test was given an undefined value",
            ));
        }
        return Ok(String::new());
    }
    Ok(python_str(value))
}

// ---------------------------------------------------------------------------
// Regular expressions

#[derive(Clone, Copy)]
enum MatchType {
    Match,
    Search,
    FullMatch,
}

/// Ansible's regex tests: `re.match`, `re.search` or `re.fullmatch` with
/// `(pattern, ignorecase=False, multiline=False[, match_type])`.
fn regex_test(
    state: &State,
    func: &str,
    value: &Value,
    args: &[Value],
    kwargs: &Kwargs,
    default: MatchType,
) -> Result<bool, Error> {
    let mut names = vec!["pattern", "ignorecase", "multiline"];
    if func == "regex" {
        names.push("match_type");
    }
    let a = bind(func, &names, args, kwargs)?;
    let pattern = a[0]
        .as_ref()
        .map(|p| text(state, p))
        .transpose()?
        .unwrap_or_default();
    let flag = |i: usize| a[i].as_ref().is_some_and(Value::is_true);
    let match_type = match a.get(3).and_then(|m| m.as_ref()).map(python_str).as_deref() {
        None => default,
        Some("match") => MatchType::Match,
        Some("search") => MatchType::Search,
        Some("fullmatch") => MatchType::FullMatch,
        Some(other) => return Err(fail(format!("Invalid match_type ({other})"))),
    };
    // Wrapping is valid in both syntaxes and keeps group numbers.
    let anchored = match match_type {
        MatchType::Match => format!(r"\A(?:{pattern})"),
        MatchType::Search => pattern.clone(),
        MatchType::FullMatch => format!(r"\A(?:{pattern})\Z"),
    };
    // Report an error against the pattern as written, not the wrapped one.
    compile(&pattern, flag(1), flag(2))?;
    let re = compile(&anchored, flag(1), flag(2))?;
    Ok(re.is_match(&text(state, value)?))
}

fn is_match(state: &State, value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<bool, Error> {
    regex_test(state, "match", &value, &args, &kwargs, MatchType::Match)
}

fn is_search(
    state: &State,
    value: Value,
    args: Rest<Value>,
    kwargs: Kwargs,
) -> Result<bool, Error> {
    regex_test(state, "search", &value, &args, &kwargs, MatchType::Search)
}

fn is_regex(state: &State, value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<bool, Error> {
    regex_test(state, "regex", &value, &args, &kwargs, MatchType::Search)
}

// ---------------------------------------------------------------------------
// Truthiness

/// Ansible's strict `boolean()`, used by `truthy(convert_bool=True)`;
/// `None` when the value is not a recognised boolean.
fn module_boolean(value: &Value) -> Option<bool> {
    match value.kind() {
        ValueKind::Bool => Some(value.is_true()),
        ValueKind::String => match value.as_str()?.to_lowercase().as_str() {
            "y" | "yes" | "on" | "1" | "true" | "t" => Some(true),
            "n" | "no" | "off" | "0" | "false" | "f" => Some(false),
            _ => None,
        },
        ValueKind::Number => match f64::try_from(value.clone()).ok()? {
            1.0 => Some(true),
            0.0 => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// `truthy(convert_bool=False)`: Python truthiness, or Ansible's boolean
/// parsing first when `convert_bool` is set.
fn truth(value: &Value, args: &[Value], kwargs: &Kwargs) -> Result<bool, Error> {
    let a = bind("truthy", &["convert_bool"], args, kwargs)?;
    let converted = a[0]
        .as_ref()
        .filter(|c| c.is_true())
        .and_then(|_| module_boolean(value));
    Ok(converted.unwrap_or_else(|| value.is_true()))
}

fn is_truthy(value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<bool, Error> {
    truth(&value, &args, &kwargs)
}

fn is_falsy(value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<bool, Error> {
    truth(&value, &args, &kwargs).map(|t| !t)
}

/// Jinja's `sequence`: anything with a length and item access, strings included.
fn is_sequence(value: Value) -> bool {
    matches!(
        value.kind(),
        ValueKind::String | ValueKind::Bytes | ValueKind::Seq | ValueKind::Map
    )
}

fn is_nan(value: Value) -> bool {
    value.kind() == ValueKind::Number && f64::try_from(value).is_ok_and(f64::is_nan)
}

// ---------------------------------------------------------------------------
// Membership

fn items(value: &Value) -> Result<Vec<Value>, Error> {
    if value.is_undefined() || value.is_none() {
        return Ok(Vec::new());
    }
    value.try_iter().map(Iterator::collect)
}

/// `contains(item)`: Python's `item in seq`.
fn contains(state: &State, seq: Value, item: Value) -> Result<bool, Error> {
    if let Some(s) = seq.as_str() {
        return Ok(s.contains(&text(state, &item)?));
    }
    if seq.kind() == ValueKind::Map {
        return Ok(!seq.get_item(&item)?.is_undefined());
    }
    Ok(items(&seq)?.contains(&item))
}

fn is_subset(a: Value, b: Value) -> Result<bool, Error> {
    let (a, b) = (items(&a)?, items(&b)?);
    Ok(a.iter().all(|x| b.contains(x)))
}

fn is_superset(a: Value, b: Value) -> Result<bool, Error> {
    is_subset(b, a)
}

fn is_any(value: Value) -> Result<bool, Error> {
    Ok(items(&value)?.iter().any(Value::is_true))
}

fn is_all(value: Value) -> Result<bool, Error> {
    Ok(items(&value)?.iter().all(Value::is_true))
}

// ---------------------------------------------------------------------------
// Task results

fn result_key(result: &Value, test: &str, key: &str) -> Result<Value, Error> {
    if result.kind() != ValueKind::Map {
        return Err(fail(format!("The '{test}' test expects a dictionary")));
    }
    result.get_item(&Value::from(key))
}

fn is_failed(result: Value) -> Result<bool, Error> {
    Ok(result_key(&result, "failed", "failed")?.is_true())
}

fn is_succeeded(result: Value) -> Result<bool, Error> {
    Ok(!result_key(&result, "succeeded", "failed")?.is_true())
}

/// `changed`: the result's flag, or for a loop result any item's flag.
fn is_changed(result: Value) -> Result<bool, Error> {
    let changed = result_key(&result, "changed", "changed")?;
    if !changed.is_undefined() {
        return Ok(changed.is_true());
    }
    let results = result.get_item(&Value::from("results"))?;
    if results.kind() != ValueKind::Seq {
        return Ok(false);
    }
    Ok(items(&results)?.iter().any(|r| {
        r.get_item(&Value::from("changed"))
            .is_ok_and(|c| c.is_true())
    }))
}

fn is_skipped(result: Value) -> Result<bool, Error> {
    Ok(result_key(&result, "skipped", "skipped")?.is_true())
}

fn is_unreachable(result: Value) -> Result<bool, Error> {
    Ok(result_key(&result, "unreachable", "unreachable")?.is_true())
}

fn is_reachable(result: Value) -> Result<bool, Error> {
    Ok(!result_key(&result, "reachable", "unreachable")?.is_true())
}

// ---------------------------------------------------------------------------
// Paths on the controller

fn is_abs(state: &State, path: Value) -> Result<bool, Error> {
    Ok(text(state, &path)?.starts_with('/'))
}

fn exists(state: &State, path: Value) -> Result<bool, Error> {
    Ok(Path::new(&text(state, &path)?).exists())
}

fn is_file(state: &State, path: Value) -> Result<bool, Error> {
    Ok(Path::new(&text(state, &path)?).is_file())
}

fn is_dir(state: &State, path: Value) -> Result<bool, Error> {
    Ok(Path::new(&text(state, &path)?).is_dir())
}

fn is_link(state: &State, path: Value) -> Result<bool, Error> {
    Ok(Path::new(&text(state, &path)?).is_symlink())
}

fn link_exists(state: &State, path: Value) -> Result<bool, Error> {
    Ok(std::fs::symlink_metadata(text(state, &path)?).is_ok())
}

// ---------------------------------------------------------------------------
// Versions

/// Compares two version strings the way Ansible's `version` test does.
/// `version_type` is `loose` (default), `strict`, `semver`/`semantic`.
pub fn compare_versions(a: &str, b: &str, version_type: &str) -> Result<Ordering, String> {
    match version_type {
        "loose" => loose_cmp(&loose_parts(a), &loose_parts(b)),
        "strict" => Ok(strict_version(a)?.cmp(&strict_version(b)?)),
        "semver" | "semantic" => Ok(semver_cmp(&semver(a)?, &semver(b)?)),
        "pep440" => Err("pep440 versions are not supported".into()),
        other => Err(format!(
            "Invalid version type ({other}). Must be one of loose, pep440, semantic, semver, strict"
        )),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Part {
    Num(u128),
    Text(String),
}

/// LooseVersion: runs of digits and of lowercase letters, and the text
/// between them; dots separate and are dropped.
fn loose_parts(v: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut other = String::new();
    let mut chars = v.chars().peekable();
    let flush = |other: &mut String, parts: &mut Vec<Part>| {
        if !other.is_empty() {
            parts.push(loose_part(std::mem::take(other)));
        }
    };
    while let Some(&c) = chars.peek() {
        let class = |ch: char| {
            if ch.is_ascii_digit() {
                1
            } else if ch.is_ascii_lowercase() {
                2
            } else {
                0
            }
        };
        if c == '.' {
            flush(&mut other, &mut parts);
            chars.next();
        } else if class(c) == 0 {
            other.push(c);
            chars.next();
        } else {
            flush(&mut other, &mut parts);
            let mut run = String::new();
            while let Some(&d) = chars.peek().filter(|&&d| class(d) == class(c)) {
                run.push(d);
                chars.next();
            }
            parts.push(loose_part(run));
        }
    }
    flush(&mut other, &mut parts);
    parts
}

fn loose_part(s: String) -> Part {
    match s.trim().parse() {
        Ok(n) => Part::Num(n),
        Err(_) => Part::Text(s),
    }
}

/// Python list comparison, which cannot order a number against a string.
fn loose_cmp(a: &[Part], b: &[Part]) -> Result<Ordering, String> {
    for (x, y) in a.iter().zip(b) {
        let ord = match (x, y) {
            (Part::Num(x), Part::Num(y)) => x.cmp(y),
            (Part::Text(x), Part::Text(y)) => x.cmp(y),
            (Part::Text(_), Part::Num(_)) => {
                return Err("'<' not supported between instances of 'str' and 'int'".into());
            }
            (Part::Num(_), Part::Text(_)) => {
                return Err("'<' not supported between instances of 'int' and 'str'".into());
            }
        };
        if ord != Ordering::Equal {
            return Ok(ord);
        }
    }
    Ok(a.len().cmp(&b.len()))
}

/// StrictVersion `N.N[.N][{a|b}N]`: a release sorts after its pre-releases.
/// Release numbers, then a rank that puts pre-releases first.
type StrictVersion = ([u64; 3], (u8, char, u64));

fn strict_version(v: &str) -> Result<StrictVersion, String> {
    let invalid = || format!("invalid version number '{v}'");
    let (release, pre) = match v.find(['a', 'b']) {
        Some(i) => (&v[..i], Some(&v[i..])),
        None => (v, None),
    };
    let nums: Vec<&str> = release.split('.').collect();
    if !(2..=3).contains(&nums.len()) {
        return Err(invalid());
    }
    let mut out = [0u64; 3];
    for (slot, n) in out.iter_mut().zip(&nums) {
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        *slot = n.parse().map_err(|_| invalid())?;
    }
    let pre = match pre {
        Some(p) => {
            let (tag, num) = p.split_at(1);
            if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            Some((
                tag.chars().next().unwrap_or('a'),
                num.parse().map_err(|_| invalid())?,
            ))
        }
        None => None,
    };
    // A release sorts after its pre-releases: rank it above any tag.
    let rank = pre.map_or((1, 'z', 0), |(tag, num)| (0, tag, num));
    Ok((out, rank))
}

struct SemVer {
    core: [u64; 3],
    pre: Vec<String>,
}

fn valid_ident(s: &str, numeric_leading_zero_ok: bool) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && (numeric_leading_zero_ok
            || !(s.len() > 1 && s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit())))
}

/// Semantic Versioning 2.0.0; build metadata is ignored when comparing.
fn semver(v: &str) -> Result<SemVer, String> {
    let invalid = || format!("invalid semantic version '{v}'");
    let (rest, build) = v.split_once('+').map_or((v, None), |(r, b)| (r, Some(b)));
    if build.is_some_and(|b| !b.split('.').all(|i| valid_ident(i, true))) {
        return Err(invalid());
    }
    let (core, pre) = rest
        .split_once('-')
        .map_or((rest, None), |(c, p)| (c, Some(p)));
    let nums: Vec<&str> = core.split('.').collect();
    if nums.len() != 3 {
        return Err(invalid());
    }
    let mut out = [0u64; 3];
    for (slot, n) in out.iter_mut().zip(&nums) {
        let digits = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
        if !digits || (n.len() > 1 && n.starts_with('0')) {
            return Err(invalid());
        }
        *slot = n.parse().map_err(|_| invalid())?;
    }
    let pre: Vec<String> = match pre {
        Some(p) => p.split('.').map(String::from).collect(),
        None => Vec::new(),
    };
    if !pre.iter().all(|i| valid_ident(i, false)) {
        return Err(invalid());
    }
    Ok(SemVer { core: out, pre })
}

fn semver_cmp(a: &SemVer, b: &SemVer) -> Ordering {
    a.core
        .cmp(&b.core)
        .then_with(|| match (a.pre.is_empty(), b.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                for (x, y) in a.pre.iter().zip(&b.pre) {
                    let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
                        (Ok(x), Ok(y)) => x.cmp(&y),
                        (Ok(_), Err(_)) => Ordering::Less,
                        (Err(_), Ok(_)) => Ordering::Greater,
                        (Err(_), Err(_)) => x.cmp(y),
                    };
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
                a.pre.len().cmp(&b.pre.len())
            }
        })
}

fn operator_holds(op: &str, ord: Ordering) -> Option<bool> {
    Some(match op {
        "==" | "=" | "eq" => ord == Ordering::Equal,
        "<" | "lt" => ord == Ordering::Less,
        "<=" | "le" => ord != Ordering::Greater,
        ">" | "gt" => ord == Ordering::Greater,
        ">=" | "ge" => ord != Ordering::Less,
        "!=" | "<>" | "ne" => ord != Ordering::Equal,
        _ => return None,
    })
}

/// `version(version, operator='eq', strict=None, version_type=None)`.
fn is_version(
    state: &State,
    value: Value,
    args: Rest<Value>,
    kwargs: Kwargs,
) -> Result<bool, Error> {
    let names = ["version", "operator", "strict", "version_type"];
    let a = bind("version", &names, &args, &kwargs)?;
    let arg_text = |i: usize| -> Result<String, Error> {
        match &a[i] {
            Some(v) if !v.is_none() => text(state, v),
            _ => Ok(String::new()),
        }
    };
    let value = text(state, &value)?;
    let version = arg_text(0)?;
    let op = Some(arg_text(1)?)
        .filter(|o| !o.is_empty())
        .unwrap_or_else(|| "eq".into());
    let strict = a[2].as_ref().is_some_and(Value::is_true);
    let version_type = arg_text(3)?;
    if value.is_empty() {
        return Err(fail("Input version value cannot be empty"));
    }
    if version.is_empty() {
        return Err(fail("Version parameter to compare against cannot be empty"));
    }
    if strict && !version_type.is_empty() {
        return Err(fail("Cannot specify both 'strict' and 'version_type'"));
    }
    let version_type = match (strict, version_type.as_str()) {
        (true, _) => "strict",
        (false, "") => "loose",
        (false, t) => t,
    };
    let ord = compare_versions(&value, &version, version_type)
        .map_err(|e| fail(format!("Version comparison failed: {e}")))?;
    operator_holds(&op, ord).ok_or_else(|| {
        fail(format!(
            "Invalid operator type ({op}). Must be one of '==', '=', 'eq', '<', 'lt', '<=', 'le', '>', 'gt', '>=', 'ge', '!=', '<>', 'ne'"
        ))
    })
}

#[cfg(test)]
mod unit {
    use super::*;
    use minijinja::context;
    use minijinja::value::Serde;

    fn env() -> Environment<'static> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_formatter(super::super::pyrepr::formatter);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        super::super::filters::register(&mut env);
        register(&mut env);
        env
    }

    fn vars() -> Value {
        let users = serde_json::json!([
            {"name": "alice", "uid": 1001, "groups": ["wheel", "dev"], "enabled": true},
            {"name": "bob", "uid": 1002, "groups": ["dev"]}
        ]);
        context! {
            users => Value::from(Serde(users)),
            d => Value::from(Serde(serde_json::json!({"b": 2, "a": 1}))),
            n => 42,
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
            let err = format!("{:#}", env.render_str(src, vars()).expect_err(src));
            assert!(err.contains(needle), "{src}: {err}");
        }
    }

    #[test]
    fn path_tests_look_at_the_controller() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(dir.path().join("gone"), &link).unwrap();
        let env = env();
        let ctx =
            context! { dir => dir.path().to_str(), file => file.to_str(), link => link.to_str() };
        let src = "{{ dir is directory }} {{ dir is file }} {{ file is file }} {{ file is exists }} \
                   {{ link is link }} {{ link is exists }} {{ link is link_exists }} {{ (dir ~ '/x') is exists }}";
        assert_eq!(
            env.render_str(src, ctx).unwrap(),
            "True False True True True False True False"
        );
    }

    #[test]
    fn version_orderings() {
        let cases = [
            ("1.10", "1.9", "loose", Ordering::Greater),
            ("1.2.3", "1.2", "loose", Ordering::Greater),
            ("2.0", "2.0.0", "loose", Ordering::Less),
            ("1.2b1", "1.2", "strict", Ordering::Less),
            ("1.2.0", "1.2", "strict", Ordering::Equal),
            ("1.0.0-rc.1", "1.0.0", "semver", Ordering::Less),
            (
                "1.0.0-alpha.10",
                "1.0.0-alpha.9",
                "semver",
                Ordering::Greater,
            ),
        ];
        for (a, b, kind, want) in cases {
            assert_eq!(
                compare_versions(a, b, kind),
                Ok(want),
                "{a} vs {b} ({kind})"
            );
        }
        assert!(compare_versions("1.2", "1.3", "pep440").is_err());
        assert!(compare_versions("1", "2", "strict").is_err());
        assert!(compare_versions("01.0.0", "1.0.0", "semver").is_err());
    }

    // Expected strings are ansible-core's output for the same templates.
    #[test]
    fn versions_errors() {
        check_err(&[
            (
                "={{ '1.2a' is version('1.2b', '<') }}|{{ '1.2.a' is version('1.2.3', '<') }}",
                "Version comparison failed: '<' not supported between instances of 'str' and 'int'",
            ),
            (
                "={{ '1.2' is version('1.2', 'bogus') }}",
                "Invalid operator type (bogus). Must be one of '==', '=', 'eq', '<', 'lt', '<=', 'le', '>', 'gt', '>=', 'ge', '!=', '<>', 'ne'",
            ),
            (
                "={{ '1.0' is version('1.0.0', '<', version_type='semver') }}",
                "Version comparison failed: invalid semantic version '1.0'",
            ),
            (
                "={{ '1.2' is version('1.2', '<', strict=true, version_type='loose') }}",
                "Cannot specify both 'strict' and 'version_type'",
            ),
            (
                "={{ '' is version('1.0', '<') }}",
                "Input version value cannot be empty",
            ),
        ]);
    }

    #[test]
    fn result_tests_errors() {
        check_err(&[(
            "={{ [1, 2] is failed }}",
            "The 'failed' test expects a dictionary",
        )]);
    }

    #[test]
    fn regex_tests_errors() {
        check_err(&[(
            "={{ 'foo' is match('fo(o') }}",
            r#"invalid regular expression "fo(o": regex parse error:"#,
        )]);
    }

    #[test]
    fn regex_tests() {
        check(&[
            (
                r#"={{ 'foobar' is match('foo') }}|{{ 'foobar' is match('bar') }}|{{ 'foobar' is search('bar') }}|{{ 'FOO' is match('foo', ignorecase=true) }}|{{ 'a\nb' is search('^b', multiline=true) }}|{{ 'a\nb' is search('^b') }}"#,
                "=True|False|True|True|True|False",
            ),
            (
                "={{ 'foobar' is regex('bar') }}|{{ 'foobar' is regex('bar', match_type='match') }}|{{ 'foobar' is regex('ob', match_type='fullmatch') }}|{{ 'foobar' is regex('foobar', match_type='fullmatch') }}",
                "=True|False|False|True",
            ),
            (
                "={{ 'abc' is not match('b') }}|{{ 123 is match('12') }}",
                "=True|True",
            ),
            (
                r#"={{ 'ab' is regex('^B', ignorecase=true) }}|{{ 'a\nb' is regex('^b$', multiline=true, match_type='search') }}"#,
                "=False|True",
            ),
            (
                r#"={{ 'FOO' is match('foo', true) }}|{{ 'a\nb' is search('^b', false, true) }}|{{ 'ab' is regex('b', false, false, 'match') }}|{{ 'x' is truthy(true) }}|{{ 'on' is truthy(true) }}"#,
                "=True|True|False|True|True",
            ),
        ]);
    }

    #[test]
    fn misc_tests() {
        check(&[
            (
                "={{ 1 is truthy }}|{{ 0 is truthy }}|{{ '' is falsy }}|{{ 'a' is falsy }}|{{ [] is falsy }}|{{ none is falsy }}",
                "=True|False|True|False|True|True",
            ),
            (
                "={{ [1, 2] is contains 1 }}|{{ [1, 2] is contains(3) }}|{{ 'abc' is contains 'b' }}",
                "=True|False|True",
            ),
            (
                "={{ [1] is subset([1, 2]) }}|{{ [1, 3] is subset([1, 2]) }}|{{ [1, 2] is superset([1]) }}|{{ [1] is superset([1, 2]) }}",
                "=True|False|True|False",
            ),
            (
                "={{ 'a' is string }}|{{ 1 is string }}|{{ 1 is number }}|{{ true is number }}|{{ 1.5 is number }}|{{ d is mapping }}|{{ [1] is mapping }}",
                "=True|False|True|True|True|True|False",
            ),
            (
                "={{ [1] is sequence }}|{{ 'a' is sequence }}|{{ d is sequence }}|{{ 1 is sequence }}|{{ 'a' is iterable }}|{{ d is iterable }}|{{ 1 is iterable }}",
                "=True|True|True|False|True|True|False",
            ),
            (
                "={{ true is boolean }}|{{ 1 is boolean }}|{{ 1 is integer }}|{{ true is integer }}|{{ 1.0 is integer }}|{{ 1.0 is float }}|{{ 1 is float }}",
                "=True|False|True|False|False|True|False",
            ),
            (
                "={{ '/etc' is abs }}|{{ 'etc' is abs }}|{{ '' is abs }}",
                "=True|False|False",
            ),
            (
                "={{ undef_var is defined }}|{{ undef_var is undefined }}|{{ none is none }}|{{ n is defined }}|{{ d.missing is defined }}",
                "=False|True|True|True|False",
            ),
            (
                "={{ 'abc' is string }}|{{ 'a' is lower }}|{{ 'A' is upper }}",
                "=True|True|True",
            ),
            (
                "={{ 1 is truthy(convert_bool=true) }}|{{ 'y' is truthy(convert_bool=true) }}|{{ 'no' is truthy(convert_bool=true) }}|{{ 'no' is truthy }}|{{ 'no' is falsy(convert_bool=true) }}",
                "=True|True|False|True|True",
            ),
            (
                "={{ [true, false] is any }}|{{ [true, false] is all }}|{{ [] is all }}|{{ [] is any }}",
                "=True|False|True|False",
            ),
            (
                "={{ ('nan' | float) is nan }}|{{ 1.0 is nan }}",
                "=True|False",
            ),
            (
                "={{ d is contains 'a' }}|{{ d is contains 'z' }}",
                "=True|False",
            ),
        ]);
    }

    #[test]
    fn versions() {
        check(&[
            (
                "={{ '1.2.3' is version('1.2', '>') }}|{{ '1.2.3' is version('1.2.3', 'eq') }}|{{ '1.10' is version('1.9', 'gt') }}|{{ '2.0' is version('2.0.0', '==') }}|{{ '1.0' is version('1.0', '<=') }}",
                "=True|True|True|False|True",
            ),
            (
                "={{ '1.2.3' is version('1.2', 'lt') }}|{{ '1.2.3' is version('1.2', 'le') }}|{{ '1.2.3' is version('1.2', 'ge') }}|{{ '1.2.3' is version('1.2', '!=') }}|{{ '1.2.3' is version('1.2', '<>') }}|{{ '1.2.3' is version('1.2', 'ne') }}|{{ '1.2' is version('1.2', '=') }}|{{ '1.2' is version('1.2') }}",
                "=False|False|True|True|True|True|True|True",
            ),
            (
                "={{ '2.0rc1' is version('2.0', '<') }}|{{ 2.0 is version('1.9', '>') }}|{{ '1.2.3-beta' is version('1.2.3', '<') }}",
                "=False|True|False",
            ),
            (
                "={{ '1.0.0' is version('1.0.0-rc1', '>', version_type='semver') }}",
                "=True",
            ),
            ("={{ '1.2' is version('1.10', '<', strict=true) }}", "=True"),
            (
                "={{ '1.2' is version('1.2b1', '>', strict=true) }}|{{ '1.2a1' is version('1.2b1', '<', strict=true) }}|{{ '1.2.0' is version('1.2', '==', strict=true) }}",
                "=True|True|True",
            ),
            (
                "={{ '1.0.0-alpha' is version('1.0.0-alpha.1', '<', version_type='semver') }}|{{ '1.0.0-alpha.beta' is version('1.0.0-beta', '<', version_type='semver') }}|{{ '1.0.0-2' is version('1.0.0-11', '<', version_type='semver') }}|{{ '1.0.0+b1' is version('1.0.0', '==', version_type='semver') }}",
                "=True|True|True|True",
            ),
            (
                "={{ 'a1.2' is version('a1.3', '<') }}|{{ '1.2-rc1' is version('1.2-rc2', '<') }}|{{ '1.2.3.4' is version('1.2.3', '>') }}",
                "=True|True|True",
            ),
        ]);
    }

    #[test]
    fn result_tests() {
        check(&[
            (
                "={{ {'failed': true} is failed }}|{{ {'changed': true} is changed }}|{{ {} is succeeded }}|{{ {'failed': false} is success }}|{{ {'skipped': true} is skipped }}|{{ {} is changed }}|{{ {'rc': 1} is failed }}",
                "=True|True|True|True|True|False|False",
            ),
            (
                "={{ {'results': [{'changed': false}, {'changed': true}]} is changed }}|{{ {'unreachable': true} is unreachable }}|{{ {} is reachable }}|{{ {'failed': true} is failure }}",
                "=True|True|True|True",
            ),
        ]);
    }
}
