//! Single-layer sources: forward or pause, resuming at a key frame.
//!
//! A new subscriber's first key frame is the endpoint's business (its outgoing track holds
//! deltas back until one, and ingest replays its cached GOP there), so the selector starts
//! out sending; only a resume after a pause waits for a key frame here.

use super::{Layer, LayerSelector, Pick};

#[derive(Debug)]
pub struct NullSelector {
    target: Option<Layer>,
    sending: bool,
}

impl Default for NullSelector {
    fn default() -> Self {
        Self { target: None, sending: true }
    }
}

impl LayerSelector for NullSelector {
    fn set_target(&mut self, target: Option<Layer>) {
        self.target = target.map(|_| 0);
        if self.target.is_none() {
            self.sending = false;
        }
    }

    fn target(&self) -> Option<Layer> {
        self.target
    }

    fn current(&self) -> Option<Layer> {
        self.sending.then_some(0)
    }

    fn pick(&mut self, _layer: Layer, keyframe: bool) -> Pick {
        if self.target.is_none() {
            return Pick::Drop;
        }
        if !self.sending {
            if !keyframe {
                return Pick::Drop;
            }
            self.sending = true;
            return Pick::Forward { switched: true };
        }
        Pick::Forward { switched: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_at_a_keyframe() {
        let mut s = NullSelector::default();
        assert_eq!(s.pick(0, true), Pick::Drop, "nothing until targeted");
        s.set_target(Some(0));
        assert_eq!(s.pick(0, false), Pick::Forward { switched: false }, "a new subscriber's start is the endpoint's gate");
        s.set_target(None);
        s.set_target(Some(2));
        assert_eq!(s.wants_keyframe(), Some(0));
        assert_eq!(s.pick(0, false), Pick::Drop);
        assert_eq!(s.pick(0, true), Pick::Forward { switched: true });
        assert_eq!(s.pick(0, false), Pick::Forward { switched: false });
        s.set_target(None);
        assert_eq!(s.pick(0, true), Pick::Drop);
    }
}
