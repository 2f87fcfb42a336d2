//! A userland UDP relay that makes a network worse: random loss, jitter (which reorders),
//! extra reordering and a rate cap, in both directions. This kernel has no netem, so tests
//! put one relay between a participant and the bridge (`ParticipantOptions::media_via`).
//!
//! One relay serves one client: the first datagram on its client-facing socket names the
//! client; everything from the client goes out of a second socket to `upstream`, and
//! everything that comes back goes to the client. The bridge sees the relay's upstream
//! socket as the client's address.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How the relay degrades each direction.
#[derive(Debug, Clone, Copy)]
pub struct Impairment {
    /// Fraction of datagrams dropped, 0.0..=1.0.
    pub loss: f64,
    /// Each datagram is delayed by a uniform random 0..=jitter; datagrams overtake each other.
    pub jitter: Duration,
    /// Fraction of datagrams held back the whole `jitter` (the most it allows), so that they
    /// arrive after datagrams sent after them.
    pub reorder: f64,
    /// Bits per second the direction carries at most; datagrams queue behind each other.
    pub rate_bps: Option<u64>,
    /// Seed of the relay's random choices (each direction derives its own).
    pub seed: u64,
}

impl Default for Impairment {
    fn default() -> Self {
        Self { loss: 0.0, jitter: Duration::ZERO, reorder: 0.0, rate_bps: None, seed: 1 }
    }
}

/// Datagrams per direction: `[to upstream, to client]`.
#[derive(Debug, Default)]
pub struct RelayStats {
    pub forwarded: [AtomicU64; 2],
    pub dropped: [AtomicU64; 2],
}

impl RelayStats {
    /// `(forwarded, dropped)` summed over both directions.
    pub fn totals(&self) -> (u64, u64) {
        let sum = |a: &[AtomicU64; 2]| a.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        (sum(&self.forwarded), sum(&self.dropped))
    }
}

/// A running relay; dropping it stops it.
pub struct Relay {
    addr: SocketAddr,
    pub stats: Arc<RelayStats>,
    tasks: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Listen on 127.0.0.1 (port 0) and relay to `upstream`.
    pub async fn start(upstream: SocketAddr, impairment: Impairment) -> std::io::Result<Relay> {
        let client_side = Arc::new(UdpSocket::bind(("127.0.0.1", 0)).await?);
        let upstream_side = Arc::new(UdpSocket::bind(("127.0.0.1", 0)).await?);
        let addr = client_side.local_addr()?;
        let stats = Arc::new(RelayStats::default());
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();

        let up = Direction::new(0, impairment, upstream_side.clone(), stats.clone());
        let learned = client.clone();
        let to_upstream = tokio::spawn(pump(client_side.clone(), up, move |from| {
            *learned.lock().expect("relay lock") = Some(from);
            Some(upstream)
        }));
        let down = Direction::new(1, impairment, client_side, stats.clone());
        let to_client = tokio::spawn(pump(upstream_side, down, move |from| {
            // Only the upstream may talk to the client through us.
            (from == upstream).then(|| *client.lock().expect("relay lock")).flatten()
        }));
        Ok(Relay { addr, stats, tasks: vec![to_upstream, to_client] })
    }

    /// Where the client sends (`ParticipantOptions::media_via`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// One direction's impairment state.
struct Direction {
    index: usize,
    impairment: Impairment,
    out: Arc<UdpSocket>,
    stats: Arc<RelayStats>,
    rng: u64,
    /// When the rate-capped link is free again.
    link_free: Instant,
}

impl Direction {
    fn new(index: usize, impairment: Impairment, out: Arc<UdpSocket>, stats: Arc<RelayStats>) -> Self {
        let rng = impairment.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(index as u64 + 1) | 1;
        Self { index, impairment, out, stats, rng, link_free: Instant::now() }
    }

    /// xorshift64*, mapped to 0.0..1.0.
    fn random(&mut self) -> f64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Drop it, or send it after its delay.
    fn forward(&mut self, datagram: Vec<u8>, to: SocketAddr) {
        let imp = self.impairment;
        if self.random() < imp.loss {
            self.stats.dropped[self.index].fetch_add(1, Ordering::Relaxed);
            return;
        }
        let now = Instant::now();
        let mut depart = now;
        if let Some(bps) = imp.rate_bps.filter(|b| *b > 0) {
            let wire = Duration::from_secs_f64(datagram.len() as f64 * 8.0 / bps as f64);
            self.link_free = self.link_free.max(now) + wire;
            depart = self.link_free;
        }
        let delay = if self.random() < imp.reorder { imp.jitter } else { imp.jitter.mul_f64(self.random()) };
        self.stats.forwarded[self.index].fetch_add(1, Ordering::Relaxed);
        let out = self.out.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(depart + delay).await;
            let _ = out.send_to(&datagram, to).await;
        });
    }
}

/// Read from `inp`, route each datagram (`route(from)`), impair and send.
async fn pump(inp: Arc<UdpSocket>, mut dir: Direction, mut route: impl FnMut(SocketAddr) -> Option<SocketAddr>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, from)) = inp.recv_from(&mut buf).await else { continue };
        if let Some(to) = route(from) {
            dir.forward(buf[..n].to_vec(), to);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn relays_both_ways_and_loses_about_the_asked_share() {
        let server = UdpSocket::bind(("127.0.0.1", 0)).await.unwrap();
        let imp = Impairment { loss: 0.2, jitter: Duration::from_millis(5), reorder: 0.1, rate_bps: None, seed: 7 };
        let relay = Relay::start(server.local_addr().unwrap(), imp).await.unwrap();
        let client = UdpSocket::bind(("127.0.0.1", 0)).await.unwrap();
        for i in 0..500u16 {
            client.send_to(&i.to_be_bytes(), relay.addr()).await.unwrap();
        }
        let mut buf = [0u8; 16];
        let mut got = Vec::new();
        while let Ok(Ok((n, from))) = tokio::time::timeout(Duration::from_millis(300), server.recv_from(&mut buf)).await {
            got.push(u16::from_be_bytes([buf[0], buf[1]]));
            server.send_to(&buf[..n], from).await.unwrap();
        }
        assert!((350..=450).contains(&got.len()), "about 20 % lost: {} of 500 arrived", got.len());
        assert!(got.windows(2).any(|w| w[1] < w[0]), "some datagrams overtook others");
        let echoed = tokio::time::timeout(Duration::from_millis(300), client.recv_from(&mut buf)).await;
        assert_eq!(echoed.expect("replies come back").unwrap().1, relay.addr(), "replies come from the relay");
    }
}
