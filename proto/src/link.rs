//! The focus ⇄ bridge link. A bridge dials the focus (`/v1/bridge-link`, WebSocket, JSON text
//! frames) or, in the all-in-one binary, is handed a pair of in-process channels carrying
//! the same messages.
//!
//! Order matters and is kept: everything a bridge says about one endpoint (answer, offers,
//! failures) travels on one ordered stream, so a client never sees a renegotiation offer
//! before the answer to its own offer.

use serde::{Deserialize, Serialize};

use crate::TrackInfo;

/// Version of the link protocol, sent in `register`.
pub const LINK_VERSION: u32 = 1;

/// Identifies an endpoint: a participant's media session inside a conference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EndpointRef {
    pub conference: String,
    pub endpoint: String,
}

/// What the focus asks of a bridge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FocusToBridge {
    /// The focus accepted the registration.
    Registered { focus_version: String },
    /// A client's SDP offer. Creates the endpoint (and conference) on first use;
    /// answered by [`EndpointEvent::Answer`].
    Offer {
        #[serde(flatten)]
        target: EndpointRef,
        sdp: String,
        display_name: String,
    },
    /// A client's answer to the bridge's last [`EndpointEvent::Offer`].
    Answer {
        #[serde(flatten)]
        target: EndpointRef,
        sdp: String,
    },
    /// The participant left: free the endpoint and renegotiate the others.
    ExpireEndpoint {
        #[serde(flatten)]
        target: EndpointRef,
    },
    /// End a conference and all its endpoints.
    ExpireConference { conference: String },
    /// Take no new conferences; exit when the last one ends.
    Drain { draining: bool },
    /// The endpoint's client took its session back through a new signaling connection (the
    /// server restarted): send again the offer it has not answered, which it may have missed.
    Resumed {
        #[serde(flatten)]
        target: EndpointRef,
    },
    /// The answer to [`BridgeToFocus::Claim`]: `granted` when the conference is (now) on the
    /// claiming bridge; otherwise `bridge_id` hosts it and `ingest_addrs` are its listeners.
    ClaimResult { conference: String, granted: bool, bridge_id: String, ingest_addrs: Vec<String> },
}

/// What a bridge tells the focus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BridgeToFocus {
    Register(Registration),
    Stats(BridgeStats),
    Endpoint(EndpointEvent),
    /// A live stream wants to go into `conference` on this bridge: place the conference here
    /// if it has no bridge yet. Answered by [`FocusToBridge::ClaimResult`].
    Claim { conference: String },
    /// The bridge's own drain state changed (SIGTERM: `true`, for good): the focus places
    /// no new conference on it while true. Also sent after every `Registered` while true.
    Draining { draining: bool },
    /// The drain deadline passed with `conferences` still running: the focus moves them to
    /// other bridges (their participants renegotiate there). The bridge exits soon after.
    Evacuate { conferences: Vec<String> },
}

/// Sent once when the link comes up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub bridge_id: String,
    #[serde(default)]
    pub region: Option<String>,
    pub version: String,
    pub link_version: u32,
    /// Where browsers send media (the advertised candidate), e.g. `203.0.113.7:10000`.
    pub media_addr: String,
    /// SRT and RTMP listeners, if any.
    #[serde(default)]
    pub ingest_addrs: Vec<String>,
    /// Conferences the bridge already hosts (after a focus restart).
    #[serde(default)]
    pub conferences: Vec<String>,
    /// Endpoints the bridge already hosts (after a focus restart), so that their clients can
    /// resume their sessions through a new signaling process.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<HostedEndpoint>,
    /// An operator's drain this bridge was told of and that was not lifted: a focus that
    /// restarted (and so forgot it) takes it from here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drain_requested: bool,
}

/// One endpoint a re-registering bridge hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostedEndpoint {
    #[serde(flatten)]
    pub target: EndpointRef,
    pub display_name: String,
    /// [`crate::resume::proof_hash`] of the ICE password in the client's last offer; absent
    /// when that offer had none (the endpoint cannot be resumed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_hash: Option<String>,
}

/// Load report, sent every stats interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BridgeStats {
    /// 0.0 (idle) ..= 1.0 (full); placement prefers the least stressed bridge.
    pub stress: f64,
    pub endpoints: u32,
    pub conferences: u32,
    pub bitrate_in_bps: u64,
    pub bitrate_out_bps: u64,
    pub packet_rate_in: u64,
    pub packet_rate_out: u64,
    pub draining: bool,
}

/// Something that happened to one endpoint, for its client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EndpointEvent {
    /// The bridge's answer to the client's offer.
    Answer {
        #[serde(flatten)]
        target: EndpointRef,
        sdp: String,
    },
    /// The bridge renegotiates: tracks came or went.
    Offer {
        #[serde(flatten)]
        target: EndpointRef,
        sdp: String,
        tracks: Vec<TrackInfo>,
    },
    /// The client's media session is up (ICE and DTLS done). The focus times failovers to
    /// it; it is not passed on to the client.
    Connected {
        #[serde(flatten)]
        target: EndpointRef,
    },
    /// A request about this endpoint failed (bad SDP, unknown endpoint, ...).
    Failed {
        #[serde(flatten)]
        target: EndpointRef,
        reason: String,
    },
    /// The bridge dropped the endpoint on its own (ICE timeout, DTLS failure).
    Expired {
        #[serde(flatten)]
        target: EndpointRef,
        reason: String,
    },
    /// A live stream (SRT/RTMP ingest) joined the conference as a participant with no WebRTC
    /// session; `target.endpoint` is its participant id (`live-ROOM`). For the room's roster.
    IngestStarted {
        #[serde(flatten)]
        target: EndpointRef,
        display_name: String,
    },
    /// The live stream left the conference.
    IngestStopped {
        #[serde(flatten)]
        target: EndpointRef,
    },
}

impl EndpointEvent {
    pub fn target(&self) -> &EndpointRef {
        match self {
            Self::Answer { target, .. }
            | Self::Offer { target, .. }
            | Self::Connected { target }
            | Self::Failed { target, .. }
            | Self::Expired { target, .. }
            | Self::IngestStarted { target, .. }
            | Self::IngestStopped { target } => target,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_event_round_trip() {
        let e = BridgeToFocus::Endpoint(EndpointEvent::Answer {
            target: EndpointRef { conference: "c".into(), endpoint: "e".into() },
            sdp: "v=0".into(),
        });
        let s = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<BridgeToFocus>(&s).unwrap(), e);
    }
}
