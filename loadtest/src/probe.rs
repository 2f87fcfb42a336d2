//! Reading a server process from outside: its Prometheus `/metrics` over plain HTTP, or
//! `/proc/PID` for servers that export nothing (Janus).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::target::ServerSample;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    #[error("GET /metrics from {addr}: {source}")]
    Http { addr: SocketAddr, source: std::io::Error },
    #[error("GET /metrics from {addr} timed out")]
    Timeout { addr: SocketAddr },
    #[error("{addr}/metrics has no {name}")]
    Missing { addr: SocketAddr, name: &'static str },
    #[error("reading /proc/{pid}: {source}")]
    Proc { pid: u32, source: std::io::Error },
    #[error("/proc/{pid}/stat is not what Linux writes")]
    ProcFormat { pid: u32 },
}

const HTTP_TIMEOUT: Duration = Duration::from_secs(3);

/// `GET /metrics` over HTTP/1.1 (body and headers; the parser skips what is no sample line).
pub async fn get_metrics(addr: SocketAddr) -> Result<String, ProbeError> {
    let io = async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
        let mut body = String::new();
        s.read_to_string(&mut body).await?;
        Ok::<_, std::io::Error>(body)
    };
    match tokio::time::timeout(HTTP_TIMEOUT, io).await {
        Ok(r) => r.map_err(|source| ProbeError::Http { addr, source }),
        Err(_) => Err(ProbeError::Timeout { addr }),
    }
}

/// The value of an unlabelled sample `name` in Prometheus text, if present.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name).filter(|rest| rest.starts_with(' ')).and_then(|v| v.trim().parse().ok()))
}

/// CPU, memory, datagrams sent and endpoints from a Ponte bridge's `/metrics`.
pub async fn bridge_metrics(addr: SocketAddr) -> Result<ServerSample, ProbeError> {
    let text = get_metrics(addr).await?;
    let need = |name: &'static str| metric(&text, name).ok_or(ProbeError::Missing { addr, name });
    Ok(ServerSample {
        cpu_seconds: need("process_cpu_seconds_total")?,
        rss_bytes: need("process_resident_memory_bytes")? as u64,
        packets_sent: metric(&text, "bridge_packets_sent_total").map(|v| v as u64),
        endpoints: metric(&text, "bridge_endpoints").map(|v| v as u64),
    })
}

/// CPU time and resident memory of any local process, from `/proc/PID/stat` and `status`.
pub fn proc_sample(pid: u32) -> Result<ServerSample, ProbeError> {
    let read = |file: &str| std::fs::read_to_string(format!("/proc/{pid}/{file}")).map_err(|source| ProbeError::Proc { pid, source });
    let stat = read("stat")?;
    let (utime, stime) = stat_cpu_ticks(&stat).ok_or(ProbeError::ProcFormat { pid })?;
    let status = read("status")?;
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or(ProbeError::ProcFormat { pid })?;
    Ok(ServerSample {
        cpu_seconds: (utime + stime) as f64 / CLOCK_TICKS_PER_SEC,
        rss_bytes: rss_kib * 1024,
        packets_sent: None,
        endpoints: None,
    })
}

/// `USER_HZ`: 100 on every Linux architecture this runs on.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// Fields 14 and 15 (utime, stime) of a `/proc/PID/stat` line. The command name (field 2)
/// may hold spaces and parentheses, so fields are counted from its last `)`.
pub fn stat_cpu_ticks(stat: &str) -> Option<(u64, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime = fields.next()?.parse().ok()?;
    let stime = fields.next()?.parse().ok()?;
    Some((utime, stime))
}

/// CPU seconds this process has used so far (the load generator's own cost).
pub fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let (u, s) = stat_cpu_ticks(&stat)?;
    Some((u + s) as f64 / CLOCK_TICKS_PER_SEC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_unlabelled_samples_only() {
        let text = "# HELP x\nprocess_cpu_seconds_total 12.5\nbridge_endpoints 3\nbridge_endpoints_max 9\nfoo{a=\"b\"} 1\n";
        assert_eq!(metric(text, "process_cpu_seconds_total"), Some(12.5));
        assert_eq!(metric(text, "bridge_endpoints"), Some(3.0));
        assert_eq!(metric(text, "foo"), None);
    }

    #[test]
    fn stat_fields_are_counted_after_the_command() {
        let stat = "42 (a (weird) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 4 0 1 1 1";
        assert_eq!(stat_cpu_ticks(stat), Some((250, 75)));
        assert!(proc_sample(std::process::id()).is_ok_and(|s| s.rss_bytes > 0));
    }
}
