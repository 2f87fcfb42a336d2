//! The tracks of one endpoint: what it publishes (in) and what it is sent (out).

use str0m::media::Mid;

use crate::rtcp::keyframe::KeyframeThrottle;

/// Identifies a published track across the bridge: the publishing endpoint and its m-line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrackKey {
    pub endpoint: u64,
    pub mid: Mid,
}

/// A track this endpoint publishes.
#[derive(Debug)]
pub struct TrackIn {
    pub mid: Mid,
    pub kind: ponte_proto::MediaKind,
    pub keyframes: KeyframeThrottle,
}

/// Where an outgoing track is in its SDP life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutState {
    /// Wanted; the next offer adds an m-line.
    ToOpen,
    /// In the offer on the wire.
    Negotiating(Mid),
    /// Answered: media flows.
    Open(Mid),
    /// The publisher left; the next offer stops the m-line.
    ToStop(Mid),
    /// The stop is in the offer on the wire.
    NegotiatingStop(Mid),
}

/// Another endpoint's track, sent to this endpoint.
#[derive(Debug)]
pub struct TrackOut {
    pub source: TrackKey,
    /// The publisher's participant id, used as the msid stream id and in `tracks` lists.
    pub publisher: String,
    pub kind: ponte_proto::MediaKind,
    pub state: OutState,
    /// The publisher left while this track was being negotiated.
    pub orphaned: bool,
    /// Video deltas are held back until a key frame, so a new subscriber starts cleanly.
    pub needs_keyframe: bool,
}

impl TrackOut {
    pub fn new(source: TrackKey, publisher: String, kind: ponte_proto::MediaKind) -> Self {
        Self {
            source,
            publisher,
            kind,
            state: OutState::ToOpen,
            orphaned: false,
            needs_keyframe: kind == ponte_proto::MediaKind::Video,
        }
    }

    /// The m-line once one is assigned and not being stopped.
    pub fn live_mid(&self) -> Option<Mid> {
        match self.state {
            OutState::Negotiating(m) | OutState::Open(m) => Some(m),
            _ => None,
        }
    }
}
