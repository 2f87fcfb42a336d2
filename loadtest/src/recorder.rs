//! What a participant received, per (publisher, kind): counts, sequence gaps, frames that
//! failed verification, and — from the sender's timestamp in each frame's marker — one-way
//! latency (a histogram per kind) and interarrival jitter. Fed by the session; read by tests
//! and `loadtest` through [`Snapshot`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ponte_proto::MediaKind;

use crate::histogram::Histogram;
use crate::media::{check, wall_micros};

/// Counters for one received track.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackStats {
    /// Frames that verified.
    pub frames: u64,
    /// Payload bytes of every frame, verified or not.
    pub bytes: u64,
    pub keyframes: u64,
    pub first_seq: Option<u32>,
    pub last_seq: Option<u32>,
    /// Seq discontinuities (a jump, a repeat or a step back) between consecutive frames.
    pub gaps: u64,
    /// Frames skipped over by forward jumps.
    pub missing: u64,
    /// Frames that did not verify, or came from a different sender than the track's first.
    pub mismatches: u64,
    /// The sender tag of the first verified frame.
    pub sender_tag: Option<u32>,
    /// The publisher's m-line went away (stopped, inactive, or left out of a bridge offer).
    pub ended: bool,
    /// When the first and the last verified frame arrived.
    pub first_at: Option<Instant>,
    pub last_at: Option<Instant>,
    /// RFC 3550 interarrival jitter of stamped frames (§6.4.1, on the senders' capture
    /// stamps instead of RTP time), in µs × 16 as the RFC's integer form keeps it.
    pub jitter_x16: u64,
    /// Arrival minus capture of the last stamped frame (µs).
    last_transit_us: Option<i64>,
    /// The longest time between the arrivals of two consecutive verified frames: for audio,
    /// the longest silence a listener would hear.
    pub max_interval: Duration,
    /// The latest intervals of at least [`LONG_INTERVAL`] (at most [`LONG_INTERVALS_KEPT`]),
    /// so a test can look at a window of the run and tell stalls from losses.
    pub long_intervals: Vec<LongInterval>,
}

/// A long wait between two consecutive verified frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongInterval {
    /// When the frame that ended the wait arrived.
    pub at: Instant,
    pub interval: Duration,
    /// Frames the sender sent in between that did not arrive first (seq step − 1; 0 when
    /// the wait was not a loss).
    pub skipped: u32,
}

/// Intervals between frames from this long are kept in [`TrackStats::long_intervals`].
pub const LONG_INTERVAL: Duration = Duration::from_millis(60);
pub const LONG_INTERVALS_KEPT: usize = 32;

impl TrackStats {
    /// The interarrival jitter in µs.
    pub fn jitter_us(&self) -> u64 {
        self.jitter_x16 >> 4
    }

    /// Record one frame; returns its one-way latency in µs when it verified and was stamped.
    fn record(&mut self, frame: &[u8], keyframe: bool, at: Instant) -> Option<u64> {
        self.bytes += frame.len() as u64;
        let (tag, seq, sent_us) = match check::verify_marker(frame) {
            Ok(m) => (m.sender_tag, m.seq, m.sent_us),
            Err(e) => {
                tracing::debug!("received frame failed verification: {e}");
                self.mismatches += 1;
                return None;
            }
        };
        if *self.sender_tag.get_or_insert(tag) != tag {
            self.mismatches += 1;
            return None;
        }
        self.frames += 1;
        self.first_at.get_or_insert(at);
        let latency = (sent_us > 0).then(|| {
            let transit = wall_micros(at) as i64 - sent_us as i64;
            if let Some(last) = self.last_transit_us.replace(transit) {
                let d = transit.abs_diff(last);
                self.jitter_x16 = (self.jitter_x16 + d).saturating_sub((self.jitter_x16 + 8) >> 4);
            }
            transit.max(0) as u64
        });
        if let Some(last) = self.last_at.replace(at) {
            let interval = at.saturating_duration_since(last);
            self.max_interval = self.max_interval.max(interval);
            if interval >= LONG_INTERVAL {
                if self.long_intervals.len() == LONG_INTERVALS_KEPT {
                    self.long_intervals.remove(0);
                }
                let step = self.last_seq.map_or(1, |l| seq.wrapping_sub(l));
                let skipped = if step < u32::MAX / 2 { step.saturating_sub(1) } else { 0 };
                self.long_intervals.push(LongInterval { at, interval, skipped });
            }
        }
        if keyframe {
            self.keyframes += 1;
        }
        self.first_seq.get_or_insert(seq);
        if let Some(last) = self.last_seq {
            let step = seq.wrapping_sub(last);
            if step != 1 {
                self.gaps += 1;
                if step < u32::MAX / 2 {
                    // A repeat (step 0) is a gap but skips nothing.
                    self.missing += u64::from(step.saturating_sub(1));
                }
            }
        }
        self.last_seq = Some(seq);
        latency
    }
}

/// One row of a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackSnapshot {
    pub publisher: String,
    pub kind: MediaKind,
    pub stats: TrackStats,
}

/// A copy of a recorder's counters, sorted by publisher then kind (audio first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub tracks: Vec<TrackSnapshot>,
    /// Frames on m-lines that no `tracks` list named (counted, not verified).
    pub unmapped_frames: u64,
    /// Raw payloads of the publisher named in `keep_payloads_of`, in arrival order.
    pub kept: Vec<KeptFrame>,
    /// One-way latency of every stamped, verified frame (µs), `[audio, video]`.
    pub latency: [Histogram; 2],
}

impl Snapshot {
    pub fn track(&self, publisher: &str, kind: MediaKind) -> Option<&TrackStats> {
        self.tracks.iter().find(|t| t.publisher == publisher && t.kind == kind).map(|t| &t.stats)
    }

    pub fn frames(&self) -> u64 {
        self.tracks.iter().map(|t| t.stats.frames).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.tracks.iter().map(|t| t.stats.bytes).sum()
    }

    pub fn mismatches(&self) -> u64 {
        self.tracks.iter().map(|t| t.stats.mismatches).sum()
    }

    pub fn gaps(&self) -> u64 {
        self.tracks.iter().map(|t| t.stats.gaps).sum()
    }

    /// Frames skipped over by sequence jumps, on every track.
    pub fn missing(&self) -> u64 {
        self.tracks.iter().map(|t| t.stats.missing).sum()
    }

    /// When the first verified frame of any track arrived.
    pub fn first_frame_at(&self) -> Option<Instant> {
        self.tracks.iter().filter_map(|t| t.stats.first_at).min()
    }

    pub fn latency(&self, kind: MediaKind) -> &Histogram {
        &self.latency[kind_index(kind)]
    }

    /// Publishers with at least one verified frame.
    pub fn publishers(&self) -> Vec<&str> {
        let mut v: Vec<&str> =
            self.tracks.iter().filter(|t| t.stats.frames > 0).map(|t| t.publisher.as_str()).collect();
        v.dedup();
        v
    }
}

#[derive(Debug, Default)]
pub struct Recorder {
    /// Per publisher, indexed by [`kind_index`]; keyed by `String` so lookups by `&str`
    /// allocate nothing on the per-frame path.
    tracks: HashMap<String, [Option<TrackStats>; 2]>,
    unmapped_frames: u64,
    keep: Option<String>,
    kept: Vec<KeptFrame>,
    latency: [Histogram; 2],
}

/// A raw received payload, kept for tests that decode real media (ingest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptFrame {
    pub kind: MediaKind,
    pub data: Vec<u8>,
    pub keyframe: bool,
}

impl Recorder {
    pub fn record(&mut self, publisher: &str, kind: MediaKind, frame: &[u8], keyframe: bool) {
        self.record_at(publisher, kind, frame, keyframe, Instant::now());
    }

    /// [`Recorder::record`] with the arrival time given.
    pub fn record_at(&mut self, publisher: &str, kind: MediaKind, frame: &[u8], keyframe: bool, at: Instant) {
        if self.keep.as_deref() == Some(publisher) {
            self.kept.push(KeptFrame { kind, data: frame.to_vec(), keyframe });
        }
        if let Some(us) = self.entry(publisher, kind).record(frame, keyframe, at) {
            self.latency[kind_index(kind)].record(us);
        }
    }

    /// A recorder that also keeps every raw payload of `publisher`.
    pub fn keeping(publisher: Option<String>) -> Self {
        Self { keep: publisher, ..Self::default() }
    }

    pub fn record_unmapped(&mut self) {
        self.unmapped_frames += 1;
    }

    pub fn mark_ended(&mut self, publisher: &str, kind: MediaKind) {
        self.entry(publisher, kind).ended = true;
    }

    fn entry(&mut self, publisher: &str, kind: MediaKind) -> &mut TrackStats {
        if !self.tracks.contains_key(publisher) {
            self.tracks.insert(publisher.to_owned(), Default::default());
        }
        let kinds = self.tracks.get_mut(publisher).expect("inserted above");
        kinds[kind_index(kind)].get_or_insert_with(TrackStats::default)
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut tracks = Vec::new();
        for (publisher, kinds) in &self.tracks {
            for (kind, stats) in [MediaKind::Audio, MediaKind::Video].into_iter().zip(kinds) {
                if let Some(stats) = stats {
                    tracks.push(TrackSnapshot { publisher: publisher.clone(), kind, stats: stats.clone() });
                }
            }
        }
        tracks.sort_by(|a, b| (&a.publisher, kind_index(a.kind)).cmp(&(&b.publisher, kind_index(b.kind))));
        Snapshot { tracks, unmapped_frames: self.unmapped_frames, kept: self.kept.clone(), latency: self.latency.clone() }
    }
}

fn kind_index(kind: MediaKind) -> usize {
    match kind {
        MediaKind::Audio => 0,
        MediaKind::Video => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{opus, vp8};

    #[test]
    fn counts_frames_gaps_and_mismatches() {
        let mut r = Recorder::default();
        for seq in [0, 1, 2, 5, 6] {
            r.record("p1", MediaKind::Video, &vp8::frame(9, seq, seq == 0), seq == 0);
        }
        let mut bad = opus::packet(9, 0);
        bad[20] ^= 1;
        r.record("p1", MediaKind::Audio, &bad, false);
        r.record("p1", MediaKind::Audio, &opus::packet(10, 1), false);
        r.record("p1", MediaKind::Audio, &opus::packet(11, 2), false);
        r.mark_ended("p2", MediaKind::Video);
        let s = r.snapshot();
        let v = s.track("p1", MediaKind::Video).unwrap();
        assert_eq!((v.frames, v.keyframes, v.gaps, v.missing, v.mismatches), (5, 1, 1, 2, 0));
        assert_eq!((v.first_seq, v.last_seq, v.sender_tag), (Some(0), Some(6), Some(9)));
        let a = s.track("p1", MediaKind::Audio).unwrap();
        assert_eq!((a.frames, a.mismatches), (1, 2), "a corrupted frame and a foreign sender");
        assert!(s.track("p2", MediaKind::Video).unwrap().ended);
        assert_eq!(s.tracks[0].kind, MediaKind::Audio);
        assert_eq!(s.mismatches(), 2);
        assert_eq!(s.publishers(), vec!["p1"]);
    }

    #[test]
    fn latency_and_jitter_from_the_senders_stamps() {
        let mut r = Recorder::default();
        let t0 = Instant::now();
        // Sent every 20 ms; arrives 5 ms later, except the third, 15 ms later.
        for (seq, delay) in [(0u32, 5u64), (1, 5), (2, 15), (3, 5)] {
            let sent = t0 + Duration::from_millis(20 * u64::from(seq));
            let frame = opus::packet_stamped(4, seq, wall_micros(sent));
            r.record_at("p", MediaKind::Audio, &frame, false, sent + Duration::from_millis(delay));
        }
        let s = r.snapshot();
        let h = s.latency(MediaKind::Audio);
        assert_eq!(h.count(), 4);
        assert!(h.quantile(0.5).unwrap().abs_diff(5_000) < 200, "{:?}", h.quantile(0.5));
        assert!(h.quantile(1.0).unwrap().abs_diff(15_000) < 500);
        let a = s.track("p", MediaKind::Audio).unwrap();
        // |D| = 0, 10 ms, 10 ms: J = 625, then 625 + (10000 - 625) / 16 ≈ 1211 µs.
        assert!(a.jitter_us().abs_diff(1211) < 5, "{}", a.jitter_us());
        assert_eq!(s.first_frame_at(), Some(t0 + Duration::from_millis(5)));
        assert_eq!(s.latency(MediaKind::Video).count(), 0);
    }

    #[test]
    fn the_longest_interval_between_frames_is_kept() {
        let mut r = Recorder::default();
        let t0 = Instant::now();
        for (seq, ms) in [(0, 0), (1, 20), (2, 40), (4, 110), (5, 130)] {
            r.record_at("p", MediaKind::Audio, &opus::packet(1, seq), false, t0 + Duration::from_millis(ms));
        }
        let a = r.snapshot().track("p", MediaKind::Audio).unwrap().clone();
        assert_eq!(a.max_interval, Duration::from_millis(70));
        let long = LongInterval { at: t0 + Duration::from_millis(110), interval: Duration::from_millis(70), skipped: 1 };
        assert_eq!(a.long_intervals, vec![long]);
    }
}
