//! One encoder's media pipeline (sans-IO): demuxed elementary streams in, frames for the
//! fan-out out — H.264 access units as they came (with SPS/PPS before each IDR), AAC turned
//! into Opus — plus the figures the stats report.

use std::time::{Duration, Instant};

use super::aac_opus::{OpusPacket, Transcoder};
use super::flv::{self, FlvAudio, FlvVideo};
use super::h264::{self, AccessUnits};
use super::mpegts::{EsKind, Pes};

/// A frame for the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Media {
    /// Annex-B access unit; `time` on the 90 kHz clock; `profile_level_id` from the SPS.
    Video { time: u64, data: Vec<u8>, keyframe: bool, profile_level_id: u32 },
    /// One Opus packet; `time` on the 48 kHz clock.
    Audio { time: u64, data: Vec<u8> },
}

/// Something an operator should hear about (logged once, counted, shown in stats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    BFrames,
    Unsupported(String),
    AudioError(String),
}

#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub video_frames: u64,
    pub audio_frames: u64,
    pub keyframes: u64,
    pub b_frames: u64,
    pub bytes_in: u64,
    pub last_keyframe: Option<Instant>,
    pub keyframe_interval: Option<Duration>,
}

/// Constrained baseline, level 3.1: what we announce before the SPS is known.
const DEFAULT_PROFILE: u32 = 0x42e01f;

#[derive(Default)]
pub struct Publisher {
    units: AccessUnits,
    audio: Transcoder,
    avcc_length: usize,
    opus: Vec<OpusPacket>,
    pub figures: Figures,
    warned_b: bool,
}

impl Publisher {
    pub fn new() -> Self {
        Self { avcc_length: 4, ..Self::default() }
    }

    pub fn bytes_in(&mut self, n: usize) {
        self.figures.bytes_in += n as u64;
    }

    /// A PES from the MPEG-TS demuxer.
    pub fn ts_pes(&mut self, pes: &Pes, now: Instant, out: &mut Vec<Media>, notes: &mut Vec<Notice>) {
        let Some(pts) = pes.pts else { return };
        match pes.kind {
            EsKind::H264 => {
                let units = h264::nal_units(&pes.data);
                self.video(&units, pts, now, out, notes);
            }
            EsKind::Aac => {
                if let Err(e) = self.audio.push_adts(&pes.data, pts, &mut self.opus) {
                    notes.push(Notice::AudioError(e.to_string()));
                }
                self.drain_audio(out);
            }
        }
    }

    /// An FLV video tag body from RTMP, with the RTMP timestamp (DTS, ms).
    pub fn flv_video(&mut self, tag: &[u8], dts_ms: u32, now: Instant, out: &mut Vec<Media>, notes: &mut Vec<Notice>) {
        match flv::parse_video(tag) {
            Ok(FlvVideo::AvcConfig(rec)) => match h264::parse_avc_config(rec) {
                Some((len, sets)) => {
                    self.avcc_length = len;
                    self.units.set_parameter_sets(&sets);
                }
                None => notes.push(Notice::Unsupported("malformed AVC sequence header".into())),
            },
            Ok(FlvVideo::AvcNalus { cts_ms, data, .. }) => {
                let pts = (i64::from(dts_ms) + i64::from(cts_ms)).max(0) as u64 * 90;
                if let Some(units) = h264::avcc_units(data, self.avcc_length) {
                    self.video(&units, pts, now, out, notes);
                }
            }
            Ok(FlvVideo::EndOfSequence) => {}
            Ok(FlvVideo::Unsupported(what)) => notes.push(Notice::Unsupported(what)),
            Err(_) => {}
        }
    }

    /// An FLV audio tag body from RTMP, with its timestamp (ms).
    pub fn flv_audio(&mut self, tag: &[u8], ts_ms: u32, out: &mut Vec<Media>, notes: &mut Vec<Notice>) {
        let result = match flv::parse_audio(tag) {
            Ok(FlvAudio::AacConfig(asc)) => self.audio.configure(asc),
            Ok(FlvAudio::AacFrame(frame)) => self.audio.push_raw(frame, u64::from(ts_ms) * 90, &mut self.opus),
            Ok(FlvAudio::Unsupported(what)) => {
                notes.push(Notice::Unsupported(what));
                Ok(())
            }
            Err(_) => Ok(()),
        };
        if let Err(e) = result {
            notes.push(Notice::AudioError(e.to_string()));
        }
        self.drain_audio(out);
    }

    fn video(&mut self, units: &[&[u8]], pts: u64, now: Instant, out: &mut Vec<Media>, notes: &mut Vec<Notice>) {
        let Some((data, info)) = self.units.assemble(units) else { return };
        let f = &mut self.figures;
        f.video_frames += 1;
        if info.b_slice {
            f.b_frames += 1;
            if !self.warned_b {
                self.warned_b = true;
                notes.push(Notice::BFrames);
            }
        }
        if info.idr {
            f.keyframes += 1;
            if let Some(last) = f.last_keyframe {
                f.keyframe_interval = Some(now.saturating_duration_since(last));
            }
            f.last_keyframe = Some(now);
        }
        let profile_level_id = self.units.profile_level_id().unwrap_or(DEFAULT_PROFILE);
        out.push(Media::Video { time: pts, data, keyframe: info.idr, profile_level_id });
    }

    fn drain_audio(&mut self, out: &mut Vec<Media>) {
        for p in self.opus.drain(..) {
            self.figures.audio_frames += 1;
            out.push(Media::Audio { time: p.time, data: p.data });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flv_avc_config_then_keyframe() {
        let sps: &[u8] = &[0x67, 0x4d, 0x40, 0x1f, 0xaa];
        let pps: &[u8] = &[0x68, 0xee];
        let mut rec = vec![0x17, 0, 0, 0, 0, 1, 0x4d, 0x40, 0x1f, 0xff, 0xe1, 0, sps.len() as u8];
        rec.extend_from_slice(sps);
        rec.extend_from_slice(&[1, 0, pps.len() as u8]);
        rec.extend_from_slice(pps);
        let mut p = Publisher::new();
        let (mut out, mut notes) = (Vec::new(), Vec::new());
        let now = Instant::now();
        p.flv_video(&rec, 0, now, &mut out, &mut notes);
        assert!(out.is_empty());
        let idr: &[u8] = &[0x65, 0x88, 0x80];
        let mut tag = vec![0x17, 1, 0, 0, 40, 0, 0, 0, idr.len() as u8];
        tag.extend_from_slice(idr);
        p.flv_video(&tag, 1000, now, &mut out, &mut notes);
        let [Media::Video { time, data, keyframe, profile_level_id }] = &out[..] else { panic!("{out:?}") };
        assert_eq!(*time, 1040 * 90);
        assert!(*keyframe);
        assert_eq!(*profile_level_id, 0x4d401f);
        assert_eq!(h264::nal_units(data), vec![sps, pps, idr]);
        assert!(notes.is_empty());
        p.flv_video(&[0x12, 0], 0, now, &mut out, &mut notes);
        assert!(matches!(&notes[..], [Notice::Unsupported(_)]));
    }
}
