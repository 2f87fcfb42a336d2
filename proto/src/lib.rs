//! Wire types that Ponte's services share, and their validation. No I/O lives here.
//!
//! - [`signal`]: the client ⇄ signaling WebSocket protocol (JSON, versioned), spoken by
//!   browsers, the test participant and `loadtest`. `docs/protocol.md` documents it.
//! - [`link`]: the focus ⇄ bridge link (JSON over a WebSocket, or in-process channels).
//! - [`channel`]: the client ⇄ bridge data channel (receiver constraints, speaker events).
//! - [`names`]: validated room names, display names and ids.
//! - [`resume`]: the proof a client gives to resume its media session after signaling restarts.
//!
//! Every parser here returns a typed error that names the offending field, so that the
//! edge can answer a bad message with an error instead of dropping the connection.

pub mod channel;
pub mod link;
pub mod names;
pub mod resume;
pub mod signal;

pub use names::{DisplayName, NameError, RoomName};

/// The kind of a media track, as both protocols name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Audio,
    Video,
}

/// One track that a bridge sends to a subscriber: which m-line (`mid`) carries whose media.
///
/// Sent with every bridge offer so that clients map incoming tracks to participants without
/// parsing SDP; the SDP's msid carries the same participant id as its stream id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrackInfo {
    pub mid: String,
    pub participant_id: String,
    pub kind: MediaKind,
}
