//! A load: rooms of publishers and subscribers joined to one [`Sfu`] at a ramp rate, and
//! [`Tally`]s of what they sent and received. Two tallies (and two server samples) make a
//! [`Window`]: the figures of that stretch of the run.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::histogram::Histogram;
use crate::target::{JoinSpec, MediaSpec, Role, ServerSample, Sfu, SimParticipant};
use ponte_proto::MediaKind;

/// The shape of every room.
#[derive(Debug, Clone, Serialize)]
pub struct RoomShape {
    pub publishers: u32,
    pub subscribers: u32,
    pub media: MediaSpec,
}

impl RoomShape {
    pub fn size(&self) -> u32 {
        self.publishers + self.subscribers
    }
}

/// One joined participant and when its join started.
pub struct Member {
    pub room: String,
    pub role: Role,
    pub started: Instant,
    pub participant: Box<dyn SimParticipant>,
}

/// Participants of one load, all on one target.
pub struct Load {
    sfu: Arc<dyn Sfu>,
    pub shape: RoomShape,
    pub room_prefix: String,
    pub bind_ip: IpAddr,
    pub join_timeout: Duration,
    pub members: Vec<Member>,
    /// Why joins failed, one line each.
    pub failures: Vec<String>,
    /// Rooms joined so far (the next room is `room_prefix-rooms`).
    pub rooms: u32,
}

impl Load {
    pub fn new(sfu: Arc<dyn Sfu>, shape: RoomShape, room_prefix: impl Into<String>, bind_ip: IpAddr) -> Self {
        Self {
            sfu,
            shape,
            room_prefix: room_prefix.into(),
            bind_ip,
            join_timeout: Duration::from_secs(15),
            members: Vec::new(),
            failures: Vec::new(),
            rooms: 0,
        }
    }

    pub fn sfu(&self) -> &Arc<dyn Sfu> {
        &self.sfu
    }

    /// Join `rooms` more rooms, `per_second` participants a second (each join in its own task,
    /// so a slow handshake does not hold back the schedule), giving up on joins not started
    /// by `deadline`. `progress(joined_or_failed, total)` is called as joins finish.
    pub async fn add_rooms(&mut self, rooms: u32, per_second: f64, deadline: Instant, mut progress: impl FnMut(usize, usize)) {
        let mut specs = Vec::new();
        for r in self.rooms..self.rooms + rooms {
            let room = format!("{}-{r}", self.room_prefix);
            let roles = std::iter::repeat_n(Role::Publisher, self.shape.publishers as usize)
                .chain(std::iter::repeat_n(Role::Subscriber, self.shape.subscribers as usize));
            for (n, role) in roles.enumerate() {
                let tag = if role == Role::Publisher { "pub" } else { "sub" };
                specs.push(JoinSpec {
                    room: room.clone(),
                    display_name: format!("{room}-{tag}{n}"),
                    role,
                    media: self.shape.media.clone(),
                    bind: (self.bind_ip, 0).into(),
                    join_timeout: self.join_timeout,
                });
            }
        }
        self.rooms += rooms;
        let total = specs.len();
        let gap = Duration::from_secs_f64(1.0 / per_second.max(0.01));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut next = Instant::now();
        let mut started = 0;
        for spec in specs {
            if next > deadline {
                self.failures.push(format!("{}: not started before the deadline", spec.display_name));
                continue;
            }
            tokio::time::sleep_until(next.into()).await;
            next += gap;
            let (sfu, tx) = (self.sfu.clone(), tx.clone());
            started += 1;
            tokio::spawn(async move {
                let t0 = Instant::now();
                let (room, role, name) = (spec.room.clone(), spec.role, spec.display_name.clone());
                let r = sfu.join(spec).await.map(|p| Member { room, role, started: t0, participant: p });
                let _ = tx.send(r.map_err(|e| format!("{name}: {e}")));
            });
            while let Ok(r) = rx.try_recv() {
                self.take(r);
                progress(self.members.len() + self.failures.len(), total);
            }
        }
        drop(tx);
        for _ in 0..started {
            let Some(r) = rx.recv().await else { break };
            self.take(r);
            progress(self.members.len() + self.failures.len(), total);
        }
    }

    fn take(&mut self, r: Result<Member, String>) {
        match r {
            Ok(m) => self.members.push(m),
            Err(e) => self.failures.push(e),
        }
    }

    /// Wait until every member is connected, or `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.members.iter().all(|m| m.participant.stats().connected) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn tally(&self) -> Tally {
        Tally::of(&self.members)
    }

    /// Everyone leaves (concurrently, each bounded by the participant's own leave timeout).
    pub async fn leave_all(self) -> usize {
        let leaves: Vec<_> = self.members.into_iter().map(|m| tokio::spawn(m.participant.leave())).collect();
        let mut unclean = 0;
        for l in leaves {
            if !matches!(l.await, Ok(Ok(()))) {
                unclean += 1;
            }
        }
        unclean
    }
}

/// Cumulative counters of every member at one moment.
#[derive(Debug, Clone)]
pub struct Tally {
    pub at: Instant,
    pub participants: usize,
    pub connected: usize,
    pub frames_received: u64,
    pub bytes_received: u64,
    pub missing: u64,
    pub mismatches: u64,
    pub bytes_sent: u64,
    /// What the received bytes would be if every receiver got every publisher's stream whole.
    pub bytes_expected: u64,
    pub rtp_packets_received: u64,
    pub rtp_packets_sent: u64,
    /// One-way latency, `[audio, video]`.
    pub latency: [Histogram; 2],
    /// Interarrival jitter of every received track (µs).
    pub jitter_us: Vec<u64>,
    /// Join start → ICE + DTLS up, per connected member (ms).
    pub join_ms: Vec<f64>,
    /// Join start → first verified frame, per member that received one (ms).
    pub first_frame_ms: Vec<f64>,
}

impl Tally {
    pub fn of(members: &[Member]) -> Self {
        let mut t = Tally {
            at: Instant::now(),
            participants: members.len(),
            connected: 0,
            frames_received: 0,
            bytes_received: 0,
            missing: 0,
            mismatches: 0,
            bytes_sent: 0,
            bytes_expected: 0,
            rtp_packets_received: 0,
            rtp_packets_sent: 0,
            latency: Default::default(),
            jitter_us: Vec::new(),
            join_ms: Vec::new(),
            first_frame_ms: Vec::new(),
        };
        let mut room_sizes: HashMap<&str, u64> = HashMap::new();
        for m in members {
            *room_sizes.entry(&m.room).or_default() += 1;
        }
        let ms = |from: Instant, to: Instant| to.saturating_duration_since(from).as_secs_f64() * 1000.0;
        for m in members {
            let (snap, stats) = (m.participant.snapshot(), m.participant.stats());
            t.connected += usize::from(stats.connected);
            t.frames_received += snap.frames();
            t.bytes_received += snap.bytes();
            t.missing += snap.missing();
            t.mismatches += snap.mismatches();
            let sent = stats.audio.bytes + stats.video.bytes;
            t.bytes_sent += sent;
            t.bytes_expected += sent * room_sizes.get(m.room.as_str()).map_or(0, |n| n.saturating_sub(1));
            t.rtp_packets_received += stats.rtp_packets_received;
            t.rtp_packets_sent += stats.rtp_packets_sent;
            for (i, kind) in [MediaKind::Audio, MediaKind::Video].into_iter().enumerate() {
                t.latency[i].add(snap.latency(kind));
            }
            t.jitter_us.extend(snap.tracks.iter().filter(|tr| tr.stats.frames > 1).map(|tr| tr.stats.jitter_us()));
            if let Some(c) = stats.connected_at {
                t.join_ms.push(ms(m.started, c));
            }
            if let Some(f) = snap.first_frame_at() {
                t.first_frame_ms.push(ms(m.started, f));
            }
        }
        t
    }

    fn all_latency(&self) -> Histogram {
        let mut h = self.latency[0].clone();
        h.add(&self.latency[1]);
        h
    }
}

/// Percentiles of a set of values (ms, µs, ...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(values: &[f64]) -> Self {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Self::default();
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Self { count: v.len() as u64, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: v[v.len() - 1] }
    }

    /// From a µs histogram, in ms.
    pub fn of_histogram_ms(h: &Histogram) -> Self {
        let q = |q: f64| h.quantile(q).map_or(0.0, |us| us as f64 / 1000.0);
        Self { count: h.count(), p50: q(0.5), p95: q(0.95), p99: q(0.99), max: q(1.0) }
    }
}

/// The figures of one stretch of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub seconds: f64,
    pub participants: usize,
    pub connected: usize,
    /// Publishers' payload, all together (kbit/s).
    pub sent_kbps: f64,
    /// Subscribers' and publishers' received payload, all together (kbit/s).
    pub received_kbps: f64,
    /// What `received_kbps` would be if every stream reached every other member of its room
    /// whole (simulcast receivers get one layer, so there it is an upper bound).
    pub expected_kbps: f64,
    /// Frames skipped by sequence jumps / frames that should have arrived.
    pub loss: f64,
    pub mismatches: u64,
    pub latency_ms: Percentiles,
    pub audio_latency_ms: Percentiles,
    pub video_latency_ms: Percentiles,
    /// Interarrival jitter across received tracks (ms).
    pub jitter_ms: Percentiles,
    pub rtp_packets_received_per_sec: f64,
    pub server: Option<ServerWindow>,
    /// The load generator's own CPU use (% of one core), for reading the server's figures.
    pub loadtest_cpu_percent: Option<f64>,
}

/// The server's share of a window.
#[derive(Debug, Clone, Serialize)]
pub struct ServerWindow {
    /// % of one core.
    pub cpu_percent: f64,
    pub rss_bytes: u64,
    /// Datagrams the server sent per second (its own counter), else RTP packets received by
    /// the participants.
    pub packets_per_sec: f64,
    /// CPU µs per packet of `packets_per_sec`.
    pub cpu_us_per_packet: Option<f64>,
    pub endpoints: Option<u64>,
}

impl Window {
    pub fn between(a: &Tally, b: &Tally, sa: Option<&ServerSample>, sb: Option<&ServerSample>, own_cpu: Option<(f64, f64)>) -> Self {
        let secs = b.at.saturating_duration_since(a.at).as_secs_f64().max(0.001);
        let kbps = |bytes: u64| bytes as f64 * 8.0 / secs / 1000.0;
        let frames = b.frames_received.saturating_sub(a.frames_received);
        let missing = b.missing.saturating_sub(a.missing);
        let lat = |i: usize| Percentiles::of_histogram_ms(&b.latency[i].since(&a.latency[i]));
        let rtp_pps = b.rtp_packets_received.saturating_sub(a.rtp_packets_received) as f64 / secs;
        let server = match (sa, sb) {
            (Some(sa), Some(sb)) => {
                let cpu = (sb.cpu_seconds - sa.cpu_seconds).max(0.0);
                let pps = match (sa.packets_sent, sb.packets_sent) {
                    (Some(x), Some(y)) => y.saturating_sub(x) as f64 / secs,
                    _ => rtp_pps,
                };
                Some(ServerWindow {
                    cpu_percent: cpu / secs * 100.0,
                    rss_bytes: sb.rss_bytes,
                    packets_per_sec: pps,
                    cpu_us_per_packet: (pps > 0.0).then(|| cpu * 1e6 / (pps * secs)),
                    endpoints: sb.endpoints,
                })
            }
            _ => None,
        };
        Window {
            seconds: secs,
            participants: b.participants,
            connected: b.connected,
            sent_kbps: kbps(b.bytes_sent.saturating_sub(a.bytes_sent)),
            received_kbps: kbps(b.bytes_received.saturating_sub(a.bytes_received)),
            expected_kbps: kbps(b.bytes_expected.saturating_sub(a.bytes_expected)),
            loss: if frames + missing == 0 { 0.0 } else { missing as f64 / (frames + missing) as f64 },
            mismatches: b.mismatches.saturating_sub(a.mismatches),
            latency_ms: Percentiles::of_histogram_ms(&b.all_latency().since(&a.all_latency())),
            audio_latency_ms: lat(0),
            video_latency_ms: lat(1),
            jitter_ms: Percentiles::of(&b.jitter_us.iter().map(|&j| j as f64 / 1000.0).collect::<Vec<_>>()),
            rtp_packets_received_per_sec: rtp_pps,
            server,
            loadtest_cpu_percent: own_cpu.map(|(x, y)| (y - x).max(0.0) / secs * 100.0),
        }
    }

    /// Quality holds: loss at most `max_loss` and p99 latency at most `max_p99_ms`, frames
    /// flowed, nothing corrupted, everyone connected.
    pub fn passes(&self, max_loss: f64, max_p99_ms: f64) -> bool {
        self.latency_ms.count > 0
            && self.loss <= max_loss
            && self.latency_ms.p99 <= max_p99_ms
            && self.mismatches == 0
            && self.connected == self.participants
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_ranks() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = Percentiles::of(&v);
        assert_eq!((p.count, p.p50, p.p95, p.p99, p.max), (100, 50.0, 95.0, 99.0, 100.0));
        assert_eq!(Percentiles::of(&[]).count, 0);
    }
}
