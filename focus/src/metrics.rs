//! The focus's Prometheus metrics, registered in the registry its owner hands in (never the
//! global default: tests run several stacks in one process).

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

pub(crate) struct FocusMetrics {
    pub bridges: IntGauge,
    pub conferences: IntGauge,
    pub placements: IntCounter,
    /// Links refused or lost, by reason.
    pub link_failures: IntCounterVec,
    /// Endpoint events forwarded to signaling, by event type.
    pub endpoint_events: IntCounterVec,
    /// Conferences that lost their bridge (re-placement is not implemented yet).
    pub orphaned_conferences: IntCounter,
    /// Messages from bridges that were dropped, by reason.
    pub dropped_messages: IntCounterVec,
}

pub(crate) const EVENT_TYPES: [&str; 4] = ["answer", "offer", "failed", "expired"];

impl FocusMetrics {
    pub fn new(registry: &Registry) -> Self {
        let m = Self {
            bridges: IntGauge::new("ponte_focus_bridges", "Registered bridges.").unwrap(),
            conferences: IntGauge::new("ponte_focus_conferences", "Conferences placed on a bridge.")
                .unwrap(),
            placements: IntCounter::new("ponte_focus_placements_total", "Conferences placed.").unwrap(),
            link_failures: vec(
                "ponte_focus_bridge_link_failures_total",
                "Bridge links refused or lost, by reason.",
                "reason",
            ),
            endpoint_events: vec(
                "ponte_focus_endpoint_events_total",
                "Endpoint events received from bridges, by type.",
                "type",
            ),
            orphaned_conferences: IntCounter::new(
                "ponte_focus_orphaned_conferences_total",
                "Conferences whose bridge died or disconnected.",
            )
            .unwrap(),
            dropped_messages: vec(
                "ponte_focus_dropped_messages_total",
                "Messages from bridges dropped, by reason.",
                "reason",
            ),
        };
        for t in EVENT_TYPES {
            m.endpoint_events.with_label_values(&[t]);
        }
        m.register(registry);
        m
    }

    fn register(&self, registry: &Registry) {
        let collectors: [Box<dyn prometheus::core::Collector>; 7] = [
            Box::new(self.bridges.clone()),
            Box::new(self.conferences.clone()),
            Box::new(self.placements.clone()),
            Box::new(self.link_failures.clone()),
            Box::new(self.endpoint_events.clone()),
            Box::new(self.orphaned_conferences.clone()),
            Box::new(self.dropped_messages.clone()),
        ];
        for c in collectors {
            // Only a second focus on the same registry can collide; it keeps working unseen.
            if let Err(e) = registry.register(c) {
                tracing::warn!(error = %e, "focus metric not registered");
            }
        }
    }

    pub fn link_failure(&self, reason: &str) {
        self.link_failures.with_label_values(&[reason]).inc();
    }

    pub fn dropped(&self, reason: &str) {
        self.dropped_messages.with_label_values(&[reason]).inc();
    }
}

// The names and help texts above are constants, so construction cannot fail.
fn vec(name: &str, help: &str, label: &str) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), &[label]).unwrap()
}
