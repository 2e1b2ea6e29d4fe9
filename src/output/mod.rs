//! Rendering runs for people (`console`) and machines (`json`).

pub mod console;
pub mod diff;
pub mod events;
pub mod json;
pub mod live;
pub mod progress;
pub mod redact;
pub mod table_bars;

pub use events::{Event, EventSink, HostStats, Status};
