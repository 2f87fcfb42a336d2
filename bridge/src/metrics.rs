//! The bridge's Prometheus metrics, registered in the registry the bridge is given.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Why a datagram was dropped; the `reason` label of `bridge_packets_dropped_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// First byte matches no protocol multiplexed on the port (RFC 7983).
    Malformed,
    /// STUN that does not parse or carries no USERNAME.
    BadStun,
    /// STUN for an ICE ufrag the bridge never handed out.
    UnknownUfrag,
    /// Non-STUN traffic from an address no ICE check came from.
    UnknownSource,
    /// The endpoint's WebRTC stack refused the datagram.
    Rejected,
}

impl DropReason {
    pub const ALL: [DropReason; 5] = [
        Self::Malformed,
        Self::BadStun,
        Self::UnknownUfrag,
        Self::UnknownSource,
        Self::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::BadStun => "bad_stun",
            Self::UnknownUfrag => "unknown_ufrag",
            Self::UnknownSource => "unknown_source",
            Self::Rejected => "rejected",
        }
    }
}

#[derive(Clone)]
pub struct BridgeMetrics {
    pub endpoints: IntGauge,
    pub conferences: IntGauge,
    pub packets_in: IntCounter,
    pub bytes_in: IntCounter,
    pub packets_out: IntCounter,
    pub bytes_out: IntCounter,
    /// One counter per [`DropReason`], resolved once: label lookups take a lock.
    dropped: Vec<IntCounter>,
    /// Frames forwarded, `[audio, video]`, resolved once for the fan-out loop.
    pub frames_forwarded: [IntCounter; 2],
    pub keyframe_requests: IntCounter,
    pub renegotiations: IntCounter,
    pub endpoint_failures: IntCounterVec,
    /// Focus link dials refused or failed and links lost, by reason (`focus_link::ws`).
    pub focus_link_failures: IntCounterVec,
    /// Layer switches, estimates, NACKs, speakers (`forwarding::metrics`).
    pub quality: crate::forwarding::metrics::QualityMetrics,
}

impl BridgeMetrics {
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let dropped = IntCounterVec::new(
            Opts::new("bridge_packets_dropped_total", "UDP datagrams dropped, by reason"),
            &["reason"],
        )?;
        let forwarded = IntCounterVec::new(
            Opts::new("bridge_frames_forwarded_total", "Media frames written to subscribers"),
            &["kind"],
        )?;
        registry.register(Box::new(dropped.clone()))?;
        registry.register(Box::new(forwarded.clone()))?;
        let m = Self {
            endpoints: IntGauge::new("bridge_endpoints", "WebRTC endpoints on this bridge")?,
            conferences: IntGauge::new("bridge_conferences", "Conferences on this bridge")?,
            packets_in: IntCounter::new("bridge_packets_received_total", "UDP datagrams received")?,
            bytes_in: IntCounter::new("bridge_bytes_received_total", "UDP payload bytes received")?,
            packets_out: IntCounter::new("bridge_packets_sent_total", "UDP datagrams sent")?,
            bytes_out: IntCounter::new("bridge_bytes_sent_total", "UDP payload bytes sent")?,
            dropped: DropReason::ALL.iter().map(|r| dropped.with_label_values(&[r.as_str()])).collect(),
            frames_forwarded: [forwarded.with_label_values(&["audio"]), forwarded.with_label_values(&["video"])],
            keyframe_requests: IntCounter::new(
                "bridge_keyframe_requests_total",
                "Key-frame requests (PLI/FIR) sent to publishers",
            )?,
            renegotiations: IntCounter::new(
                "bridge_renegotiations_total",
                "SDP offers the bridge sent to endpoints",
            )?,
            endpoint_failures: IntCounterVec::new(
                Opts::new("bridge_endpoint_failures_total", "Endpoint requests that failed or endpoints that died"),
                &["reason"],
            )?,
            focus_link_failures: IntCounterVec::new(
                Opts::new(
                    "bridge_focus_link_failures_total",
                    "Focus link dials refused (unauthorized: wrong secret) or failed, and links lost, by reason",
                ),
                &["reason"],
            )?,
            quality: crate::forwarding::metrics::QualityMetrics::new(registry)?,
        };
        registry.register(Box::new(m.endpoints.clone()))?;
        registry.register(Box::new(m.conferences.clone()))?;
        registry.register(Box::new(m.packets_in.clone()))?;
        registry.register(Box::new(m.bytes_in.clone()))?;
        registry.register(Box::new(m.packets_out.clone()))?;
        registry.register(Box::new(m.bytes_out.clone()))?;
        registry.register(Box::new(m.keyframe_requests.clone()))?;
        registry.register(Box::new(m.renegotiations.clone()))?;
        registry.register(Box::new(m.endpoint_failures.clone()))?;
        registry.register(Box::new(m.focus_link_failures.clone()))?;
        for reason in crate::focus_link::ws::FAILURE_REASONS {
            m.focus_link_failures.with_label_values(&[reason]);
        }
        Ok(m)
    }

    /// `ALL` lists the reasons in declaration order, so the discriminant indexes `dropped`.
    pub fn drop(&self, reason: DropReason) {
        self.dropped[reason as usize].inc();
    }
}
