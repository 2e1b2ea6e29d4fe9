//! Per-table progress bars (rows, rows/s, ETA) for long copies, redrawn in
//! place on a terminal the same way as the live host block: erase the
//! block with "cursor up" and "clear to end of screen", draw it again.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::live::FRAME_INTERVAL;
use super::progress::{elapsed, truncate};

/// One bar: a name, the expected total and a live counter.
pub type Bar = (String, u64, Arc<AtomicU64>);

/// The lines of the block for `bars` after `spent`, at most `width` wide.
pub fn render(bars: &[Bar], spent: &[Duration], width: usize) -> Vec<String> {
    let name_w = bars
        .iter()
        .map(|b| b.0.chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    bars.iter()
        .zip(spent)
        .map(|((name, total, done), spent)| {
            let done = done.load(Ordering::Relaxed);
            let total = (*total).max(done);
            let frac = if total == 0 {
                1.0
            } else {
                done as f64 / total as f64
            };
            let cells = 20;
            let full = (frac * cells as f64).round() as usize;
            let secs = spent.as_secs_f64();
            let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
            let eta = if done >= total {
                "done".to_string()
            } else if rate > 0.0 {
                format!(
                    "ETA {}",
                    elapsed(Duration::from_secs_f64((total - done) as f64 / rate))
                )
            } else {
                String::new()
            };
            let line = format!(
                "{:<name_w$} [{}{}] {:>11}/{:<11} {:>9.0} rows/s {}",
                truncate(name, name_w),
                "#".repeat(full),
                "-".repeat(cells - full),
                done,
                total,
                rate,
                eta
            );
            truncate(&line, width)
        })
        .collect()
}

/// A block on standard error, redrawn by a ticker thread until dropped.
pub struct TableBars {
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

impl TableBars {
    pub fn stderr(bars: Vec<Bar>, width: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let ticker = std::thread::spawn(move || {
            let start = Instant::now();
            let mut finished: Vec<Option<Duration>> = vec![None; bars.len()];
            let mut drawn = 0usize;
            loop {
                let last = flag.load(Ordering::SeqCst);
                let now = start.elapsed();
                for (i, b) in bars.iter().enumerate() {
                    if finished[i].is_none() && b.2.load(Ordering::Relaxed) >= b.1 {
                        finished[i] = Some(now);
                    }
                }
                let spent: Vec<Duration> = finished.iter().map(|f| f.unwrap_or(now)).collect();
                let lines = render(&bars, &spent, width);
                let mut frame = String::new();
                if drawn > 0 {
                    frame.push_str(&format!("\x1b[{drawn}A\x1b[J"));
                }
                for l in &lines {
                    frame.push_str(l);
                    frame.push('\n');
                }
                drawn = lines.len();
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(frame.as_bytes());
                let _ = err.flush();
                if last {
                    return;
                }
                std::thread::sleep(FRAME_INTERVAL);
            }
        });
        TableBars {
            stop,
            ticker: Some(ticker),
        }
    }
}

impl Drop for TableBars {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_shows_rows_rate_and_eta() {
        let bars = vec![("users".to_string(), 1000, Arc::new(AtomicU64::new(250)))];
        let lines = render(&bars, &[Duration::from_secs(1)], 120);
        assert!(
            lines[0].starts_with("users [#####---------------]"),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains("250 rows/s"), "{}", lines[0]);
        assert!(lines[0].contains("ETA 3s"), "{}", lines[0]);
    }
}
