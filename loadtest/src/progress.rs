//! A progress bar on a terminal (redrawn in place), a plain line a second otherwise (CI logs).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    tty: bool,
    start: Instant,
    last: Option<Instant>,
    drawn: bool,
}

const WIDTH: usize = 24;

impl Progress {
    pub fn new() -> Self {
        Self { tty: std::io::stderr().is_terminal(), start: Instant::now(), last: None, drawn: false }
    }

    /// Show `phase` at `done` of `total`, with `detail`; at most once a second unless `force`.
    pub fn show(&mut self, phase: &str, done: f64, total: f64, detail: &str, force: bool) {
        let now = Instant::now();
        if !force && self.last.is_some_and(|l| now - l < Duration::from_secs(1)) {
            return;
        }
        self.last = Some(now);
        let frac = if total > 0.0 { (done / total).clamp(0.0, 1.0) } else { 1.0 };
        let filled = (frac * WIDTH as f64).round() as usize;
        let bar = format!("{}{}", "#".repeat(filled), "-".repeat(WIDTH - filled));
        let line = format!("[{:>4}s] {phase:<7} [{bar}] {:>3.0}% {detail}", self.start.elapsed().as_secs(), frac * 100.0);
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            self.drawn = true;
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    /// End the in-place line before other output.
    pub fn finish(&mut self) {
        if self.tty && self.drawn {
            eprintln!();
            self.drawn = false;
        }
    }
}
