//! The live progress block: the console's usual lines scroll above it while
//! it is redrawn in place at the bottom of the terminal, with nothing but
//! "cursor up" and "clear to end of screen". Each write is one frame: erase
//! the block, print any new lines, draw the block again. Redraws happen at
//! most ten times a second (a ticker keeps elapsed times moving between
//! events); the block is erased before the recap and when the view is dropped.

use super::events::Event;
use super::progress::{Progress, max_lines};
use std::io::Write;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The shortest time between two redraws of the block.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(100);

/// Where the frames go and how big the terminal is (columns, rows).
pub type TerminalSize = fn() -> (usize, usize);

pub struct LiveBlock {
    screen: Arc<Mutex<Screen>>,
    stop: Option<mpsc::Sender<()>>,
    ticker: Option<JoinHandle<()>>,
}

struct Screen {
    progress: Progress,
    /// The lines of the block now on the screen, the cursor just below them.
    drawn: Vec<String>,
    last_draw: Option<Instant>,
    color: bool,
    out: Box<dyn Write + Send>,
    size: TerminalSize,
}

impl LiveBlock {
    /// A block on standard output, redrawn by a ticker thread.
    pub fn stdout(color: bool) -> Self {
        let mut block = Self::with_writer(Box::new(std::io::stdout()), color, terminal_size);
        let (stop, ticks) = mpsc::channel::<()>();
        let screen = block.screen.clone();
        block.ticker = Some(std::thread::spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = ticks.recv_timeout(FRAME_INTERVAL) {
                lock(&screen).refresh(Instant::now());
            }
        }));
        block.stop = Some(stop);
        block
    }

    /// A block written to `out`, redrawn only as events arrive or on `tick`.
    pub fn with_writer(out: Box<dyn Write + Send>, color: bool, size: TerminalSize) -> Self {
        LiveBlock {
            screen: Arc::new(Mutex::new(Screen {
                progress: Progress::default(),
                drawn: Vec::new(),
                last_draw: None,
                color,
                out,
                size,
            })),
            stop: None,
            ticker: None,
        }
    }

    /// Takes in `event` and prints the lines `text` makes of it above the
    /// block. `text` is called under the block's lock, so concurrent hosts'
    /// lines come out in the order they were rendered.
    pub fn show(&self, event: &Event, text: impl FnOnce() -> Option<String>) {
        self.show_at(event, Instant::now(), text);
    }

    fn show_at(&self, event: &Event, now: Instant, text: impl FnOnce() -> Option<String>) {
        let mut screen = lock(&self.screen);
        screen.progress.apply(event, now);
        if let Some(text) = text() {
            let mut frame = erase(screen.drawn.len());
            screen.drawn.clear();
            frame.push_str(&text);
            frame.push('\n');
            screen.write(&frame);
        }
        screen.refresh(now);
    }

    /// Redraws the block if it changed and the last redraw is old enough.
    pub fn tick(&self, now: Instant) {
        lock(&self.screen).refresh(now);
    }
}

impl Drop for LiveBlock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
        let mut screen = lock(&self.screen);
        let frame = erase(screen.drawn.len());
        screen.drawn.clear();
        screen.write(&frame);
    }
}

/// A panic on another thread must not keep the block from being erased.
fn lock(screen: &Mutex<Screen>) -> MutexGuard<'_, Screen> {
    screen
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Screen {
    fn refresh(&mut self, now: Instant) {
        let (width, height) = (self.size)();
        let lines = self
            .progress
            .render(now, width, max_lines(height), self.color);
        if lines == self.drawn {
            return;
        }
        // An empty block (the play is over) is erased at once; anything else
        // waits for its frame.
        if !lines.is_empty()
            && self
                .last_draw
                .is_some_and(|last| now.saturating_duration_since(last) < FRAME_INTERVAL)
        {
            return;
        }
        let mut frame = erase(self.drawn.len());
        for line in &lines {
            frame.push_str(line);
            frame.push('\n');
        }
        self.drawn = lines;
        self.last_draw = Some(now);
        self.write(&frame);
    }

    fn write(&mut self, frame: &str) {
        if frame.is_empty() {
            return;
        }
        let _ = self.out.write_all(frame.as_bytes());
        let _ = self.out.flush();
    }
}

/// Moves the cursor from just below a block of `lines` lines to its first
/// line and clears from there to the end of the screen.
pub fn erase(lines: usize) -> String {
    if lines == 0 {
        String::new()
    } else {
        format!("\r\x1b[{lines}A\x1b[J")
    }
}

/// The size of the terminal on standard output; `COLUMNS`/`LINES` or 80×24
/// when it cannot be asked.
pub fn terminal_size() -> (usize, usize) {
    let mut ws = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ only writes a `winsize` into the struct passed, which
    // lives for the whole call; on a descriptor that is no terminal it fails.
    let asked = unsafe { nix::libc::ioctl(1, nix::libc::TIOCGWINSZ, &mut ws) } == 0;
    let env = |key: &str, default: usize| {
        std::env::var(key)
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|n: &usize| *n > 0)
            .unwrap_or(default)
    };
    if asked && ws.ws_col > 0 && ws.ws_row > 0 {
        (usize::from(ws.ws_col), usize::from(ws.ws_row))
    } else {
        (env("COLUMNS", 80), env("LINES", 24))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::HostStats;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn take(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
        }
    }

    fn small() -> (usize, usize) {
        (60, 20)
    }

    fn task(host: &str) -> Event {
        Event::TaskStart {
            host: host.into(),
            task: "sleep".into(),
            location: "site.yml:4:7".into(),
            handler: false,
        }
    }

    #[test]
    fn erase_moves_up_and_clears() {
        assert_eq!(erase(0), "");
        assert_eq!(erase(3), "\r\x1b[3A\x1b[J");
    }

    #[test]
    fn frames_erase_print_and_redraw() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let out = Captured::default();
        let block = LiveBlock::with_writer(Box::new(out.clone()), false, small);
        let start = Event::PlayStart {
            name: "p".into(),
            hosts: vec!["a".into(), "b".into()],
            tasks_total: 1,
        };
        block.show_at(&start, t0, || Some("\nPLAY [p] ***".into()));
        // no block on screen yet: the line comes first, then the block of 3 lines
        let first = out.take();
        assert!(
            first.starts_with("\nPLAY [p] ***\n0/2 hosts done"),
            "{first:?}"
        );
        assert!(
            first.ends_with("  a  0/1  waiting\n  b  0/1  waiting\n"),
            "{first:?}"
        );

        // within the frame interval the block is erased for the line and
        // left off until the next tick
        block.show_at(&task("a"), ms(10), || Some("\nTASK [sleep] ***".into()));
        assert_eq!(out.take(), "\r\x1b[3A\x1b[J\nTASK [sleep] ***\n");
        block.show_at(&task("b"), ms(20), || None);
        assert_eq!(out.take(), "");
        block.tick(ms(150));
        let redraw = out.take();
        assert!(
            redraw.starts_with("0/2 hosts done · 2 running"),
            "{redraw:?}"
        );
        assert!(
            redraw.contains("  a  0/1  running 0s  sleep\n"),
            "{redraw:?}"
        );
        // unchanged: nothing is written
        block.tick(ms(300));
        assert_eq!(out.take(), "");
        // a change after the interval is drawn at once, over the old block
        let host_done = |host: &str| Event::HostDone {
            host: host.into(),
            stats: HostStats::default(),
        };
        block.show_at(&host_done("a"), ms(310), || None);
        let redraw = out.take();
        assert!(
            redraw.starts_with("\r\x1b[3A\x1b[J1/2 hosts done"),
            "{redraw:?}"
        );
        block.show_at(&host_done("b"), ms(320), || None);
        assert_eq!(out.take(), "");
        block.tick(ms(450));
        assert!(out.take().contains("2/2 hosts done"));

        // the recap erases the block at once, before its own lines
        let recap = Event::Recap {
            hosts: Default::default(),
        };
        block.show_at(&recap, ms(460), || Some("\nPLAY RECAP ***".into()));
        assert_eq!(out.take(), "\r\x1b[3A\x1b[J\nPLAY RECAP ***\n");
        drop(block);
        assert_eq!(out.take(), "", "nothing left to erase");
    }

    #[test]
    fn dropping_erases_a_block_left_on_screen() {
        let out = Captured::default();
        let block = LiveBlock::with_writer(Box::new(out.clone()), false, small);
        let start = Event::PlayStart {
            name: "p".into(),
            hosts: vec!["a".into()],
            tasks_total: 1,
        };
        block.show(&start, || None);
        assert!(out.take().ends_with("  a  0/1  waiting\n"));
        drop(block);
        assert_eq!(out.take(), "\r\x1b[2A\x1b[J");
    }
}
