//! The client ⇄ signaling protocol: JSON text frames on `/ws`, one message per frame,
//! tagged by `"type"`. Version 1. See `docs/protocol.md` for examples of every message.
//!
//! Parsing is two steps: [`ClientMessage::parse`] turns text into a typed message (or a
//! [`SignalError`] naming the field), and [`ClientMessage::validate`] checks values
//! (names, sizes) that serde cannot express.

use serde::{Deserialize, Serialize};

use crate::names::{DisplayName, NameError, RoomName};
use crate::{MediaKind, TrackInfo};

/// The protocol version this crate speaks. A `join` may name it; other versions are refused.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest SDP accepted in an offer or answer, in bytes.
pub const MAX_SDP_LEN: usize = 32 * 1024;
/// Longest chat message, in characters.
pub const MAX_CHAT_LEN: usize = 2000;
/// Longest token, in bytes.
pub const MAX_TOKEN_LEN: usize = 4096;

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Enter a room. Must be the first message; answered by `welcome` or `error`.
    Join {
        room: String,
        display_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        #[serde(default = "default_version")]
        version: u32,
        #[serde(default)]
        audio_muted: bool,
        #[serde(default)]
        video_muted: bool,
        /// Where the client is (e.g. `eu-west`): a new conference prefers a bridge in this
        /// region. Optional; ignored when the room already has a bridge.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
        /// Take over this participant's media session, which still runs on its bridge (after
        /// the signaling connection or process went away). See [`Resume`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<Resume>,
    },
    /// An SDP offer from the client (its first offer, or a renegotiation).
    Offer { sdp: String },
    /// The client's answer to a bridge `offer`.
    Answer { sdp: String },
    /// Tell the room that this client muted or unmuted a source.
    Mute { kind: MediaKind, muted: bool },
    /// A chat message to everyone in the room.
    Chat { text: String },
    /// Keep-alive; answered by `pong`.
    Ping {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
    },
    /// Leave the room. The server closes the connection after `bye`.
    Leave {},
}

/// What a `join` carries to resume a media session: the participant id it had, and the ICE
/// password of its own last offer as the proof (see [`crate::resume`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    pub participant_id: String,
    pub proof: String,
}

/// Longest region name accepted in a `join`.
pub const MAX_REGION_LEN: usize = 64;

fn default_version() -> u32 {
    PROTOCOL_VERSION
}

/// A participant as the roster shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub id: String,
    pub display_name: String,
    pub audio_muted: bool,
    pub video_muted: bool,
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The join succeeded. `roster` lists everyone else already in the room.
    Welcome {
        version: u32,
        participant_id: String,
        room: String,
        roster: Vec<Participant>,
    },
    ParticipantJoined { participant: Participant },
    ParticipantLeft { participant_id: String },
    MuteChanged {
        participant_id: String,
        kind: MediaKind,
        muted: bool,
    },
    Chat {
        from: String,
        display_name: String,
        text: String,
        /// Milliseconds since the Unix epoch, stamped by the server.
        ts_ms: u64,
    },
    /// The bridge's answer to the client's offer.
    Answer { sdp: String },
    /// A renegotiation from the bridge: tracks were added or removed. Answer with `answer`.
    Offer { sdp: String, tracks: Vec<TrackInfo> },
    Pong {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
    },
    /// The server ends the session (after `leave`, or when the room closes).
    Bye { reason: String },
    /// The client's media session is gone (its bridge failed) and the room now lives on
    /// another bridge: close the peer connection, make a new one with the same local tracks
    /// and send a fresh `offer`. Roster and signaling connection stay as they are.
    Renegotiate { reason: String },
    /// A request failed. The connection stays open unless `bye` follows.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
    },
}

/// Machine-readable error codes, stable across versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or not a JSON object.
    BadMessage,
    /// `type` is missing or names no message.
    UnknownType,
    MissingField,
    InvalidField,
    TooLarge,
    RateLimited,
    UnsupportedVersion,
    NotJoined,
    AlreadyJoined,
    RoomFull,
    Unauthorized,
    /// No bridge can take the room right now.
    Unavailable,
    NegotiationFailed,
    /// A `join` with `resume` named no media session it could take over (unknown participant,
    /// wrong proof, or already connected): join afresh.
    ResumeFailed,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadMessage => "bad_message",
            Self::UnknownType => "unknown_type",
            Self::MissingField => "missing_field",
            Self::InvalidField => "invalid_field",
            Self::TooLarge => "too_large",
            Self::RateLimited => "rate_limited",
            Self::UnsupportedVersion => "unsupported_version",
            Self::NotJoined => "not_joined",
            Self::AlreadyJoined => "already_joined",
            Self::RoomFull => "room_full",
            Self::Unauthorized => "unauthorized",
            Self::Unavailable => "unavailable",
            Self::NegotiationFailed => "negotiation_failed",
            Self::ResumeFailed => "resume_failed",
            Self::Internal => "internal",
        }
    }
}

/// Why a client message was refused. Becomes a [`ServerMessage::Error`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SignalError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
}

impl SignalError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), field: None }
    }

    pub fn field(code: ErrorCode, field: &str, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), field: Some(field.to_owned()) }
    }

    fn invalid(field: &str, e: NameError) -> Self {
        Self::field(ErrorCode::InvalidField, field, format!("`{field}` {e}"))
    }

    pub fn to_message(&self) -> ServerMessage {
        ServerMessage::Error {
            code: self.code,
            message: self.message.clone(),
            field: self.field.clone(),
        }
    }
}

impl ClientMessage {
    /// Parse one text frame. `max_len` is the frame size limit in bytes.
    pub fn parse(text: &str, max_len: usize) -> Result<Self, SignalError> {
        if text.len() > max_len {
            return Err(SignalError::new(
                ErrorCode::TooLarge,
                format!("message is {} bytes; the limit is {max_len}", text.len()),
            ));
        }
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| SignalError::new(ErrorCode::BadMessage, format!("not JSON: {e}")))?;
        let Some(obj) = value.as_object() else {
            return Err(SignalError::new(ErrorCode::BadMessage, "message must be a JSON object"));
        };
        match obj.get("type") {
            None => return Err(SignalError::field(ErrorCode::MissingField, "type", "missing field `type`")),
            Some(serde_json::Value::String(_)) => {}
            Some(_) => return Err(SignalError::field(ErrorCode::InvalidField, "type", "`type` must be a string")),
        }
        let obj = obj.clone();
        serde_json::from_value(value).map_err(|e| classify_serde_error(&e.to_string(), &obj))
    }

    /// Check values: names, versions and sizes.
    pub fn validate(&self) -> Result<(), SignalError> {
        match self {
            Self::Join { room, display_name, token, version, region, resume, .. } => {
                if *version != PROTOCOL_VERSION {
                    return Err(SignalError::field(
                        ErrorCode::UnsupportedVersion,
                        "version",
                        format!("protocol version {version} is not supported; this server speaks {PROTOCOL_VERSION}"),
                    ));
                }
                RoomName::parse(room).map_err(|e| SignalError::invalid("room", e))?;
                DisplayName::parse(display_name).map_err(|e| SignalError::invalid("display_name", e))?;
                if token.as_ref().is_some_and(|t| t.len() > MAX_TOKEN_LEN) {
                    return Err(SignalError::field(ErrorCode::TooLarge, "token", format!("`token` is longer than {MAX_TOKEN_LEN} bytes")));
                }
                if let Some(region) = region {
                    if region.is_empty() || region.len() > MAX_REGION_LEN || !region.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
                        return Err(SignalError::field(ErrorCode::InvalidField, "region", format!("`region` must be 1 to {MAX_REGION_LEN} characters from A-Z a-z 0-9 - _ .")));
                    }
                }
                if let Some(resume) = resume {
                    crate::names::RoomName::parse(&resume.participant_id)
                        .map_err(|e| SignalError::invalid("resume.participant_id", e))?;
                    if resume.proof.is_empty() || resume.proof.len() > crate::resume::MAX_PROOF_LEN {
                        return Err(SignalError::field(ErrorCode::InvalidField, "resume.proof", format!("`resume.proof` must be 1 to {} bytes", crate::resume::MAX_PROOF_LEN)));
                    }
                }
            }
            Self::Offer { sdp } | Self::Answer { sdp } => validate_sdp(sdp)?,
            Self::Chat { text } => {
                if text.trim().is_empty() {
                    return Err(SignalError::field(ErrorCode::InvalidField, "text", "`text` must not be empty"));
                }
                if text.chars().count() > MAX_CHAT_LEN {
                    return Err(SignalError::field(ErrorCode::TooLarge, "text", format!("`text` is longer than {MAX_CHAT_LEN} characters")));
                }
            }
            Self::Mute { .. } | Self::Ping { .. } | Self::Leave {} => {}
        }
        Ok(())
    }

    /// The message type as it appears on the wire; used as a metrics label.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Join { .. } => "join",
            Self::Offer { .. } => "offer",
            Self::Answer { .. } => "answer",
            Self::Mute { .. } => "mute",
            Self::Chat { .. } => "chat",
            Self::Ping { .. } => "ping",
            Self::Leave {} => "leave",
        }
    }
}

fn validate_sdp(sdp: &str) -> Result<(), SignalError> {
    if sdp.len() > MAX_SDP_LEN {
        return Err(SignalError::field(ErrorCode::TooLarge, "sdp", format!("`sdp` is longer than {MAX_SDP_LEN} bytes")));
    }
    if !sdp.starts_with("v=0") {
        return Err(SignalError::field(ErrorCode::InvalidField, "sdp", "`sdp` must be a session description starting with `v=0`"));
    }
    Ok(())
}

/// Turn serde's message into an error that names the field. serde_json phrases them as
/// "missing field `room`", "unknown field `x`, expected ...", "unknown variant `x`, ..." and
/// "invalid type: ..., expected ..." — the last one (and an unknown variant of a field such as
/// `kind`) carries no field name, so [`locate_field`] finds it.
fn classify_serde_error(msg: &str, obj: &serde_json::Map<String, serde_json::Value>) -> SignalError {
    let msg = msg.split(" at line ").next().unwrap_or(msg).to_owned();
    let quoted = msg.split('`').nth(1).map(str::to_owned);
    let type_value = obj.get("type").and_then(|v| v.as_str());
    if msg.starts_with("missing field") {
        SignalError { code: ErrorCode::MissingField, field: quoted, message: msg }
    } else if msg.starts_with("unknown variant") && quoted.as_deref() == type_value {
        SignalError { code: ErrorCode::UnknownType, field: Some("type".into()), message: format!("unknown message type: {msg}") }
    } else if msg.starts_with("unknown field") {
        SignalError { code: ErrorCode::InvalidField, field: quoted, message: msg }
    } else {
        let field = locate_field(obj, &msg);
        let message = match &field {
            Some(f) => format!("`{f}`: {msg}"),
            None => msg,
        };
        SignalError { code: ErrorCode::InvalidField, field, message }
    }
}

/// Which field made serde fail with `msg`: the first one whose removal changes the outcome.
/// Only runs on the error path, on a message already within the size limit.
fn locate_field(obj: &serde_json::Map<String, serde_json::Value>, msg: &str) -> Option<String> {
    obj.keys().filter(|k| *k != "type").find_map(|key| {
        let mut probe = obj.clone();
        probe.remove(key);
        match serde_json::from_value::<ClientMessage>(serde_json::Value::Object(probe)) {
            Ok(_) => Some(key.clone()),
            Err(e) if !e.to_string().starts_with(msg) => Some(key.clone()),
            Err(_) => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ClientMessage, SignalError> {
        ClientMessage::parse(s, 65536).and_then(|m| m.validate().map(|_| m))
    }

    #[test]
    fn join_defaults() {
        let m = parse(r#"{"type":"join","room":"r1","display_name":"Ann"}"#).unwrap();
        assert_eq!(
            m,
            ClientMessage::Join {
                room: "r1".into(),
                display_name: "Ann".into(),
                token: None,
                version: 1,
                audio_muted: false,
                video_muted: false,
                region: None,
                resume: None,
            }
        );
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse(r#"{"type":"join","display_name":"Ann"}"#).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::MissingField, Some("room")));
        let e = parse(r#"{"type":"join","room":"a b","display_name":"Ann"}"#).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::InvalidField, Some("room")));
        let e = parse(r#"{"type":"dance"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnknownType);
        let e = parse(r#"{"room":"x"}"#).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::MissingField, Some("type")));
        let e = parse(r#"{"type":"chat","text":"hi","extra":1}"#).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::InvalidField, Some("extra")));
        let e = parse(r#"{"type":"mute","kind":"audio","muted":"yes"}"#).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::InvalidField, Some("muted")));
        let e = parse(r#"{"type":"mute","kind":"smell","muted":true}"#).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::InvalidField, Some("kind")));
        let e = parse(r#"{"type":"ping","id":-1}"#).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::InvalidField, Some("id")));
        let e = parse(r#"{"type":"join","room":5,"display_name":"Ann"}"#).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::InvalidField, Some("room")));
        let e = parse("[1,2]").unwrap_err();
        assert_eq!(e.code, ErrorCode::BadMessage);
        let e = parse("{nope").unwrap_err();
        assert_eq!(e.code, ErrorCode::BadMessage);
        let e = ClientMessage::parse(&"x".repeat(100), 10).unwrap_err();
        assert_eq!(e.code, ErrorCode::TooLarge);
        let e = parse(r#"{"type":"offer","sdp":"hello"}"#).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::InvalidField, Some("sdp")));
        let e = parse(r#"{"type":"join","room":"r","display_name":"A","version":2}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnsupportedVersion);
    }

    #[test]
    fn server_messages_round_trip() {
        let m = ServerMessage::Offer {
            sdp: "v=0".into(),
            tracks: vec![TrackInfo { mid: "3".into(), participant_id: "p1".into(), kind: MediaKind::Video }],
        };
        let s = serde_json::to_string(&m).unwrap();
        assert!(s.contains(r#""type":"offer""#), "{s}");
        assert_eq!(serde_json::from_str::<ServerMessage>(&s).unwrap(), m);
        let e = SignalError::field(ErrorCode::RoomFull, "room", "full").to_message();
        let s = serde_json::to_string(&e).unwrap();
        assert!(s.contains(r#""code":"room_full""#), "{s}");
    }
}
