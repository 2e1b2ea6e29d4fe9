//! Coordination between the hosts of one batch: the linear strategy's
//! lockstep (every host finishes a task before any starts the next), the
//! stop signals of any_errors_fatal and max_fail_percentage, and run_once.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Condvar, Mutex};

/// A run_once task's outcome: whether it failed, and its result.
pub type OnceOutcome = (bool, Map<String, Value>);

#[derive(Default)]
struct State {
    active: usize,
    waiting: usize,
    generation: u64,
    failed: usize,
    abort: Option<String>,
    once: HashMap<(usize, u32), Option<OnceOutcome>>,
}

pub struct Batch {
    linear: bool,
    size: usize,
    any_errors_fatal: bool,
    max_fail_percentage: Option<f64>,
    state: Mutex<State>,
    cv: Condvar,
}

impl Batch {
    pub fn new(
        hosts: usize,
        linear: bool,
        any_errors_fatal: bool,
        max_fail_percentage: Option<f64>,
    ) -> Self {
        Batch {
            linear,
            size: hosts,
            any_errors_fatal,
            max_fail_percentage,
            state: Mutex::new(State {
                active: hosts,
                ..State::default()
            }),
            cv: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("batch lock")
    }

    /// Called before each task. With the linear strategy it waits until every
    /// host still running has reached its next task. Returns why the host must
    /// stop, if the batch was aborted.
    pub fn arrive(&self) -> Option<String> {
        let mut st = self.lock();
        if self.linear && st.abort.is_none() {
            st.waiting += 1;
            if st.waiting >= st.active {
                st.waiting = 0;
                st.generation += 1;
                self.cv.notify_all();
            } else {
                let generation = st.generation;
                while st.generation == generation && st.abort.is_none() {
                    st = self.cv.wait(st).expect("batch lock");
                }
            }
        }
        st.abort.clone()
    }

    /// A host is done with the play (finished, failed or unreachable).
    pub fn leave(&self, failed: bool) {
        let mut st = self.lock();
        st.active = st.active.saturating_sub(1);
        if failed {
            st.failed += 1;
            if self.any_errors_fatal {
                st.abort
                    .get_or_insert_with(|| "any_errors_fatal: a host failed".into());
            }
            if let Some(max) = self.max_fail_percentage {
                let pct = st.failed as f64 * 100.0 / self.size.max(1) as f64;
                if pct > max {
                    st.abort.get_or_insert_with(|| {
                        format!(
                            "max_fail_percentage {max}% exceeded ({pct:.0}% of the batch failed)"
                        )
                    });
                }
            }
        }
        if st.waiting > 0 && st.waiting >= st.active {
            st.waiting = 0;
            st.generation += 1;
        }
        self.cv.notify_all();
    }

    pub fn aborted(&self) -> Option<String> {
        self.lock().abort.clone()
    }

    /// run_once: the first host to ask runs the task (`None`); the others wait
    /// for its outcome and take it as theirs.
    pub fn claim_once(&self, key: (usize, u32)) -> Option<OnceOutcome> {
        let mut st = self.lock();
        match st.once.get(&key) {
            None => {
                st.once.insert(key, None);
                None
            }
            Some(_) => loop {
                if let Some(Some(done)) = st.once.get(&key) {
                    return Some(done.clone());
                }
                st = self.cv.wait(st).expect("batch lock");
            },
        }
    }

    pub fn publish_once(&self, key: (usize, u32), failed: bool, result: Map<String, Value>) {
        let mut st = self.lock();
        st.once.insert(key, Some((failed, result)));
        self.cv.notify_all();
    }
}

/// Splits hosts into `serial` batches: a count, a percentage, or a list of
/// them whose last entry repeats (as in Ansible).
pub fn batches(serial: Option<&Value>, hosts: &[String]) -> Result<Vec<Vec<String>>, String> {
    let Some(serial) = serial else {
        return Ok(vec![hosts.to_vec()]);
    };
    let steps: Vec<&Value> = match serial {
        Value::Array(items) if !items.is_empty() => items.iter().collect(),
        Value::Array(_) => return Ok(vec![hosts.to_vec()]),
        one => vec![one],
    };
    let size_of = |v: &Value| -> Result<usize, String> {
        let n = match v {
            Value::Number(n) => n.as_f64().unwrap_or(0.0) as usize,
            Value::String(s) if s.trim().ends_with('%') => {
                let pct: f64 = s
                    .trim()
                    .trim_end_matches('%')
                    .trim()
                    .parse()
                    .map_err(|_| format!("serial: `{s}` is not a percentage"))?;
                (pct / 100.0 * hosts.len() as f64) as usize
            }
            Value::String(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("serial: `{s}` is not a number or percentage"))?,
            other => return Err(format!("serial: `{other}` is not a number or percentage")),
        };
        Ok(n.max(1))
    };
    let mut out = Vec::new();
    let mut rest = hosts;
    let mut i = 0;
    while !rest.is_empty() {
        let size = size_of(steps[i.min(steps.len() - 1)])?;
        let take = size.min(rest.len());
        out.push(rest[..take].to_vec());
        rest = &rest[take..];
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hosts(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("h{i}")).collect()
    }

    fn sizes(serial: Value, n: usize) -> Vec<usize> {
        batches(Some(&serial), &hosts(n))
            .unwrap()
            .iter()
            .map(Vec::len)
            .collect()
    }

    #[test]
    fn serial_forms() {
        assert_eq!(sizes(json!(2), 5), vec![2, 2, 1]);
        assert_eq!(sizes(json!("40%"), 5), vec![2, 2, 1]);
        assert_eq!(sizes(json!("10%"), 5), vec![1, 1, 1, 1, 1]);
        assert_eq!(sizes(json!([1, "25%", "100%"]), 8), vec![1, 2, 5]);
        assert_eq!(sizes(json!([1, 2]), 6), vec![1, 2, 2, 1]);
        assert!(batches(Some(&json!("x%")), &hosts(2)).is_err());
        assert_eq!(batches(None, &hosts(3)).unwrap().len(), 1);
    }

    #[test]
    fn lockstep_releases_when_all_arrive_or_leave() {
        let b = std::sync::Arc::new(Batch::new(2, true, false, None));
        let b2 = b.clone();
        let t = std::thread::spawn(move || b2.arrive());
        // The second host leaves instead of arriving: the first is released.
        std::thread::sleep(std::time::Duration::from_millis(20));
        b.leave(false);
        assert_eq!(t.join().unwrap(), None);
    }

    #[test]
    fn any_errors_fatal_aborts_the_batch() {
        let b = Batch::new(3, true, true, None);
        b.leave(true);
        assert!(b.arrive().unwrap().contains("any_errors_fatal"));
    }

    #[test]
    fn max_fail_percentage_counts_the_batch() {
        let b = Batch::new(4, false, false, Some(25.0));
        b.leave(true);
        assert!(b.aborted().is_none(), "25% is not more than 25%");
        b.leave(true);
        assert!(b.aborted().is_some());
    }
}
