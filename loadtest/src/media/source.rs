//! Paced media sources: when the next frame is due, and what it is. Time is passed in.

use std::time::{Duration, Instant};

use str0m::media::{Frequency, MediaTime};

use super::{opus, vp8, wall_micros};

/// If a source falls further behind than this (a stalled task), it skips ahead instead of
/// sending a burst; the skipped frames are never made, so receivers see no gap.
const MAX_LAG: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Opus,
    Vp8,
}

/// One frame to write.
#[derive(Debug)]
pub struct Frame {
    pub data: Vec<u8>,
    pub seq: u32,
    pub keyframe: bool,
    /// When the frame was "captured": the wallclock for the writer.
    pub capture: Instant,
    pub rtp_time: MediaTime,
}

#[derive(Debug)]
pub struct Source {
    codec: Codec,
    sender_tag: u32,
    interval: Duration,
    keyframe_interval: u32,
    seq: u32,
    since_keyframe: u32,
    keyframe_wanted: bool,
    /// Video frame sizes relative to [`vp8::frame`]'s (sets the bitrate).
    scale: f64,
    /// (start, next due); `None` until started.
    clock: Option<(Instant, Instant)>,
}

impl Source {
    /// 20 ms Opus packets.
    pub fn audio(sender_tag: u32) -> Self {
        Self::new(Codec::Opus, sender_tag, Duration::from_millis(20), 0)
    }

    /// VP8 at `fps` (at least 1), a key frame every `keyframe_interval` frames (0: only on request).
    pub fn video(sender_tag: u32, fps: u32, keyframe_interval: u32) -> Self {
        let interval = Duration::from_secs(1) / fps.max(1);
        Self::new(Codec::Vp8, sender_tag, interval, keyframe_interval)
    }

    fn new(codec: Codec, sender_tag: u32, interval: Duration, keyframe_interval: u32) -> Self {
        Self {
            codec,
            sender_tag,
            interval,
            keyframe_interval,
            seq: 0,
            since_keyframe: 0,
            keyframe_wanted: true,
            scale: 1.0,
            clock: None,
        }
    }

    /// Scale video frames so that they average `kbps` (payload, all `layers_weight` copies
    /// of each frame together: 1 for one stream, the sum of the simulcast layer scales).
    pub fn with_bitrate(mut self, kbps: u32, layers_weight: usize) -> Self {
        let fps = 1.0 / self.interval.as_secs_f64();
        let bytes_per_frame = f64::from(kbps) * 1000.0 / 8.0 / fps;
        self.scale = bytes_per_frame / (vp8::mean_frame_len(self.keyframe_interval) * layers_weight.max(1) as f64);
        self
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Start the clock (idempotent); the first frame is due at once.
    pub fn start(&mut self, now: Instant) {
        if self.clock.is_none() {
            self.clock = Some((now, now));
        }
    }

    pub fn next_due(&self) -> Option<Instant> {
        self.clock.map(|(_, next)| next)
    }

    /// Make the next video frame a key frame.
    pub fn request_keyframe(&mut self) {
        self.keyframe_wanted = true;
    }

    /// Advance the clock past one due slot and return its capture time, if one is due.
    /// The caller then either makes the frame ([`Source::frame`]) or drops the slot (muted).
    pub fn poll_due(&mut self, now: Instant) -> Option<Instant> {
        let (_, next) = self.clock.as_mut()?;
        if *next > now {
            return None;
        }
        let lag = now - *next;
        if lag > MAX_LAG {
            // Skip whole intervals so RTP time stays on the frame grid.
            let skip = (lag.as_nanos() / self.interval.as_nanos()) as u32;
            *next += self.interval * skip;
        }
        let due = *next;
        *next += self.interval;
        Some(due)
    }

    /// Make the frame for a due slot.
    pub fn frame(&mut self, capture: Instant) -> Frame {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let start = self.clock.map_or(capture, |(s, _)| s);
        let elapsed = capture.saturating_duration_since(start);
        match self.codec {
            Codec::Opus => Frame {
                data: opus::packet_stamped(self.sender_tag, seq, wall_micros(capture)),
                seq,
                keyframe: false,
                capture,
                rtp_time: rtp_time(elapsed, Frequency::FORTY_EIGHT_KHZ),
            },
            Codec::Vp8 => {
                let keyframe = self.keyframe_wanted
                    || (self.keyframe_interval > 0 && self.since_keyframe + 1 >= self.keyframe_interval);
                self.keyframe_wanted = false;
                self.since_keyframe = if keyframe { 0 } else { self.since_keyframe + 1 };
                Frame {
                    data: vp8::frame_stamped(self.sender_tag, seq, keyframe, self.scale, wall_micros(capture)),
                    seq,
                    keyframe,
                    capture,
                    rtp_time: rtp_time(elapsed, Frequency::NINETY_KHZ),
                }
            }
        }
    }
}

fn rtp_time(elapsed: Duration, clock: Frequency) -> MediaTime {
    let ticks = elapsed.as_micros() * u128::from(clock.get()) / 1_000_000;
    MediaTime::new(ticks as u64, clock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_is_paced_every_20ms_with_960_ticks() {
        let t0 = Instant::now();
        let mut s = Source::audio(1);
        assert_eq!(s.poll_due(t0), None, "not started");
        s.start(t0);
        let mut times = Vec::new();
        let mut now = t0;
        for _ in 0..10 {
            while let Some(due) = s.poll_due(now) {
                times.push(s.frame(due).rtp_time.numer());
            }
            now += Duration::from_millis(10);
        }
        assert_eq!(times, vec![0, 960, 1920, 2880, 3840]);
    }

    #[test]
    fn video_key_frames_on_interval_and_request() {
        let t0 = Instant::now();
        let mut s = Source::video(1, 10, 5);
        s.start(t0);
        let mut keys = Vec::new();
        for i in 0..12u32 {
            if i == 7 {
                s.request_keyframe();
            }
            let due = s.poll_due(t0 + Duration::from_millis(100) * i).expect("one frame per 100 ms");
            let f = s.frame(due);
            assert_eq!(f.seq, i);
            if f.keyframe {
                keys.push(i);
            }
        }
        assert_eq!(keys, vec![0, 5, 7]);
    }

    #[test]
    fn bitrate_sets_frame_sizes_and_frames_are_stamped() {
        let t0 = Instant::now();
        let mut s = Source::video(1, 10, 10).with_bitrate(800, 1);
        s.start(t0);
        let mut bytes = 0;
        for i in 0..100u32 {
            let due = s.poll_due(t0 + Duration::from_millis(100) * i).expect("due");
            let f = s.frame(due);
            let header = vp8::header_len(f.keyframe);
            let m = crate::media::Marker::read(&f.data[header..]).expect("marker");
            assert_eq!(m.sent_us, wall_micros(due));
            bytes += f.data.len();
        }
        let kbps = bytes as f64 * 8.0 / 10.0 / 1000.0;
        assert!((kbps - 800.0).abs() < 80.0, "{kbps} kbit/s");
    }

    #[test]
    fn a_stall_skips_ahead_instead_of_bursting() {
        let t0 = Instant::now();
        let mut s = Source::audio(1);
        s.start(t0);
        let mut n = 0;
        while s.poll_due(t0 + Duration::from_secs(5)).is_some() {
            n += 1;
        }
        assert!(n <= 30, "{n} frames after a 5 s stall");
    }
}
