//! Synthetic media that every layer which parses headers takes for real VP8 and Opus, and
//! that carries a marker so a receiver can regenerate each frame and compare it byte for byte.
//!
//! Every frame is `codec header | body`. The body starts with the marker
//! `[b"PNTE", sender_tag u32 BE, seq u32 BE, body_len u32 BE]` (`body_len` counts the whole
//! body, marker included) and continues with bytes from a xorshift seeded by
//! `(sender_tag, seq)`. Nothing else goes into the bytes, so [`check::verify`] needs no state.

pub mod check;
pub mod opus;
pub mod source;
pub mod vp8;

/// The first four bytes of every marker.
pub const MAGIC: [u8; 4] = *b"PNTE";
/// Length of the marker at the start of every body.
pub const MARKER_LEN: usize = 16;

/// The marker read back from a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    pub sender_tag: u32,
    pub seq: u32,
    pub body_len: u32,
}

impl Marker {
    /// Read a marker at the start of `body`, if one is there.
    pub fn read(body: &[u8]) -> Option<Self> {
        let m = body.get(..MARKER_LEN)?;
        if m[..4] != MAGIC {
            return None;
        }
        let word = |i: usize| u32::from_be_bytes([m[i], m[i + 1], m[i + 2], m[i + 3]]);
        Some(Self { sender_tag: word(4), seq: word(8), body_len: word(12) })
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

/// Append a body of `body_len` bytes (at least [`MARKER_LEN`]; shorter is padded up).
fn push_body(out: &mut Vec<u8>, sender_tag: u32, seq: u32, body_len: usize) {
    let body_len = body_len.max(MARKER_LEN);
    out.reserve(body_len);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&sender_tag.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&(body_len as u32).to_be_bytes());
    let mut rng = Xorshift::new(sender_tag, seq, 0);
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
        push_body(&mut a, 7, 42, 101);
        push_body(&mut b, 7, 42, 101);
        assert_eq!(a, b);
        assert_eq!(a.len(), 101);
        assert_eq!(Marker::read(&a), Some(Marker { sender_tag: 7, seq: 42, body_len: 101 }));
        let mut c = Vec::new();
        push_body(&mut c, 7, 43, 101);
        assert_ne!(a[MARKER_LEN..], c[MARKER_LEN..]);
    }

    #[test]
    fn lengths_stay_in_range() {
        for seq in 0..1000 {
            let n = pick_len(3, seq, 1, 300, 1500);
            assert!((300..=1500).contains(&n));
        }
    }
}
