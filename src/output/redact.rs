//! The last step before events leave the process: secret values are replaced
//! by `<redacted>` in every text an event carries.

use super::events::{Event, EventSink};
use crate::vault::taint::{scrub_string, scrub_value};

/// Wraps a sink so that nothing it receives holds a registered secret.
pub struct Redacting(pub Box<dyn EventSink>);

impl EventSink for Redacting {
    fn emit(&self, mut event: Event) {
        if crate::vault::taint::any() {
            scrub_event(&mut event);
        }
        self.0.emit(event);
    }
}

pub fn scrub_event(event: &mut Event) {
    match event {
        Event::PlaybookStart { playbook, .. } => scrub_string(playbook),
        Event::PlayStart { name, .. } => scrub_string(name),
        Event::TaskStart { task, .. } => scrub_string(task),
        Event::HostResult {
            task,
            item,
            msg,
            summary,
            diff,
            result,
            ..
        } => {
            scrub_string(task);
            if let Some(item) = item {
                scrub_value(item);
            }
            for s in [msg, summary].into_iter().flatten() {
                scrub_string(s);
            }
            if let Some(d) = diff {
                scrub_string(&mut d.before);
                scrub_string(&mut d.after);
            }
            scrub_value(result);
        }
        Event::Included { file, .. } => scrub_string(file),
        Event::Warning { message } => scrub_string(message),
        Event::NoHostsMatched { play } => scrub_string(play),
        Event::Rescue { .. } | Event::HostDone { .. } | Event::Recap { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Status;
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    struct Keep(Arc<Mutex<Vec<Event>>>);
    impl EventSink for Keep {
        fn emit(&self, event: Event) {
            self.0.lock().unwrap().push(event);
        }
    }

    #[test]
    fn host_results_lose_their_secrets() {
        crate::vault::taint::register("redact-sink-test-secret");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Redacting(Box::new(Keep(seen.clone())));
        sink.emit(Event::HostResult {
            host: "h".into(),
            task: "t".into(),
            location: "l".into(),
            status: Status::Changed,
            item: None,
            msg: Some("pw redact-sink-test-secret".into()),
            summary: None,
            diff: Some(crate::modules::TextDiff {
                path: "/f".into(),
                before: String::new(),
                after: "x=redact-sink-test-secret\n".into(),
            }),
            ignored: false,
            loop_summary: false,
            result: Box::new(json!({"stdout": "redact-sink-test-secret"})),
        });
        let line = serde_json::to_string(&seen.lock().unwrap()[0]).unwrap();
        assert!(!line.contains("redact-sink-test-secret"), "{line}");
        assert!(line.contains("<redacted>"));
    }
}
