//! The forwarder of one source to one subscriber: decides per frame whether it is sent and
//! with which RTP time, and returns that as a value.
//!
//! str0m (frame mode) packetizes every outgoing frame afresh: each subscriber's stream has its
//! own SSRC and contiguous sequence numbers, and its VP8 payload descriptors are written by
//! str0m's packetizer (without a picture id), whatever layer a frame came from. What str0m
//! passes through is the RTP time we give it, and simulcast encodings each start their RTP
//! clock at a random offset. So on every layer switch the forwarder rebases: the first frame
//! of the new layer gets the last sent time plus the wall-clock time since, and the new
//! layer's times keep that offset until the next switch.

use std::time::Instant;

use str0m::media::MediaTime;

use super::layer::null::NullSelector;
use super::layer::simulcast::SimulcastSelector;
use super::layer::{Layer, LayerSelector, Pick};

/// The outcome for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send with this RTP time; `switched` when the layer changed at this frame.
    Send { time: MediaTime, switched: bool },
    Drop,
}

#[derive(Debug)]
pub struct Forwarder {
    selector: Box<dyn LayerSelector>,
    /// Added to incoming RTP ticks (in the frame's clock rate) to get outgoing ones.
    offset: i64,
    last: Option<(MediaTime, Instant)>,
}

impl Forwarder {
    pub fn new(simulcast: bool) -> Self {
        let selector: Box<dyn LayerSelector> =
            if simulcast { Box::new(SimulcastSelector::default()) } else { Box::new(NullSelector::default()) };
        Self { selector, offset: 0, last: None }
    }

    pub fn set_target(&mut self, target: Option<Layer>) {
        self.selector.set_target(target);
    }

    pub fn target(&self) -> Option<Layer> {
        self.selector.target()
    }

    pub fn current(&self) -> Option<Layer> {
        self.selector.current()
    }

    pub fn wants_keyframe(&self) -> Option<Layer> {
        self.selector.wants_keyframe()
    }

    pub fn forward(&mut self, layer: Layer, keyframe: bool, time: MediaTime, arrival: Instant) -> Decision {
        let switched = match self.selector.pick(layer, keyframe) {
            Pick::Drop => return Decision::Drop,
            Pick::Forward { switched } => switched,
        };
        let ticks = time.numer() as i64;
        if switched {
            self.offset = match self.last {
                Some((last, at)) => {
                    let rate = u64::from(last.denom());
                    let gap = (arrival.saturating_duration_since(at).as_micros() as u64 * rate / 1_000_000).max(1);
                    (last.numer() + gap) as i64 - ticks
                }
                None => 0,
            };
        }
        let out = MediaTime::new(ticks.saturating_add(self.offset).max(0) as u64, time.frequency());
        if self.last.is_some_and(|(last, _)| out.numer() < last.numer()) {
            // Reordered frame from before a switch: sending it would step time backwards.
            return Decision::Drop;
        }
        self.last = Some((out, arrival));
        Decision::Send { time: out, switched }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t90(v: u64) -> MediaTime {
        MediaTime::from_90khz(v)
    }

    #[test]
    fn time_stays_continuous_across_switches() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut f = Forwarder::new(true);
        f.set_target(Some(0));
        // Layer 0 starts at 1_000, layer 2 at 5_000_000: unrelated random bases.
        assert_eq!(f.forward(0, true, t90(1_000), ms(0)), Decision::Send { time: t90(1_000), switched: true });
        assert_eq!(f.forward(0, false, t90(4_000), ms(33)), Decision::Send { time: t90(4_000), switched: false });
        f.set_target(Some(2));
        assert_eq!(f.forward(2, false, t90(5_000_000), ms(33)), Decision::Drop);
        let Decision::Send { time, switched: true } = f.forward(2, true, t90(5_003_000), ms(66)) else { panic!() };
        assert_eq!(time, t90(4_000 + 33 * 90), "last sent + 33 ms of wall clock");
        let Decision::Send { time: next, .. } = f.forward(2, false, t90(5_006_000), ms(100)) else { panic!() };
        assert_eq!(next.numer() - time.numer(), 3_000, "the new layer's own spacing is kept");
        assert_eq!(f.forward(0, false, t90(10_000), ms(100)), Decision::Drop);
    }

    #[test]
    fn paused_source_resumes_at_keyframe_with_later_time() {
        let t0 = Instant::now();
        let mut f = Forwarder::new(false);
        f.set_target(Some(0));
        assert_eq!(f.forward(0, true, t90(900), t0), Decision::Send { time: t90(900), switched: false });
        f.set_target(None);
        assert_eq!(f.forward(0, true, t90(1_800), t0), Decision::Drop);
        f.set_target(Some(0));
        assert_eq!(f.wants_keyframe(), Some(0));
        let Decision::Send { time, .. } = f.forward(0, true, t90(90_000), t0 + Duration::from_secs(1)) else { panic!() };
        assert_eq!(time, t90(900 + 90_000));
    }
}
