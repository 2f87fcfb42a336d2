//! Synthetic VP8 frames (RFC 6386 §9.1): a correct frame tag, and for key frames the start
//! code and dimensions, so that RTP packetizers, key-frame detection and SFU layer logic
//! treat them as real video. The partitions themselves are the marked body.

use super::{pick_len, push_body, Marker, MARKER_LEN};

pub const WIDTH: u16 = 320;
pub const HEIGHT: u16 = 180;
/// Frame tag (3 bytes) + start code (3) + width (2) + height (2).
pub const KEY_HEADER_LEN: usize = 10;
/// Frame tag only.
pub const INTER_HEADER_LEN: usize = 3;
const START_CODE: [u8; 3] = [0x9d, 0x01, 0x2a];
/// Key frames span several RTP packets; inter frames one or two.
const KEY_SIZE: (usize, usize) = (4000, 6000);
const INTER_SIZE: (usize, usize) = (300, 1500);
const SIZE_SALT: u32 = 0x5650_3800;

/// The frame `sender_tag` sends as number `seq`, at the size the generator picks (unstamped).
pub fn frame(sender_tag: u32, seq: u32, keyframe: bool) -> Vec<u8> {
    frame_stamped(sender_tag, seq, keyframe, 1.0, 0)
}

/// Mean frame size of [`frame`] with a key frame every `keyframe_interval` frames (0: never),
/// what [`frame_stamped`]'s `scale` multiplies.
pub fn mean_frame_len(keyframe_interval: u32) -> f64 {
    let mid = |(a, b): (usize, usize)| (a + b) as f64 / 2.0;
    match keyframe_interval {
        0 => mid(INTER_SIZE),
        n => (mid(INTER_SIZE) * f64::from(n - 1) + mid(KEY_SIZE)) / f64::from(n),
    }
}

/// The frame `sender_tag` sends as number `seq`: its size [`frame`]'s times `scale` (to set a
/// bitrate), captured at `sent_us` (see [`super::wall_micros`]).
pub fn frame_stamped(sender_tag: u32, seq: u32, keyframe: bool, scale: f64, sent_us: u64) -> Vec<u8> {
    let (header, (min, max)) = if keyframe { (KEY_HEADER_LEN, KEY_SIZE) } else { (INTER_HEADER_LEN, INTER_SIZE) };
    let total = pick_len(sender_tag, seq, SIZE_SALT, min, max);
    let body = ((total - header) as f64 * scale.max(0.0)) as usize;
    frame_marked(Marker::new(sender_tag, seq, body).stamped(sent_us), keyframe, (WIDTH, HEIGHT))
}

/// The frame with an explicit body length.
pub fn frame_with_body(sender_tag: u32, seq: u32, keyframe: bool, body_len: usize) -> Vec<u8> {
    frame_sized(sender_tag, seq, keyframe, body_len, (WIDTH, HEIGHT))
}

/// The frame of simulcast layer `layer` (0 = q, 1 = h, 2 = f) for the same capture as the
/// base frame whose marker is `base`: same marker, a body [`LAYER_SCALE`] times as long, and
/// the layer's picture size in key frames (so an SFU reading the header sees 180p, 360p and
/// 720p).
pub fn layer_frame(base: Marker, keyframe: bool, layer: u8) -> Vec<u8> {
    let l = usize::from(layer.min(2));
    let dims = (WIDTH << l, HEIGHT << l);
    let marker = Marker { body_len: base.body_len.saturating_mul(LAYER_SCALE[l] as u32), ..base };
    frame_marked(marker, keyframe, dims)
}

/// Body length of each simulcast layer relative to the base frame.
pub const LAYER_SCALE: [usize; 3] = [1, 3, 8];

/// The picture size in a key frame header, if `frame` is one.
pub fn dimensions(frame: &[u8]) -> Option<(u16, u16)> {
    if !is_keyframe(frame) || frame.get(3..6)? != START_CODE {
        return None;
    }
    let w = u16::from_le_bytes([*frame.get(6)?, *frame.get(7)?]) & 0x3fff;
    let h = u16::from_le_bytes([*frame.get(8)?, *frame.get(9)?]) & 0x3fff;
    Some((w, h))
}

/// A frame with an explicit body length and key-frame picture size.
pub fn frame_sized(sender_tag: u32, seq: u32, keyframe: bool, body_len: usize, dims: (u16, u16)) -> Vec<u8> {
    frame_marked(Marker::new(sender_tag, seq, body_len), keyframe, dims)
}

/// The frame a marker describes, with its key-frame picture size (what [`super::check`]
/// regenerates).
pub fn frame_marked(marker: Marker, keyframe: bool, (w, h): (u16, u16)) -> Vec<u8> {
    let body_len = (marker.body_len as usize).max(MARKER_LEN);
    let mut out = Vec::with_capacity(KEY_HEADER_LEN + body_len);
    out.extend_from_slice(&frame_tag(keyframe, body_len));
    if keyframe {
        out.extend_from_slice(&START_CODE);
        // 14 bits of size, 2 bits of scaling (none).
        out.extend_from_slice(&(w & 0x3fff).to_le_bytes());
        out.extend_from_slice(&(h & 0x3fff).to_le_bytes());
    }
    push_body(&mut out, marker);
    out
}

/// The 3-byte little-endian frame tag: key-frame bit (0 = key), version 0, show_frame 1,
/// and the first partition's size, here the whole body.
fn frame_tag(keyframe: bool, first_partition: usize) -> [u8; 3] {
    let size = (first_partition as u32) & 0x7_FFFF;
    let raw = u32::from(!keyframe) | (1 << 4) | (size << 5);
    let b = raw.to_le_bytes();
    [b[0], b[1], b[2]]
}

/// Whether a VP8 frame (not an RTP payload) is a key frame.
pub fn is_keyframe(frame: &[u8]) -> bool {
    frame.first().is_some_and(|b| b & 1 == 0)
}

/// Header length for a frame of this kind.
pub fn header_len(keyframe: bool) -> usize {
    if keyframe {
        KEY_HEADER_LEN
    } else {
        INTER_HEADER_LEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::Marker;

    fn parse_tag(f: &[u8]) -> (bool, u8, bool, u32) {
        let raw = u32::from_le_bytes([f[0], f[1], f[2], 0]);
        (raw & 1 == 0, ((raw >> 1) & 7) as u8, (raw >> 4) & 1 == 1, raw >> 5)
    }

    #[test]
    fn key_frame_header_is_valid() {
        let f = frame(11, 0, true);
        assert!((4000..=6000).contains(&f.len()), "{}", f.len());
        let (key, version, show, part) = parse_tag(&f);
        assert!(key && show);
        assert_eq!(version, 0);
        assert_eq!(part as usize, f.len() - KEY_HEADER_LEN);
        assert_eq!(&f[3..6], &[0x9d, 0x01, 0x2a]);
        assert_eq!(u16::from_le_bytes([f[6], f[7]]) & 0x3fff, 320);
        assert_eq!(u16::from_le_bytes([f[8], f[9]]) & 0x3fff, 180);
        assert!(is_keyframe(&f));
        let m = Marker::read(&f[KEY_HEADER_LEN..]).unwrap();
        assert_eq!((m.sender_tag, m.seq, m.body_len as usize), (11, 0, f.len() - KEY_HEADER_LEN));
    }

    #[test]
    fn inter_frame_header_is_valid() {
        for seq in 1..200 {
            let f = frame(11, seq, false);
            assert!((300..=1500).contains(&f.len()));
            let (key, version, show, part) = parse_tag(&f);
            assert!(!key && show && version == 0);
            assert_eq!(part as usize, f.len() - INTER_HEADER_LEN);
            assert!(!is_keyframe(&f));
        }
    }

    #[test]
    fn layers_share_the_marker_and_scale_up() {
        let base = frame_stamped(7, 3, true, 1.0, 99);
        let m = Marker::read(&base[KEY_HEADER_LEN..]).unwrap();
        let sizes: Vec<_> = (0..3).map(|l| layer_frame(m, true, l)).map(|f| dimensions(&f).unwrap()).collect();
        assert_eq!(sizes, vec![(320, 180), (640, 360), (1280, 720)]);
        assert_eq!(layer_frame(m, true, 0), base);
        let f = layer_frame(m, true, 2);
        assert_eq!(Marker::read(&f[KEY_HEADER_LEN..]).unwrap().sent_us, 99);
        assert_eq!(crate::media::check::verify(&f), Ok((7, 3)), "every layer verifies");
    }

    #[test]
    fn scale_sets_the_mean_size() {
        let n = 300u32;
        let total: usize = (0..n).map(|s| frame_stamped(3, s, s % 30 == 0, 4.0, 1).len()).sum();
        let mean = total as f64 / f64::from(n);
        let want = mean_frame_len(30) * 4.0;
        assert!((mean - want).abs() / want < 0.1, "mean {mean}, want {want}");
        assert_eq!(crate::media::check::verify(&frame_stamped(3, 5, false, 4.0, 1)), Ok((3, 5)));
    }

    #[test]
    fn sizes_vary() {
        let sizes: std::collections::HashSet<usize> = (0..50).map(|s| frame(1, s, false).len()).collect();
        assert!(sizes.len() > 20);
    }
}
