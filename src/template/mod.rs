//! Jinja2 templating the way Ansible does it: strict undefined variables,
//! lazily templated variables, native types for a lone `{{ expr }}`, Ansible's
//! filters and tests, and the `env`/`file` lookups.

pub mod filters;
mod lookups;
pub mod pyrepr;
mod scope;
pub mod tests;

pub use scope::Scope;

use minijinja::value::ValueKind;
use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value as JValue};
use serde_json::Value;
use std::sync::{Arc, OnceLock};

/// The placeholder `omit` renders to; arguments equal to it are dropped.
pub const OMIT: &str = "__omit_place_holder__tbuddy";

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

type Result<T> = std::result::Result<T, TemplateError>;

/// The shared template environment.
pub fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(build_env)
}

fn build_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Ansible's templar keeps the final newline and trims the newline after a block tag.
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("default delimiters are valid"),
    );
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    filters::register(&mut env);
    tests::register(&mut env);
    env.set_formatter(pyrepr::formatter);
    lookups::register(&mut env);
    env.add_global("omit", OMIT);
    env
}

/// Whether a string needs templating at all.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// Whether a value holds a template anywhere inside.
pub fn has_template(v: &Value) -> bool {
    match v {
        Value::String(s) => is_template(s),
        Value::Array(items) => items.iter().any(has_template),
        Value::Object(m) => m.values().any(has_template),
        _ => false,
    }
}

/// Renders a string the way ansible-core 2.17 templates variables and
/// arguments: `"{{ name }}"` alone gives the variable's own value (a number
/// stays a number); anything else renders to text, and text that reads as a
/// Python list, dict or `True`/`False` becomes that value.
pub fn render_str(s: &str, scope: &Arc<Scope>) -> Result<Value> {
    scope::tracking_taint(|| render_str_untracked(s, scope), taint_value)
}

/// A value built from a secret: secret unless it shows the secret as is
/// (then scrubbing that secret already hides it).
fn taint_value(v: &Value) {
    use crate::vault::taint;
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Null | Value::Bool(_) => return,
        other => other.to_string(),
    };
    if !taint::contains(&text) {
        taint::register(&text);
    }
}

/// A template file rendered from a secret: each output line that is not
/// the template's own text and does not show a secret as is becomes secret.
fn taint_lines(source: &str, rendered: &str) {
    use crate::vault::taint;
    let literal: std::collections::HashSet<&str> = source.lines().map(str::trim).collect();
    for line in rendered.lines().map(str::trim) {
        if !literal.contains(line) && !taint::contains(line) {
            taint::register(line);
        }
    }
}

fn render_str_untracked(s: &str, scope: &Arc<Scope>) -> Result<Value> {
    if !is_template(s) {
        return Ok(Value::String(s.to_string()));
    }
    let wanted = s.len() - s.trim_end_matches('\n').len();
    if let Some(name) = single_variable(s) {
        let v = eval_raw(name, scope)?;
        return Ok(match v.kind() {
            ValueKind::String => text_result(v.as_str().unwrap_or_default().to_string(), wanted),
            ValueKind::None => Value::Null,
            _ => to_json(&v)?,
        });
    }
    // Inline templates drop one trailing newline when rendered (Jinja's
    // default); Ansible restores trailing newlines only for text results.
    let escaped = escape_backslashes(s);
    let rendered = render_text(&escaped, scope, "<string>")?;
    let stripped = match wanted {
        0 => rendered,
        _ => rendered.strip_suffix('\n').unwrap_or(&rendered).to_string(),
    };
    Ok(text_result(stripped, wanted))
}

/// `{{ name }}`, optionally followed by one newline: Ansible looks such a
/// variable up directly instead of rendering it.
fn single_variable(s: &str) -> Option<&str> {
    let t = s.strip_suffix('\n').unwrap_or(s);
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let is_name = !inner.is_empty()
        && inner.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !inner.starts_with(|c: char| c.is_ascii_digit());
    is_name.then_some(inner)
}

/// A rendered text, read back as data when it looks like a list, dict or bool.
fn text_result(text: String, trailing_newlines: usize) -> Value {
    if (text.starts_with('{') || text.starts_with('[') || text == "True" || text == "False")
        && let Some(v) = crate::pyliteral::literal_eval(&text)
    {
        return v;
    }
    let have = text.len() - text.trim_end_matches('\n').len();
    let mut text = text;
    for _ in have..trailing_newlines {
        text.push('\n');
    }
    Value::String(text)
}

/// Ansible doubles backslashes inside string literals of inline templates, so
/// `regex_replace('(\w+)', '\1')` written in YAML reaches the regex intact.
/// Template files are rendered as written.
fn escape_backslashes(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('\\') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut in_tag = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (in_tag, quote, c) {
            (false, _, '{') if matches!(chars.peek(), Some('{') | Some('%')) => {
                in_tag = true;
                out.push(c);
                out.push(chars.next().expect("peeked"));
                continue;
            }
            (true, None, '}' | '%') if chars.peek() == Some(&'}') => {
                in_tag = false;
                out.push(c);
                out.push(chars.next().expect("peeked"));
                continue;
            }
            (true, None, '\'' | '"') => quote = Some(c),
            (true, Some(q), _) if c == q => quote = None,
            (true, Some(_), '\\') => {
                // An escaped quote stays an escaped quote.
                if let Some(&next) = chars.peek()
                    && Some(next) == quote
                {
                    out.push('\\');
                    out.push(chars.next().expect("peeked"));
                    continue;
                }
                out.push_str("\\\\");
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    std::borrow::Cow::Owned(out)
}

/// Renders every string inside a value.
pub fn render_value(v: &Value, scope: &Arc<Scope>) -> Result<Value> {
    if let Some((text, pos)) = crate::vault::inline(v) {
        let plain =
            crate::vault::open_inline(text, pos).map_err(|e| TemplateError(e.to_string()))?;
        return Ok(Value::String(plain));
    }
    Ok(match v {
        Value::String(s) => render_str(s, scope)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| render_value(i, scope))
                .collect::<Result<_>>()?,
        ),
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let key = match render_str(k, scope)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(key, render_value(v, scope)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// Renders a whole template text (the `template` module, multi-part strings).
pub fn render_text(text: &str, scope: &Arc<Scope>, name: &str) -> Result<String> {
    scope::tracking_taint(
        || {
            scope::clear_nested_error();
            env()
                .render_named_str(name, text, JValue::from_dyn_object(scope.clone()))
                .map_err(|e| explain(e, text, scope, false))
        },
        |rendered| taint_lines(text, rendered),
    )
}

/// Evaluates an expression to a native value.
pub fn eval_expr(expr: &str, scope: &Arc<Scope>) -> Result<Value> {
    to_json(&eval_raw(expr, scope)?)
}

fn eval_raw(expr: &str, scope: &Arc<Scope>) -> Result<JValue> {
    scope::clear_nested_error();
    let compiled = env()
        .compile_expression_owned(expr.to_string())
        .map_err(|e| explain(e, expr, scope, true))?;
    let v = compiled
        .eval(JValue::from_dyn_object(scope.clone()))
        .map_err(|e| explain(e, expr, scope, true))?;
    if v.is_undefined() {
        if let Some(nested) = scope::take_nested_error() {
            return Err(TemplateError(nested));
        }
        return Err(undefined_in(expr, scope, true)
            .unwrap_or_else(|| TemplateError(format!("`{expr}` is undefined"))));
    }
    Ok(v)
}

/// Evaluates a condition (`when`, `failed_when`, ...) with Jinja truthiness,
/// where the strings "yes"/"true" etc. count as Ansible booleans.
pub fn eval_cond(expr: &str, scope: &Arc<Scope>) -> Result<bool> {
    let v = eval_expr(expr, scope)?;
    Ok(truthy(&v))
}

pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => crate::modules::spec::as_bool(v).unwrap_or(!s.is_empty()),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

pub fn to_json(v: &JValue) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| TemplateError(format!("cannot convert value: {e}")))
}

/// Turns a minijinja error into a message naming the undefined variable when that was the cause.
fn explain(e: minijinja::Error, source: &str, scope: &Arc<Scope>, is_expr: bool) -> TemplateError {
    if let Some(nested) = scope::take_nested_error() {
        return TemplateError(nested);
    }
    if e.kind() == ErrorKind::UndefinedError
        && let Some(err) = undefined_in(source, scope, is_expr)
    {
        return err;
    }
    let mut msg = e.to_string();
    if let Some(detail) = e.detail()
        && !msg.contains(detail)
    {
        msg = format!("{msg}: {detail}");
    }
    TemplateError(format!("template error in `{}`: {msg}", short(source)))
}

/// Finds which referenced variable (or attribute path) is undefined.
fn undefined_in(source: &str, scope: &Arc<Scope>, is_expr: bool) -> Option<TemplateError> {
    let probe = Environment::new();
    let names = if is_expr {
        probe
            .compile_expression(source)
            .ok()?
            .undeclared_variables(true)
    } else {
        probe
            .template_from_str(source)
            .ok()?
            .undeclared_variables(true)
    };
    let mut names: Vec<String> = names.into_iter().collect();
    names.sort();
    for path in &names {
        let mut parts = path.split('.');
        let root = parts.next()?;
        if env().globals().any(|(g, _)| g == root) {
            continue;
        }
        let Some(mut cur) = scope.lookup_value(root) else {
            return Some(TemplateError(format!("'{root}' is undefined")));
        };
        let mut walked = root.to_string();
        for attr in parts {
            match cur.get_attr(attr) {
                Ok(v) if !v.is_undefined() => cur = v,
                _ => {
                    return Some(TemplateError(format!(
                        "'{walked}' has no attribute '{attr}'"
                    )));
                }
            }
            walked.push('.');
            walked.push_str(attr);
        }
    }
    None
}

fn short(s: &str) -> String {
    let one_line = s.trim().replace('\n', " ");
    if one_line.chars().count() > 80 {
        format!("{}…", one_line.chars().take(80).collect::<String>())
    } else {
        one_line
    }
}

/// Drops arguments whose value is the `omit` placeholder.
pub fn strip_omitted(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|_, v| v.as_str() != Some(OMIT));
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;
    use serde_json::json;

    fn scope(v: Value) -> Arc<Scope> {
        let Value::Object(m) = v else { panic!() };
        Scope::from_layers(vec![Arc::new(m)])
    }

    #[test]
    fn results_are_typed_as_ansible_core_types_them() {
        // Expectations observed with ansible-core 2.17 (set_fact + type_debug).
        let s =
            scope(json!({"ports": [1, 2], "n": 3, "d": {"x": 5}, "nothing": null, "ls": "[1, 2]"}));
        assert_eq!(render_str("{{ ports }}", &s).unwrap(), json!([1, 2]));
        assert_eq!(render_str("{{ n }}", &s).unwrap(), json!(3));
        assert_eq!(render_str("{{ n }}\n", &s).unwrap(), json!(3));
        assert_eq!(render_str("{{ nothing }}", &s).unwrap(), json!(null));
        assert_eq!(render_str("{{ ls }}", &s).unwrap(), json!([1, 2]));
        assert_eq!(render_str("{{ n + 1 }}", &s).unwrap(), json!("4"));
        assert_eq!(render_str("{{ d.x }}", &s).unwrap(), json!("5"));
        assert_eq!(render_str("{{ 2.0 }}", &s).unwrap(), json!("2.0"));
        assert_eq!(render_str("n={{ n }}", &s).unwrap(), json!("n=3"));
        assert_eq!(render_str("{{ n > 1 }}\n", &s).unwrap(), json!(true));
        assert_eq!(
            render_str("{{ ports + [3] }}", &s).unwrap(),
            json!([1, 2, 3])
        );
        assert_eq!(render_str("a={{ n }}\n\n", &s).unwrap(), json!("a=3\n\n"));
    }

    #[test]
    fn variables_are_templated_lazily() {
        let s = scope(
            json!({"base": "/srv", "app": "{{ base }}/app", "cfg": {"dir": "{{ app }}/etc"}}),
        );
        assert_eq!(
            render_str("{{ cfg.dir }}", &s).unwrap(),
            json!("/srv/app/etc")
        );
    }

    #[test]
    fn undefined_variables_are_named() {
        let s = scope(json!({"a": 1}));
        let e = render_str("x {{ missing }} y", &s).unwrap_err();
        assert_eq!(e.0, "'missing' is undefined");
        let e = render_str("{{ a.b }}", &s).unwrap_err();
        assert!(e.0.contains("'a' has no attribute 'b'"), "{}", e.0);
    }

    #[test]
    fn nested_undefined_names_the_inner_variable() {
        let s = scope(json!({"a": "{{ b }}"}));
        let e = render_str("{{ a }}", &s).unwrap_err();
        assert!(e.0.contains("'b' is undefined"), "{}", e.0);
    }

    #[test]
    fn conditions_use_ansible_truthiness() {
        let s = scope(json!({"flag": "yes", "empty": ""}));
        assert!(eval_cond("flag", &s).unwrap());
        assert!(!eval_cond("empty", &s).unwrap());
        assert!(eval_cond("x is not defined", &s).unwrap());
    }

    #[test]
    fn backslashes_in_inline_literals_reach_filters_intact() {
        let s = scope(json!({"v": "hello world"}));
        let out = render_str(r"{{ v | regex_replace('(\w+) (\w+)', '\2 \1') }}", &s).unwrap();
        assert_eq!(out, json!("world hello"));
        assert_eq!(escape_backslashes(r"a\b {{ 'x\y' }}"), r"a\b {{ 'x\\y' }}");
    }

    #[test]
    fn omit_drops_arguments() {
        let s = scope(json!({}));
        let mut v = render_value(&json!({"a": "{{ omit }}", "b": 1}), &s).unwrap();
        strip_omitted(&mut v);
        assert_eq!(v, json!({"b": 1}));
    }
}
