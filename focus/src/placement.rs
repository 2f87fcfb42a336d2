//! Which bridge takes a new conference. A pure decision over a snapshot of the registry:
//! no clock, no locks, no I/O.
//!
//! Stress as a bridge reports it is up to one stats interval old. A burst of joins between
//! two reports would all land on the bridge that looked idlest (Jicofo's stale-stress
//! weakness), so each join placed since a bridge's last report adds [`Policy::join_stress`]
//! to its stress here; the next report replaces the estimate with the truth.

use std::cmp::Ordering;

/// What placement knows about one bridge.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<'a> {
    pub id: &'a str,
    pub region: Option<&'a str>,
    /// As reported by the bridge: 0.0 idle ..= 1.0 full.
    pub stress: f64,
    /// Endpoints (participants) as reported by the bridge.
    pub endpoints: u32,
    /// Joins (new conferences and offers) sent to it since its last report.
    pub pending_joins: u32,
    /// Conferences the focus has placed on it.
    pub conferences: usize,
    /// Heard from within the heartbeat timeout.
    pub healthy: bool,
    pub draining: bool,
}

/// The operator's limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Stress one join adds until the bridge's next report.
    pub join_stress: f64,
    /// A bridge at or above this (corrected) stress takes a new conference only when every
    /// usable bridge is (Jicofo's overloaded-as-last-resort): refusing the meeting would be
    /// worse than a loaded bridge. The participant limit is the hard one.
    pub stress_ceiling: f64,
    /// A bridge with this many participants (reported plus pending) takes no new conference;
    /// 0: no limit.
    pub max_participants: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self { join_stress: 0.01, stress_ceiling: 0.9, max_participants: 0 }
    }
}

/// The least-stressed (after correction) healthy, non-draining bridge under the participant
/// limit; ties go to the one with fewer conferences, then to the smaller id, so that the
/// choice is deterministic.
///
/// Bridges under the stress ceiling come first: with a region hint, those in that region,
/// then those anywhere. Only when every usable bridge is over the ceiling does the least
/// stressed of them take the conference.
pub fn pick<'a>(candidates: &[Candidate<'a>], region: Option<&str>, policy: &Policy) -> Option<&'a str> {
    let usable = || candidates.iter().filter(|c| usable(c, policy));
    let under = || usable().filter(|c| corrected_stress(c, policy) < policy.stress_ceiling);
    let best = |a: &&Candidate<'_>, b: &&Candidate<'_>| compare(a, b, policy);
    let in_region = region.and_then(|r| under().filter(|c| c.region == Some(r)).min_by(best));
    in_region.or_else(|| under().min_by(best)).or_else(|| usable().min_by(best)).map(|c| c.id)
}

/// Reported stress plus the estimate for joins the report has not seen yet.
pub fn corrected_stress(c: &Candidate<'_>, policy: &Policy) -> f64 {
    reported(c) + f64::from(c.pending_joins) * policy.join_stress.max(0.0)
}

fn usable(c: &Candidate<'_>, policy: &Policy) -> bool {
    c.healthy
        && !c.draining
        && (policy.max_participants == 0 || c.endpoints.saturating_add(c.pending_joins) < policy.max_participants)
}

fn compare(a: &Candidate<'_>, b: &Candidate<'_>, policy: &Policy) -> Ordering {
    corrected_stress(a, policy)
        .total_cmp(&corrected_stress(b, policy))
        .then(a.conferences.cmp(&b.conferences))
        .then(a.id.cmp(b.id))
}

/// Stress comes off the network: a bridge reporting nonsense counts as full, not as idle.
fn reported(c: &Candidate<'_>) -> f64 {
    if c.stress.is_finite() {
        c.stress.clamp(0.0, 1.0)
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bridge(id: &str, stress: f64, conferences: usize) -> Candidate<'_> {
        Candidate { id, region: None, stress, endpoints: 0, pending_joins: 0, conferences, healthy: true, draining: false }
    }

    /// No ceiling in the way, no correction: the plain ordering.
    fn plain() -> Policy {
        Policy { join_stress: 0.0, stress_ceiling: f64::INFINITY, max_participants: 0 }
    }

    #[test]
    fn nothing_to_pick_from() {
        assert_eq!(pick(&[], None, &plain()), None);
        let mut b = bridge("a", 0.0, 0);
        b.draining = true;
        assert_eq!(pick(&[b.clone()], None, &plain()), None);
        b.draining = false;
        b.healthy = false;
        assert_eq!(pick(&[b], None, &plain()), None);
    }

    #[test]
    fn least_stressed_wins() {
        let bs = [bridge("a", 0.5, 0), bridge("b", 0.1, 9), bridge("c", 0.3, 0)];
        assert_eq!(pick(&bs, None, &plain()), Some("b"));
    }

    #[test]
    fn ties_go_to_fewest_conferences_then_id() {
        let bs = [bridge("c", 0.2, 1), bridge("b", 0.2, 2), bridge("a", 0.2, 2)];
        assert_eq!(pick(&bs, None, &plain()), Some("c"));
        let bs = [bridge("c", 0.2, 2), bridge("b", 0.2, 2), bridge("d", 0.2, 2)];
        assert_eq!(pick(&bs, None, &plain()), Some("b"));
    }

    #[test]
    fn draining_and_dead_bridges_are_skipped() {
        let mut idle_draining = bridge("a", 0.0, 0);
        idle_draining.draining = true;
        let mut idle_dead = bridge("b", 0.0, 0);
        idle_dead.healthy = false;
        let bs = [idle_draining, idle_dead, bridge("c", 0.8, 5)];
        assert_eq!(pick(&bs, None, &Policy::default()), Some("c"));
    }

    #[test]
    fn region_is_preferred_when_it_can_take_the_conference() {
        let mut eu = bridge("eu", 0.8, 3);
        eu.region = Some("eu");
        let mut us = bridge("us", 0.1, 0);
        us.region = Some("us");
        let bs = [eu.clone(), us.clone()];
        let p = Policy::default();
        assert_eq!(pick(&bs, Some("eu"), &p), Some("eu"));
        assert_eq!(pick(&bs, Some("us"), &p), Some("us"));
        assert_eq!(pick(&bs, None, &p), Some("us"));
        assert_eq!(pick(&bs, Some("ap"), &p), Some("us"), "unknown region falls back");
        let mut full_eu = eu.clone();
        full_eu.stress = 0.95;
        assert_eq!(pick(&[full_eu, us.clone()], Some("eu"), &p), Some("us"), "a region over the ceiling falls back");
        eu.draining = true;
        assert_eq!(pick(&[eu, us], Some("eu"), &p), Some("us"), "draining region falls back");
    }

    #[test]
    fn nonsense_stress_counts_as_full() {
        let p = plain();
        let bs = [bridge("a", f64::NAN, 0), bridge("b", 0.99, 0)];
        assert_eq!(pick(&bs, None, &p), Some("b"));
        let bs = [bridge("a", -5.0, 1), bridge("b", 0.0, 0)];
        assert_eq!(pick(&bs, None, &p), Some("b"), "negative clamps to 0, then fewer conferences");
        let bs = [bridge("a", f64::NEG_INFINITY, 0), bridge("b", 1.0, 1)];
        assert_eq!(pick(&bs, None, &p), Some("a"), "both count as full, then fewer conferences");
        assert_eq!(pick(&bs, None, &Policy::default()), Some("a"), "all over the ceiling: the last resort still places");
    }

    /// Replays a burst: each pick adds a pending join to the chosen bridge, as the registry
    /// does, and no stats report arrives in between.
    fn burst<'a>(bs: &mut [Candidate<'a>], n: usize, policy: &Policy) -> Vec<&'a str> {
        (0..n)
            .map(|_| {
                let id = pick(bs, None, policy).expect("a bridge can take it");
                let c = bs.iter_mut().find(|c| c.id == id).unwrap();
                c.pending_joins += 1;
                id
            })
            .collect()
    }

    #[test]
    fn a_burst_between_reports_spreads_over_bridges() {
        // a looks idlest, by a margin a few joins eat up.
        let mut bs = [bridge("a", 0.10, 5), bridge("b", 0.13, 0), bridge("c", 0.14, 0)];
        let p = Policy { join_stress: 0.02, ..Policy::default() };
        let placed = burst(&mut bs, 9, &p);
        for id in ["a", "b", "c"] {
            assert!(placed.contains(&id), "{id} gets part of the burst: {placed:?}");
        }
        assert!(placed.iter().filter(|&&id| id == "a").count() <= 4, "{placed:?}");
        // Without the correction every join goes to the stale idlest bridge.
        let mut bs = [bridge("a", 0.10, 5), bridge("b", 0.13, 0), bridge("c", 0.14, 0)];
        let stale = burst(&mut bs, 9, &Policy { join_stress: 0.0, ..p });
        assert!(stale.iter().all(|&id| id == "a"), "{stale:?}");
    }

    #[test]
    fn ceiling_and_participant_limit_exclude_a_bridge() {
        let p = Policy { join_stress: 0.05, stress_ceiling: 0.5, max_participants: 10 };
        let mut a = bridge("a", 0.40, 0);
        a.pending_joins = 2;
        let b = bridge("b", 0.45, 3);
        assert_eq!(pick(&[a.clone(), b.clone()], None, &p), Some("b"), "a is at 0.5 with its pending joins");
        let mut b_full = b.clone();
        b_full.endpoints = 9;
        b_full.pending_joins = 1;
        assert_eq!(pick(&[a.clone(), b_full.clone()], None, &p), Some("a"), "b holds 10 participants; a over the ceiling is the last resort");
        assert_eq!(pick(&[b_full], None, &p), None, "the participant limit is hard");
        let mut c = bridge("c", 0.0, 0);
        c.endpoints = 9;
        assert_eq!(pick(&[c], None, &p), Some("c"), "9 of 10 still takes one more");
    }

    #[test]
    fn over_the_ceiling_everywhere_the_least_stressed_takes_it() {
        let p = Policy { join_stress: 0.0, stress_ceiling: 0.5, max_participants: 0 };
        let bs = [bridge("a", 0.95, 0), bridge("b", 0.7, 4), bridge("c", 0.8, 0)];
        assert_eq!(pick(&bs, None, &p), Some("b"));
        let under = bridge("d", 0.49, 9);
        assert_eq!(pick(&[bs[1].clone(), under], None, &p), Some("d"), "any bridge under the ceiling beats it");
    }
}
