//! AAC → Opus (sans-IO): decode AAC-LC (symphonia), resample to 48 kHz, encode 20 ms Opus
//! frames (opus-rs, pure Rust). Browsers take Opus, not AAC, so audio is the one thing ingest
//! re-encodes.
//!
//! Timestamps come from the source PTS: the first frame anchors the 48 kHz RTP clock at
//! PTS × 48000 / 90000, so audio and video (whose RTP clock is the 90 kHz PTS itself) stay in
//! sync; a jump in the source PTS re-anchors.

use opus_rs::{Application, OpusEncoder};
use symphonia::core::codecs::audio::well_known::CODEC_ID_AAC;
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::packet::PacketRef;
use symphonia::core::units::{Duration as SymDuration, Timestamp};
use symphonia::default::codecs::AacDecoder;

/// Opus frame: 20 ms at 48 kHz.
pub const OPUS_FRAME: usize = 960;
const RATES: [u32; 13] = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
/// PTS drift beyond this re-anchors the audio clock (a source restart, a gap).
const MAX_DRIFT_48K: i64 = 48_000 / 5;

#[derive(Debug, thiserror::Error)]
pub enum AacError {
    #[error("bad ADTS header")]
    BadAdts,
    #[error("unsupported AAC: {0}")]
    Unsupported(String),
    #[error("AAC frame before its configuration")]
    NotConfigured,
    #[error("AAC decode: {0}")]
    Decode(String),
    #[error("Opus encode: {0}")]
    Encode(&'static str),
}

/// One encoded Opus packet and its 48 kHz RTP time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusPacket {
    pub time: u64,
    pub data: Vec<u8>,
}

struct Codec {
    asc: [u8; 2],
    channels: usize,
    decoder: AacDecoder,
    resampler: Resampler,
    encoder: OpusEncoder,
}

/// The transcoder for one ingest's audio.
#[derive(Default)]
pub struct Transcoder {
    codec: Option<Codec>,
    /// Interleaved 48 kHz samples waiting for a full Opus frame.
    pcm: Vec<f32>,
    /// RTP time (48 kHz) of pcm[0].
    next_time: Option<u64>,
    decoded: Vec<f32>,
    resampled: Vec<f32>,
}

impl Transcoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn channels(&self) -> usize {
        self.codec.as_ref().map_or(2, |c| c.channels)
    }

    /// AudioSpecificConfig (FLV sequence header, or built from ADTS).
    pub fn configure(&mut self, asc: &[u8]) -> Result<(), AacError> {
        let [a, b, ..] = *asc else { return Err(AacError::Unsupported("short AudioSpecificConfig".into())) };
        let asc = [a, b];
        if self.codec.as_ref().is_some_and(|c| c.asc == asc) {
            return Ok(());
        }
        let object_type = a >> 3;
        let sfi = usize::from((a & 7) << 1 | b >> 7);
        let channels = usize::from((b >> 3) & 0x0f);
        if object_type != 2 {
            return Err(AacError::Unsupported(format!("object type {object_type} (only AAC-LC)")));
        }
        let rate = *RATES.get(sfi).ok_or_else(|| AacError::Unsupported(format!("sampling index {sfi}")))?;
        if !(1..=2).contains(&channels) {
            return Err(AacError::Unsupported(format!("{channels} channels (mono or stereo only)")));
        }
        let mut params = AudioCodecParameters::new();
        params.for_codec(CODEC_ID_AAC).with_extra_data(Box::new(asc));
        let decoder = AacDecoder::try_new(&params, &AudioDecoderOptions::default())
            .map_err(|e| AacError::Unsupported(e.to_string()))?;
        let mut encoder = OpusEncoder::new(48_000, channels, Application::Audio).map_err(AacError::Encode)?;
        encoder.bitrate_bps = 48_000 * channels as i32;
        self.codec = Some(Codec { asc, channels, decoder, resampler: Resampler::new(rate, channels), encoder });
        self.pcm.clear();
        self.next_time = None;
        Ok(())
    }

    /// A PES payload of ADTS frames with the PES's 90 kHz PTS.
    pub fn push_adts(&mut self, mut data: &[u8], pts: u64, out: &mut Vec<OpusPacket>) -> Result<(), AacError> {
        let mut pts = pts;
        while !data.is_empty() {
            let h = adts_header(data).ok_or(AacError::BadAdts)?;
            self.configure(&h.asc)?;
            let frame = data.get(h.header_len..h.frame_len).ok_or(AacError::BadAdts)?;
            self.push_raw(frame, pts, out)?;
            pts += 1024 * 90_000 / u64::from(h.rate);
            data = &data[h.frame_len..];
        }
        Ok(())
    }

    /// One raw AAC frame with its 90 kHz PTS.
    pub fn push_raw(&mut self, frame: &[u8], pts: u64, out: &mut Vec<OpusPacket>) -> Result<(), AacError> {
        let codec = self.codec.as_mut().ok_or(AacError::NotConfigured)?;
        let packet = PacketRef::new(0, Timestamp::new(0), SymDuration::new(1024), frame);
        let buf = codec.decoder.decode_ref(&packet).map_err(|e| AacError::Decode(e.to_string()))?;
        buf.copy_to_vec_interleaved(&mut self.decoded);
        self.resampled.clear();
        codec.resampler.process(&self.decoded, &mut self.resampled);

        let ch = codec.channels;
        let at = pts * 48_000 / 90_000;
        let expected = self.next_time.map(|t| t + (self.pcm.len() / ch) as u64);
        if expected.is_none_or(|e| (e as i64 - at as i64).abs() > MAX_DRIFT_48K) {
            self.pcm.clear();
            self.next_time = Some(at);
        }
        self.pcm.extend_from_slice(&self.resampled);
        let mut encoded = [0u8; 1500];
        while self.pcm.len() >= OPUS_FRAME * ch {
            let n = codec.encoder.encode(&self.pcm[..OPUS_FRAME * ch], OPUS_FRAME, &mut encoded).map_err(AacError::Encode)?;
            let time = self.next_time.unwrap_or(at);
            out.push(OpusPacket { time, data: encoded[..n].to_vec() });
            self.pcm.drain(..OPUS_FRAME * ch);
            self.next_time = Some(time + OPUS_FRAME as u64);
        }
        Ok(())
    }
}

struct AdtsHeader {
    asc: [u8; 2],
    rate: u32,
    header_len: usize,
    frame_len: usize,
}

fn adts_header(d: &[u8]) -> Option<AdtsHeader> {
    let h = d.get(..7)?;
    if h[0] != 0xff || h[1] & 0xf0 != 0xf0 {
        return None;
    }
    let protection_absent = h[1] & 1 == 1;
    let object_type = (h[2] >> 6) + 1;
    let sfi = (h[2] >> 2) & 0x0f;
    let channels = (h[2] & 1) << 2 | h[3] >> 6;
    let frame_len = usize::from(h[3] & 3) << 11 | usize::from(h[4]) << 3 | usize::from(h[5] >> 5);
    let header_len = if protection_absent { 7 } else { 9 };
    if frame_len <= header_len || frame_len > d.len() {
        return None;
    }
    let rate = *RATES.get(usize::from(sfi))?;
    let asc = [object_type << 3 | sfi >> 1, (sfi & 1) << 7 | channels << 3];
    Some(AdtsHeader { asc, rate, header_len, frame_len })
}

/// Linear-interpolation resampler to 48 kHz, continuous across calls. Plenty for speech and
/// program audio headed for Opus.
struct Resampler {
    step: f64,
    pos: f64,
    channels: usize,
    prev: Vec<f32>,
}

impl Resampler {
    fn new(rate: u32, channels: usize) -> Self {
        Self { step: f64::from(rate) / 48_000.0, pos: 0.0, channels, prev: vec![0.0; channels] }
    }

    fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        let ch = self.channels;
        let n = input.len() / ch;
        if n == 0 {
            return;
        }
        if self.step == 1.0 {
            out.extend_from_slice(&input[..n * ch]);
            return;
        }
        // Index -1 is the last frame of the previous call.
        let at = |i: isize, c: usize| if i < 0 { self.prev[c] } else { input[i as usize * ch + c] };
        while self.pos < (n - 1) as f64 {
            let i = self.pos.floor();
            let frac = (self.pos - i) as f32;
            for c in 0..ch {
                let (a, b) = (at(i as isize, c), at(i as isize + 1, c));
                out.push(a + (b - a) * frac);
            }
            self.pos += self.step;
        }
        self.pos -= n as f64;
        self.prev.copy_from_slice(&input[(n - 1) * ch..n * ch]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampler_keeps_the_rate_and_the_tone() {
        let mut r = Resampler::new(44_100, 1);
        let tone: Vec<f32> = (0..44_100).map(|i| (i as f32 * 2.0 * std::f32::consts::PI * 1000.0 / 44_100.0).sin()).collect();
        let mut out = Vec::new();
        for chunk in tone.chunks(1024) {
            r.process(chunk, &mut out);
        }
        assert!((out.len() as i64 - 48_000).abs() <= 2, "{}", out.len());
        let crossings = out.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        assert!((995..=1005).contains(&crossings), "{crossings}");
    }

    #[test]
    fn adts_headers() {
        // AAC-LC, 44.1 kHz (index 4), stereo, frame length 20, no CRC.
        let len = 20usize;
        let mut f = vec![0xff, 0xf1, (1 << 6) | (4 << 2), (2 << 6) | ((len >> 11) as u8 & 3), (len >> 3) as u8, ((len as u8 & 7) << 5) | 0x1f, 0xfc];
        f.resize(len, 0);
        let h = adts_header(&f).unwrap();
        assert_eq!((h.rate, h.header_len, h.frame_len), (44_100, 7, 20));
        assert_eq!(h.asc, [0x12, 0x10]);
        assert!(adts_header(&f[..10]).is_none(), "frame longer than the data");
        let mut t = Transcoder::new();
        assert!(matches!(t.push_raw(&[1, 2], 0, &mut Vec::new()), Err(AacError::NotConfigured)));
        assert!(t.configure(&[0x12, 0x10]).is_ok());
        assert!(matches!(t.configure(&[0x0a, 0x10]), Err(AacError::Unsupported(_))), "AAC Main");
    }
}
