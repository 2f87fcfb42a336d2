//! The focus's state: which bridges are connected, what they last reported, and which
//! conference lives on which bridge. Sans-IO: time is passed in, and a bridge's link is an
//! opaque handle `L` (the focus uses the sender half of the link; tests use `()`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ponte_proto::link::{BridgeStats, Registration, LINK_VERSION};

use ponte_proto::link::HostedEndpoint;

use crate::placement::{self, Candidate, Policy};

/// Identifies one link session, so that a stale link cannot touch the entry of a bridge
/// that has since re-registered over a new link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub u64);

/// One registered bridge.
#[derive(Debug, Clone)]
pub struct BridgeEntry<L> {
    pub link_id: LinkId,
    pub link: L,
    pub registration: Registration,
    /// Zeroed until the first stats report.
    pub stats: BridgeStats,
    pub last_seen: Instant,
    /// Set by an operator; placement also skips bridges that report `draining` themselves.
    pub drain_requested: bool,
    pub conferences: BTreeSet<String>,
    /// Joins sent to this bridge since its last stats report (placement's stale-stress
    /// correction).
    pub pending_joins: u32,
}

impl<L> BridgeEntry<L> {
    pub fn draining(&self) -> bool {
        self.drain_requested || self.stats.draining
    }
}

/// A bridge as operators see it: `dead` (silent past the heartbeat timeout) beats
/// `draining` (by operator request or the bridge's own report), which beats `healthy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BridgeState {
    Healthy,
    Draining,
    Dead,
}

impl BridgeState {
    pub const ALL: [BridgeState; 3] = [BridgeState::Healthy, BridgeState::Draining, BridgeState::Dead];

    pub fn as_str(self) -> &'static str {
        match self {
            BridgeState::Healthy => "healthy",
            BridgeState::Draining => "draining",
            BridgeState::Dead => "dead",
        }
    }
}

/// Why a registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("bridge id must be 1 to 64 characters from A-Z a-z 0-9 - _ . :")]
    BadBridgeId,
    #[error("link version {got} is not supported (this focus speaks {LINK_VERSION})")]
    LinkVersion { got: u32 },
}

/// What a registration changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registered {
    /// The bridge was already registered over another link, which is now superseded.
    pub replaced: bool,
    /// Conferences the bridge reported hosting that had no bridge: now placed on it.
    pub adopted: Vec<String>,
    /// Conferences the bridge reported hosting that live on another bridge.
    pub conflicts: Vec<String>,
}

/// Why a conference could not be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    #[error("no healthy, non-draining bridge under the placement limits is registered")]
    NoBridge,
}

#[derive(Debug)]
pub struct Registry<L> {
    bridges: BTreeMap<String, BridgeEntry<L>>,
    /// conference → bridge id
    conferences: BTreeMap<String, String>,
    next_link: u64,
    heartbeat_timeout: Duration,
    policy: Policy,
}

/// One conference of a dead bridge, and where it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub conference: String,
    /// None when no other bridge could take it (it is placed again on the next offer).
    pub to: Option<String>,
}

impl<L: Clone> Registry<L> {
    pub fn new(heartbeat_timeout: Duration, policy: Policy) -> Self {
        Self {
            bridges: BTreeMap::new(),
            conferences: BTreeMap::new(),
            next_link: 0,
            heartbeat_timeout,
            policy,
        }
    }

    /// A fresh id for a link that has not registered yet.
    pub fn new_link_id(&mut self) -> LinkId {
        self.next_link += 1;
        LinkId(self.next_link)
    }

    /// Enter (or replace) a bridge. A bridge that comes back after a focus restart or a
    /// reconnect lists the conferences it still hosts; unplaced ones are placed on it again.
    pub fn register(
        &mut self,
        link_id: LinkId,
        link: L,
        registration: Registration,
        now: Instant,
    ) -> Result<Registered, RegisterError> {
        if registration.link_version != LINK_VERSION {
            return Err(RegisterError::LinkVersion { got: registration.link_version });
        }
        if !valid_bridge_id(&registration.bridge_id) {
            return Err(RegisterError::BadBridgeId);
        }
        let id = registration.bridge_id.clone();
        let previous = self.bridges.remove(&id);
        let mut outcome = Registered { replaced: previous.is_some(), ..Default::default() };
        // Either side may be the one that remembers: the bridge across a focus restart, the
        // focus across a bridge's reconnect.
        let drain_requested = registration.drain_requested || previous.as_ref().is_some_and(|p| p.drain_requested);
        let mut entry = BridgeEntry {
            link_id,
            link,
            registration,
            // A returning bridge's last report beats "idle" until its next one arrives.
            stats: previous.as_ref().map(|p| p.stats.clone()).unwrap_or_default(),
            last_seen: now,
            drain_requested,
            pending_joins: previous.as_ref().map_or(0, |p| p.pending_joins),
            conferences: previous.map(|p| p.conferences).unwrap_or_default(),
        };
        for conference in entry.registration.conferences.clone() {
            match self.conferences.get(&conference) {
                Some(owner) if *owner == id => {}
                Some(_) => outcome.conflicts.push(conference),
                None => {
                    self.conferences.insert(conference.clone(), id.clone());
                    entry.conferences.insert(conference.clone());
                    outcome.adopted.push(conference);
                }
            }
        }
        self.bridges.insert(id, entry);
        Ok(outcome)
    }

    /// A later `Register` on the same link: update the registration (and adopt the
    /// conferences it lists). None when `link_id` is not the bridge's current link.
    pub fn reregister(
        &mut self,
        link_id: LinkId,
        registration: Registration,
        now: Instant,
    ) -> Option<Result<Registered, RegisterError>> {
        let link = self.current_mut(&registration.bridge_id, link_id)?.link.clone();
        Some(self.register(link_id, link, registration, now))
    }

    /// The entry of `bridge_id` if `link_id` is still its current link.
    pub fn current_mut(&mut self, bridge_id: &str, link_id: LinkId) -> Option<&mut BridgeEntry<L>> {
        self.bridges.get_mut(bridge_id).filter(|b| b.link_id == link_id)
    }

    /// A message arrived on the link. False if the link has been superseded.
    pub fn touch(&mut self, bridge_id: &str, link_id: LinkId, now: Instant) -> bool {
        self.current_mut(bridge_id, link_id).map(|b| b.last_seen = now).is_some()
    }

    /// Record a stats report. False if the link has been superseded.
    pub fn record_stats(&mut self, bridge_id: &str, link_id: LinkId, stats: BridgeStats, now: Instant) -> bool {
        self.current_mut(bridge_id, link_id)
            .map(|b| {
                b.stats = stats;
                b.last_seen = now;
                b.pending_joins = 0;
            })
            .is_some()
    }

    /// Drop a bridge whose link ended; returns the conferences it hosted, now unplaced.
    /// Does nothing (and returns None) when `link_id` is not the bridge's current link.
    pub fn remove(&mut self, bridge_id: &str, link_id: LinkId) -> Option<Vec<String>> {
        self.current_mut(bridge_id, link_id)?;
        let entry = self.bridges.remove(bridge_id)?;
        for conference in &entry.conferences {
            self.conferences.remove(conference);
        }
        Some(entry.conferences.into_iter().collect())
    }

    /// A bridge died (its link ended or it fell silent): drop it and place each of its
    /// conferences on another bridge. None when `link_id` is not the bridge's current link.
    pub fn fail_over(&mut self, bridge_id: &str, link_id: LinkId, now: Instant) -> Option<Vec<Moved>> {
        let orphaned = self.remove(bridge_id, link_id)?;
        let moved = orphaned
            .into_iter()
            .map(|conference| {
                let to = self.place(&conference, None, now).ok().map(|(id, _, _)| id);
                Moved { conference, to }
            })
            .collect();
        Some(moved)
    }

    /// An offer for a placed conference went to its bridge: one more join until its next
    /// report.
    pub fn note_join(&mut self, conference: &str) {
        if let Some(entry) = self.conferences.get(conference).and_then(|id| self.bridges.get_mut(id)) {
            entry.pending_joins = entry.pending_joins.saturating_add(1);
        }
    }

    /// The endpoint `conference`/`endpoint` as the conference's bridge reported it when it
    /// registered (after a focus restart), if it did.
    pub fn hosted_endpoint(&self, conference: &str, endpoint: &str) -> Option<&HostedEndpoint> {
        let bridge = self.bridges.get(self.conferences.get(conference)?)?;
        bridge
            .registration
            .endpoints
            .iter()
            .find(|e| e.target.conference == conference && e.target.endpoint == endpoint)
    }

    /// The bridge hosting `conference`, placing it first when it has none.
    /// Returns the bridge id, its link handle and whether this call placed it.
    pub fn place(
        &mut self,
        conference: &str,
        region: Option<&str>,
        now: Instant,
    ) -> Result<(String, L, bool), PlaceError> {
        if let Some((id, link)) = self.route(conference) {
            return Ok((id, link, false));
        }
        let candidates = self.candidates(now);
        let id = placement::pick(&candidates, region, &self.policy).ok_or(PlaceError::NoBridge)?.to_string();
        let entry = self.bridges.get_mut(&id).ok_or(PlaceError::NoBridge)?;
        entry.conferences.insert(conference.to_string());
        entry.pending_joins = entry.pending_joins.saturating_add(1);
        self.conferences.insert(conference.to_string(), id.clone());
        Ok((id, entry.link.clone(), true))
    }

    /// Place an unplaced `conference` on `bridge_id` (a live stream arrived there).
    pub fn claim(&mut self, conference: &str, bridge_id: &str) -> bool {
        if self.conferences.contains_key(conference) {
            return false;
        }
        let Some(entry) = self.bridges.get_mut(bridge_id) else { return false };
        entry.conferences.insert(conference.to_string());
        self.conferences.insert(conference.to_string(), bridge_id.to_string());
        true
    }

    /// The bridge hosting `conference`, if it is placed.
    pub fn route(&self, conference: &str) -> Option<(String, L)> {
        let id = self.conferences.get(conference)?;
        let entry = self.bridges.get(id)?;
        Some((id.clone(), entry.link.clone()))
    }

    /// The conference ended; true if it was placed.
    pub fn forget_conference(&mut self, conference: &str) -> bool {
        let Some(id) = self.conferences.remove(conference) else { return false };
        if let Some(entry) = self.bridges.get_mut(&id) {
            entry.conferences.remove(conference);
        }
        true
    }

    /// Set or clear an operator drain; returns the bridge's link handle.
    pub fn set_draining(&mut self, bridge_id: &str, draining: bool) -> Option<L> {
        let entry = self.bridges.get_mut(bridge_id)?;
        entry.drain_requested = draining;
        Some(entry.link.clone())
    }

    /// The bridge reported its own drain state (ahead of its next stats report, which
    /// carries the same flag). False if the link has been superseded.
    pub fn set_reported_draining(&mut self, bridge_id: &str, link_id: LinkId, draining: bool, now: Instant) -> bool {
        self.current_mut(bridge_id, link_id)
            .map(|b| {
                b.stats.draining = draining;
                b.last_seen = now;
            })
            .is_some()
    }

    /// Bridges that have been silent longer than the heartbeat timeout.
    pub fn silent_since(&self, now: Instant) -> impl Iterator<Item = (&str, LinkId)> {
        self.bridges
            .iter()
            .filter(move |(_, b)| !self.is_healthy(b, now))
            .map(|(id, b)| (id.as_str(), b.link_id))
    }

    pub fn bridges(&self) -> impl Iterator<Item = &BridgeEntry<L>> {
        self.bridges.values()
    }

    pub fn bridge(&self, bridge_id: &str) -> Option<&BridgeEntry<L>> {
        self.bridges.get(bridge_id)
    }

    /// conference → bridge id, ordered by conference.
    pub fn conferences(&self) -> &BTreeMap<String, String> {
        &self.conferences
    }

    pub fn is_healthy(&self, bridge: &BridgeEntry<L>, now: Instant) -> bool {
        now.saturating_duration_since(bridge.last_seen) <= self.heartbeat_timeout
    }

    pub fn state(&self, bridge: &BridgeEntry<L>, now: Instant) -> BridgeState {
        if !self.is_healthy(bridge, now) {
            BridgeState::Dead
        } else if bridge.draining() {
            BridgeState::Draining
        } else {
            BridgeState::Healthy
        }
    }

    fn candidates(&self, now: Instant) -> Vec<Candidate<'_>> {
        self.bridges
            .iter()
            .map(|(id, b)| Candidate {
                id,
                region: b.registration.region.as_deref(),
                stress: b.stats.stress,
                endpoints: b.stats.endpoints,
                pending_joins: b.pending_joins,
                conferences: b.conferences.len(),
                healthy: self.is_healthy(b, now),
                draining: b.draining(),
            })
            .collect()
    }
}

/// Bridge ids appear in URLs (`/v1/bridges/{id}/drain`), logs and JSON: keep them plain.
fn valid_bridge_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(10);

    fn registration(id: &str) -> Registration {
        Registration {
            bridge_id: id.into(),
            region: None,
            version: "test".into(),
            link_version: LINK_VERSION,
            media_addr: "127.0.0.1:10000".into(),
            ingest_addrs: vec![],
            conferences: vec![],
            endpoints: vec![],
            drain_requested: false,
        }
    }

    #[test]
    fn a_drain_the_bridge_reports_is_kept_and_one_the_focus_remembers_too() {
        let now = Instant::now();
        let mut r = Registry::<()>::new(TIMEOUT, Policy::default());
        let drained = Registration { drain_requested: true, ..registration("b1") };
        r.register(LinkId(1), (), drained, now).unwrap();
        assert!(r.bridge("b1").unwrap().drain_requested, "a restarted focus takes the bridge's word");
        r.register(LinkId(2), (), registration("b1"), now).unwrap();
        assert!(r.bridge("b1").unwrap().drain_requested, "a reconnect does not lift it");
        r.set_draining("b1", false);
        r.register(LinkId(3), (), registration("b1"), now).unwrap();
        assert!(!r.bridge("b1").unwrap().drain_requested, "lifted stays lifted");
    }

    fn stress(s: f64) -> BridgeStats {
        BridgeStats { stress: s, ..Default::default() }
    }

    #[test]
    fn places_on_least_stressed_and_remembers() {
        let now = Instant::now();
        let mut r = Registry::<()>::new(TIMEOUT, Policy::default());
        let (a, b) = (r.new_link_id(), r.new_link_id());
        r.register(a, (), registration("a"), now).unwrap();
        r.register(b, (), registration("b"), now).unwrap();
        r.record_stats("a", a, stress(0.5), now);
        r.record_stats("b", b, stress(0.2), now);
        assert_eq!(r.place("room", None, now).unwrap().0, "b");
        assert!(!r.place("room", None, now).unwrap().2, "second call routes, does not place");
        r.record_stats("b", b, stress(0.9), now);
        assert_eq!(r.place("room", None, now).unwrap().0, "b", "placement sticks");
        assert_eq!(r.place("other", None, now).unwrap().0, "a");
    }

    #[test]
    fn silent_and_draining_bridges_get_nothing() {
        let now = Instant::now();
        let mut r = Registry::<()>::new(TIMEOUT, Policy::default());
        let a = r.new_link_id();
        r.register(a, (), registration("a"), now).unwrap();
        let later = now + TIMEOUT + Duration::from_millis(1);
        assert_eq!(r.place("room", None, later), Err(PlaceError::NoBridge));
        assert_eq!(r.silent_since(later).collect::<Vec<_>>(), vec![("a", a)]);
        r.touch("a", a, later);
        assert!(r.silent_since(later).next().is_none());
        r.set_draining("a", true).unwrap();
        assert_eq!(r.place("room", None, later), Err(PlaceError::NoBridge));
    }

    #[test]
    fn drain_state_from_operator_and_from_the_bridge() {
        let now = Instant::now();
        let mut r = Registry::<()>::new(TIMEOUT, Policy::default());
        let (a, stale) = (r.new_link_id(), r.new_link_id());
        r.register(a, (), registration("a"), now).unwrap();
        let state = |r: &Registry<()>, at| r.state(r.bridge("a").unwrap(), at);
        assert_eq!(state(&r, now), BridgeState::Healthy);
        r.set_draining("a", true).unwrap();
        assert_eq!(state(&r, now), BridgeState::Draining);
        r.set_draining("a", false).unwrap();
        assert_eq!(state(&r, now), BridgeState::Healthy);
        assert!(!r.set_reported_draining("a", stale, true, now), "stale link is ignored");
        assert!(r.set_reported_draining("a", a, true, now));
        assert_eq!(state(&r, now), BridgeState::Draining);
        assert_eq!(r.place("room", None, now), Err(PlaceError::NoBridge));
        r.set_draining("a", false).unwrap();
        assert_eq!(state(&r, now), BridgeState::Draining, "an operator cannot undo the bridge's own drain");
        assert_eq!(state(&r, now + TIMEOUT * 2), BridgeState::Dead, "silence beats draining");
    }

    #[test]
    fn removal_forgets_placements_and_ignores_stale_links() {
        let now = Instant::now();
        let mut r = Registry::<()>::new(TIMEOUT, Policy::default());
        let (old, new) = (r.new_link_id(), r.new_link_id());
        r.register(old, (), registration("a"), now).unwrap();
        r.place("room", None, now).unwrap();
        let again = r.register(new, (), registration("a"), now).unwrap();
        assert!(again.replaced);
        assert_eq!(r.route("room").unwrap().0, "a", "placements survive a re-registration");
        assert!(!r.record_stats("a", old, stress(0.1), now), "stale link is ignored");
        assert_eq!(r.remove("a", old), None, "stale link cannot remove the bridge");
        assert_eq!(r.remove("a", new), Some(vec!["room".to_string()]));
        assert!(r.route("room").is_none());
        assert!(r.conferences().is_empty());
    }

    #[test]
    fn reported_conferences_are_adopted() {
        let now = Instant::now();
        let mut r = Registry::<()>::new(TIMEOUT, Policy::default());
        let (a, b) = (r.new_link_id(), r.new_link_id());
        r.register(a, (), registration("a"), now).unwrap();
        r.place("taken", None, now).unwrap();
        let mut reg = registration("b");
        reg.conferences = vec!["taken".into(), "mine".into()];
        let out = r.register(b, (), reg, now).unwrap();
        assert_eq!(out.adopted, vec!["mine".to_string()]);
        assert_eq!(out.conflicts, vec!["taken".to_string()]);
        assert_eq!(r.route("mine").unwrap().0, "b");
        assert!(r.forget_conference("mine"));
        assert!(r.bridge("b").unwrap().conferences.is_empty());
    }

    #[test]
    fn reregistration_on_the_same_link_adopts_conferences() {
        let now = Instant::now();
        let mut r = Registry::<()>::new(TIMEOUT, Policy::default());
        let (a, other) = (r.new_link_id(), r.new_link_id());
        r.register(a, (), registration("a"), now).unwrap();
        r.record_stats("a", a, stress(0.4), now);
        let mut reg = registration("a");
        reg.conferences = vec!["kept".into()];
        assert!(r.reregister(other, reg.clone(), now).is_none(), "only the current link");
        let out = r.reregister(a, reg, now).unwrap().unwrap();
        assert_eq!(out.adopted, vec!["kept".to_string()]);
        assert_eq!(r.bridge("a").unwrap().stats.stress, 0.4);
        assert_eq!(r.bridge("a").unwrap().link_id, a);
    }

    #[test]
    fn a_dead_bridges_conferences_move_to_the_others() {
        let now = Instant::now();
        let mut r = Registry::<()>::new(TIMEOUT, Policy::default());
        let (a, b, c) = (r.new_link_id(), r.new_link_id(), r.new_link_id());
        for (l, id) in [(a, "a"), (b, "b"), (c, "c")] {
            r.register(l, (), registration(id), now).unwrap();
        }
        r.record_stats("a", a, stress(0.0), now);
        r.record_stats("b", b, stress(0.5), now);
        r.record_stats("c", c, stress(0.5), now);
        assert_eq!(r.place("one", None, now).unwrap().0, "a");
        assert_eq!(r.place("two", None, now).unwrap().0, "a");
        assert_eq!(r.fail_over("a", b, now), None, "only a's own link");
        let moved = r.fail_over("a", a, now).unwrap();
        let targets: Vec<_> = moved.iter().map(|m| (m.conference.as_str(), m.to.as_deref())).collect();
        assert_eq!(targets, [("one", Some("b")), ("two", Some("c"))], "the second sees the first's pending join");
        assert_eq!(r.route("two").unwrap().0, "c");
        assert!(r.bridge("a").is_none());
        let (d,) = (r.new_link_id(),);
        r.register(d, (), registration("d"), now).unwrap();
        r.set_draining("b", true);
        r.set_draining("c", true);
        r.set_draining("d", true);
        let moved = r.fail_over("b", b, now).unwrap();
        assert_eq!(moved, [Moved { conference: "one".into(), to: None }], "nobody can take it");
        assert!(r.route("one").is_none());
    }

    #[test]
    fn joins_count_until_the_next_report_and_reported_endpoints_resume() {
        let now = Instant::now();
        let mut r = Registry::<()>::new(TIMEOUT, Policy::default());
        let a = r.new_link_id();
        let mut reg = registration("a");
        reg.conferences = vec!["room".into()];
        reg.endpoints = vec![HostedEndpoint {
            target: ponte_proto::link::EndpointRef { conference: "room".into(), endpoint: "ep".into() },
            display_name: "Ann".into(),
            resume_hash: Some("h".into()),
        }];
        r.register(a, (), reg, now).unwrap();
        assert_eq!(r.hosted_endpoint("room", "ep").unwrap().display_name, "Ann");
        assert!(r.hosted_endpoint("room", "other").is_none());
        assert!(r.hosted_endpoint("elsewhere", "ep").is_none());
        r.note_join("room");
        r.place("new", None, now).unwrap();
        assert_eq!(r.bridge("a").unwrap().pending_joins, 2);
        r.record_stats("a", a, stress(0.1), now);
        assert_eq!(r.bridge("a").unwrap().pending_joins, 0);
    }

    #[test]
    fn bad_registrations_are_refused() {
        let now = Instant::now();
        let mut r = Registry::<()>::new(TIMEOUT, Policy::default());
        let l = r.new_link_id();
        assert_eq!(r.register(l, (), registration("a/b"), now), Err(RegisterError::BadBridgeId));
        assert_eq!(r.register(l, (), registration(""), now), Err(RegisterError::BadBridgeId));
        let mut reg = registration("a");
        reg.link_version = 99;
        assert_eq!(r.register(l, (), reg, now), Err(RegisterError::LinkVersion { got: 99 }));
        assert_eq!(r.bridges().count(), 0);
    }
}
