//! `postgresql_query`: runs SQL given by the playbook. Arguments are bound on
//! the controller (`%s` positional, `%(name)s` named, psycopg style) as quoted
//! literals, so the plan shows the exact statement.
//!
//! Nothing runs in check mode (the task is reported as skipped): even a
//! `SELECT` may call a function that writes. A single `SELECT`, `SHOW`,
//! `VALUES` or `TABLE` statement reports no change and returns its rows
//! (`query_result`); anything else reports a change. Undo: none (arbitrary SQL).

use super::pg_args;
use super::session::{Login, Session};
use super::sql::literal;
use crate::modules::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg, required};
use crate::modules::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target, Undo, argx,
};
use serde_json::{Map, Value};

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "postgresql_query",
    summary: "Run SQL statements (never in check mode)",
    free_form: false,
    check: CheckSupport::Skipped,
    open_args: false,
    args: pg_args![
        required(
            "query",
            Str,
            "The SQL; `%s` / `%(name)s` placeholders take the arguments."
        ),
        arg("positional_args", List, "Values for `%s`, in order."),
        arg("named_args", Dict, "Values for `%(name)s`."),
        arg("db", Str, "Database to connect to (same as login_db)."),
        arg(
            "autocommit",
            Bool,
            "Accepted for compatibility: every statement commits on its own."
        ),
        arg(
            "search_path",
            List,
            "Schemas to search, set before the query."
        ),
    ],
};

pub struct PostgresqlQuery;

struct QueryAction {
    login: Login,
    sql: String,
    read_only: bool,
    check_mode: bool,
    rows: Option<Vec<Map<String, Value>>>,
}

/// A JSON value as an SQL literal.
fn to_sql(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => literal(s),
        Value::Array(a) => format!(
            "ARRAY[{}]",
            a.iter().map(to_sql).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(_) => literal(&v.to_string()),
    }
}

/// Substitutes `%s`, `%(name)s` and `%%`.
pub fn bind(query: &str, positional: &[Value], named: &Map<String, Value>) -> ModResult<String> {
    let mut out = String::new();
    let mut next = 0;
    let mut rest = query;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        if let Some(t) = tail.strip_prefix('%') {
            out.push('%');
            rest = t;
        } else if let Some(t) = tail.strip_prefix('s') {
            let v = positional.get(next).ok_or_else(|| {
                ModuleError::new(format!(
                    "the query has more %s placeholders than positional_args ({})",
                    positional.len()
                ))
            })?;
            out.push_str(&to_sql(v));
            next += 1;
            rest = t;
        } else if let Some(t) = tail.strip_prefix('(')
            && let Some(close) = t.find(")s")
        {
            let name = &t[..close];
            let v = named
                .get(name)
                .ok_or_else(|| ModuleError::new(format!("named_args has no `{name}`")))?;
            out.push_str(&to_sql(v));
            rest = &t[close + 2..];
        } else {
            out.push('%');
            rest = tail;
        }
    }
    out.push_str(rest);
    if next < positional.len() {
        return Err(ModuleError::new(format!(
            "positional_args has {} values for {next} %s placeholders",
            positional.len()
        )));
    }
    Ok(out)
}

fn is_read_only(sql: &str) -> bool {
    let first = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(first.as_str(), "SELECT" | "SHOW" | "VALUES" | "TABLE")
        && !sql.trim().trim_end_matches(';').contains(';')
}

impl Module for PostgresqlQuery {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn validate(&self, args: &Args, cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let mut login = Login::from_args(args)?;
        if login.db.is_none() {
            login.db = argx::string(args, "db")?;
        }
        let positional = match args.get("positional_args") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(other) => vec![other.clone()],
        };
        let named = match args.get("named_args") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(other) => {
                return Err(ModuleError::new(format!(
                    "named_args must be a mapping, got {other}"
                )));
            }
        };
        let query = argx::req_string(args, "query")?;
        let mut sql = bind(&query, &positional, &named)?;
        let path = super::list_arg(args, "search_path")?;
        let read_only = is_read_only(&sql);
        if !path.is_empty() {
            let list: Vec<String> = path.iter().map(|p| super::sql::ident(p)).collect();
            sql = format!("SET search_path TO {};\n{sql}", list.join(", "));
        }
        Ok(Box::new(QueryAction {
            login,
            read_only: read_only && path.is_empty(),
            sql: sql.trim().trim_end_matches(';').to_string(),
            check_mode: cx.check_mode,
            rows: None,
        }))
    }
}

impl Action for QueryAction {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        if self.read_only && !self.check_mode {
            let rows = Session::new(t, &self.login, None).rows(&self.sql)?;
            self.rows = Some(rows);
        }
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        if self.read_only && !self.check_mode {
            return Ok(None);
        }
        Ok(Some(Change {
            summary: self.sql.clone(),
            diff: None,
            undo: Undo::Irreversible("arbitrary SQL (postgresql_query)".into()),
            predictable: false,
            after: Vec::new(),
        }))
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        Session::new(t, &self.login, None).execute(std::slice::from_ref(&self.sql))
    }

    fn returns(&self) -> Returns {
        let mut r = Map::new();
        r.insert("query".into(), self.sql.clone().into());
        if let Some(rows) = &self.rows {
            r.insert("rowcount".into(), rows.len().into());
            r.insert(
                "query_result".into(),
                Value::Array(rows.iter().cloned().map(Value::Object).collect()),
            );
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_bind_as_literals() {
        let named = json!({"n": "o'brien"});
        let Value::Object(named) = named else {
            panic!()
        };
        assert_eq!(
            bind("SELECT %s, %(n)s, 100%%", &[json!(3)], &named).unwrap(),
            "SELECT 3, 'o''brien', 100%"
        );
        assert!(bind("SELECT %s", &[], &Map::new()).is_err());
        assert!(bind("SELECT 1", &[json!(1)], &Map::new()).is_err());
        assert_eq!(
            bind("SELECT %s", &[json!(["a", null])], &Map::new()).unwrap(),
            "SELECT ARRAY['a', NULL]"
        );
        assert!(is_read_only("select 1"));
        assert!(!is_read_only("SELECT 1; DROP TABLE t"));
        assert!(!is_read_only("INSERT INTO t VALUES (1)"));
    }
}
