//! Bandwidth allocation for one receiver, in two phases (after mediasoup's
//! `DistributeAvailableOutgoingBitrate` and Jitsi's `BitrateController`).
//!
//! Phase one plans: sources come in priority order (the on-stage source first, then the
//! last-N order); each gets its lowest layer while the budget lasts, then the on-stage source
//! climbs as high as the budget and its constraints allow, then the others climb one layer per
//! round, in order, until nothing more fits. Phase two is the caller applying the returned
//! targets to its forwarders. The plan never spends more than the budget.
//!
//! Against flapping, a step above the layer a source is sent now must fit with
//! [`UPGRADE_HEADROOM`] to spare; keeping or going down needs only the plain rate.

use super::layer::Layer;

/// One source as the allocator sees it.
#[derive(Debug, Clone, Default)]
pub struct Demand {
    /// Layers the receiver may get (active and within its constraints), lowest first, each
    /// with its bit rate.
    pub layers: Vec<(Layer, u64)>,
    /// Climbs before the others (the receiver's on-stage source).
    pub on_stage: bool,
    /// The layer sent now, if any.
    pub current: Option<Layer>,
}

/// A step above the current layer must fit this many times over (its extra rate).
pub const UPGRADE_HEADROOM: f64 = 1.2;

/// Target layer per source, in the order given; `None`: not sent.
pub fn allocate(budget: u64, sources: &[Demand]) -> Vec<Option<Layer>> {
    let mut chosen: Vec<Option<usize>> = vec![None; sources.len()];
    let mut spent = 0u64;
    // Lowest layers first, by priority: a source that does not fit ends the round, so a
    // lower-priority source never displaces a higher one.
    for (i, s) in sources.iter().enumerate() {
        let Some(&(_, rate)) = s.layers.first() else { continue };
        if spent + rate > budget {
            break;
        }
        spent += rate;
        chosen[i] = Some(0);
    }
    for (i, s) in sources.iter().enumerate().filter(|(_, s)| s.on_stage) {
        while step_up(&mut chosen[i], s, &mut spent, budget) {}
    }
    loop {
        let mut moved = false;
        for (i, s) in sources.iter().enumerate() {
            moved |= step_up(&mut chosen[i], s, &mut spent, budget);
        }
        if !moved {
            break;
        }
    }
    chosen.iter().zip(sources).map(|(c, s)| c.map(|idx| s.layers[idx].0)).collect()
}

/// Move one source a layer up if the budget allows.
fn step_up(chosen: &mut Option<usize>, s: &Demand, spent: &mut u64, budget: u64) -> bool {
    let Some(idx) = *chosen else { return false };
    let Some(&(_, next)) = s.layers.get(idx + 1) else { return false };
    let now = s.layers[idx].1;
    let extra = next.saturating_sub(now);
    let upgrade = s.current.is_none_or(|c| s.layers[idx + 1].0 > c);
    let needed = if upgrade { (extra as f64 * UPGRADE_HEADROOM) as u64 } else { extra };
    if *spent + needed > budget {
        return false;
    }
    *spent += extra;
    *chosen = Some(idx + 1);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three(on_stage: bool) -> Demand {
        Demand { layers: vec![(0, 150_000), (1, 500_000), (2, 1_500_000)], on_stage, current: Some(2) }
    }

    #[test]
    fn on_stage_first_then_last_n_order() {
        let sources = [three(true), three(false), three(false)];
        assert_eq!(allocate(100_000, &sources), vec![None, None, None], "nothing fits");
        assert_eq!(allocate(200_000, &sources), vec![Some(0), None, None]);
        assert_eq!(allocate(450_000, &sources), vec![Some(0), Some(0), Some(0)]);
        assert_eq!(allocate(1_800_000, &sources), vec![Some(2), Some(0), Some(0)], "on stage climbs first");
        assert_eq!(allocate(2_600_000, &sources), vec![Some(2), Some(1), Some(1)]);
        assert_eq!(allocate(10_000_000, &sources), vec![Some(2), Some(2), Some(2)]);
    }

    #[test]
    fn never_above_budget_and_respects_constraints() {
        let capped = Demand { layers: vec![(0, 150_000)], on_stage: false, current: None };
        let sources = [three(false), capped, three(false)];
        for budget in (0..5_000_000).step_by(37_000) {
            let plan = allocate(budget, &sources);
            let spent: u64 = plan
                .iter()
                .zip(&sources)
                .filter_map(|(p, s)| p.map(|l| s.layers.iter().find(|x| x.0 == l).unwrap().1))
                .sum();
            assert!(spent <= budget, "{budget}: {plan:?}");
            assert!(plan[1].is_none_or(|l| l == 0));
        }
        assert_eq!(allocate(1_000_000, &[Demand::default()]), vec![None], "no active layer");
    }

    #[test]
    fn upgrades_need_headroom_keeping_does_not() {
        let at = |current| [Demand { current, ..three(false) }];
        assert_eq!(allocate(500_000, &at(Some(1))), vec![Some(1)], "exactly enough keeps h");
        assert_eq!(allocate(500_000, &at(Some(0))), vec![Some(0)], "but is not enough to climb to h");
        assert_eq!(allocate(570_000, &at(Some(0))), vec![Some(1)], "with 20 % spare on the step it climbs");
    }
}
