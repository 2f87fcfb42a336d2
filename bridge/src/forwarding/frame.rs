//! One media frame on its way from a publisher to subscribers.

use std::sync::Arc;
use std::time::Instant;

use str0m::format::PayloadParams;
use str0m::media::{MediaData, MediaTime, Rid};

/// Everything a subscriber's writer needs; the payload is shared, never copied per receiver.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The publisher's codec parameters; each subscriber maps them to its own payload type.
    pub params: PayloadParams,
    /// Simulcast layer, if any.
    pub rid: Option<Rid>,
    /// When the frame arrived (or was captured, for ingest).
    pub network_time: Instant,
    /// RTP time of the frame.
    pub time: MediaTime,
    pub data: &'a Arc<[u8]>,
    pub keyframe: bool,
    /// False when frames before this one were lost: the publisher should send a key frame.
    pub contiguous: bool,
}

impl<'a> Frame<'a> {
    pub fn from_media(d: &'a MediaData) -> Self {
        Self {
            params: d.params,
            rid: d.rid,
            network_time: d.network_time,
            time: d.time,
            data: &d.data,
            keyframe: d.is_keyframe(),
            contiguous: d.contiguous,
        }
    }

    pub fn is_audio(&self) -> bool {
        self.params.spec().codec.is_audio()
    }
}
