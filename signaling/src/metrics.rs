//! Signaling's Prometheus metrics, registered in the registry the service is given (never
//! the global one: tests run several stacks in one process).

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct SignalingMetrics {
    /// Open WebSocket connections.
    pub connections: IntGauge,
    /// Client messages accepted, by `type`.
    pub messages: IntCounterVec,
    /// `error` messages sent to clients, by `code`.
    pub errors: IntCounterVec,
    pub rooms: IntGauge,
    pub participants: IntGauge,
    /// Bridge events for a participant that is no longer here.
    pub events_dropped: IntCounter,
    /// Clients dropped because their outbound queue was full.
    pub slow_clients_dropped: IntCounter,
    /// Rooms told to renegotiate because their bridge died.
    pub renegotiations: IntCounter,
    /// Sessions resumed after a reconnect (or a restart of this process).
    pub resumes: IntCounter,
}

impl SignalingMetrics {
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self {
            connections: IntGauge::new("signaling_connections", "Open client WebSocket connections")?,
            messages: IntCounterVec::new(
                Opts::new("signaling_messages_total", "Client messages accepted, by type"),
                &["type"],
            )?,
            errors: IntCounterVec::new(Opts::new("signaling_errors_total", "Error replies sent to clients, by code"), &["code"])?,
            rooms: IntGauge::new("signaling_rooms", "Rooms with at least one participant")?,
            participants: IntGauge::new("signaling_participants", "Participants in all rooms")?,
            events_dropped: IntCounter::new(
                "signaling_events_dropped_total",
                "Bridge events for participants that are gone",
            )?,
            slow_clients_dropped: IntCounter::new(
                "signaling_slow_clients_dropped_total",
                "Clients dropped because they did not read their messages",
            )?,
            renegotiations: IntCounter::new(
                "signaling_renegotiations_total",
                "Rooms told to renegotiate because their bridge died",
            )?,
            resumes: IntCounter::new("signaling_resumes_total", "Media sessions resumed by a reconnecting client")?,
        };
        registry.register(Box::new(m.connections.clone()))?;
        registry.register(Box::new(m.messages.clone()))?;
        registry.register(Box::new(m.errors.clone()))?;
        registry.register(Box::new(m.rooms.clone()))?;
        registry.register(Box::new(m.participants.clone()))?;
        registry.register(Box::new(m.events_dropped.clone()))?;
        registry.register(Box::new(m.slow_clients_dropped.clone()))?;
        registry.register(Box::new(m.renegotiations.clone()))?;
        registry.register(Box::new(m.resumes.clone()))?;
        Ok(m)
    }
}
