//! Read what services expose over HTTP: Prometheus text and plain probes.

use std::net::SocketAddr;

/// GET `http://addr{path}`: (status, body).
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let resp = reqwest::get(format!("http://{addr}{path}"))
        .await
        .unwrap_or_else(|e| panic!("GET {path} on {addr}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// All samples of `/metrics` at `addr`.
pub async fn metrics(addr: SocketAddr) -> Metrics {
    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "/metrics on {addr}");
    Metrics::parse(&body)
}

/// Prometheus text format, parsed just enough to read samples.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// (`name{labels}` as written, value)
    samples: Vec<(String, f64)>,
}

impl Metrics {
    pub fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let (key, value) = l.rsplit_once(' ')?;
                Some((key.to_owned(), value.parse().ok()?))
            })
            .collect();
        Self { samples }
    }

    /// Sum of every sample of `name` whose labels contain all of `labels` (`k="v"` pairs).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(key, _)| {
                let (n, rest) = key.split_once('{').unwrap_or((key, ""));
                n == name && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
            })
            .map(|(_, v)| v)
            .sum()
    }

    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|(k, _)| k == name || k.starts_with(&format!("{name}{{")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_by_label() {
        let m = Metrics::parse(
            "# HELP x y\nbridge_packets_dropped_total{reason=\"malformed\"} 3\nbridge_packets_dropped_total{reason=\"bad_stun\"} 2\nup 1\n",
        );
        assert_eq!(m.sum("bridge_packets_dropped_total", &[]), 5.0);
        assert_eq!(m.sum("bridge_packets_dropped_total", &[("reason", "bad_stun")]), 2.0);
        assert_eq!(m.sum("up", &[]), 1.0);
        assert!(m.has("up") && !m.has("down"));
    }
}
