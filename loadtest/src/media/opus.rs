//! Synthetic Opus packets (RFC 6716 §3.1): one valid TOC byte, then the marked body.

use super::{pick_len, push_body, Marker, MARKER_LEN};

/// TOC: config 15 (hybrid, fullband, 20 ms), mono, one frame per packet.
pub const TOC: u8 = 0x78;
/// RTP clock rate of Opus.
pub const CLOCK_RATE: u32 = 48_000;
/// Samples per 20 ms packet at 48 kHz: the RTP timestamp step.
pub const SAMPLES_PER_PACKET: u32 = 960;
pub const HEADER_LEN: usize = 1;
/// About what a voice encoder makes at 32–64 kbit/s.
const SIZE: (usize, usize) = (80, 160);
const SIZE_SALT: u32 = 0x4f50_5553;

/// The packet `sender_tag` sends as number `seq` (unstamped).
pub fn packet(sender_tag: u32, seq: u32) -> Vec<u8> {
    packet_stamped(sender_tag, seq, 0)
}

/// The packet `sender_tag` sends as number `seq`, captured at `sent_us` (see [`super::wall_micros`]).
pub fn packet_stamped(sender_tag: u32, seq: u32, sent_us: u64) -> Vec<u8> {
    let total = pick_len(sender_tag, seq, SIZE_SALT, SIZE.0, SIZE.1);
    packet_marked(Marker::new(sender_tag, seq, total - HEADER_LEN).stamped(sent_us))
}

/// The packet with an explicit body length.
pub fn packet_with_body(sender_tag: u32, seq: u32, body_len: usize) -> Vec<u8> {
    packet_marked(Marker::new(sender_tag, seq, body_len))
}

/// The packet a marker describes (what [`super::check`] regenerates).
pub fn packet_marked(marker: Marker) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + (marker.body_len as usize).max(MARKER_LEN));
    out.push(TOC);
    push_body(&mut out, marker);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::Marker;

    #[test]
    fn packet_has_toc_and_marker() {
        let p = packet(5, 9);
        assert_eq!(p[0], TOC);
        assert!((80..=160).contains(&p.len()));
        let m = Marker::read(&p[1..]).unwrap();
        assert_eq!((m.sender_tag, m.seq, m.body_len as usize, m.sent_us), (5, 9, p.len() - 1, 0));
        assert_eq!(packet(5, 9), p);
        let stamped = packet_stamped(5, 9, 77);
        assert_eq!(stamped.len(), p.len());
        assert_eq!(Marker::read(&stamped[1..]).unwrap().sent_us, 77);
    }
}
