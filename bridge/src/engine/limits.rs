//! Admission limits: how many conferences and how many not-yet-connected endpoints one
//! bridge takes. A new endpoint over a limit is refused before anything is allocated for it:
//! the client gets an `EndpointEvent::Failed` naming the limit (signaling turns it into an
//! error message), and `bridge_endpoint_failures_total{reason}` counts it.
//!
//! Pending endpoints are those whose ICE + DTLS handshake has not completed; each holds an
//! `Rtc` and a ufrag, so a flood of offers that never connect is what this cap bounds.

use ponte_proto::link::{EndpointEvent, EndpointRef};

use super::Engine;
use crate::config::BridgeConfig;

/// The engine's admission limits. `Default` is unlimited (tests); the service takes them
/// from [`BridgeConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_conferences: usize,
    pub max_pending_endpoints: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_conferences: usize::MAX, max_pending_endpoints: usize::MAX }
    }
}

impl From<&BridgeConfig> for Limits {
    fn from(c: &BridgeConfig) -> Self {
        Self { max_conferences: c.max_conferences as usize, max_pending_endpoints: c.max_pending_endpoints as usize }
    }
}

/// Which limit a new endpoint hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    Conferences { max: usize },
    PendingEndpoints { max: usize },
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Self::Conferences { .. } => "conference_limit",
            Self::PendingEndpoints { .. } => "pending_limit",
        }
    }

    fn reason(self) -> String {
        match self {
            Self::Conferences { max } => format!("this bridge is at its conference limit ({max}); try again later"),
            Self::PendingEndpoints { max } => {
                format!("this bridge has too many connections being set up ({max}); try again in a moment")
            }
        }
    }
}

impl Engine {
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// May a new endpoint for `target` be created? A new conference counts against the
    /// conference limit; every new endpoint is pending until it connects.
    pub(super) fn admit(&self, target: &EndpointRef) -> Result<(), Refusal> {
        let limits = self.limits;
        if !self.conferences.contains_key(&target.conference) && self.conferences.len() >= limits.max_conferences {
            return Err(Refusal::Conferences { max: limits.max_conferences });
        }
        // A scan, but only per offer for a new endpoint, never per packet.
        let pending = self.endpoints.values().filter(|ep| !ep.rtc.is_connected()).count();
        if pending >= limits.max_pending_endpoints {
            return Err(Refusal::PendingEndpoints { max: limits.max_pending_endpoints });
        }
        Ok(())
    }

    /// Tell the client why, count it, allocate nothing.
    pub(super) fn refuse(&mut self, target: EndpointRef, refusal: Refusal) {
        tracing::warn!(conference = %target.conference, endpoint = %target.endpoint, limit = refusal.label(), "endpoint refused");
        self.metrics.endpoint_failures.with_label_values(&[refusal.label()]).inc();
        self.events.push_back(EndpointEvent::Failed { target, reason: refusal.reason() });
    }
}
