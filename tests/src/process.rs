//! Service binaries as child processes: started with arguments and environment, read until
//! a line says they are up, stopped with SIGTERM.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// Path of a workspace binary (`ponte`, `bridge`, `focus`, `signaling`, `loadtest`), built
/// by `cargo build --workspace --bins` (scripts/test.sh does) next to the tests' `deps/`.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target/<profile>/deps/..");
    let path = dir.join(name);
    assert!(path.exists(), "{} is missing; run scripts/test.sh, or `cargo build --workspace --bins` first", path.display());
    path
}

/// A running child process whose output lines are collected.
pub struct Service {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    pub log: Vec<String>,
}

impl Service {
    /// Start `name` with `args` and `env`; output (stdout and stderr) is captured.
    pub fn start(name: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(binary(name));
        cmd.args(args)
            .envs(env.iter().copied())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
        let (tx, lines) = mpsc::unbounded_channel();
        for out in [child.stdout.take().map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Unpin + Send>), child.stderr.take().map(|e| Box::new(e) as _)].into_iter().flatten() {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(out).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    let _ = tx.send(line);
                }
            });
        }
        Self { child, lines, log: Vec::new() }
    }

    /// Wait for an output line containing `needle`; returns it.
    pub async fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let found = tokio::time::timeout(timeout, async {
            while let Some(line) = self.lines.recv().await {
                self.log.push(line.clone());
                if line.contains(needle) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!("no line with {needle:?} within {timeout:?}; output so far:\n{}", self.log.join("\n")),
        }
    }

    /// Send SIGTERM and return at once (a bridge then drains; see [`Service::wait_exit`]).
    pub fn sigterm(&self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
        }
    }

    /// Wait for the process to exit by itself, collecting its output meanwhile; None when it
    /// still runs after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            tokio::select! {
                status = self.child.wait() => {
                    // The exit closes the pipes: take the last lines too.
                    while let Ok(Some(line)) = tokio::time::timeout(Duration::from_millis(200), self.lines.recv()).await {
                        self.log.push(line);
                    }
                    return Some(status.expect("wait for child"));
                }
                Some(line) = self.lines.recv() => self.log.push(line),
                _ = tokio::time::sleep_until(deadline) => return None,
            }
        }
    }

    /// The process id (None once it has exited).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Send `signal` (e.g. `STOP`, `CONT`) with kill(1).
    pub fn signal(&self, signal: &str) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status();
        }
    }

    /// SIGKILL, as a crash or the OOM killer would: no goodbye to anyone. Waits for the exit.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGTERM, then wait for the exit status (killed after `timeout`).
    pub async fn terminate(mut self, timeout: Duration) -> std::process::ExitStatus {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
        }
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => status.expect("wait for child"),
            Err(_) => {
                let _ = self.child.kill().await;
                panic!("did not exit within {timeout:?} of SIGTERM; output:\n{}", self.log.join("\n"));
            }
        }
    }
}
