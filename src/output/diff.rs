//! Unified diffs for `--diff` and plans.

use crate::modules::TextDiff;
use similar::TextDiff as Differ;

pub fn unified(d: &TextDiff) -> String {
    let diff = Differ::from_lines(&d.before, &d.after);
    let mut out = format!("--- before: {}\n+++ after: {}\n", d.path, d.path);
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        out.push_str(&hunk.to_string());
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_changed_lines() {
        let d = TextDiff {
            path: "/etc/a".into(),
            before: "a\nb\n".into(),
            after: "a\nc\n".into(),
        };
        let text = unified(&d);
        assert!(text.contains("-b\n+c\n"), "{text}");
        assert!(text.starts_with("--- before: /etc/a\n+++ after: /etc/a\n"));
    }
}
