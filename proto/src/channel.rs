//! The client ⇄ bridge data channel (an SCTP channel the client opens in its offer; any label).
//!
//! JSON text messages tagged by `type`. The client sends [`ClientChannelMessage`] to say what
//! it wants to see; the bridge sends [`BridgeChannelMessage`] when the dominant speaker or the
//! set of videos it forwards to this client changes. `docs/protocol.md` documents both.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Client → bridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientChannelMessage {
    /// Receiver constraints; each message replaces the previous one whole.
    Constraints {
        /// The participant shown large: its video is allocated bandwidth first and is always
        /// forwarded, even outside the last-N set.
        #[serde(default)]
        on_stage: Option<String>,
        /// Largest video height wanted per participant id (0: no video from that one).
        #[serde(default)]
        max_height: HashMap<String, u32>,
        /// Largest height for participants not named in `max_height` (default: no limit).
        #[serde(default)]
        default_max_height: Option<u32>,
        /// Videos from at most this many participants (default: the bridge's `last_n`).
        #[serde(default)]
        last_n: Option<u32>,
    },
}

/// Bridge → client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BridgeChannelMessage {
    /// Who speaks now (after hysteresis); sent on change and when the channel opens.
    DominantSpeaker { participant_id: String },
    /// The participants whose video this client is sent, most relevant first.
    LastN { participant_ids: Vec<String> },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_parse_with_defaults() {
        let m: ClientChannelMessage = serde_json::from_str(r#"{"type":"constraints","max_height":{"a":180}}"#).unwrap();
        let ClientChannelMessage::Constraints { on_stage, max_height, default_max_height, last_n } = m;
        assert_eq!((on_stage, default_max_height, last_n), (None, None, None));
        assert_eq!(max_height["a"], 180);
        assert!(serde_json::from_str::<ClientChannelMessage>(r#"{"type":"constraints","bogus":1}"#).is_err());
    }

    #[test]
    fn bridge_messages_are_tagged() {
        let s = serde_json::to_string(&BridgeChannelMessage::DominantSpeaker { participant_id: "a".into() }).unwrap();
        assert_eq!(s, r#"{"type":"dominant_speaker","participant_id":"a"}"#);
    }
}
