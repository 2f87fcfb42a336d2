//! The bridge service: binds the media socket and HTTP listener, then runs the engine loop
//! (the I/O edge around the sans-IO [`Engine`]).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus::Registry;
use str0m::net::Transmit;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use ponte_proto::link::{BridgeStats, BridgeToFocus, FocusToBridge, Registration, LINK_VERSION};

use crate::config::BridgeConfig;
use crate::drain::{Drain, DrainAction};
use crate::engine::{Engine, Limits};
use crate::error::BridgeError;
use crate::focus_link::LinkEnds;
use crate::http::{self, HttpState};
use crate::ingest::keys::KeyRing;
use crate::ingest::metrics::IngestMetrics;
use crate::ingest::rtmp::RtmpIngest;
use crate::ingest::srt::SrtIngest;
use crate::ingest::keys::Refusal;
use crate::ingest::{IngestCommand, IngestConfig, IngestContext, IngestInfo};
use crate::metrics::BridgeMetrics;
use crate::socket::udp::MediaSocket;

/// Datagram batches read per wake-up before timers and commands get a turn.
const MAX_BATCHES_PER_WAKE: usize = 16;

pub struct Bridge {
    config: BridgeConfig,
    socket: MediaSocket,
    candidates: Vec<SocketAddr>,
    http: TcpListener,
    metrics: BridgeMetrics,
    http_state: HttpState,
    ingest: Ingest,
}

/// The bound ingest listeners (none when no room has a stream key).
struct Ingest {
    srt: Option<SrtIngest>,
    rtmp: Option<RtmpIngest>,
    metrics: IngestMetrics,
    keys: KeyRing,
}

impl Bridge {
    /// Bind the media socket and the HTTP listener. Port 0 picks free ports (tests).
    pub async fn bind(config: BridgeConfig, registry: Registry) -> Result<Self, BridgeError> {
        let media = SocketAddr::new(config.bind_ip, config.media_port);
        let socket = MediaSocket::bind(media).map_err(|source| BridgeError::Bind { what: "media socket", addr: media, source })?;
        let port = socket.local_addr().port();
        let candidates = advertised_ips(&config).into_iter().map(|ip| SocketAddr::new(ip, port)).collect();
        let http = TcpListener::bind(config.http_listen)
            .await
            .map_err(|source| BridgeError::Bind { what: "HTTP listener", addr: config.http_listen, source })?;
        let metrics = BridgeMetrics::new(&registry)?;
        // process_resident_memory_bytes, process_open_fds, …: what a soak run watches.
        registry.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))?;
        let ingest = Ingest::bind(&config.ingest, &registry).await?;
        let ingest_keys = ingest.keys.clone();
        let http_state = HttpState {
            registry,
            ready: Arc::new(AtomicBool::new(false)),
            draining: Arc::new(AtomicBool::new(false)),
            stats: Arc::new(Mutex::new(BridgeStats::default())),
            ingests: Arc::default(),
            ingest_keys: (ingest.srt.is_some() || ingest.rtmp.is_some()).then_some(ingest_keys),
            secret: config.secret.clone(),
        };
        Ok(Self { config, socket, candidates, http, metrics, http_state, ingest })
    }

    /// The first advertised media address.
    pub fn media_addr(&self) -> SocketAddr {
        self.candidates[0]
    }

    pub fn candidates(&self) -> &[SocketAddr] {
        &self.candidates
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http.local_addr().expect("a bound listener has an address")
    }

    /// The SRT ingest listener's address, when it is open.
    pub fn srt_addr(&self) -> Option<SocketAddr> {
        self.ingest.srt.as_ref().map(SrtIngest::local_addr)
    }

    /// The RTMP ingest listener's address, when it is open.
    pub fn rtmp_addr(&self) -> Option<SocketAddr> {
        self.ingest.rtmp.as_ref().map(RtmpIngest::local_addr)
    }

    /// The counter for the WebSocket focus link's failures (`WsLinkOptions::failures`), so
    /// that they show on this bridge's `/metrics`.
    pub fn focus_link_failures(&self) -> prometheus::IntCounterVec {
        self.metrics.focus_link_failures.clone()
    }

    pub fn bridge_id(&self) -> &str {
        &self.config.bridge_id
    }

    /// Serve until `shutdown` resolves, or until a bridge drained by the focus is done.
    pub async fn run(self, link: LinkEnds, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), BridgeError> {
        self.run_with_drain(link, std::future::pending(), shutdown).await
    }

    /// Serve; when `drain` resolves (SIGTERM) start draining for good; return when the drain
    /// is done ([`crate::drain`]) or at once when `shutdown` resolves.
    pub async fn run_with_drain(
        self,
        link: LinkEnds,
        drain_signal: impl Future<Output = ()> + Send + 'static,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), BridgeError> {
        let ingest_addrs = self.ingest_addrs();
        let Bridge { config, mut socket, candidates, http, metrics, http_state, ingest } = self;
        let (ingest_tx, mut ingest_rx) = mpsc::channel(1024);
        let ingest_tasks = ingest.spawn(&config.ingest, ingest_tx, http_state.ingests.clone());
        let (stop_http, mut http_stopped) = watch::channel(false);
        let app = http::router(http_state.clone());
        let http_task = tokio::spawn(async move {
            let stop = async move {
                let _ = http_stopped.wait_for(|v| *v).await;
            };
            axum::serve(http, app).with_graceful_shutdown(stop).await
        });

        let LinkEnds { to_focus, mut from_focus } = link;
        let registration = Registration {
            bridge_id: config.bridge_id.clone(),
            region: config.region.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            link_version: LINK_VERSION,
            media_addr: candidates[0].to_string(),
            ingest_addrs,
            conferences: Vec::new(),
            endpoints: Vec::new(),
            drain_requested: false,
        };
        to_focus.send(BridgeToFocus::Register(registration.clone())).await.map_err(|_| BridgeError::LinkClosed)?;
        http_state.ready.store(true, Ordering::Relaxed);
        tracing::info!(bridge = %config.bridge_id, media = ?candidates, "bridge running");

        let mut engine = Engine::new(candidates, config.keyframe_request_interval, metrics.clone());
        engine.set_limits(Limits::from(&config));
        engine.set_quality(config.quality.clone());
        let mut load = LoadMeter::new(&metrics, config.max_endpoints, config.full_packet_rate);
        let mut stats_tick = tokio::time::interval(config.stats_interval);
        let mut drain = Drain::new(config.drain_deadline);
        let mut claims = Claims::default();
        let mut outbox: Vec<Transmit> = Vec::new();
        tokio::pin!(shutdown);
        tokio::pin!(drain_signal);

        let result = loop {
            let mut wake = engine.next_timeout().unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
            if let Some(at) = drain.next_wake() {
                wake = wake.min(at);
            }
            tokio::select! {
                // Shutdown first: in one process the focus may close the link at the same moment.
                biased;
                _ = &mut shutdown => break Ok(()),
                _ = &mut drain_signal, if !drain.own() => {
                    tracing::info!(deadline = ?config.drain_deadline, conferences = engine.conference_names().count(), "draining: no new conferences; exiting when the last ends (send the signal again to exit now)");
                    if drain.start_own(Instant::now()) {
                        http_state.draining.store(true, Ordering::Relaxed);
                    }
                    let _ = to_focus.send(BridgeToFocus::Draining { draining: true }).await;
                }
                cmd = from_focus.recv() => match cmd {
                    Some(FocusToBridge::Drain { draining: d }) => {
                        tracing::info!(draining = d, "drain requested by the focus");
                        drain.set_requested(d, Instant::now());
                        http_state.draining.store(drain.draining(), Ordering::Relaxed);
                    }
                    Some(FocusToBridge::Registered { focus_version }) => {
                        // A focus that restarted, or a link that came back, has forgotten what
                        // runs here and an operator's drain: tell it, so it keeps those
                        // conferences on this bridge and sends no new ones while drained. (The
                        // link replays only the first, empty registration: a later one would
                        // be stale by the next connection.)
                        let conferences: Vec<String> = engine.conference_names().map(str::to_owned).collect();
                        tracing::info!(%focus_version, conferences = conferences.len(), drain_requested = drain.requested(), "registered with the focus");
                        let again = Registration {
                            conferences,
                            endpoints: engine.hosted_endpoints(),
                            drain_requested: drain.requested(),
                            ..registration.clone()
                        };
                        let _ = to_focus.send(BridgeToFocus::Register(again)).await;
                        if drain.own() {
                            let _ = to_focus.send(BridgeToFocus::Draining { draining: true }).await;
                        }
                    }
                    Some(FocusToBridge::ClaimResult { conference, granted, bridge_id, ingest_addrs }) => {
                        claims.answered(&mut engine, &conference, granted, &bridge_id, &ingest_addrs);
                    }
                    Some(cmd) => engine.handle_command(Instant::now(), cmd),
                    None => break Err(BridgeError::LinkClosed),
                },
                r = socket.readable() => {
                    r?;
                    for _ in 0..MAX_BATCHES_PER_WAKE {
                        let n = socket.try_recv_batch()?;
                        if n == 0 {
                            break;
                        }
                        let now = Instant::now();
                        socket.received(n, |d| engine.handle_datagram(now, d.source, d.destination, d.data));
                    }
                }
                Some(cmd) = ingest_rx.recv() => match cmd {
                    IngestCommand::Start { room, serial, display_name, reply } => {
                        if engine.conference_names().any(|c| c == room) {
                            let _ = reply.send(engine.ingest_start(Instant::now(), &room, serial, &display_name));
                        } else if drain.draining() {
                            // A stream into a new room would open a new conference here.
                            let why = "this bridge is draining and opens no new room; push to another bridge";
                            let _ = reply.send(Err(Refusal::Unsupported(why.into())));
                        } else if claims.wait(&room, serial, display_name, reply) {
                            // The room may live on another bridge: the focus decides.
                            let _ = to_focus.send(BridgeToFocus::Claim { conference: room }).await;
                        }
                    }
                    cmd => on_ingest(&mut engine, cmd),
                },
                _ = tokio::time::sleep_until(wake.into()) => engine.handle_timeout(Instant::now()),
                _ = stats_tick.tick() => {
                    let stats = load.sample(&engine, drain.own());
                    *http_state.stats.lock().expect("stats lock is never held across a panic") = stats.clone();
                    if to_focus.try_send(BridgeToFocus::Stats(stats)).is_err() {
                        tracing::debug!("stats report skipped: focus link busy");
                    }
                }
            }
            send_all(&mut engine, &mut socket, &mut outbox, &metrics).await;
            while let Some(event) = engine.poll_event() {
                if to_focus.send(BridgeToFocus::Endpoint(event)).await.is_err() {
                    tracing::warn!("focus link closed; endpoint event lost");
                }
            }
            match drain.poll(Instant::now(), engine.conference_names().next().is_none()) {
                DrainAction::Continue => {}
                DrainAction::Evacuate => {
                    let conferences: Vec<String> = engine.conference_names().map(str::to_owned).collect();
                    tracing::warn!(?conferences, "drain deadline: asking the focus to move the conferences left");
                    let _ = to_focus.send(BridgeToFocus::Draining { draining: true }).await;
                    let _ = to_focus.send(BridgeToFocus::Evacuate { conferences }).await;
                }
                DrainAction::Exit => {
                    tracing::info!(conferences = engine.conference_names().count(), "drained: exiting");
                    break Ok(());
                }
            }
        };
        http_state.ready.store(false, Ordering::Relaxed);
        for t in ingest_tasks {
            t.abort();
        }
        let _ = stop_http.send(true);
        let _ = http_task.await;
        result
    }
}

impl Bridge {
    /// Ingest URLs for the focus and for refusals, e.g. `srt://1.2.3.4:9000`.
    fn ingest_addrs(&self) -> Vec<String> {
        if !self.config.ingest.public_addrs.is_empty() {
            return self.config.ingest.public_addrs.clone();
        }
        let host = |a: SocketAddr| if a.ip().is_unspecified() { SocketAddr::new(self.candidates[0].ip(), a.port()) } else { a };
        let mut v = Vec::new();
        if let Some(a) = self.srt_addr() {
            v.push(format!("srt://{}", host(a)));
        }
        if let Some(a) = self.rtmp_addr() {
            v.push(format!("rtmp://{}/live", host(a)));
        }
        v
    }
}

impl Ingest {
    async fn bind(config: &IngestConfig, registry: &Registry) -> Result<Self, BridgeError> {
        let metrics = IngestMetrics::new(registry)?;
        let wanted = !config.keys.is_empty();
        let srt = match wanted && config.srt_enabled {
            true => Some(SrtIngest::bind(config, &metrics).await.map_err(|source| BridgeError::Bind { what: "SRT ingest listener", addr: config.srt_listen, source })?),
            false => None,
        };
        let rtmp = match wanted && config.rtmp_enabled {
            true => Some(RtmpIngest::bind(config).await.map_err(|source| BridgeError::Bind { what: "RTMP ingest listener", addr: config.rtmp_listen, source })?),
            false => None,
        };
        Ok(Self { srt, rtmp, metrics, keys: KeyRing::new(config.keys.clone(), config.max_streams) })
    }

    fn spawn(self, config: &IngestConfig, commands: mpsc::Sender<IngestCommand>, live: Arc<Mutex<Vec<IngestInfo>>>) -> Vec<tokio::task::JoinHandle<()>> {
        let reconnect_grace = Duration::from_millis(config.reconnect_grace_ms);
        let ctx = IngestContext { keys: self.keys, commands, metrics: self.metrics, live, reconnect_grace };
        let mut tasks = Vec::new();
        if let Some(srt) = self.srt {
            tracing::info!(addr = %srt.local_addr(), "SRT ingest listening");
            tasks.push(tokio::spawn(srt.run(ctx.clone())));
        }
        if let Some(rtmp) = self.rtmp {
            tracing::info!(addr = %rtmp.local_addr(), "RTMP ingest listening");
            tasks.push(tokio::spawn(rtmp.run(ctx)));
        }
        tasks
    }
}

/// Live streams waiting for the focus to place their room on this bridge.
#[derive(Default)]
struct Claims {
    waiting: HashMap<String, Vec<WaitingStart>>,
}

/// (serial, display name, where the answer goes).
type WaitingStart = (u64, String, oneshot::Sender<Result<(), Refusal>>);

impl Claims {
    /// Park a start; true when it is the room's first, so a claim must go to the focus.
    fn wait(&mut self, room: &str, serial: u64, display_name: String, reply: oneshot::Sender<Result<(), Refusal>>) -> bool {
        let list = self.waiting.entry(room.to_owned()).or_default();
        list.push((serial, display_name, reply));
        list.len() == 1
    }

    fn answered(&mut self, engine: &mut Engine, room: &str, granted: bool, bridge: &str, addrs: &[String]) {
        for (serial, display_name, reply) in self.waiting.remove(room).unwrap_or_default() {
            let result = if granted {
                engine.ingest_start(Instant::now(), room, serial, &display_name)
            } else {
                let addr = if addrs.is_empty() { "(none: it takes no streams)".to_owned() } else { addrs.join(" or ") };
                Err(Refusal::OtherBridge { room: room.to_owned(), bridge: bridge.to_owned(), addr })
            };
            let _ = reply.send(result);
        }
    }
}

fn on_ingest(engine: &mut Engine, cmd: IngestCommand) {
    let now = Instant::now();
    match cmd {
        IngestCommand::Start { room, serial, display_name, reply } => {
            let _ = reply.send(engine.ingest_start(now, &room, serial, &display_name));
        }
        IngestCommand::Media { room, media, at } => engine.ingest_media(now, &room, media, at),
        IngestCommand::Stop { room, serial } => engine.ingest_stop(now, &room, serial),
    }
}

/// Send everything the engine queued, one GSO run per destination where possible.
async fn send_all(engine: &mut Engine, socket: &mut MediaSocket, outbox: &mut Vec<Transmit>, metrics: &BridgeMetrics) {
    outbox.clear();
    while let Some(t) = engine.poll_transmit() {
        outbox.push(t);
    }
    let mut start = 0;
    while start < outbox.len() {
        let dest = outbox[start].destination;
        let end = outbox[start..].iter().position(|t| t.destination != dest).map_or(outbox.len(), |p| start + p);
        let run: Vec<&[u8]> = outbox[start..end].iter().map(|t| &*t.contents).collect();
        match socket.send_run(dest, &run).await {
            Ok(()) => {
                metrics.packets_out.inc_by(run.len() as u64);
                metrics.bytes_out.inc_by(run.iter().map(|d| d.len() as u64).sum());
            }
            // A receiver gone away (ICMP unreachable) must not stop the others.
            Err(e) => tracing::debug!(%dest, "send failed: {e}"),
        }
        start = end;
    }
}

/// Turns counters into the rates and stress figure the focus places by.
struct LoadMeter {
    metrics: BridgeMetrics,
    max_endpoints: u32,
    full_packet_rate: u32,
    last: Instant,
    last_counts: [u64; 4],
    /// Process CPU seconds at `cpu_at` (None where /proc is not there).
    last_cpu: Option<f64>,
    cpu_at: Instant,
    /// The share last measured over a window of at least [`MIN_CPU_WINDOW`].
    cpu_share: f64,
}

/// Cores the bridge can keep busy: media goes through one engine task, so one core fully
/// used is full stress however many the machine has (over all cores, a saturated bridge on
/// eight would read 0.125 and keep getting conferences).
const ENGINE_CORES: f64 = 1.0;

/// CPU time comes in 10 ms ticks: over a shorter window (the first report goes out right
/// after start-up) one tick reads as several cores busy, and a fresh bridge would report
/// full stress.
const MIN_CPU_WINDOW: Duration = Duration::from_millis(500);

impl LoadMeter {
    fn new(metrics: &BridgeMetrics, max_endpoints: u32, full_packet_rate: u32) -> Self {
        let now = Instant::now();
        Self { metrics: metrics.clone(), max_endpoints, full_packet_rate, last: now, last_counts: [0; 4], last_cpu: cpu_seconds(), cpu_at: now, cpu_share: 0.0 }
    }

    fn sample(&mut self, engine: &Engine, draining: bool) -> BridgeStats {
        let now = Instant::now();
        let secs = now.duration_since(self.last).as_secs_f64().max(0.001);
        let m = &self.metrics;
        let counts = [m.bytes_in.get(), m.bytes_out.get(), m.packets_in.get(), m.packets_out.get()];
        let rate = |i: usize| ((counts[i] - self.last_counts[i]) as f64 / secs) as u64;
        let endpoints = engine.endpoint_count() as u32;
        let cpu_window = now.duration_since(self.cpu_at);
        if cpu_window >= MIN_CPU_WINDOW {
            let cpu = cpu_seconds();
            self.cpu_share = match (cpu, self.last_cpu) {
                (Some(now_s), Some(then_s)) => (now_s - then_s).max(0.0) / cpu_window.as_secs_f64() / ENGINE_CORES,
                _ => 0.0,
            };
            self.last_cpu = cpu;
            self.cpu_at = now;
        }
        let cpu_share = self.cpu_share;
        let packet_share = (rate(2) + rate(3)) as f64 / f64::from(self.full_packet_rate);
        let endpoint_share = endpoints as f64 / self.max_endpoints as f64;
        let stats = BridgeStats {
            stress: endpoint_share.max(cpu_share).max(packet_share).clamp(0.0, 1.0),
            endpoints,
            conferences: engine.conference_names().count() as u32,
            bitrate_in_bps: rate(0) * 8,
            bitrate_out_bps: rate(1) * 8,
            packet_rate_in: rate(2),
            packet_rate_out: rate(3),
            draining,
        };
        self.last = now;
        self.last_counts = counts;
        stats
    }
}

/// This process's CPU time (user + system) in seconds, from /proc/self/stat.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; the fields after its closing parenthesis are fixed.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    // USER_HZ is 100 on every Linux ABI Ponte runs on.
    Some((utime + stime) / 100.0)
}

/// Addresses for ICE candidates: the configured public ones, else the bind address if it is
/// specific, else every interface address (non-loopback first, so browsers on other machines
/// try a reachable one first).
fn advertised_ips(config: &BridgeConfig) -> Vec<IpAddr> {
    if !config.public_ip.is_empty() {
        return config.public_ip.clone();
    }
    if !config.bind_ip.is_unspecified() {
        return vec![config.bind_ip];
    }
    let want_v4 = config.bind_ip.is_ipv4();
    let mut ips: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.ip())
        .filter(|ip| ip.is_ipv4() == want_v4)
        .filter(|ip| !matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80))
        .collect();
    ips.sort_by_key(|ip| ip.is_loopback());
    ips.dedup();
    if ips.is_empty() {
        ips.push(if want_v4 { IpAddr::from([127, 0, 0, 1]) } else { IpAddr::from(std::net::Ipv6Addr::LOCALHOST) });
    }
    ips
}
