//! Which bridge takes a new conference. A pure decision over a snapshot of the registry:
//! no clock, no locks, no I/O.

use std::cmp::Ordering;

/// What placement knows about one bridge.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<'a> {
    pub id: &'a str,
    pub region: Option<&'a str>,
    /// As reported by the bridge: 0.0 idle ..= 1.0 full.
    pub stress: f64,
    /// Conferences the focus has placed on it.
    pub conferences: usize,
    /// Heard from within the heartbeat timeout.
    pub healthy: bool,
    pub draining: bool,
}

/// The least-stressed healthy, non-draining bridge; ties go to the one with fewer
/// conferences, then to the smaller id, so that the choice is deterministic.
///
/// With a region hint, bridges in that region win whenever at least one of them is
/// eligible; otherwise every region is considered.
pub fn pick<'a>(candidates: &[Candidate<'a>], region: Option<&str>) -> Option<&'a str> {
    let eligible = || candidates.iter().filter(|c| c.healthy && !c.draining);
    let in_region = region.and_then(|r| {
        eligible().filter(|c| c.region == Some(r)).min_by(|a, b| compare(a, b))
    });
    in_region.or_else(|| eligible().min_by(|a, b| compare(a, b))).map(|c| c.id)
}

fn compare(a: &Candidate<'_>, b: &Candidate<'_>) -> Ordering {
    stress(a)
        .total_cmp(&stress(b))
        .then(a.conferences.cmp(&b.conferences))
        .then(a.id.cmp(b.id))
}

/// Stress comes off the network: a bridge reporting nonsense counts as full, not as idle.
fn stress(c: &Candidate<'_>) -> f64 {
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
        Candidate { id, region: None, stress, conferences, healthy: true, draining: false }
    }

    #[test]
    fn nothing_to_pick_from() {
        assert_eq!(pick(&[], None), None);
        let mut b = bridge("a", 0.0, 0);
        b.draining = true;
        assert_eq!(pick(&[b.clone()], None), None);
        b.draining = false;
        b.healthy = false;
        assert_eq!(pick(&[b], None), None);
    }

    #[test]
    fn least_stressed_wins() {
        let bs = [bridge("a", 0.5, 0), bridge("b", 0.1, 9), bridge("c", 0.3, 0)];
        assert_eq!(pick(&bs, None), Some("b"));
    }

    #[test]
    fn ties_go_to_fewest_conferences_then_id() {
        let bs = [bridge("c", 0.2, 1), bridge("b", 0.2, 2), bridge("a", 0.2, 2)];
        assert_eq!(pick(&bs, None), Some("c"));
        let bs = [bridge("c", 0.2, 2), bridge("b", 0.2, 2), bridge("d", 0.2, 2)];
        assert_eq!(pick(&bs, None), Some("b"));
    }

    #[test]
    fn draining_and_dead_bridges_are_skipped() {
        let mut idle_draining = bridge("a", 0.0, 0);
        idle_draining.draining = true;
        let mut idle_dead = bridge("b", 0.0, 0);
        idle_dead.healthy = false;
        let bs = [idle_draining, idle_dead, bridge("c", 0.9, 5)];
        assert_eq!(pick(&bs, None), Some("c"));
    }

    #[test]
    fn region_is_preferred_when_it_can_take_the_conference() {
        let mut eu = bridge("eu", 0.8, 3);
        eu.region = Some("eu");
        let mut us = bridge("us", 0.1, 0);
        us.region = Some("us");
        let bs = [eu.clone(), us.clone()];
        assert_eq!(pick(&bs, Some("eu")), Some("eu"));
        assert_eq!(pick(&bs, Some("us")), Some("us"));
        assert_eq!(pick(&bs, None), Some("us"));
        assert_eq!(pick(&bs, Some("ap")), Some("us"), "unknown region falls back");
        eu.draining = true;
        assert_eq!(pick(&[eu, us], Some("eu")), Some("us"), "draining region falls back");
    }

    #[test]
    fn nonsense_stress_counts_as_full() {
        let bs = [bridge("a", f64::NAN, 0), bridge("b", 0.99, 0)];
        assert_eq!(pick(&bs, None), Some("b"));
        let bs = [bridge("a", -5.0, 1), bridge("b", 0.0, 0)];
        assert_eq!(pick(&bs, None), Some("b"), "negative clamps to 0, then fewer conferences");
        let bs = [bridge("a", f64::NEG_INFINITY, 0), bridge("b", 1.0, 1)];
        assert_eq!(pick(&bs, None), Some("a"), "both count as full, then fewer conferences");
    }
}
