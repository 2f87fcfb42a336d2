//! A fresh, throw-away browser profile directory (removed on drop), which also holds the
//! browser's output log.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// Lines of the browser's output shown when something goes wrong.
const TAIL_LINES: usize = 40;

pub struct Profile {
    dir: PathBuf,
}

impl Profile {
    pub fn create(browser: &str) -> std::io::Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ponte-{browser}-{}-{n}", std::process::id()));
        // A leftover from an earlier run with the same pid would not be fresh.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("profile"))?;
        Ok(Self { dir })
    }

    /// The browser's user-data / profile directory.
    pub fn path(&self) -> PathBuf {
        self.dir.join("profile")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("browser.log")
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
