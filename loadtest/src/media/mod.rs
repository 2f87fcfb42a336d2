//! Synthetic media that every layer which parses headers takes for real VP8 and Opus, and
//! that carries a marker so a receiver can regenerate each frame and compare it byte for byte.
//!
//! Every frame is `codec header | body`. The body starts with the marker
//! `[b"PNTE", sender_tag u32 BE, seq u32 BE, body_len u32 BE, sent_us u64 BE]` (`body_len`
//! counts the whole body, marker included; `sent_us` is the sender's wall clock at capture, in
//! microseconds since the Unix epoch, or 0) and continues with bytes from a xorshift seeded by
//! `(sender_tag, seq)`. Nothing else goes into the bytes, so [`check::verify`] needs no state,
//! and a receiver on the same clock reads the one-way latency off every frame.

pub mod check;
pub mod opus;
pub mod source;
pub mod vp8;

/// The first four bytes of every marker.
pub const MAGIC: [u8; 4] = *b"PNTE";
/// Length of the marker at the start of every body.
pub const MARKER_LEN: usize = 24;

/// The marker read back from a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    pub sender_tag: u32,
    pub seq: u32,
    pub body_len: u32,
    /// Sender's wall clock at capture (µs since the Unix epoch); 0 when unstamped.
    pub sent_us: u64,
}

impl Marker {
    /// Read a marker at the start of `body`, if one is there.
    pub fn read(body: &[u8]) -> Option<Self> {
        let m = body.get(..MARKER_LEN)?;
        if m[..4] != MAGIC {
            return None;
        }
        let word = |i: usize| u32::from_be_bytes([m[i], m[i + 1], m[i + 2], m[i + 3]]);
        let sent_us = u64::from(word(16)) << 32 | u64::from(word(20));
        Some(Self { sender_tag: word(4), seq: word(8), body_len: word(12), sent_us })
    }

    /// A marker of an unstamped frame.
    pub fn new(sender_tag: u32, seq: u32, body_len: usize) -> Self {
        Self { sender_tag, seq, body_len: body_len as u32, sent_us: 0 }
    }

    pub fn stamped(self, sent_us: u64) -> Self {
        Self { sent_us, ..self }
    }
}

/// The wall clock at `at`, in µs since the Unix epoch: what senders stamp and receivers
/// compare against. One anchor per process maps the monotonic clock onto the wall clock, so
/// stamps never step backwards within a run; processes on one machine agree to the
/// precision of their anchors (microseconds).
pub fn wall_micros(at: std::time::Instant) -> u64 {
    use std::time::{Instant, SystemTime, UNIX_EPOCH};
    static ANCHOR: std::sync::OnceLock<(Instant, u64)> = std::sync::OnceLock::new();
    let (instant, micros) = *ANCHOR.get_or_init(|| {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        (Instant::now(), wall.as_micros() as u64)
    });
    if at >= instant {
        micros + (at - instant).as_micros() as u64
    } else {
        micros.saturating_sub((instant - at).as_micros() as u64)
    }
}

/// xorshift32: tiny, deterministic, and different for every (sender, seq).
struct Xorshift(u32);

impl Xorshift {
    fn new(sender_tag: u32, seq: u32, salt: u32) -> Self {
        let seed = sender_tag.wrapping_mul(0x9E37_79B9) ^ seq.wrapping_mul(0x85EB_CA6B) ^ salt;
        // Zero is xorshift's one fixed point.
        Self(if seed == 0 { 0x2545_F491 } else { seed })
    }

    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

/// A length in `min..=max`, fixed by (sender, seq); `salt` keeps codecs apart.
fn pick_len(sender_tag: u32, seq: u32, salt: u32, min: usize, max: usize) -> usize {
    let span = (max - min + 1) as u32;
    min + (Xorshift::new(sender_tag, seq, salt).next() % span) as usize
}

/// Append the body `marker` describes (at least [`MARKER_LEN`] bytes; shorter is padded up).
fn push_body(out: &mut Vec<u8>, marker: Marker) {
    let body_len = (marker.body_len as usize).max(MARKER_LEN);
    out.reserve(body_len);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&marker.sender_tag.to_be_bytes());
    out.extend_from_slice(&marker.seq.to_be_bytes());
    out.extend_from_slice(&(body_len as u32).to_be_bytes());
    out.extend_from_slice(&marker.sent_us.to_be_bytes());
    let mut rng = Xorshift::new(marker.sender_tag, marker.seq, 0);
    let mut left = body_len - MARKER_LEN;
    while left > 0 {
        let word = rng.next().to_le_bytes();
        let n = left.min(4);
        out.extend_from_slice(&word[..n]);
        left -= n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_deterministic_and_sized() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let m = Marker::new(7, 42, 101).stamped(0x0123_4567_89ab_cdef);
        push_body(&mut a, m);
        push_body(&mut b, m);
        assert_eq!(a, b);
        assert_eq!(a.len(), 101);
        assert_eq!(Marker::read(&a), Some(m));
        let mut c = Vec::new();
        push_body(&mut c, Marker::new(7, 43, 101).stamped(m.sent_us));
        assert_ne!(a[MARKER_LEN..], c[MARKER_LEN..]);
    }

    #[test]
    fn the_wall_clock_follows_the_monotonic_one() {
        let t0 = std::time::Instant::now();
        let a = wall_micros(t0);
        assert_eq!(wall_micros(t0 + std::time::Duration::from_millis(5)) - a, 5000);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as u64;
        assert!(now.abs_diff(a) < 1_000_000, "anchored to the wall clock");
    }

    #[test]
    fn lengths_stay_in_range() {
        for seq in 0..1000 {
            let n = pick_len(3, seq, 1, 300, 1500);
            assert!((300..=1500).contains(&n));
        }
    }
}
