//! Metrics of the quality layer: layer switches, bandwidth estimates, NACKs.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct QualityMetrics {
    /// Layer switches, `[up, down]`.
    pub layer_switches: [IntCounter; 2],
    pub estimates: Histogram,
    pub nacks_received: IntCounter,
    pub dominant_speaker_changes: IntCounter,
    /// Data-channel messages from clients that did not parse.
    pub bad_channel_messages: IntCounter,
}

impl QualityMetrics {
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let switches = IntCounterVec::new(
            Opts::new("bridge_layer_switches_total", "Simulcast layer switches of forwarded video, by direction"),
            &["direction"],
        )?;
        let estimates = Histogram::with_opts(
            HistogramOpts::new("bridge_bandwidth_estimate_bps", "Receivers' downlink bandwidth estimates (TWCC)")
                .buckets(vec![100e3, 250e3, 500e3, 1e6, 2e6, 4e6, 8e6, 16e6]),
        )?;
        let m = Self {
            layer_switches: [switches.with_label_values(&["up"]), switches.with_label_values(&["down"])],
            estimates,
            nacks_received: IntCounter::new(
                "bridge_nacks_received_total",
                "NACKs from receivers, answered from str0m's send buffer (RTX when negotiated)",
            )?,
            dominant_speaker_changes: IntCounter::new(
                "bridge_dominant_speaker_changes_total",
                "Times a conference's dominant speaker changed",
            )?,
            bad_channel_messages: IntCounter::new(
                "bridge_bad_channel_messages_total",
                "Data-channel messages from clients that did not parse",
            )?,
        };
        registry.register(Box::new(switches))?;
        registry.register(Box::new(m.estimates.clone()))?;
        registry.register(Box::new(m.nacks_received.clone()))?;
        registry.register(Box::new(m.dominant_speaker_changes.clone()))?;
        registry.register(Box::new(m.bad_channel_messages.clone()))?;
        Ok(m)
    }
}
