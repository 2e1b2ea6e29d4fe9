//! `--tags`/`--skip-tags` selection with Ansible's special tags
//! (`all`, `always`, `never`, `tagged`, `untagged`).

use std::collections::BTreeSet;

#[derive(Debug, Clone, Default)]
pub struct TagFilter {
    pub only: Vec<String>,
    pub skip: Vec<String>,
}

impl TagFilter {
    pub fn selects(&self, tags: &BTreeSet<String>) -> bool {
        let has = |t: &str| tags.contains(t);
        let only: Vec<&str> = if self.only.is_empty() {
            vec!["all"]
        } else {
            self.only.iter().map(String::as_str).collect()
        };
        let run = has("always")
            || (only.contains(&"all") && !has("never"))
            || (only.contains(&"tagged") && !tags.is_empty())
            || (only.contains(&"untagged") && tags.is_empty())
            || only.iter().any(|t| has(t));
        if !run {
            return false;
        }
        let skip: Vec<&str> = self.skip.iter().map(String::as_str).collect();
        let skipped = (skip.contains(&"all") && (!has("always") || skip.contains(&"always")))
            || skip.iter().any(|t| has(t))
            || (skip.contains(&"tagged") && !tags.is_empty())
            || (skip.contains(&"untagged") && tags.is_empty());
        !skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> BTreeSet<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    fn filter(only: &[&str], skip: &[&str]) -> TagFilter {
        TagFilter {
            only: only.iter().map(|s| s.to_string()).collect(),
            skip: skip.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn default_runs_everything_but_never() {
        let f = filter(&[], &[]);
        assert!(f.selects(&tags(&[])));
        assert!(f.selects(&tags(&["web"])));
        assert!(!f.selects(&tags(&["never"])));
        assert!(f.selects(&tags(&["never", "always"])));
    }

    #[test]
    fn only_and_skip() {
        let f = filter(&["web"], &[]);
        assert!(f.selects(&tags(&["web", "x"])));
        assert!(!f.selects(&tags(&["db"])));
        assert!(f.selects(&tags(&["always"])));
        assert!(f.selects(&tags(&["never", "web"])));
        let f = filter(&[], &["web"]);
        assert!(!f.selects(&tags(&["web"])));
        assert!(f.selects(&tags(&[])));
        let f = filter(&["untagged"], &["always"]);
        assert!(f.selects(&tags(&[])));
        assert!(!f.selects(&tags(&["always"])));
    }
}
