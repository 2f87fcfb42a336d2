//! Ingest metrics (`bridge_ingest_*`), in the bridge's own registry.

use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, GaugeVec, Opts, Registry};

#[derive(Clone)]
pub struct IngestMetrics {
    pub active: IntGauge,
    pub refusals: IntCounterVec,
    pub bytes: IntCounterVec,
    pub video_frames: IntCounterVec,
    pub audio_frames: IntCounterVec,
    pub keyframes: IntCounterVec,
    pub b_frames: IntCounterVec,
    pub b_frame_streams: IntCounter,
    pub keyframe_interval: GaugeVec,
    pub srt_loss: IntGaugeVec,
    pub srt_retransmits: IntGaugeVec,
    pub srt_listener_restarts: IntCounter,
    pub srt_dropped: IntCounterVec,
    pub srt_rtt: GaugeVec,
}

impl IngestMetrics {
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let per = ["room", "protocol"];
        let m = Self {
            active: IntGauge::new("bridge_ingest_active", "Live ingest streams")?,
            refusals: IntCounterVec::new(Opts::new("bridge_ingest_refusals_total", "Encoders turned away, by reason"), &["reason", "protocol"])?,
            bytes: IntCounterVec::new(Opts::new("bridge_ingest_bytes_total", "Bytes received from encoders"), &per)?,
            video_frames: IntCounterVec::new(Opts::new("bridge_ingest_video_frames_total", "H.264 access units forwarded"), &per)?,
            audio_frames: IntCounterVec::new(Opts::new("bridge_ingest_audio_frames_total", "Opus frames forwarded"), &per)?,
            keyframes: IntCounterVec::new(Opts::new("bridge_ingest_keyframes_total", "IDR access units received"), &per)?,
            b_frames: IntCounterVec::new(Opts::new("bridge_ingest_b_frames_total", "Access units with B slices"), &per)?,
            b_frame_streams: IntCounter::new("bridge_ingest_b_frame_streams_total", "Streams found to carry B-frames")?,
            keyframe_interval: GaugeVec::new(Opts::new("bridge_ingest_keyframe_interval_seconds", "Time between the last two key frames"), &per)?,
            srt_loss: IntGaugeVec::new(Opts::new("bridge_ingest_srt_loss_packets", "SRT packets lost (receiver count)"), &["room"])?,
            srt_retransmits: IntGaugeVec::new(Opts::new("bridge_ingest_srt_retransmitted_packets", "SRT packets retransmitted"), &["room"])?,
            srt_rtt: GaugeVec::new(Opts::new("bridge_ingest_srt_rtt_seconds", "SRT round-trip time measured at the handshake"), &["room"])?,
            srt_listener_restarts: IntCounter::new("bridge_ingest_srt_listener_restarts_total", "SRT listeners restarted after srt-tokio's listener task died on a malformed datagram")?,
            srt_dropped: IntCounterVec::new(Opts::new("bridge_ingest_srt_dropped_total", "Datagrams to the SRT port dropped before srt-tokio, by reason"), &["reason"])?,
        };
        registry.register(Box::new(m.active.clone()))?;
        registry.register(Box::new(m.refusals.clone()))?;
        registry.register(Box::new(m.bytes.clone()))?;
        registry.register(Box::new(m.video_frames.clone()))?;
        registry.register(Box::new(m.audio_frames.clone()))?;
        registry.register(Box::new(m.keyframes.clone()))?;
        registry.register(Box::new(m.b_frames.clone()))?;
        registry.register(Box::new(m.b_frame_streams.clone()))?;
        registry.register(Box::new(m.keyframe_interval.clone()))?;
        registry.register(Box::new(m.srt_loss.clone()))?;
        registry.register(Box::new(m.srt_retransmits.clone()))?;
        registry.register(Box::new(m.srt_listener_restarts.clone()))?;
        registry.register(Box::new(m.srt_dropped.clone()))?;
        registry.register(Box::new(m.srt_rtt.clone()))?;
        Ok(m)
    }
}
