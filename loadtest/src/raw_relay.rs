//! The machine's ceiling: a raw UDP fan-out relay with the bridge's batched socket I/O
//! (quinn-udp: `recvmmsg`/GRO in, one `sendmsg` per receiver out) and nothing else — no ICE,
//! no DTLS/SRTP, no RTCP, no rewriting. It is an [`Sfu`] like any other, so the bench feeds
//! it the same rooms and the same packet pattern as Ponte: each publisher sends what its
//! session would put on the wire (20 ms audio packets of Opus size, video frames of the
//! configured bitrate cut into packets of at most [`MAX_PAYLOAD`] bytes), each packet stamped
//! so receivers measure loss and one-way latency the same way.
//!
//! The relay runs on its own thread; its CPU time is that thread's (`/proc/self/task/TID`).

use std::collections::HashMap;
use std::io::IoSliceMut;
use std::net::{IpAddr, SocketAddr, UdpSocket as StdSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use quinn_udp::{RecvMeta, Transmit, UdpSocketState, BATCH_SIZE};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use ponte_proto::MediaKind;

use crate::error::ParticipantError;
use crate::histogram::Histogram;
use crate::media::{opus, vp8, wall_micros};
use crate::probe::ProbeError;
use crate::recorder::{Snapshot, TrackSnapshot, TrackStats};
use crate::session::Stats;
use crate::target::{BoxFuture, JoinSpec, Role, ServerSample, Sfu, SimParticipant};

/// Largest payload per packet, as an RTP packetizer leaves room for headers within the MTU.
pub const MAX_PAYLOAD: usize = 1150;
/// What RTP + SRTP add to each payload on the wire (12-byte header, extensions, 10-byte tag).
pub const WIRE_OVERHEAD: usize = 30;
/// `[sender u32, kind u8, seq u32, sent_us u64]`.
const HEADER: usize = 17;
const MAX_DATAGRAM: usize = 2048;

/// Destinations of each publisher's packets.
/// (Shared lists, so the relay copies a pointer per packet, not the list.)
type Routes = Arc<RwLock<HashMap<SocketAddr, Arc<Vec<SocketAddr>>>>>;

/// The relay thread and the members joined to it.
pub struct RawRelay {
    addr: SocketAddr,
    table: Arc<Table>,
    forwarded: Arc<AtomicU64>,
    tid: Arc<OnceLock<u32>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    next_tag: AtomicU64,
}

impl RawRelay {
    /// Bind on `ip` (port 0) and start the relay thread.
    pub fn start(ip: IpAddr) -> std::io::Result<Self> {
        let socket = StdSocket::bind((ip, 0))?;
        socket.set_nonblocking(true)?;
        let state = UdpSocketState::new((&socket).into())?;
        let _ = state.set_recv_buffer_size((&socket).into(), 4 << 20);
        let _ = state.set_send_buffer_size((&socket).into(), 4 << 20);
        let addr = socket.local_addr()?;
        let routes: Routes = Arc::default();
        let forwarded = Arc::new(AtomicU64::new(0));
        let tid = Arc::new(OnceLock::new());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (routes, forwarded, tid, stop) = (routes.clone(), forwarded.clone(), tid.clone(), stop.clone());
            // Its own single-threaded runtime, as one bridge worker would have: the relay's
            // CPU is this thread's alone.
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            std::thread::Builder::new().name("raw-relay".into()).spawn(move || {
                rt.block_on(async move {
                    match UdpSocket::from_std(socket) {
                        Ok(socket) => relay_loop(socket, state, routes, forwarded, tid, stop).await,
                        Err(e) => tracing::warn!("raw relay socket: {e}"),
                    }
                })
            })?
        };
        Ok(Self {
            addr,
            table: Arc::new(Table { routes, rooms: Mutex::default() }),
            forwarded,
            tid,
            stop,
            thread: Some(thread),
            next_tag: AtomicU64::new(1),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Who is in which room, and the routes that follow from it.
struct Table {
    routes: Routes,
    rooms: Mutex<HashMap<String, Vec<(SocketAddr, Role)>>>,
}

impl Table {
    fn add_member(&self, room: &str, addr: SocketAddr, role: Role) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        let members = rooms.entry(room.to_owned()).or_default();
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        for (other, other_role) in members.iter() {
            if *other_role == Role::Publisher {
                let mut dests = routes.get(other).map(|d| d.to_vec()).unwrap_or_default();
                dests.push(addr);
                routes.insert(*other, Arc::new(dests));
            }
        }
        if role == Role::Publisher {
            routes.insert(addr, Arc::new(members.iter().map(|(a, _)| *a).collect()));
        }
        members.push((addr, role));
    }

    fn remove_member(&self, room: &str, addr: SocketAddr) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(members) = rooms.get_mut(room) {
            members.retain(|(a, _)| *a != addr);
        }
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        routes.remove(&addr);
        for dests in routes.values_mut() {
            if dests.contains(&addr) {
                *dests = Arc::new(dests.iter().copied().filter(|a| *a != addr).collect());
            }
        }
    }
}

impl Drop for RawRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn relay_loop(socket: UdpSocket, state: UdpSocketState, routes: Routes, forwarded: Arc<AtomicU64>, tid: Arc<OnceLock<u32>>, stop: Arc<AtomicBool>) {
    if let Some(t) = own_tid() {
        let _ = tid.set(t);
    }
    let slot = MAX_DATAGRAM * state.gro_segments().max(1);
    let mut bufs: Vec<Vec<u8>> = (0..BATCH_SIZE).map(|_| vec![0; slot]).collect();
    let mut metas = vec![RecvMeta::default(); BATCH_SIZE];
    while !stop.load(Ordering::Relaxed) {
        if tokio::time::timeout(Duration::from_millis(100), socket.readable()).await.is_err() {
            continue;
        }
        let mut iovs: Vec<IoSliceMut<'_>> = bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
        let n = match socket.try_io(Interest::READABLE, || state.recv((&socket).into(), &mut iovs, &mut metas)) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                tracing::debug!("raw relay receive: {e}");
                continue;
            }
        };
        drop(iovs);
        // Copy the routes of this batch out so no lock is held across a send that waits.
        let batch: Vec<(Arc<Vec<SocketAddr>>, usize)> = {
            let routes = routes.read().unwrap_or_else(|e| e.into_inner());
            metas.iter().take(n).enumerate().filter_map(|(i, m)| routes.get(&m.addr).map(|d| (d.clone(), i))).collect()
        };
        let mut sent = 0;
        for (dests, i) in batch {
            let meta = &metas[i];
            for data in bufs[i][..meta.len].chunks(meta.stride.max(1)) {
                for &destination in dests.iter() {
                    let t = Transmit { destination, ecn: None, contents: data, segment_size: None, src_ip: None };
                    if socket.async_io(Interest::WRITABLE, || state.try_send((&socket).into(), &t)).await.is_ok() {
                        sent += 1;
                    }
                }
            }
        }
        forwarded.fetch_add(sent, Ordering::Relaxed);
    }
}

/// This thread's id, from the `/proc/thread-self` link (`PID/task/TID`).
fn own_tid() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

impl Sfu for RawRelay {
    fn name(&self) -> &str {
        "raw-udp-relay"
    }

    fn join(&self, spec: JoinSpec) -> BoxFuture<'_, Result<Box<dyn SimParticipant>, ParticipantError>> {
        Box::pin(async move {
            let socket = UdpSocket::bind(spec.bind).await?;
            let addr = socket.local_addr()?;
            let tag = self.next_tag.fetch_add(1, Ordering::Relaxed) as u32;
            self.table.add_member(&spec.room, addr, spec.role);
            let shared = Arc::new(Mutex::new(RawShared { stats: Stats { connected: true, connected_at: Some(Instant::now()), ..Stats::default() }, ..RawShared::default() }));
            let task = tokio::spawn(member_loop(socket, self.addr, tag, spec.clone(), shared.clone()));
            Ok(Box::new(RawMember { id: spec.display_name, room: spec.room, addr, shared, task, table: self.table.clone() }) as Box<dyn SimParticipant>)
        })
    }

    fn sample(&self) -> BoxFuture<'_, Option<Result<ServerSample, ProbeError>>> {
        Box::pin(async move {
            let tid = *self.tid.get()?;
            let pid = std::process::id();
            // schedstat's first field is the thread's time on a CPU in ns: finer than the
            // 10 ms ticks of `stat`, which a lightly loaded relay would not reach in a window.
            let stat = match std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat")) {
                Ok(s) => s,
                Err(source) => return Some(Err(ProbeError::Proc { pid, source })),
            };
            let Some(ns) = stat.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()) else {
                return Some(Err(ProbeError::ProcFormat { pid }));
            };
            let endpoints = self.table.rooms.lock().unwrap_or_else(|e| e.into_inner()).values().map(|m| m.len() as u64).sum();
            Some(Ok(ServerSample {
                cpu_seconds: ns as f64 / 1e9,
                rss_bytes: 0,
                packets_sent: Some(self.forwarded.load(Ordering::Relaxed)),
                endpoints: Some(endpoints),
            }))
        })
    }
}

/// One received stream: counters, the last packet seq and the last arrival − send time (µs).
#[derive(Default)]
struct RawTrack {
    stats: TrackStats,
    last_seq: Option<u32>,
    last_transit: Option<i64>,
}

#[derive(Default)]
struct RawShared {
    stats: Stats,
    /// Per (sender, kind).
    tracks: HashMap<(u32, u8), RawTrack>,
    latency: [Histogram; 2],
    ended: Option<String>,
}

struct RawMember {
    id: String,
    room: String,
    addr: SocketAddr,
    shared: Arc<Mutex<RawShared>>,
    task: tokio::task::JoinHandle<()>,
    table: Arc<Table>,
}

impl SimParticipant for RawMember {
    fn id(&self) -> &str {
        &self.id
    }

    fn snapshot(&self) -> Snapshot {
        let shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        let tracks = shared
            .tracks
            .iter()
            .map(|(&(sender, kind), t)| TrackSnapshot {
                publisher: sender.to_string(),
                kind: if kind == 0 { MediaKind::Audio } else { MediaKind::Video },
                stats: t.stats.clone(),
            })
            .collect();
        Snapshot { tracks, latency: shared.latency.clone(), ..Snapshot::default() }
    }

    fn stats(&self) -> Stats {
        self.shared.lock().unwrap_or_else(|e| e.into_inner()).stats.clone()
    }

    fn ended(&self) -> Option<String> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner()).ended.clone()
    }

    fn leave(self: Box<Self>) -> BoxFuture<'static, Result<(), ParticipantError>> {
        self.task.abort();
        self.table.remove_member(&self.room, self.addr);
        Box::pin(async { Ok(()) })
    }
}

impl Drop for RawMember {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One member: send the publisher's packet pattern (if it publishes), count what arrives.
async fn member_loop(socket: UdpSocket, relay: SocketAddr, tag: u32, spec: JoinSpec, shared: Arc<Mutex<RawShared>>) {
    let publishing = spec.role == Role::Publisher;
    let media = &spec.media;
    // One stream at the whole bitrate: a relay that knows no layers forwards what it gets.
    let per_frame = f64::from(media.video_kbps) * 1000.0 / 8.0 / f64::from(media.video_fps.max(1));
    let video_scale = per_frame / vp8::mean_frame_len(30);
    let mut audio = tokio::time::interval(Duration::from_millis(20));
    let mut video = tokio::time::interval(Duration::from_secs(1) / media.video_fps.max(1));
    let (mut aseq, mut vseq, mut vframe) = (0u32, 0u32, 0u32);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut out = Vec::with_capacity(MAX_DATAGRAM);
    loop {
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                let Ok((n, _)) = r else { continue };
                receive(&shared, buf.get(..n).unwrap_or_default());
            }
            _ = audio.tick(), if publishing && media.audio => {
                let len = opus::packet(tag, aseq).len() + WIRE_OVERHEAD;
                send(&socket, relay, &mut out, tag, 0, aseq, len).await;
                aseq = aseq.wrapping_add(1);
                let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
                s.stats.audio.frames += 1;
                s.stats.audio.bytes += (len - WIRE_OVERHEAD) as u64;
                s.stats.rtp_packets_sent += 1;
            }
            _ = video.tick(), if publishing && media.video => {
                let key = vframe % 30 == 0;
                let frame_len = (vp8::frame(tag, vframe, key).len() as f64 * video_scale) as usize;
                let packets = frame_len.div_ceil(MAX_PAYLOAD).max(1);
                for i in 0..packets {
                    let len = frame_len / packets + usize::from(i < frame_len % packets) + WIRE_OVERHEAD;
                    send(&socket, relay, &mut out, tag, 1, vseq, len).await;
                    vseq = vseq.wrapping_add(1);
                }
                vframe = vframe.wrapping_add(1);
                let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
                s.stats.video.frames += 1;
                s.stats.video.bytes += frame_len as u64;
                s.stats.video.keyframes += u64::from(key);
                s.stats.rtp_packets_sent += packets as u64;
            }
        }
    }
}

async fn send(socket: &UdpSocket, relay: SocketAddr, out: &mut Vec<u8>, tag: u32, kind: u8, seq: u32, len: usize) {
    out.clear();
    out.extend_from_slice(&tag.to_be_bytes());
    out.push(kind);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&wall_micros(Instant::now()).to_be_bytes());
    out.resize(len.clamp(HEADER, MAX_DATAGRAM), 0);
    if let Err(e) = socket.send_to(out, relay).await {
        tracing::debug!("raw send: {e}");
    }
}

fn receive(shared: &Mutex<RawShared>, data: &[u8]) {
    let Some(h) = data.get(..HEADER) else { return };
    let word = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let (sender, kind, seq) = (word(0), h[4], word(5));
    let sent_us = u64::from(word(9)) << 32 | u64::from(word(13));
    let now = Instant::now();
    let transit = wall_micros(now) as i64 - sent_us as i64;
    let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
    s.stats.rtp_packets_received += 1;
    let kind = kind.min(1);
    let RawTrack { stats, last_seq, last_transit } = s.tracks.entry((sender, kind)).or_default();
    stats.frames += 1;
    stats.bytes += data.len().saturating_sub(WIRE_OVERHEAD) as u64;
    stats.first_at.get_or_insert(now);
    stats.last_at = Some(now);
    if let Some(last) = *last_seq {
        let step = seq.wrapping_sub(last);
        if step != 1 {
            stats.gaps += 1;
            if step < u32::MAX / 2 {
                stats.missing += u64::from(step.saturating_sub(1));
            }
        }
    }
    *last_seq = Some(seq);
    if let Some(last) = last_transit.replace(transit) {
        let d = transit.abs_diff(last);
        stats.jitter_x16 = (stats.jitter_x16 + d).saturating_sub((stats.jitter_x16 + 8) >> 4);
    }
    s.latency[usize::from(kind)].record(transit.max(0) as u64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::MediaSpec;

    #[tokio::test]
    async fn the_relay_fans_out_to_the_room_and_counts() {
        let relay = RawRelay::start([127, 0, 0, 1].into()).expect("relay");
        let spec = |name: &str, role| JoinSpec {
            room: "r".into(),
            display_name: name.into(),
            role,
            media: MediaSpec { video_kbps: 500, ..MediaSpec::default() },
            bind: ([127, 0, 0, 1], 0).into(),
            join_timeout: Duration::from_secs(2),
        };
        let p = relay.join(spec("p", Role::Publisher)).await.expect("join");
        let s = relay.join(spec("s", Role::Subscriber)).await.expect("join");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let snap = s.snapshot();
        assert!(snap.frames() > 60, "{} packets", snap.frames());
        assert_eq!(snap.missing(), 0);
        assert!(snap.latency(MediaKind::Audio).count() > 40);
        assert_eq!(p.snapshot().frames(), 0, "a lone publisher hears nobody");
        let sample = relay.sample().await.expect("tid").expect("sample");
        assert!(sample.packets_sent.unwrap() >= snap.frames());
        let sent = p.stats();
        let kbps = (sent.video.bytes as f64) * 8.0 / 1.5 / 1000.0;
        assert!((300.0..800.0).contains(&kbps), "{kbps} kbit/s of video");
        p.leave().await.unwrap();
        s.leave().await.unwrap();
    }
}
