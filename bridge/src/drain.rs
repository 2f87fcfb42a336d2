//! When a draining bridge exits. Sans-IO: the engine loop feeds it events and the time, and
//! acts on what [`Drain::poll`] returns.
//!
//! A bridge drains because an operator asked the focus (`Drain` on the link; both sides
//! remember it: the focus sends it again after a reconnect, the bridge reports it when it
//! registers with a focus that restarted) or because it got SIGTERM (its
//! own drain, for good, reported to the focus with `Draining`). While draining it takes no new
//! conference and exits as soon as it hosts none. At `drain_deadline` after the drain began
//! it asks the focus to move what is left (`Evacuate`), keeps forwarding for
//! [`EVACUATION_GRACE`] while the participants renegotiate elsewhere, then exits.

use std::time::{Duration, Instant};

/// How long an evacuated bridge keeps forwarding before it exits: the participants are
/// being told to renegotiate with another bridge meanwhile.
pub const EVACUATION_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainAction {
    Continue,
    /// Ask the focus to move every conference still here.
    Evacuate,
    Exit,
}

#[derive(Debug)]
pub struct Drain {
    deadline_after: Duration,
    /// By operator request, through the focus.
    requested: bool,
    /// SIGTERM: cannot be undone.
    own: bool,
    deadline: Option<Instant>,
    evacuated: Option<Instant>,
}

impl Drain {
    pub fn new(deadline_after: Duration) -> Self {
        Self { deadline_after, requested: false, own: false, deadline: None, evacuated: None }
    }

    pub fn draining(&self) -> bool {
        self.requested || self.own || self.evacuated.is_some()
    }

    /// The operator's drain, as the focus last said (reported again on re-registration).
    pub fn requested(&self) -> bool {
        self.requested
    }

    /// What the bridge reports as its own drain (`Draining`, stats): not the operator's, which
    /// the focus knows already and which an operator may lift.
    pub fn own(&self) -> bool {
        self.own || self.evacuated.is_some()
    }

    /// The operator's drain, as the focus last said. True when `draining()` changed.
    pub fn set_requested(&mut self, requested: bool, now: Instant) -> bool {
        let was = self.draining();
        self.requested = requested;
        self.changed(was, now)
    }

    /// SIGTERM. True when `draining()` changed.
    pub fn start_own(&mut self, now: Instant) -> bool {
        let was = self.draining();
        self.own = true;
        self.changed(was, now)
    }

    fn changed(&mut self, was: bool, now: Instant) -> bool {
        let is = self.draining();
        if is && !was {
            self.deadline = Some(now + self.deadline_after);
        } else if !is {
            self.deadline = None;
        }
        is != was
    }

    /// When [`Drain::poll`] may next have something to do.
    pub fn next_wake(&self) -> Option<Instant> {
        match self.evacuated {
            Some(at) => Some(at + EVACUATION_GRACE),
            None => self.deadline,
        }
    }

    /// `empty`: the bridge hosts no conference (no endpoint and no live stream).
    pub fn poll(&mut self, now: Instant, empty: bool) -> DrainAction {
        if !self.draining() {
            return DrainAction::Continue;
        }
        if empty {
            return DrainAction::Exit;
        }
        match (self.evacuated, self.deadline) {
            (Some(at), _) if now >= at + EVACUATION_GRACE => DrainAction::Exit,
            (Some(_), _) => DrainAction::Continue,
            (None, Some(deadline)) if now >= deadline => {
                self.evacuated = Some(now);
                DrainAction::Evacuate
            }
            _ => DrainAction::Continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEADLINE: Duration = Duration::from_secs(60);

    #[test]
    fn not_draining_never_exits() {
        let now = Instant::now();
        let mut d = Drain::new(DEADLINE);
        assert_eq!(d.poll(now, true), DrainAction::Continue);
        assert_eq!(d.poll(now + DEADLINE * 10, false), DrainAction::Continue);
        assert_eq!(d.next_wake(), None);
    }

    #[test]
    fn a_drained_bridge_exits_when_empty() {
        let now = Instant::now();
        let mut d = Drain::new(DEADLINE);
        assert!(d.set_requested(true, now));
        assert!(!d.own(), "the operator's drain is the focus's to report");
        assert_eq!(d.poll(now, false), DrainAction::Continue);
        assert_eq!(d.poll(now + Duration::from_secs(1), true), DrainAction::Exit);
    }

    #[test]
    fn the_deadline_evacuates_then_exits_after_the_grace() {
        let now = Instant::now();
        let mut d = Drain::new(DEADLINE);
        assert!(d.start_own(now));
        assert!(d.own());
        assert_eq!(d.next_wake(), Some(now + DEADLINE));
        assert_eq!(d.poll(now + DEADLINE - Duration::from_millis(1), false), DrainAction::Continue);
        let at = now + DEADLINE;
        assert_eq!(d.poll(at, false), DrainAction::Evacuate);
        assert_eq!(d.poll(at, false), DrainAction::Continue, "evacuates once");
        assert_eq!(d.next_wake(), Some(at + EVACUATION_GRACE));
        assert_eq!(d.poll(at + EVACUATION_GRACE, false), DrainAction::Exit);
    }

    #[test]
    fn undrain_cancels_the_operators_drain_but_not_sigterm() {
        let now = Instant::now();
        let mut d = Drain::new(DEADLINE);
        d.set_requested(true, now);
        assert!(d.set_requested(false, now));
        assert_eq!(d.poll(now + DEADLINE, true), DrainAction::Continue);
        assert_eq!(d.next_wake(), None);

        d.set_requested(true, now);
        assert!(!d.start_own(now), "already draining");
        assert!(!d.set_requested(false, now));
        assert!(d.draining());
        assert_eq!(d.poll(now + DEADLINE, false), DrainAction::Evacuate, "deadline from the first drain");
    }

    #[test]
    fn an_evacuated_bridge_stays_draining() {
        let now = Instant::now();
        let mut d = Drain::new(Duration::ZERO);
        d.set_requested(true, now);
        assert_eq!(d.poll(now, false), DrainAction::Evacuate, "zero: move at once");
        assert!(!d.set_requested(false, now));
        assert!(d.own());
        assert_eq!(d.poll(now + EVACUATION_GRACE, false), DrainAction::Exit);
    }
}
