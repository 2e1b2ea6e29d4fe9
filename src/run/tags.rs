//! `--tags`/`--skip-tags` selection with Ansible's special tags
//! (`all`, `always`, `never`, `tagged`, `untagged`).

use crate::playbook::{Action, Common, Item, Play};
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

    /// How many tasks of a play this filter offers every host before anything
    /// runs: fact gathering, then the task entries of pre_tasks, roles, tasks
    /// and post_tasks (see [`TagFilter::offered`]). Handlers, rescue sections
    /// and included files are not known yet; they are offered when they run.
    pub fn offered_in_play(&self, play: &Play) -> usize {
        let base = std::slice::from_ref(&play.common);
        let roles: usize = play
            .roles
            .iter()
            .map(|r| self.offered(&r.tasks, &[play.common.clone(), r.common.clone()]))
            .sum();
        usize::from(play.gather_facts)
            + self.offered(&play.pre_tasks, base)
            + roles
            + self.offered(&play.tasks, base)
            + self.offered(&play.post_tasks, base)
    }

    /// How many task entries of `items` this filter selects, under the
    /// keywords of `chain` (enclosing play, role and blocks): each task whose
    /// effective tags are selected, blocks' `block` and `always` sections
    /// (`rescue` only runs after a failure), an `include_tasks` as one entry.
    /// `meta` tasks report nothing and are not counted.
    pub fn offered(&self, items: &[Item], chain: &[Common]) -> usize {
        let mut tags: Vec<String> = chain.iter().flat_map(|c| c.tags.clone()).collect();
        self.count(items, &mut tags)
    }

    fn count(&self, items: &[Item], tags: &mut Vec<String>) -> usize {
        let mut n = 0;
        for item in items {
            match item {
                Item::Task(t) if matches!(t.action, Action::Meta(_)) => {}
                Item::Task(t) => {
                    let all = tags.iter().chain(&t.common.tags).cloned().collect();
                    n += usize::from(self.selects(&all));
                }
                Item::Block(b) => {
                    let depth = tags.len();
                    tags.extend(b.common.tags.iter().cloned());
                    n += self.count(&b.block, tags) + self.count(&b.always, tags);
                    tags.truncate(depth);
                }
            }
        }
        n
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

    #[test]
    fn offered_counts_what_the_filter_lets_through() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.yml");
        std::fs::write(
            &path,
            r#"
- hosts: all
  pre_tasks:
    - debug: msg=pre
  tasks:
    - debug: msg=one
      tags: [web]
    - meta: flush_handlers
    - block:
        - debug: msg=two
        - debug: msg=three
      rescue:
        - debug: msg=rescued
      always:
        - debug: msg=always
      tags: [db]
    - include_tasks: more.yml
    - debug: msg=never
      tags: [never]
  post_tasks:
    - debug: msg=post
  handlers:
    - name: h
      debug: msg=handler
"#,
        )
        .unwrap();
        let pb = crate::playbook::load_playbook(&path).unwrap();
        let play = &pb.plays[0];
        // facts + pre + one + two + three + always + include + post
        assert_eq!(filter(&[], &[]).offered_in_play(play), 8);
        // facts always run; the block's tag reaches its tasks
        assert_eq!(filter(&["db"], &[]).offered_in_play(play), 4);
        assert_eq!(filter(&[], &["db"]).offered_in_play(play), 5);
        let Item::Block(block) = &play.tasks[2] else {
            panic!("a block")
        };
        let chain = [play.common.clone(), block.common.clone()];
        assert_eq!(filter(&["db"], &[]).offered(&block.rescue, &chain), 1);
        assert_eq!(filter(&["web"], &[]).offered(&block.rescue, &chain), 0);
    }
}
