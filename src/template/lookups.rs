//! `lookup()`/`query()`: the `env`, `file` and `password` lookups.

use minijinja::value::{Kwargs, Rest};
use minijinja::{Environment, Error, ErrorKind, State, Value};
use std::path::PathBuf;

pub fn register(env: &mut Environment<'static>) {
    env.add_function("lookup", lookup);
    env.add_function("query", query);
    env.add_function("q", query);
}

fn lookup(state: &State, name: &str, terms: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let values = run(state, name, &terms, &kwargs)?;
    let wantlist = kwargs.get::<Option<bool>>("wantlist")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    if wantlist {
        return Ok(Value::from(values));
    }
    Ok(match values.len() {
        1 => values.into_iter().next().expect("one value"),
        _ => Value::from(
            values
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
    })
}

fn query(state: &State, name: &str, terms: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let values = run(state, name, &terms, &kwargs)?;
    kwargs.assert_all_used()?;
    Ok(Value::from(values))
}

fn run(state: &State, name: &str, terms: &[Value], kwargs: &Kwargs) -> Result<Vec<Value>, Error> {
    match name {
        "env" | "ansible.builtin.env" => {
            let default: Option<Value> = kwargs.get("default")?;
            Ok(terms
                .iter()
                .map(|t| match std::env::var(t.to_string()) {
                    Ok(v) => Value::from(v),
                    Err(_) => default.clone().unwrap_or_else(|| Value::from("")),
                })
                .collect())
        }
        "file" | "ansible.builtin.file" => {
            let rstrip = kwargs.get::<Option<bool>>("rstrip")?.unwrap_or(true);
            let lstrip = kwargs.get::<Option<bool>>("lstrip")?.unwrap_or(false);
            terms
                .iter()
                .map(|t| {
                    let path = find(state, &t.to_string())?;
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        Error::new(
                            ErrorKind::InvalidOperation,
                            format!("could not read {}: {e}", path.display()),
                        )
                    })?;
                    let origin = path.display().to_string();
                    let text = crate::vault::open_file_text(&text, &origin)
                        .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
                    if let std::borrow::Cow::Owned(plain) = &text {
                        crate::vault::taint::register(plain);
                    }
                    if crate::vault::taint::contains(&text) {
                        super::scope::mark_tainted();
                    }
                    let text = if rstrip { text.trim_end() } else { &text[..] };
                    let text = if lstrip { text.trim_start() } else { text };
                    Ok(Value::from(text))
                })
                .collect()
        }
        "password" | "ansible.builtin.password" => password(state, terms, kwargs),
        other => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("lookup plugin `{other}` is not supported (supported: env, file, password)"),
        )),
    }
}

/// Files are searched in the role's files/ and the playbook's files/ directory, then as given.
fn find(state: &State, name: &str) -> Result<PathBuf, Error> {
    let p = PathBuf::from(name);
    if p.is_absolute() {
        return if p.exists() {
            Ok(p)
        } else {
            Err(not_found(name))
        };
    }
    let dirs = ["role_path", "playbook_dir"]
        .iter()
        .filter_map(|v| state.lookup(v))
        .filter_map(|v| v.as_str().map(PathBuf::from));
    for dir in dirs {
        for cand in [dir.join("files").join(name), dir.join(name)] {
            if cand.exists() {
                return Ok(cand);
            }
        }
    }
    Err(not_found(name))
}

fn not_found(name: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("the file lookup could not find '{name}'"),
    )
}

/// `lookup('password', 'path length=N chars=...')`: generated once and kept.
/// Relative paths are taken from the playbook's directory.
fn password(state: &State, terms: &[Value], kwargs: &Kwargs) -> Result<Vec<Value>, Error> {
    let length: Option<usize> = kwargs.get("length")?;
    let chars: Option<Value> = kwargs.get("chars")?;
    let chars = chars.map(|c| match c.as_str() {
        Some(s) => vec![s.to_string()],
        None => c
            .try_iter()
            .map(|it| it.map(|v| v.to_string()).collect())
            .unwrap_or_default(),
    });
    let base = state
        .lookup("playbook_dir")
        .and_then(|v| v.as_str().map(PathBuf::from))
        .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
    terms
        .iter()
        .map(|t| {
            let spec = crate::vault::password::PasswordSpec::parse(
                &t.to_string(),
                length,
                chars.clone(),
                &base,
            )
            .and_then(|spec| spec.get_or_create())
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
            super::scope::mark_tainted();
            Ok(Value::from(spec))
        })
        .collect()
}
