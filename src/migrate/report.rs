//! Plain-text renderings: the plan (`--dry-run` and before a run) and the
//! summary table at the end.

use std::fmt::Write;
use std::time::Duration;

use super::run::{Action, Inspection, TableSummary};

impl Inspection {
    /// The translated DDL, the preflight report, row counts and what the
    /// run would do.
    pub fn plan_text(&self) -> String {
        let mut s = String::new();
        let o = &self.opts;
        let _ = writeln!(
            s,
            "migration {} -> {} (schema {}, identifiers {}, naive datetimes in {})",
            self.source,
            self.target.display,
            o.schema,
            match o.ident_case {
                super::IdentCase::Lower => "lower-cased",
                super::IdentCase::Preserve => "preserved",
            },
            o.naive_zone.describe()
        );
        match &self.ledger {
            None => s.push_str("ledger: not migrated yet\n"),
            Some(l) if l.status == "done" => {
                let _ = writeln!(
                    s,
                    "ledger: done at {} — nothing to do (roll it back to migrate again)",
                    l.finished.as_deref().unwrap_or("?")
                );
            }
            Some(l) => {
                let _ = writeln!(
                    s,
                    "ledger: an earlier attempt ({}) started {} did not finish",
                    l.status, l.started
                );
            }
        }
        match self.action() {
            super::run::Action::NoOp => {}
            Action::Refuse(why) => {
                let _ = writeln!(s, "REFUSED: {why}");
            }
            Action::Migrate {
                clean_first,
                replace,
            } => {
                if !clean_first.is_empty() {
                    let verb = if o.existing_schema {
                        "emptied"
                    } else {
                        "dropped"
                    };
                    let _ = writeln!(
                        s,
                        "start clean: {} left by the earlier attempt will be {verb} first",
                        clean_first.join(", ")
                    );
                }
                for (t, n) in replace {
                    let _ = writeln!(
                        s,
                        "replace: {} row(s) in {}.{t} will be replaced and kept for rollback",
                        group(n),
                        o.schema
                    );
                }
            }
        }
        s.push_str("\ntables (load order):\n");
        let w = self
            .translation
            .tables
            .iter()
            .map(|t| t.source.len())
            .max()
            .unwrap_or(0);
        for t in &self.translation.tables {
            let _ = writeln!(
                s,
                "  {:<w$}  -> {}.{}  {} rows",
                t.source,
                o.schema,
                t.name,
                group(t.rows.max(0) as u64)
            );
        }
        if !self.schema.skipped.is_empty() {
            s.push_str("\nnot migrated:\n");
            for (n, why) in &self.schema.skipped {
                let _ = writeln!(s, "  {n}: {why}");
            }
        }
        if !self.schema.views.is_empty() || !self.schema.triggers.is_empty() {
            s.push_str("\nto rewrite by hand for PostgreSQL (not migrated):\n");
            for (n, sql) in &self.schema.views {
                let _ = writeln!(s, "  view {n}: {}", one_line(sql));
            }
            for (n, t, sql) in &self.schema.triggers {
                let _ = writeln!(s, "  trigger {n} on {t}: {}", one_line(sql));
            }
        }
        if !self.translation.notes.is_empty() {
            s.push_str("\nnotes:\n");
            for n in &self.translation.notes {
                let _ = writeln!(s, "  {n}");
            }
        }
        let p = &self.preflight;
        let _ = writeln!(s, "\npreflight: {} problem(s)", p.blocking());
        for f in p.database.iter().chain(&p.findings) {
            let _ = writeln!(s, "  {f}");
        }
        if p.more > 0 {
            let _ = writeln!(s, "  … and {} more", p.more);
        }
        for ((t, c), scan) in &p.columns {
            if scan.classes.iter().filter(|(k, _)| **k != "null").count() > 1 {
                let kinds: Vec<String> = scan
                    .classes
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect();
                let _ = writeln!(s, "  typeof {t}.{c}: {}", kinds.join(", "));
            }
            for (how, n) in &scan.changed {
                let _ = writeln!(s, "  policy: {t}.{c}: {n} value(s) {how}");
            }
        }
        if !o.existing_schema {
            s.push_str("\nDDL:\n");
            for sql in self.create_sql() {
                let _ = writeln!(s, "{sql};");
            }
        }
        s.push_str("\n-- after the load\n");
        for sql in self.post_load_sql() {
            let _ = writeln!(s, "{sql};");
        }
        s
    }
}

fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// 1234567 → `1,234,567`.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The table printed at the end of a run.
pub fn summary_table(
    tables: &[TableSummary],
    phases: &[(String, Duration)],
    total: Duration,
) -> String {
    let mut s = String::new();
    let w = tables
        .iter()
        .map(|t| t.target.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(
        s,
        "{:<w$}  {:>12}  {:>8}  {:>10}  verified",
        "table", "rows", "load", "rows/s"
    );
    for t in tables {
        let secs = t.load.as_secs_f64().max(1e-6);
        let _ = writeln!(
            s,
            "{:<w$}  {:>12}  {:>7.2}s  {:>10}  {}",
            t.target,
            group(t.rows),
            secs,
            group((t.rows as f64 / secs) as u64),
            if t.verified { "yes" } else { "NO" }
        );
    }
    let rows: u64 = tables.iter().map(|t| t.rows).sum();
    let _ = writeln!(s, "{:<w$}  {:>12}", "total", group(rows));
    let ph: Vec<String> = phases
        .iter()
        .map(|(n, d)| format!("{n} {:.2}s", d.as_secs_f64()))
        .collect();
    let _ = writeln!(s, "{} — {:.2}s in all", ph.join(", "), total.as_secs_f64());
    s
}
