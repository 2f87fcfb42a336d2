//! The SRT listener (UDP, one port for every caller), on srt-tokio behind [`MessageSource`].
//! srt-tokio listens on loopback behind [`SrtRelay`], which owns the public port and keeps
//! what would panic srt-protocol away from it.
//!
//! A caller's stream id names the room and key; the key picks the room's AES passphrase
//! before the handshake completes, so a wrong key or passphrase never gets a session. Refusals
//! carry SRT reject codes (2401 unauthorized, 2404 not found, 2409 conflict, 2400 bad request).

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use futures_util::{FutureExt, StreamExt};
use srt_protocol::options::{KeySize, Passphrase};
use srt_protocol::packet::{RejectReason, ServerRejectReason};
use srt_protocol::settings::KeySettings;
use srt_tokio::{ConnectionRequest, SrtIncoming, SrtListener, SrtSocket};
use tokio::net::UdpSocket;

use super::keys::{parse_srt_stream_id, Refusal};
use super::metrics::IngestMetrics;
use super::mpegts::{TsDemuxer, TsEvent};
use super::srt_relay::{Origins, SrtRelay};
use super::{refused, IngestConfig, IngestContext, Session};

/// A connected caller's messages, as the session loop sees them. srt-tokio's last release is
/// from 2024; keeping it behind this trait lets another SRT stack slot in.
pub trait MessageSource: Send {
    /// The next message; None when the caller is gone.
    fn recv(&mut self) -> impl Future<Output = Option<Vec<u8>>> + Send;
    /// The link as the receiver sees it, if known.
    fn link_stats(&mut self) -> Option<LinkStats>;
}

/// An SRT caller's link figures, cumulative since it connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    /// Data packets that did not arrive the first time: recovered by retransmission or dropped.
    pub lost: u64,
    /// Lost packets that a retransmission recovered.
    pub retransmitted: u64,
    /// Round-trip time measured during the handshake (listener: our induction response to the
    /// caller's conclusion). srt-protocol 0.4.4 keeps its running estimate private
    /// (`SocketStatistics::rx_average_rtt` is never filled in), so this is the figure there is.
    pub rtt: Duration,
}

pub struct SrtIngest {
    relay: SrtRelay,
    origins: Origins,
    /// The public port (the relay's).
    addr: SocketAddr,
    listener: InnerListener,
}

/// srt-tokio's listener on loopback, behind the relay.
struct InnerListener {
    _listener: SrtListener,
    incoming: SrtIncoming,
    addr: SocketAddr,
    latency: Duration,
}

/// How long a restarted listener waits for the old one's socket to be released.
const REBIND_TIMEOUT: Duration = Duration::from_secs(5);

impl SrtIngest {
    pub async fn bind(config: &IngestConfig, metrics: &IngestMetrics) -> io::Result<Self> {
        let listener = InnerListener::bind((Ipv4Addr::LOCALHOST, 0).into(), config.srt_latency()).await?;
        let relay = SrtRelay::bind(config.srt_listen, listener.addr, config.srt_max_callers, metrics.clone()).await?;
        let addr = relay.local_addr()?;
        Ok(Self { origins: relay.origins(), relay, addr, listener })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Relay the port and accept callers; each runs in its own task.
    pub async fn run(self, ctx: IngestContext) {
        let Self { relay, origins, listener, .. } = self;
        tokio::select! {
            _ = relay.run() => {}
            _ = listener.accept(ctx, origins) => {}
        }
    }
}

impl InnerListener {
    async fn bind(addr: SocketAddr, latency: Duration) -> io::Result<Self> {
        let socket = UdpSocket::bind(addr).await?;
        let addr = socket.local_addr()?;
        let (listener, incoming) = SrtListener::builder().latency(latency).socket(socket).bind(addr).await?;
        Ok(Self { _listener: listener, incoming, addr, latency })
    }

    /// Accept callers. Should srt-tokio's listener task die all the same (the relay drops
    /// every datagram known to panic it, but it is not our code), the incoming stream ends —
    /// nothing else ends it while we hold the listener — and a fresh listener on the same
    /// loopback address takes new callers again (streams live on the dead one end).
    async fn accept(mut self, ctx: IngestContext, origins: Origins) {
        loop {
            while let Some(request) = self.incoming.incoming().next().await {
                let (ctx, remote) = (ctx.clone(), origins.real(request.remote()));
                tokio::spawn(async move { caller(ctx, request, remote).await });
            }
            ctx.metrics.srt_listener_restarts.inc();
            tracing::error!(addr = %self.addr, "the SRT listener task died (srt-tokio panicked); starting a new one");
            let deadline = Instant::now() + REBIND_TIMEOUT;
            self = loop {
                match Self::bind(self.addr, self.latency).await {
                    Ok(fresh) => break fresh,
                    // The dead listener's socket lives until its connections' tasks end.
                    Err(e) if Instant::now() < deadline => {
                        tracing::debug!(addr = %self.addr, "SRT listener rebind: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => {
                        tracing::error!(addr = %self.addr, "SRT ingest stopped: the listener could not be restarted: {e}");
                        return;
                    }
                }
            };
        }
    }
}

/// One caller's connection request; `remote` is its real address (srt-tokio sees the relay's).
async fn caller(ctx: IngestContext, request: ConnectionRequest, remote: SocketAddr) {
    let id = request.stream_id().map(|s| s.to_string()).unwrap_or_default();
    let verdict = parse_srt_stream_id(&id)
        .ok_or(Refusal::BadStreamId)
        .and_then(|t| ctx.keys.passphrase(&t).map(|p| (t, p)))
        .and_then(|(t, p)| ctx.keys.claim(&t.room).map(|g| (g, p)));
    let (guard, passphrase) = match verdict {
        Ok(v) => v,
        Err(why) => {
            tracing::debug!(%remote, stream_id = %id, "SRT caller refused");
            refused(&ctx, "srt", remote, &why);
            let _ = request.reject(reject_reason(&why)).await;
            return;
        }
    };
    let keys = match (passphrase, request.key_size()) {
        (None, KeySize::Unspecified) => None,
        (Some(p), size) if size != KeySize::Unspecified => match Passphrase::try_from(p) {
            Ok(passphrase) => Some(KeySettings { key_size: size, passphrase }),
            Err(_) => None,
        },
        (p, _) => {
            let why = Refusal::Unsupported(if p.is_some() { "this room needs an SRT passphrase" } else { "this room takes no SRT passphrase" }.into());
            refused(&ctx, "srt", remote, &why);
            let _ = request.reject(RejectReason::Server(ServerRejectReason::Unauthorized)).await;
            return;
        }
    };
    let socket = match request.accept(keys).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(%remote, "SRT accept failed: {e}");
            return;
        }
    };
    let session = match Session::start(&ctx, guard, "srt", remote).await {
        Ok(s) => s,
        Err(why) => return refused(&ctx, "srt", remote, &why),
    };
    run_ts(session, SrtSource::new(socket)).await;
}

fn reject_reason(why: &Refusal) -> RejectReason {
    RejectReason::Server(match why {
        Refusal::BadStreamId => ServerRejectReason::BadRequest,
        Refusal::UnknownRoom(_) => ServerRejectReason::Notfound,
        Refusal::WrongKey(_) | Refusal::Disabled(_) => ServerRejectReason::Unauthorized,
        Refusal::InUse(_) => ServerRejectReason::Conflict,
        Refusal::OtherBridge { .. } => ServerRejectReason::Unacceptable,
        Refusal::TooManyStreams(_) => ServerRejectReason::Overload,
        Refusal::Unsupported(_) => ServerRejectReason::BadRequest,
    })
}

/// MPEG-TS over any message source into a live session, until the source ends.
pub async fn run_ts(mut session: Session, mut source: impl MessageSource) {
    let mut demux = TsDemuxer::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            msg = source.recv() => {
                let Some(msg) = msg else {
                    // The demuxer holds each stream's last PES until the next one starts; the
                    // encoder's last frame would be lost without this.
                    feed_ts(&mut session, demux.flush(), 0).await;
                    break;
                };
                let events = demux.push(&msg);
                if !feed_ts(&mut session, events, msg.len()).await {
                    break;
                }
            }
            _ = tick.tick() => {
                let stats = source.link_stats();
                session.tick(stats);
            }
        }
    }
}

async fn feed_ts(session: &mut Session, events: Vec<TsEvent>, bytes: usize) -> bool {
    let now = Instant::now();
    session
        .feed(|p, out, notes| {
            p.bytes_in(bytes);
            for e in &events {
                match e {
                    TsEvent::Pes(pes) => p.ts_pes(pes, now, out, notes),
                    TsEvent::Unsupported { stream_type, .. } => notes.push(super::publisher::Notice::Unsupported(format!("MPEG-TS stream type {stream_type:#04x} (only H.264 and AAC are taken)"))),
                }
            }
        })
        .await
}

struct SrtSource {
    socket: SrtSocket,
    stats: Option<LinkStats>,
}

impl SrtSource {
    fn new(socket: SrtSocket) -> Self {
        Self { socket, stats: None }
    }
}

impl MessageSource for SrtSource {
    async fn recv(&mut self) -> Option<Vec<u8>> {
        match self.socket.next().await? {
            Ok((_, bytes)) => Some(bytes.to_vec()),
            Err(e) => {
                tracing::debug!("SRT receive ended: {e}");
                None
            }
        }
    }

    fn link_stats(&mut self) -> Option<LinkStats> {
        let rtt = self.socket.settings().rtt;
        let stream = self.socket.statistics();
        // The statistics stream is a watch: take what is there without waiting.
        if let Some(Some(s)) = stream.next().now_or_never() {
            // srt-protocol 0.4.4 never counts `rx_loss_data`; a packet lost is one that came
            // back by retransmission or was dropped too late.
            let lost = s.rx_loss_data.max(s.rx_retransmit_data + s.rx_dropped_data);
            self.stats = Some(LinkStats { lost, retransmitted: s.rx_retransmit_data, rtt });
        }
        self.stats
    }
}
