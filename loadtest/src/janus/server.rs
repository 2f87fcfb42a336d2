//! A local Janus for one bench run, through `loadtest/janus/start.sh`: started with a bounded
//! lifetime, stopped (veth removed) when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{JanusTarget, MediaPath};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JanusServerError {
    #[error("running {script}: {source}")]
    Spawn { script: PathBuf, source: std::io::Error },
    #[error("{script} start failed ({status}): {stderr}")]
    Failed { script: PathBuf, status: std::process::ExitStatus, stderr: String },
    #[error("{script} start printed no {key}")]
    Output { script: PathBuf, key: &'static str },
}

/// A Janus this process started; stopped on drop.
#[derive(Debug)]
pub struct JanusServer {
    script: PathBuf,
    pub target: JanusTarget,
    stopped: bool,
}

impl JanusServer {
    /// `loadtest/janus/start.sh` in the source tree this binary was built from.
    pub fn default_script() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/janus/start.sh"))
    }

    /// Why no Janus can be started here, if none can: not installed, not root, no script.
    pub fn unavailable(script: &Path) -> Option<String> {
        let on_path = std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("janus").is_file()));
        if !on_path {
            return Some("janus is not installed (apt-get install janus)".into());
        }
        if !script.is_file() {
            return Some(format!("{} is missing", script.display()));
        }
        let root = std::fs::read_to_string("/proc/self/status").ok().is_some_and(|s| {
            s.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|v| v.split_whitespace().nth(1)) == Some("0")
        });
        if !root {
            return Some("starting Janus needs root (it adds a veth pair)".into());
        }
        None
    }

    /// Start Janus; it ends by itself after `max_seconds` even if this process dies first.
    pub fn start(script: &Path, max_seconds: u64, room_publishers: u32) -> Result<Self, JanusServerError> {
        let out = Command::new("bash")
            .arg(script)
            .arg("start")
            .env("JANUS_MAX_SECONDS", max_seconds.to_string())
            .output()
            .map_err(|source| JanusServerError::Spawn { script: script.to_owned(), source })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            return Err(JanusServerError::Failed { script: script.to_owned(), status: out.status, stderr });
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let value = |key: &'static str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
                .map(str::to_owned)
                .ok_or(JanusServerError::Output { script: script.to_owned(), key })
        };
        let bad = |key| JanusServerError::Output { script: script.to_owned(), key };
        let target = JanusTarget {
            ws_url: value("JANUS_WS")?,
            pid: Some(value("JANUS_PID")?.parse().map_err(|_| bad("JANUS_PID"))?),
            media: MediaPath {
                ip: value("JANUS_CLIENT_IP")?.parse().map_err(|_| bad("JANUS_CLIENT_IP"))?,
                device: Some(value("JANUS_CLIENT_IFACE")?),
            },
            room_publishers,
        };
        Ok(Self { script: script.to_owned(), target, stopped: false })
    }

    /// Stop Janus and remove its veth (also done on drop).
    pub fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        match Command::new("bash").arg(&self.script).arg("stop").status() {
            Ok(s) if s.success() => {}
            Ok(s) => tracing::warn!("{} stop: {s}", self.script.display()),
            Err(e) => tracing::warn!("{} stop: {e}", self.script.display()),
        }
    }
}

impl Drop for JanusServer {
    fn drop(&mut self) {
        self.stop();
    }
}
