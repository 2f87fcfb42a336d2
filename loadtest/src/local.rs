//! A `ponte` started beside the load, on loopback with ports the OS picks: for the bench and
//! the CI smoke run. Its addresses come from the line it logs once it is up.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::target::PonteTarget;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("starting {path}: {source}")]
    Spawn { path: String, source: std::io::Error },
    #[error("ponte did not say it is up within {0:?}")]
    NotUp(Duration),
    #[error("no addresses in ponte's up line {0:?}")]
    NoAddresses(String),
}

const UP_WITHIN: Duration = Duration::from_secs(30);

/// Start `bin` with `extra` arguments; the child is killed when dropped.
pub async fn start_ponte(bin: &Path, extra: &[String]) -> Result<(PonteTarget, Child), StartError> {
    let mut child = Command::new(bin)
        .args(extra)
        .envs([
            ("PONTE_SIGNALING_LISTEN", "127.0.0.1:0"),
            ("PONTE_FOCUS_LISTEN", "127.0.0.1:0"),
            ("PONTE_BRIDGE_HTTP", "127.0.0.1:0"),
            ("PONTE_BRIDGE_BIND_IP", "127.0.0.1"),
            ("PONTE_BRIDGE_MEDIA_PORT", "0"),
            ("RUST_LOG", "info,str0m=warn"),
            ("NO_COLOR", "1"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| StartError::Spawn { path: bin.display().to_string(), source })?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(UP_WITHIN, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("Ponte is up") {
                return Some(line);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .ok_or(StartError::NotUp(UP_WITHIN))?;
    // Keep reading so a full pipe never blocks the server's logging.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let (signaling, metrics) = parse_up_line(&line).ok_or_else(|| StartError::NoAddresses(line.clone()))?;
    let pid = child.id();
    Ok((PonteTarget { signaling, metrics: Some(metrics), token: None, pid }, child))
}

/// From "… open http://localhost:PORT/ … (focus A, bridge http B, media udp C)".
fn parse_up_line(line: &str) -> Option<(String, SocketAddr)> {
    let rest = line.split("://localhost:").nth(1)?;
    let port: u16 = rest.split('/').next()?.parse().ok()?;
    let scheme = if line.contains("https://localhost") { "wss" } else { "ws" };
    let http = line.split("bridge http ").nth(1)?.split([',', ')']).next()?.trim();
    Some((format!("{scheme}://127.0.0.1:{port}/ws"), http.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_addresses_from_pontes_up_line() {
        let line = "2026-12-01T19:00:00Z  INFO ponte: Ponte is up: open http://localhost:40123/ in a browser (focus 127.0.0.1:40124, bridge http 127.0.0.1:40125, media udp 127.0.0.1:40126)";
        let (ws, http) = parse_up_line(line).unwrap();
        assert_eq!(ws, "ws://127.0.0.1:40123/ws");
        assert_eq!(http, "127.0.0.1:40125".parse().unwrap());
    }
}
