//! The focus's Prometheus metrics, registered in the registry its owner hands in (never the
//! global default: tests run several stacks in one process).

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

pub(crate) struct FocusMetrics {
    pub bridges: IntGauge,
    /// Registered bridges by state (healthy, draining, dead); set on every scrape.
    pub bridge_states: IntGaugeVec,
    /// Conferences a draining bridge still hosted at its deadline, taken off it.
    pub evacuated_conferences: IntCounter,
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
    /// Conferences moved off a dead bridge.
    pub failovers: IntCounter,
    /// From a dead bridge's last message to the new bridge's answer, per participant.
    pub failover_seconds: Histogram,
}

pub(crate) const EVENT_TYPES: [&str; 4] = ["answer", "offer", "failed", "expired"];

impl FocusMetrics {
    pub fn new(registry: &Registry) -> Self {
        let m = Self {
            bridges: IntGauge::new("ponte_focus_bridges", "Registered bridges.").unwrap(),
            bridge_states: IntGaugeVec::new(
                Opts::new("ponte_focus_bridges_by_state", "Registered bridges by state."),
                &["state"],
            )
            .unwrap(),
            evacuated_conferences: IntCounter::new(
                "ponte_focus_evacuated_conferences_total",
                "Conferences moved off a draining bridge at its drain deadline.",
            )
            .unwrap(),
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
            failovers: IntCounter::new(
                "ponte_focus_failovers_total",
                "Conferences moved to another bridge because theirs died.",
            )
            .unwrap(),
            failover_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "ponte_focus_failover_seconds",
                    "Seconds from a dead bridge's last message to a moved participant's media connecting on its new bridge.",
                )
                .buckets(vec![0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0]),
            )
            .unwrap(),
        };
        for t in EVENT_TYPES {
            m.endpoint_events.with_label_values(&[t]);
        }
        for s in crate::registry::BridgeState::ALL {
            m.bridge_states.with_label_values(&[s.as_str()]);
        }
        m.register(registry);
        // Kept out of the array above so that other additions there do not collide.
        for c in [
            Box::new(m.bridge_states.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(m.evacuated_conferences.clone()),
            Box::new(m.failovers.clone()),
            Box::new(m.failover_seconds.clone()),
        ] {
            if let Err(e) = registry.register(c) {
                tracing::warn!(error = %e, "focus metric not registered");
            }
        }
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
