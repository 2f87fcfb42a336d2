//! Proof that what arrived is what was sent: find the marker, regenerate the frame the
//! sender made from it, compare every byte.

use super::{opus, vp8, Marker, MAGIC};

/// Why a received frame is not what its sender generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error("no Ponte marker where an Opus or VP8 header would end")]
    NoMarker,
    #[error("frame is {actual} bytes; its marker says {expected}")]
    Length { expected: usize, actual: usize },
    #[error("byte {offset} differs from what the sender generated")]
    Content { offset: usize },
}

/// Where the marker sits tells the codec: after the Opus TOC, the VP8 inter-frame tag, or
/// the VP8 key-frame header. The three cannot be confused: a VP8 key frame has its start
/// code where the other two would have `MAGIC`.
fn header_len(frame: &[u8]) -> Option<usize> {
    let magic_at = |i: usize| frame.get(i..i + MAGIC.len()) == Some(&MAGIC[..]);
    let first = *frame.first()?;
    if first == opus::TOC && magic_at(opus::HEADER_LEN) {
        return Some(opus::HEADER_LEN);
    }
    let len = vp8::header_len(vp8::is_keyframe(frame));
    magic_at(len).then_some(len)
}

/// Check a whole received frame; returns its `(sender_tag, seq)`.
pub fn verify(frame: &[u8]) -> Result<(u32, u32), Mismatch> {
    verify_marker(frame).map(|m| (m.sender_tag, m.seq))
}

/// Check a whole received frame; returns its marker (with the sender's timestamp).
pub fn verify_marker(frame: &[u8]) -> Result<Marker, Mismatch> {
    let header = header_len(frame).ok_or(Mismatch::NoMarker)?;
    let marker = Marker::read(&frame[header..]).ok_or(Mismatch::NoMarker)?;
    // The length check comes first so that a hostile `body_len` never sizes an allocation.
    let expected = header.saturating_add(marker.body_len as usize);
    if expected != frame.len() {
        return Err(Mismatch::Length { expected, actual: frame.len() });
    }
    let regenerated = if header == opus::HEADER_LEN {
        opus::packet_marked(marker)
    } else {
        // Simulcast layers differ in picture size; the size is read back, the rest checked.
        let dims = vp8::dimensions(frame).unwrap_or((vp8::WIDTH, vp8::HEIGHT));
        vp8::frame_marked(marker, vp8::is_keyframe(frame), dims)
    };
    if regenerated.len() != frame.len() {
        return Err(Mismatch::Length { expected: regenerated.len(), actual: frame.len() });
    }
    match frame.iter().zip(&regenerated).position(|(a, b)| a != b) {
        Some(offset) => Err(Mismatch::Content { offset }),
        None => Ok(marker),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_frames_verify() {
        for seq in 0..100 {
            assert_eq!(verify(&vp8::frame(77, seq, seq % 30 == 0)), Ok((77, seq)));
            assert_eq!(verify(&opus::packet(78, seq)), Ok((78, seq)));
        }
    }

    #[test]
    fn a_corrupted_byte_is_detected() {
        let frames = [vp8::frame(1, 2, true), vp8::frame(1, 3, false), opus::packet(1, 4)];
        for f in frames {
            for offset in [0, f.len() / 2, f.len() - 1] {
                let mut bad = f.clone();
                bad[offset] ^= 0x40;
                assert!(verify(&bad).is_err(), "flip at {offset} of {} went unnoticed", f.len());
            }
            let body = f.len() - 8;
            let mut bad = f.clone();
            bad[body] ^= 1;
            assert_eq!(verify(&bad), Err(Mismatch::Content { offset: body }));
        }
    }

    #[test]
    fn truncated_and_foreign_frames_are_refused() {
        let f = vp8::frame(1, 5, false);
        assert!(matches!(verify(&f[..f.len() - 1]), Err(Mismatch::Length { .. })));
        assert_eq!(verify(&[]), Err(Mismatch::NoMarker));
        assert_eq!(verify(&[0x78, 1, 2, 3]), Err(Mismatch::NoMarker));
        assert_eq!(verify(&[0x10; 40]), Err(Mismatch::NoMarker));
        // A marker claiming 4 GB must not allocate.
        let mut huge = vec![0x78];
        huge.extend_from_slice(b"PNTE\0\0\0\x01\0\0\0\x01\xff\xff\xff\xff\0\0\0\0\0\0\0\0");
        assert!(matches!(verify(&huge), Err(Mismatch::Length { .. })));
    }
}
