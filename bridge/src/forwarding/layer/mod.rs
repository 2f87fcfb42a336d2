//! Layer selection: which of a source's spatial layers a subscriber is sent, frame by frame.
//!
//! The allocator sets a *target* layer per subscriber × source; the selector moves the
//! *current* layer toward it, but only at a key frame of the layer it moves to, so the
//! receiver's decoder never sees a delta frame it has no reference for. [`simulcast`] serves
//! sources that send several encodings (rids); [`null`] serves single-layer sources.

pub mod null;
pub mod simulcast;

/// A spatial layer: 0 is the lowest. Single-layer sources have only layer 0.
pub type Layer = u8;

/// The layer a simulcast rid names. Browsers and Ponte's clients use `q`/`h`/`f`
/// (quarter, half, full); `l`/`m`/`h`-style and numeric rids are understood too.
pub fn layer_of(rid: Option<&str>) -> Layer {
    match rid {
        None => 0,
        Some("q" | "l" | "low" | "0") => 0,
        Some("h" | "m" | "mid" | "1") => 1,
        Some("f" | "hi" | "high" | "2") => 2,
        Some(_) => 0,
    }
}

/// What to do with one frame of one layer for one subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Send it; `switched` when it is the first frame of a new layer (the caller rebases
    /// timestamps there).
    Forward { switched: bool },
    Drop,
}

pub trait LayerSelector: Send + std::fmt::Debug {
    /// The layer wanted from now on; `None` pauses the source for this subscriber.
    fn set_target(&mut self, target: Option<Layer>);
    fn target(&self) -> Option<Layer>;
    /// The layer being sent, if any.
    fn current(&self) -> Option<Layer>;
    fn pick(&mut self, layer: Layer, keyframe: bool) -> Pick;
    /// The layer whose key frame would complete a pending switch.
    fn wants_keyframe(&self) -> Option<Layer> {
        match self.target() {
            Some(t) if self.current() != Some(t) => Some(t),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rids_map_to_layers() {
        assert_eq!(layer_of(Some("q")), 0);
        assert_eq!(layer_of(Some("h")), 1);
        assert_eq!(layer_of(Some("f")), 2);
        assert_eq!(layer_of(None), 0);
    }
}
