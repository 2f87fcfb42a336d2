//! The SRT port as callers see it: a UDP relay in front of srt-tokio, which listens on
//! loopback behind it. Every datagram from a caller goes through that caller's
//! [`CallerGuard`] first; what would panic srt-protocol is dropped and counted
//! (`bridge_ingest_srt_dropped_total{reason}`) instead of ending the listener and every live
//! stream with it.
//!
//! srt-tokio tells callers apart by address, so each caller gets its own loopback socket
//! towards it (one task per caller carries the replies back); [`Origins`] maps those loopback
//! addresses back to the callers' real ones for logs and refusals.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::metrics::IngestMetrics;
use super::srt_guard::CallerGuard;

/// A caller silent this long is gone (SRT sends keep-alives every second; its own peer idle
/// timeout is 5 s). Its loopback socket is closed.
const IDLE: Duration = Duration::from_secs(30);
/// A caller that has sent no media yet holds its socket this long without a word: handshakes
/// take milliseconds, and addresses that only ever handshake must not fill
/// `srt_max_callers` for long.
const HANDSHAKE_IDLE: Duration = Duration::from_secs(5);
/// How often idle callers are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// Large enough for any SRT datagram (an MTU of 1500 at most, jumbo frames aside).
const MAX_DATAGRAM: usize = 65_535;

/// Loopback address (as srt-tokio sees a caller) → the caller's real address.
#[derive(Clone, Default)]
pub struct Origins(Arc<DashMap<SocketAddr, SocketAddr>>);

impl Origins {
    /// The real address behind what srt-tokio reports (itself if it is not one of ours).
    pub fn real(&self, seen: SocketAddr) -> SocketAddr {
        self.0.get(&seen).map_or(seen, |r| *r)
    }
}

struct Caller {
    guard: CallerGuard,
    /// Connected to srt-tokio's socket.
    socket: Arc<UdpSocket>,
    seen_as: SocketAddr,
    last_heard: Instant,
    /// Whether it has sent a data packet (it is streaming, not just handshaking).
    streaming: bool,
    replies: JoinHandle<()>,
}

pub struct SrtRelay {
    public: Arc<UdpSocket>,
    /// srt-tokio's loopback socket.
    inner: SocketAddr,
    callers: HashMap<SocketAddr, Caller>,
    max_callers: usize,
    origins: Origins,
    metrics: IngestMetrics,
}

impl SrtRelay {
    /// Bind the public port; datagrams that pass go to srt-tokio at `inner`.
    pub async fn bind(listen: SocketAddr, inner: SocketAddr, max_callers: usize, metrics: IngestMetrics) -> io::Result<Self> {
        let public = Arc::new(UdpSocket::bind(listen).await?);
        Ok(Self { public, inner, callers: HashMap::new(), max_callers, origins: Origins::default(), metrics })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.public.local_addr()
    }

    pub fn origins(&self) -> Origins {
        self.origins.clone()
    }

    /// Relay until the task is dropped.
    pub async fn run(mut self) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        loop {
            tokio::select! {
                r = self.public.recv_from(&mut buf) => match r {
                    Ok((n, from)) => self.forward(&buf[..n], from).await,
                    // ICMP errors from an earlier send surface here; the port is fine.
                    Err(e) => tracing::debug!("SRT port receive failed: {e}"),
                },
                _ = sweep.tick() => self.sweep(Instant::now()),
            }
        }
    }

    async fn forward(&mut self, datagram: &[u8], from: SocketAddr) {
        if let Some(caller) = self.callers.get_mut(&from) {
            if let Err(why) = caller.guard.check(datagram, false) {
                return self.dropped(from, why.reason());
            }
            return caller.pass(datagram, from).await;
        }
        // A new address gets a socket only for a datagram that passes: garbage from many
        // (spoofable) addresses costs a parse each, nothing more.
        let mut guard = CallerGuard::default();
        if let Err(why) = guard.check(datagram, false) {
            return self.dropped(from, why.reason());
        }
        if self.callers.len() >= self.max_callers {
            return self.dropped(from, "too_many_callers");
        }
        match open(&self.public, self.inner, from, guard).await {
            Ok(caller) => {
                self.origins.0.insert(caller.seen_as, from);
                self.callers.entry(from).or_insert(caller).pass(datagram, from).await;
            }
            Err(err) => tracing::warn!(%from, "SRT relay: no loopback socket for a new caller: {err}"),
        }
    }

    fn dropped(&self, from: SocketAddr, reason: &'static str) {
        self.metrics.srt_dropped.with_label_values(&[reason]).inc();
        tracing::debug!(%from, reason, "SRT datagram dropped before srt-tokio");
    }

    fn sweep(&mut self, now: Instant) {
        let origins = &self.origins;
        self.callers.retain(|_, c| {
            let live = now.duration_since(c.last_heard) < if c.streaming { IDLE } else { HANDSHAKE_IDLE };
            if !live {
                c.replies.abort();
                origins.0.remove(&c.seen_as);
            }
            live
        });
    }
}

impl Drop for SrtRelay {
    fn drop(&mut self) {
        self.callers.values().for_each(|c| c.replies.abort());
    }
}

impl Caller {
    /// A datagram the guard passed: on to srt-tokio.
    async fn pass(&mut self, datagram: &[u8], from: SocketAddr) {
        self.last_heard = Instant::now();
        // The first bit of an SRT packet is 0 for data, 1 for control.
        self.streaming |= datagram.first().is_some_and(|b| b & 0x80 == 0);
        if let Err(e) = self.socket.send(datagram).await {
            tracing::debug!(%from, "SRT relay: send to srt-tokio failed: {e}");
        }
    }
}

/// A loopback socket for `remote`, and the task that carries srt-tokio's replies back to it.
async fn open(public: &Arc<UdpSocket>, inner: SocketAddr, remote: SocketAddr, guard: CallerGuard) -> io::Result<Caller> {
    let socket = Arc::new(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?);
    socket.connect(inner).await?;
    let seen_as = socket.local_addr()?;
    let (back, public) = (socket.clone(), public.clone());
    let replies = tokio::spawn(async move {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            match back.recv(&mut buf).await {
                Ok(n) => {
                    if let Err(e) = public.send_to(&buf[..n], remote).await {
                        tracing::debug!(%remote, "SRT relay: send to the caller failed: {e}");
                    }
                }
                // srt-tokio's socket went away for a moment (its listener restarting): an
                // ICMP error, reported once.
                Err(e) => tracing::debug!(%remote, "SRT relay: receive from srt-tokio failed: {e}"),
            }
        }
    });
    Ok(Caller { guard, socket, seen_as, last_heard: Instant::now(), streaming: false, replies })
}
