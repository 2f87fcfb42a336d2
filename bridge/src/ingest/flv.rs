//! FLV tag bodies as RTMP carries them (sans-IO): AVC video and AAC audio.
//!
//! Video: byte 0 = frame type (high nibble) | codec id (7 = AVC); byte 1 = AVC packet type
//! (0 sequence header = AVCDecoderConfigurationRecord, 1 NAL units in AVCC form, 2 end of
//! sequence); bytes 2..5 = composition time offset (signed, ms). Audio: byte 0 = sound format
//! (high nibble, 10 = AAC); byte 1 = AAC packet type (0 AudioSpecificConfig, 1 raw frame).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlvVideo<'a> {
    /// AVCDecoderConfigurationRecord.
    AvcConfig(&'a [u8]),
    /// AVCC NAL units; `cts_ms` is PTS minus DTS.
    AvcNalus { keyframe: bool, cts_ms: i32, data: &'a [u8] },
    EndOfSequence,
    /// Another codec (id), or an Enhanced RTMP FourCC packet.
    Unsupported(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlvAudio<'a> {
    AacConfig(&'a [u8]),
    AacFrame(&'a [u8]),
    Unsupported(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("truncated FLV tag")]
pub struct Truncated;

pub fn parse_video(tag: &[u8]) -> Result<FlvVideo<'_>, Truncated> {
    let first = *tag.first().ok_or(Truncated)?;
    if first & 0x80 != 0 {
        // Enhanced RTMP: IsExHeader set, a FourCC follows (hvc1, av01, vp09).
        let fourcc = tag.get(1..5).map(|f| String::from_utf8_lossy(f).into_owned()).unwrap_or_default();
        return Ok(FlvVideo::Unsupported(format!("enhanced RTMP video {fourcc}")));
    }
    let codec = first & 0x0f;
    if codec != 7 {
        return Ok(FlvVideo::Unsupported(format!("FLV video codec id {codec} (only H.264/AVC is taken)")));
    }
    let keyframe = first >> 4 == 1;
    let header = tag.get(1..5).ok_or(Truncated)?;
    let cts = i32::from_be_bytes([0, header[1], header[2], header[3]]) << 8 >> 8;
    let data = &tag[5..];
    Ok(match header[0] {
        0 => FlvVideo::AvcConfig(data),
        1 => FlvVideo::AvcNalus { keyframe, cts_ms: cts, data },
        _ => FlvVideo::EndOfSequence,
    })
}

pub fn parse_audio(tag: &[u8]) -> Result<FlvAudio<'_>, Truncated> {
    let first = *tag.first().ok_or(Truncated)?;
    let format = first >> 4;
    if format != 10 {
        return Ok(FlvAudio::Unsupported(format!("FLV sound format {format} (only AAC is taken)")));
    }
    let kind = *tag.get(1).ok_or(Truncated)?;
    Ok(match kind {
        0 => FlvAudio::AacConfig(&tag[2..]),
        _ => FlvAudio::AacFrame(&tag[2..]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_tags() {
        assert_eq!(parse_video(&[0x17, 0, 0, 0, 0, 1, 2]), Ok(FlvVideo::AvcConfig(&[1, 2])));
        assert_eq!(
            parse_video(&[0x27, 1, 0xff, 0xff, 0xd8, 9]),
            Ok(FlvVideo::AvcNalus { keyframe: false, cts_ms: -40, data: &[9] })
        );
        assert_eq!(parse_video(&[0x17, 1]), Err(Truncated));
        assert!(matches!(parse_video(&[0x12, 0]), Ok(FlvVideo::Unsupported(_))));
        assert!(matches!(parse_video(&[0x90, b'h', b'v', b'c', b'1']), Ok(FlvVideo::Unsupported(s)) if s.contains("hvc1")));
        assert_eq!(parse_video(&[]), Err(Truncated));
    }

    #[test]
    fn audio_tags() {
        assert_eq!(parse_audio(&[0xaf, 0, 0x12, 0x10]), Ok(FlvAudio::AacConfig(&[0x12, 0x10])));
        assert_eq!(parse_audio(&[0xaf, 1, 7]), Ok(FlvAudio::AacFrame(&[7])));
        assert!(matches!(parse_audio(&[0x2f, 1]), Ok(FlvAudio::Unsupported(_))));
        assert_eq!(parse_audio(&[0xaf]), Err(Truncated));
    }
}
