//! [`Focus`]: the shared handle that signaling calls, link sessions feed, and the HTTP edge
//! reads. The state lives in a [`Registry`] behind one mutex that is never held across an
//! `.await`; messages to a bridge go out on its link's channel after the lock is released.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use ponte_proto::link::{BridgeStats, BridgeToFocus, EndpointEvent, FocusToBridge, HostedEndpoint, Registration};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, watch};

use crate::config::FocusConfig;
use crate::error::FocusError;
use crate::link;
use crate::metrics::FocusMetrics;
use crate::participants::{Participant, Participants};
use crate::registry::{BridgeState, LinkId, Moved, PlaceError, Registry};

/// Endpoint events waiting for signaling. Link sessions wait when it is full, so nothing is
/// lost; a bridge then feels back-pressure on its link.
pub const EVENT_QUEUE: usize = 4096;

/// Moves kept for a subscriber that lags; a lagging subscriber is told how many it missed.
const MOVES_QUEUE: usize = 1024;
/// A moved conference's answers count toward the failover histogram for this long.
const FAILOVER_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// A conference left its bridge (the bridge died): its participants must renegotiate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConferenceMoved {
    pub conference: String,
    pub from: String,
    /// The bridge it is placed on now; None when no bridge could take it (the next offer
    /// places it).
    pub to: Option<String>,
}

/// The sending half of one bridge's link.
pub(crate) type LinkTx = mpsc::Sender<FocusToBridge>;

/// The focus: bridge registry, conference placement and request routing.
///
/// Cheap to clone; every clone is the same focus.
#[derive(Clone)]
pub struct Focus {
    inner: Arc<Inner>,
}

struct Inner {
    config: FocusConfig,
    state: Mutex<Registry<LinkTx>>,
    /// Taken after `state` when both are needed, never the other way round.
    participants: Mutex<Participants>,
    events: mpsc::Sender<EndpointEvent>,
    moves: broadcast::Sender<ConferenceMoved>,
    /// Moved conference → (when its old bridge was last heard, endpoints answered since).
    failovers: Mutex<HashMap<String, (Instant, HashSet<String>)>>,
    metrics: FocusMetrics,
    prometheus: prometheus::Registry,
    ready: AtomicBool,
    /// Flipped to true on shutdown; every link session watches it.
    stop: watch::Sender<bool>,
}

/// One bridge as the operator API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct BridgeInfo {
    pub id: String,
    pub state: BridgeState,
    pub region: Option<String>,
    /// From the last stats report (also in `stats`).
    pub stress: f64,
    pub endpoints: u32,
    pub version: String,
    pub media_addr: String,
    pub ingest_addrs: Vec<String>,
    pub stats: BridgeStats,
    /// Draining, by operator request or by the bridge's own report.
    pub draining: bool,
    pub healthy: bool,
    pub last_seen_ms_ago: u64,
    pub conferences: Vec<String>,
}

/// One placed conference as the operator API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ConferenceInfo {
    pub room: String,
    pub bridge: String,
    pub participants: Vec<Participant>,
}

/// A registered link: what a session needs to talk about its bridge.
pub(crate) struct Session {
    pub bridge_id: String,
    pub link_id: LinkId,
}

impl Focus {
    /// A focus with no bridges, and the receiver of every endpoint event from every bridge
    /// (in per-bridge order). Metrics are registered in `registry`.
    pub fn new(config: FocusConfig, registry: prometheus::Registry) -> (Focus, mpsc::Receiver<EndpointEvent>) {
        let (events, events_rx) = mpsc::channel(EVENT_QUEUE);
        let inner = Inner {
            state: Mutex::new(Registry::new(config.heartbeat_timeout, config.policy())),
            moves: broadcast::channel(MOVES_QUEUE).0,
            failovers: Mutex::default(),
            participants: Mutex::default(),
            config,
            events,
            metrics: FocusMetrics::new(&registry),
            prometheus: registry,
            ready: AtomicBool::new(false),
            stop: watch::channel(false).0,
        };
        (Focus { inner: Arc::new(inner) }, events_rx)
    }

    /// Send a request to the bridge of its conference.
    ///
    /// An `Offer` for a conference without a bridge places it first (least-stressed healthy,
    /// non-draining bridge, preferring `prefer_region`). `ExpireConference` also forgets the
    /// placement.
    pub async fn send(&self, cmd: FocusToBridge) -> Result<(), FocusError> {
        self.send_in_region(cmd, None).await
    }

    /// [`Focus::send`], where an `Offer` that places its conference prefers bridges in
    /// `region` (the client's hint), else the configured `prefer_region`.
    pub async fn send_in_region(&self, cmd: FocusToBridge, region: Option<&str>) -> Result<(), FocusError> {
        let (bridge, link) = match &cmd {
            FocusToBridge::Offer { target, display_name, .. } => {
                let region = region.or(self.inner.config.prefer_region.as_deref());
                let route = self.join_inner(&target.conference, region)?;
                self.participants().joined(&target.conference, &target.endpoint, display_name);
                route
            }
            FocusToBridge::Answer { target, .. } | FocusToBridge::Resumed { target } => self.route(&target.conference)?,
            FocusToBridge::ExpireEndpoint { target } => {
                let route = self.route(&target.conference)?;
                self.left(&target.conference, &target.endpoint);
                route
            }
            FocusToBridge::ExpireConference { conference } => {
                let route = self.route(conference)?;
                let mut state = self.state();
                state.forget_conference(conference);
                self.participants().forget(conference);
                self.inner.metrics.conferences.set(state.conferences().len() as i64);
                route
            }
            FocusToBridge::Registered { .. } => return Err(FocusError::NotARequest("registered")),
            FocusToBridge::Drain { .. } => return Err(FocusError::NotARequest("drain")),
            FocusToBridge::ClaimResult { .. } => return Err(FocusError::NotARequest("claim_result")),
        };
        link.send(cmd).await.map_err(|_| FocusError::LinkClosed(bridge))
    }

    /// Place `conference` (if it has no bridge yet) and return its bridge id. `region` is a
    /// hint: a bridge in that region wins whenever one can take the conference.
    pub fn place(&self, conference: &str, region: Option<&str>) -> Result<String, FocusError> {
        self.place_inner(conference, region).map(|(id, _)| id)
    }

    /// Conference moves (a bridge died), for signaling to tell the participants.
    pub fn subscribe_moves(&self) -> broadcast::Receiver<ConferenceMoved> {
        self.inner.moves.subscribe()
    }

    /// The endpoint as its bridge reported it when it (re-)registered, if it did: what a
    /// client resuming its session after a focus restart is checked against.
    pub fn hosted_endpoint(&self, conference: &str, endpoint: &str) -> Option<HostedEndpoint> {
        self.state().hosted_endpoint(conference, endpoint).cloned()
    }

    /// The bridge hosting `conference`, if any.
    pub fn bridge_of(&self, conference: &str) -> Option<String> {
        self.state().route(conference).map(|(id, _)| id)
    }

    /// An in-process link for a bridge in this process. The bridge sends `Register` first,
    /// exactly as over the WebSocket.
    pub fn connect_local(&self) -> (mpsc::Sender<BridgeToFocus>, mpsc::Receiver<FocusToBridge>) {
        link::local::connect(self.clone())
    }

    /// The HTTP edge: `/v1/bridge-link` (WebSocket, bridges dial in), the operator API
    /// `/v1/bridges`, `/v1/conferences`, `/v1/bridges/{id}/drain`, and `/health`, `/ready`,
    /// `/metrics`. Serve it with `into_make_service_with_connect_info::<SocketAddr>()` to get
    /// peer addresses in link logs.
    pub fn router(&self) -> axum::Router {
        crate::http::router(self.clone())
    }

    /// Mark the focus ready (`/ready` answers 200). [`crate::FocusService::bind`] does this
    /// once its listener is bound; a composer that serves [`Focus::router`] itself calls it.
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Relaxed)
    }

    /// Ask a bridge to stop taking conferences (or to take them again); placement skips a
    /// draining bridge at once. Returns the bridge as it is now: an undrained bridge that
    /// drains on its own (SIGTERM) stays `draining`.
    pub async fn drain(&self, bridge_id: &str, draining: bool) -> Result<BridgeInfo, FocusError> {
        let link = self
            .state()
            .set_draining(bridge_id, draining)
            .ok_or_else(|| FocusError::UnknownBridge(bridge_id.to_string()))?;
        tracing::info!(bridge = bridge_id, draining, "drain requested");
        link.send(FocusToBridge::Drain { draining })
            .await
            .map_err(|_| FocusError::LinkClosed(bridge_id.to_string()))?;
        self.bridges()
            .into_iter()
            .find(|b| b.id == bridge_id)
            .ok_or_else(|| FocusError::UnknownBridge(bridge_id.to_string()))
    }

    /// Every registered bridge, ordered by id.
    pub fn bridges(&self) -> Vec<BridgeInfo> {
        let now = now();
        let state = self.state();
        state
            .bridges()
            .map(|b| BridgeInfo {
                id: b.registration.bridge_id.clone(),
                state: state.state(b, now),
                stress: b.stats.stress,
                endpoints: b.stats.endpoints,
                region: b.registration.region.clone(),
                version: b.registration.version.clone(),
                media_addr: b.registration.media_addr.clone(),
                ingest_addrs: b.registration.ingest_addrs.clone(),
                stats: b.stats.clone(),
                draining: b.draining(),
                healthy: state.is_healthy(b, now),
                last_seen_ms_ago: now.saturating_duration_since(b.last_seen).as_millis() as u64,
                conferences: b.conferences.iter().cloned().collect(),
            })
            .collect()
    }

    /// conference → bridge id.
    pub fn conferences(&self) -> BTreeMap<String, String> {
        self.state().conferences().clone()
    }

    /// Every placed conference with its bridge and participants, ordered by room.
    pub fn conference_list(&self) -> Vec<ConferenceInfo> {
        let placed = self.conferences();
        let participants = self.participants();
        placed
            .into_iter()
            .map(|(room, bridge)| ConferenceInfo { participants: participants.of(&room), room, bridge })
            .collect()
    }

    /// Set the bridges-by-state gauges (states change with time alone: read them on scrape).
    pub(crate) fn update_state_gauges(&self) {
        let now = now();
        let state = self.state();
        let mut counts = [0i64; BridgeState::ALL.len()];
        for b in state.bridges() {
            let s = state.state(b, now);
            if let Some(i) = BridgeState::ALL.iter().position(|x| *x == s) {
                counts[i] += 1;
            }
        }
        for (s, n) in BridgeState::ALL.iter().zip(counts) {
            self.inner.metrics.bridge_states.with_label_values(&[s.as_str()]).set(n);
        }
    }

    pub fn config(&self) -> &FocusConfig {
        &self.inner.config
    }

    pub fn prometheus(&self) -> &prometheus::Registry {
        &self.inner.prometheus
    }

    /// End every link session (bridges see their link close and will redial).
    pub fn close_links(&self) {
        self.inner.stop.send_replace(true);
    }

    fn place_inner(&self, conference: &str, region: Option<&str>) -> Result<(String, LinkTx), FocusError> {
        let mut state = self.state();
        let (id, link, placed) = state.place(conference, region, now()).map_err(|e| match e {
            PlaceError::NoBridge => FocusError::NoBridge,
        })?;
        if placed {
            self.inner.metrics.placements.inc();
            self.inner.metrics.conferences.set(state.conferences().len() as i64);
            tracing::info!(conference, bridge = %id, "conference placed");
        }
        Ok((id, link))
    }

    /// Route a join: place the conference if it has none, else count the join against its
    /// bridge until that bridge's next report.
    fn join_inner(&self, conference: &str, region: Option<&str>) -> Result<(String, LinkTx), FocusError> {
        let route = self.state().route(conference);
        match route {
            Some(route) => {
                self.state().note_join(conference);
                Ok(route)
            }
            None => self.place_inner(conference, region),
        }
    }

    fn route(&self, conference: &str) -> Result<(String, LinkTx), FocusError> {
        self.state()
            .route(conference)
            .ok_or_else(|| FocusError::UnknownConference(conference.to_string()))
    }

    fn state(&self) -> MutexGuard<'_, Registry<LinkTx>> {
        // A panic while holding the lock is a bug elsewhere; the registry itself stays
        // consistent between calls, so keep serving rather than poisoning every caller.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn participants(&self) -> MutexGuard<'_, Participants> {
        self.inner.participants.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A participant left; the last one out ends the conference, so that its placement
    /// (and the bridge's load) does not outlive it.
    fn left(&self, conference: &str, endpoint: &str) {
        let mut state = self.state();
        if self.participants().left(conference, endpoint) && state.forget_conference(conference) {
            self.inner.metrics.conferences.set(state.conferences().len() as i64);
            tracing::info!(conference, "conference ended: its last participant left");
        }
    }
}

/// What link sessions need from the focus.
impl Focus {
    pub(crate) fn metrics(&self) -> &FocusMetrics {
        &self.inner.metrics
    }

    pub(crate) fn stop_signal(&self) -> watch::Receiver<bool> {
        self.inner.stop.subscribe()
    }

    /// Enter a bridge and queue `Registered` as the first message on its link, under the
    /// lock, so that no request can overtake it.
    pub(crate) fn register(&self, registration: Registration, link: LinkTx, peer: &str) -> Option<Session> {
        let bridge_id = registration.bridge_id.clone();
        let mut state = self.state();
        let link_id = state.new_link_id();
        let outcome = match state.register(link_id, link.clone(), registration.clone(), now()) {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::warn!(peer, bridge = %bridge_id, error = %e, "bridge registration refused");
                self.inner.metrics.link_failure("bad_register");
                return None;
            }
        };
        let registered = FocusToBridge::Registered { focus_version: env!("CARGO_PKG_VERSION").into() };
        // The channel is new and empty, so only a closed link makes this fail.
        if link.try_send(registered).is_err() {
            state.remove(&bridge_id, link_id);
            return None;
        }
        // An operator's drain outlives a reconnect; the bridge forgets it on `Registered`.
        if state.bridge(&bridge_id).is_some_and(|b| b.drain_requested) {
            let _ = link.try_send(FocusToBridge::Drain { draining: true });
        }
        self.inner.metrics.bridges.set(state.bridges().count() as i64);
        self.inner.metrics.conferences.set(state.conferences().len() as i64);
        tracing::info!(
            peer,
            bridge = %bridge_id,
            region = registration.region.as_deref().unwrap_or("-"),
            version = %registration.version,
            media_addr = %registration.media_addr,
            replaced = outcome.replaced,
            adopted = outcome.adopted.len(),
            "bridge registered"
        );
        if outcome.replaced {
            // A reconnect after a silent drop, or two bridges sharing one id (they will flap).
            tracing::warn!(bridge = %bridge_id, "bridge id was registered over another link; that link is superseded");
        }
        expire_conflicts(&bridge_id, &link, &outcome.conflicts);
        self.adopt_endpoints(&registration, &outcome.conflicts);
        Some(Session { bridge_id, link_id })
    }

    /// A later `Register` on a live link updates the registration; false when the session
    /// has been superseded. A refused update keeps the old registration.
    pub(crate) fn reregister(&self, session: &Session, registration: Registration) -> bool {
        let mut state = self.state();
        match state.reregister(session.link_id, registration.clone(), now()) {
            None => false,
            Some(Ok(outcome)) => {
                self.inner.metrics.conferences.set(state.conferences().len() as i64);
                tracing::info!(bridge = %session.bridge_id, adopted = outcome.adopted.len(), "bridge re-registered");
                if let Some(link) = state.bridge(&session.bridge_id).map(|b| b.link.clone()) {
                    expire_conflicts(&session.bridge_id, &link, &outcome.conflicts);
                }
                self.adopt_endpoints(&registration, &outcome.conflicts);
                true
            }
            Some(Err(e)) => {
                tracing::warn!(bridge = %session.bridge_id, error = %e, "re-registration refused");
                self.inner.metrics.dropped("bad_register");
                state.touch(&session.bridge_id, session.link_id, now())
            }
        }
    }

    /// A bridge with a live stream for `conference` claims it: placed there if unplaced,
    /// else the answer names the hosting bridge and its ingest addresses. False when the
    /// session has been superseded.
    pub(crate) async fn claim(&self, session: &Session, conference: String) -> bool {
        let (answer, link) = {
            let mut state = self.state();
            if !state.touch(&session.bridge_id, session.link_id, now()) {
                return false;
            }
            let Some(link) = state.bridge(&session.bridge_id).map(|b| b.link.clone()) else { return false };
            let holder = match state.route(&conference) {
                Some((id, _)) => id,
                None => {
                    state.claim(&conference, &session.bridge_id);
                    self.inner.metrics.conferences.set(state.conferences().len() as i64);
                    tracing::info!(bridge = %session.bridge_id, conference, "conference placed by a live stream");
                    session.bridge_id.clone()
                }
            };
            let granted = holder == session.bridge_id;
            let ingest_addrs = state.bridge(&holder).map(|b| b.registration.ingest_addrs.clone()).unwrap_or_default();
            (FocusToBridge::ClaimResult { conference, granted, bridge_id: holder, ingest_addrs }, link)
        };
        let _ = link.send(answer).await;
        true
    }

    /// Record a stats report; false when the session has been superseded.
    pub(crate) fn record_stats(&self, session: &Session, stats: BridgeStats) -> bool {
        self.state().record_stats(&session.bridge_id, session.link_id, stats, now())
    }

    /// Note that the bridge spoke; false when the session has been superseded.
    pub(crate) fn touch(&self, session: &Session) -> bool {
        self.state().touch(&session.bridge_id, session.link_id, now())
    }

    /// Hand an endpoint event to signaling, waiting for room in the queue.
    pub(crate) async fn forward_event(&self, event: EndpointEvent) {
        let kind = match &event {
            EndpointEvent::Answer { .. } => "answer",
            EndpointEvent::Connected { .. } => "connected",
            EndpointEvent::Offer { .. } => "offer",
            EndpointEvent::Failed { .. } => "failed",
            EndpointEvent::Expired { .. } => "expired",
            EndpointEvent::IngestStarted { .. } => "ingest_started",
            EndpointEvent::IngestStopped { .. } => "ingest_stopped",
        };
        self.inner.metrics.endpoint_events.with_label_values(&[kind]).inc();
        match &event {
            EndpointEvent::Connected { target } => {
                // For the failover clock only: the client learns it from its own connection.
                self.note_failover_connected(&target.conference, &target.endpoint);
                return;
            }
            EndpointEvent::Expired { target, .. } | EndpointEvent::IngestStopped { target } => {
                self.left(&target.conference, &target.endpoint)
            }
            EndpointEvent::IngestStarted { target, display_name } => {
                self.participants().joined(&target.conference, &target.endpoint, display_name)
            }
            _ => {}
        }
        if self.inner.events.send(event).await.is_err() {
            self.inner.metrics.dropped("no_event_consumer");
        }
    }

    /// The bridge drains on its own (SIGTERM) or stopped doing so; false when the session
    /// has been superseded.
    pub(crate) fn bridge_draining(&self, session: &Session, draining: bool) -> bool {
        tracing::info!(bridge = %session.bridge_id, draining, "bridge reports its drain state");
        self.state().set_reported_draining(&session.bridge_id, session.link_id, draining, now())
    }

    /// A draining bridge reached its deadline: move `conferences` to other bridges and tell
    /// signaling, exactly as for a dead bridge (the participants renegotiate there) — the old
    /// bridge keeps forwarding meanwhile and exits shortly. False when the session has been
    /// superseded.
    pub(crate) fn evacuate(&self, session: &Session, conferences: Vec<String>) -> bool {
        let now = now();
        let mut state = self.state();
        if !state.touch(&session.bridge_id, session.link_id, now) {
            return false;
        }
        let mut moved = Vec::new();
        for conference in conferences {
            // Only what is still on this bridge: a conference may have ended or moved.
            if state.route(&conference).is_some_and(|(id, _)| id == session.bridge_id) {
                state.forget_conference(&conference);
                // The bridge reported `Draining` first, so placement cannot pick it again.
                let to = state.place(&conference, None, now).ok().map(|(id, _, _)| id);
                moved.push(Moved { conference, to });
            }
        }
        self.inner.metrics.conferences.set(state.conferences().len() as i64);
        drop(state);
        self.inner.metrics.evacuated_conferences.inc_by(moved.len() as u64);
        for m in moved {
            match &m.to {
                Some(to) => {
                    self.inner.metrics.placements.inc();
                    tracing::warn!(conference = %m.conference, from = %session.bridge_id, to = %to, "drain deadline: conference moved to another bridge");
                }
                None => tracing::warn!(conference = %m.conference, from = %session.bridge_id, "drain deadline: no bridge can take the conference; its next offer places it"),
            }
            let _ = self.inner.moves.send(ConferenceMoved { conference: m.conference, from: session.bridge_id.clone(), to: m.to });
        }
        true
    }

    /// The session ended: drop the bridge and its placements.
    pub(crate) fn unregister(&self, session: &Session, reason: &str) {
        let now = now();
        let mut state = self.state();
        if *self.inner.stop.borrow() {
            // The focus is going away, not the bridge: it keeps its conferences and reports
            // them to the next focus. Moving them now would tear down live media.
            state.remove(&session.bridge_id, session.link_id);
            tracing::info!(bridge = %session.bridge_id, reason, "bridge link closed at shutdown");
            return;
        }
        let last_seen = state.bridge(&session.bridge_id).map_or(now, |b| b.last_seen);
        let Some(moved) = state.fail_over(&session.bridge_id, session.link_id, now) else {
            tracing::info!(bridge = %session.bridge_id, reason, "superseded bridge link ended");
            return;
        };
        self.inner.metrics.bridges.set(state.bridges().count() as i64);
        self.inner.metrics.conferences.set(state.conferences().len() as i64);
        self.inner.metrics.orphaned_conferences.inc_by(moved.len() as u64);
        drop(state);
        tracing::warn!(bridge = %session.bridge_id, reason, conferences = moved.len(), "bridge removed; moving its conferences");
        let mut failovers = self.failovers();
        failovers.retain(|_, (at, _)| now.saturating_duration_since(*at) < FAILOVER_WINDOW);
        for m in moved {
            match &m.to {
                Some(to) => {
                    self.inner.metrics.failovers.inc();
                    self.inner.metrics.placements.inc();
                    tracing::warn!(conference = %m.conference, from = %session.bridge_id, to = %to, "conference moved to another bridge");
                }
                None => tracing::warn!(conference = %m.conference, from = %session.bridge_id, "no bridge can take the conference; its next offer places it"),
            }
            failovers.insert(m.conference.clone(), (last_seen, HashSet::new()));
            // Nobody subscribed (a focus without signaling): nobody to tell.
            let _ = self.inner.moves.send(ConferenceMoved { conference: m.conference, from: session.bridge_id.clone(), to: m.to });
        }
    }

    /// Endpoints a (re-)registering bridge reports are participants of its conferences
    /// (after a focus restart nobody else told us), except in conferences that live elsewhere.
    fn adopt_endpoints(&self, registration: &Registration, conflicts: &[String]) {
        let mut participants = self.participants();
        for e in registration.endpoints.iter().filter(|e| !conflicts.contains(&e.target.conference)) {
            participants.joined(&e.target.conference, &e.target.endpoint, &e.display_name);
        }
    }

    /// A moved participant's media connected on its new bridge: one failover done, timed
    /// from the old bridge's last message.
    fn note_failover_connected(&self, conference: &str, endpoint: &str) {
        let mut failovers = self.failovers();
        let Some((since, done)) = failovers.get_mut(conference) else { return };
        if done.insert(endpoint.to_owned()) {
            let secs = now().saturating_duration_since(*since).as_secs_f64();
            self.inner.metrics.failover_seconds.observe(secs);
            tracing::info!(conference, endpoint, secs, "moved participant's media connected on its new bridge");
        }
    }

    fn failovers(&self) -> MutexGuard<'_, HashMap<String, (Instant, HashSet<String>)>> {
        self.inner.failovers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A bridge came back still running conferences that moved elsewhere while it was away (it
/// was declared dead): end them there, so that their stale endpoints stop.
fn expire_conflicts(bridge_id: &str, link: &LinkTx, conflicts: &[String]) {
    for conference in conflicts {
        tracing::warn!(bridge = %bridge_id, conference, "bridge reports a conference placed elsewhere; expiring it there");
        if link.try_send(FocusToBridge::ExpireConference { conference: conference.clone() }).is_err() {
            tracing::warn!(bridge = %bridge_id, conference, "link full: stale conference not expired");
        }
    }
}

/// The focus's clock. Tokio's, so that tests with paused time see one consistent clock.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}
