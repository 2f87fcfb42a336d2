//! RTCP-driven behaviour the bridge adds on top of the WebRTC stack.

pub mod keyframe;
