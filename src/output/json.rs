//! `--json`: one event per line on stdout.

use super::events::{Event, EventSink};
use std::io::Write;
use std::sync::Mutex;

#[derive(Default)]
pub struct JsonLines {
    lock: Mutex<()>,
}

impl EventSink for JsonLines {
    fn emit(&self, event: Event) {
        let line = serde_json::to_string(&event).expect("events serialize");
        let _guard = self.lock.lock().expect("stdout lock");
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
}
