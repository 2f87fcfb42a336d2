//! Simulcast sources: one of several independent encodings (rids) per subscriber.
//!
//! Switching (up or down) happens at a key frame of the layer switched to. While the target
//! layer's key frame is awaited, a key frame of a layer between the current one and the
//! target is taken too, so a subscriber that has nothing yet starts as soon as any layer
//! at or below the target has a key frame.

use super::{Layer, LayerSelector, Pick};

#[derive(Debug, Default)]
pub struct SimulcastSelector {
    target: Option<Layer>,
    current: Option<Layer>,
}

impl SimulcastSelector {
    /// Whether a key frame of `layer` moves the current layer closer to the target.
    fn closer(&self, layer: Layer, target: Layer) -> bool {
        match self.current {
            None => layer <= target,
            Some(c) if c < target => layer > c && layer <= target,
            Some(c) => layer < c && layer >= target,
        }
    }
}

impl LayerSelector for SimulcastSelector {
    fn set_target(&mut self, target: Option<Layer>) {
        self.target = target;
        if target.is_none() {
            self.current = None;
        }
    }

    fn target(&self) -> Option<Layer> {
        self.target
    }

    fn current(&self) -> Option<Layer> {
        self.current
    }

    fn pick(&mut self, layer: Layer, keyframe: bool) -> Pick {
        let Some(target) = self.target else { return Pick::Drop };
        if keyframe && self.current != Some(layer) && self.closer(layer, target) {
            self.current = Some(layer);
            return Pick::Forward { switched: true };
        }
        if self.current == Some(layer) {
            Pick::Forward { switched: false }
        } else {
            Pick::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_only_on_keyframes() {
        let mut s = SimulcastSelector::default();
        s.set_target(Some(0));
        assert_eq!(s.pick(0, false), Pick::Drop, "no reference yet");
        assert_eq!(s.pick(2, true), Pick::Drop, "above target");
        assert_eq!(s.pick(0, true), Pick::Forward { switched: true });
        assert_eq!(s.pick(0, false), Pick::Forward { switched: false });
        s.set_target(Some(2));
        assert_eq!(s.wants_keyframe(), Some(2));
        assert_eq!(s.pick(2, false), Pick::Drop, "delta of the target: keep the old layer");
        assert_eq!(s.pick(0, false), Pick::Forward { switched: false });
        assert_eq!(s.pick(2, true), Pick::Forward { switched: true });
        assert_eq!(s.pick(0, false), Pick::Drop, "old layer stops at the switch");
        assert_eq!(s.wants_keyframe(), None);
    }

    #[test]
    fn takes_intermediate_layers_on_the_way() {
        let mut s = SimulcastSelector::default();
        s.set_target(Some(2));
        assert_eq!(s.pick(1, true), Pick::Forward { switched: true }, "start early below target");
        assert_eq!(s.pick(0, true), Pick::Drop, "never away from the target");
        s.set_target(Some(0));
        assert_eq!(s.pick(1, false), Pick::Forward { switched: false }, "down-switch waits too");
        assert_eq!(s.pick(0, true), Pick::Forward { switched: true });
        s.set_target(None);
        assert_eq!(s.pick(0, true), Pick::Drop);
        assert_eq!(s.current(), None);
    }
}
