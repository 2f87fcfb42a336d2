//! The Janus WebSocket API (core requests, `janus.plugin.videoroom` bodies) as JSON in and
//! out, no I/O. Everything read from the server goes through `serde_json::Value::get`, so a
//! message of an unexpected shape becomes [`Incoming::Other`] or [`RoomEvent::Other`], never
//! a panic.

use serde_json::{json, Value};

use ponte_proto::{MediaKind, TrackInfo};

/// The WebSocket subprotocol Janus requires.
pub const SUBPROTOCOL: &str = "janus-protocol";
pub const VIDEOROOM: &str = "janus.plugin.videoroom";
/// Janus's videoroom error for `create` on a room that exists.
pub const ROOM_EXISTS: i64 = 427;

/// A session description travelling with a request or an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jsep {
    Offer(String),
    Answer(String),
}

impl Jsep {
    fn to_json(&self) -> Value {
        match self {
            Jsep::Offer(sdp) => json!({ "type": "offer", "sdp": sdp }),
            Jsep::Answer(sdp) => json!({ "type": "answer", "sdp": sdp }),
        }
    }

    fn from_json(v: &Value) -> Option<Self> {
        let sdp = v.get("sdp")?.as_str()?.to_owned();
        match v.get("type")?.as_str()? {
            "offer" => Some(Jsep::Offer(sdp)),
            "answer" => Some(Jsep::Answer(sdp)),
            _ => None,
        }
    }
}

/// `{"janus":"create"}`: a new Janus session.
pub fn create_session(transaction: &str) -> Value {
    json!({ "janus": "create", "transaction": transaction })
}

/// `{"janus":"attach"}`: a handle on the videoroom plugin.
pub fn attach(session: u64, transaction: &str) -> Value {
    json!({ "janus": "attach", "plugin": VIDEOROOM, "session_id": session, "transaction": transaction })
}

/// A request to the plugin through `handle`, with an SDP when there is one.
pub fn message(session: u64, handle: u64, transaction: &str, body: Value, jsep: Option<&Jsep>) -> Value {
    let mut m = json!({
        "janus": "message",
        "session_id": session,
        "handle_id": handle,
        "transaction": transaction,
        "body": body,
    });
    if let (Some(jsep), Some(obj)) = (jsep, m.as_object_mut()) {
        obj.insert("jsep".into(), jsep.to_json());
    }
    m
}

/// Our candidates are all in the SDP: tell Janus there are no more coming.
pub fn trickle_completed(session: u64, handle: u64, transaction: &str) -> Value {
    json!({
        "janus": "trickle",
        "session_id": session,
        "handle_id": handle,
        "transaction": transaction,
        "candidate": { "completed": true },
    })
}

pub fn keepalive(session: u64, transaction: &str) -> Value {
    json!({ "janus": "keepalive", "session_id": session, "transaction": transaction })
}

/// End the session and every handle and PeerConnection in it.
pub fn destroy(session: u64, transaction: &str) -> Value {
    json!({ "janus": "destroy", "session_id": session, "transaction": transaction })
}

/// Videoroom `create`: a room for `publishers` publishers, Opus and VP8, no bitrate cap
/// (our synthetic sources ignore REMB anyway) and no periodic key-frame requests, which
/// Ponte does not send either.
pub fn create_room(room: u64, publishers: u32) -> Value {
    json!({
        "request": "create",
        "room": room,
        "description": format!("ponte-bench {room}"),
        "publishers": publishers,
        "bitrate": 0,
        "fir_freq": 0,
        "audiocodec": "opus",
        "videocodec": "vp8",
        "permanent": false,
    })
}

pub fn join_publisher(room: u64, display: &str) -> Value {
    json!({ "request": "join", "ptype": "publisher", "room": room, "display": display })
}

pub fn publish() -> Value {
    json!({ "request": "publish" })
}

/// Videoroom subscriber `join` (multistream: one PeerConnection for every feed in `feeds`).
pub fn join_subscriber(room: u64, private_id: Option<u64>, feeds: &[u64]) -> Value {
    let mut body = json!({ "request": "join", "ptype": "subscriber", "room": room, "streams": streams(feeds) });
    if let (Some(id), Some(obj)) = (private_id, body.as_object_mut()) {
        obj.insert("private_id".into(), id.into());
    }
    body
}

/// Add feeds to an existing subscription (Janus answers with an `updated` offer).
pub fn subscribe(feeds: &[u64]) -> Value {
    json!({ "request": "subscribe", "streams": streams(feeds) })
}

/// Our answer to a subscriber offer goes with `start`.
pub fn start() -> Value {
    json!({ "request": "start" })
}

fn streams(feeds: &[u64]) -> Value {
    feeds.iter().map(|f| json!({ "feed": f })).collect()
}

/// One message from Janus, by its `janus` field.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A request succeeded; `id` is the new session's or handle's, `plugin` the
    /// synchronous plugin reply (`plugindata.data`).
    Success { transaction: String, id: Option<u64>, plugin: Option<Value> },
    /// An asynchronous request was taken; its result comes as an [`Incoming::Event`].
    Ack { transaction: String },
    Error { transaction: Option<String>, code: i64, reason: String },
    /// A plugin event on handle `sender` (`plugindata.data`), maybe with an SDP.
    Event { sender: u64, transaction: Option<String>, data: Value, jsep: Option<Jsep> },
    /// The PeerConnection of handle `sender` is up (ICE + DTLS).
    WebrtcUp { sender: u64 },
    /// The PeerConnection of handle `sender` is gone.
    Hangup { sender: u64, reason: String },
    /// The handle `sender` was detached.
    Detached { sender: u64 },
    /// The session timed out on the server.
    Timeout,
    /// Anything else (`media`, `slowlink`, `trickle`, keepalive acks, unknown kinds).
    Other,
}

impl Incoming {
    /// The transaction a reply belongs to.
    pub fn transaction(&self) -> Option<&str> {
        match self {
            Incoming::Success { transaction, .. } | Incoming::Ack { transaction } => Some(transaction),
            Incoming::Error { transaction, .. } | Incoming::Event { transaction, .. } => transaction.as_deref(),
            _ => None,
        }
    }
}

/// Classify one text frame from Janus; `None` if it is not JSON at all.
pub fn parse(text: &str) -> Option<Incoming> {
    let v: Value = serde_json::from_str(text).ok()?;
    let kind = v.get("janus").and_then(Value::as_str).unwrap_or_default();
    let transaction = v.get("transaction").and_then(Value::as_str).map(str::to_owned);
    let sender = v.get("sender").and_then(Value::as_u64);
    let plugin_data = || v.get("plugindata").and_then(|p| p.get("data")).cloned();
    Some(match (kind, transaction, sender) {
        ("success", Some(transaction), _) => Incoming::Success {
            transaction,
            id: v.get("data").and_then(|d| d.get("id")).and_then(Value::as_u64),
            plugin: plugin_data(),
        },
        ("ack", Some(transaction), _) => Incoming::Ack { transaction },
        ("error", transaction, _) => {
            let e = v.get("error");
            Incoming::Error {
                transaction,
                code: e.and_then(|e| e.get("code")).and_then(Value::as_i64).unwrap_or_default(),
                reason: e.and_then(|e| e.get("reason")).and_then(Value::as_str).unwrap_or_default().to_owned(),
            }
        }
        ("event", transaction, Some(sender)) => Incoming::Event {
            sender,
            transaction,
            data: plugin_data().unwrap_or(Value::Null),
            jsep: v.get("jsep").and_then(Jsep::from_json),
        },
        ("webrtcup", _, Some(sender)) => Incoming::WebrtcUp { sender },
        ("hangup", _, Some(sender)) => Incoming::Hangup {
            sender,
            reason: v.get("reason").and_then(Value::as_str).unwrap_or_default().to_owned(),
        },
        ("detached", _, Some(sender)) => Incoming::Detached { sender },
        ("timeout", _, _) => Incoming::Timeout,
        _ => Incoming::Other,
    })
}

/// A publisher in a videoroom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    pub id: u64,
    pub display: String,
}

/// What a videoroom event says (`plugindata.data`).
#[derive(Debug, Clone, PartialEq)]
pub enum RoomEvent {
    /// We joined as a publisher: our feed id, and who already publishes.
    Joined { id: u64, private_id: Option<u64>, publishers: Vec<Feed> },
    /// New publishers in the room.
    Publishers(Vec<Feed>),
    /// A publisher stopped publishing or left.
    Gone(u64),
    /// Our publish was configured (its answer travels in the jsep).
    Configured,
    /// The subscriber PeerConnection's streams, first (`attached`) or after a change
    /// (`updated`); an offer travels in the jsep.
    Streams(Vec<TrackInfo>),
    /// Our answer was taken and media starts.
    Started,
    /// The plugin refused a request.
    Error { code: i64, message: String },
    Other,
}

pub fn room_event(data: &Value) -> RoomEvent {
    let field = |name: &str| data.get(name);
    if let Some(code) = field("error_code").and_then(Value::as_i64) {
        let message = field("error").and_then(Value::as_str).unwrap_or_default().to_owned();
        return RoomEvent::Error { code, message };
    }
    match field("videoroom").and_then(Value::as_str).unwrap_or_default() {
        "joined" => RoomEvent::Joined {
            id: field("id").and_then(Value::as_u64).unwrap_or_default(),
            private_id: field("private_id").and_then(Value::as_u64),
            publishers: feeds(field("publishers")),
        },
        "attached" | "updated" => RoomEvent::Streams(tracks(field("streams"))),
        "event" => {
            if let Some(publishers) = field("publishers") {
                RoomEvent::Publishers(feeds(Some(publishers)))
            } else if let Some(id) = field("unpublished").or_else(|| field("leaving")).and_then(Value::as_u64) {
                RoomEvent::Gone(id)
            } else if field("configured").is_some() {
                RoomEvent::Configured
            } else if field("started").is_some() {
                RoomEvent::Started
            } else {
                RoomEvent::Other
            }
        }
        _ => RoomEvent::Other,
    }
}

fn feeds(list: Option<&Value>) -> Vec<Feed> {
    let Some(list) = list.and_then(Value::as_array) else { return Vec::new() };
    list.iter()
        .filter_map(|p| {
            let id = p.get("id")?.as_u64()?;
            let display = p.get("display").and_then(Value::as_str).unwrap_or_default().to_owned();
            Some(Feed { id, display })
        })
        .collect()
}

/// The subscriber m-lines that carry a feed's audio or video, named as a Ponte bridge's
/// `tracks` list would: mid → publisher (its feed id) and kind.
fn tracks(list: Option<&Value>) -> Vec<TrackInfo> {
    let Some(list) = list.and_then(Value::as_array) else { return Vec::new() };
    list.iter()
        .filter(|s| s.get("active").and_then(Value::as_bool) != Some(false))
        .filter_map(|s| {
            let kind = match s.get("type")?.as_str()? {
                "audio" => MediaKind::Audio,
                "video" => MediaKind::Video,
                _ => return None,
            };
            let mid = s.get("mid")?.as_str()?.to_owned();
            let feed = s.get("feed_id")?.as_u64()?;
            Some(TrackInfo { mid, participant_id: feed.to_string(), kind })
        })
        .collect()
}

/// A videoroom room number for a room name (Janus's rooms are numbers unless `string_ids`):
/// FNV-1a, kept below 2^53 so that every JSON implementation reads it exactly.
pub fn room_number(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h & ((1 << 53) - 1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_and_events_are_classified() {
        let ok = parse(r#"{"janus":"success","transaction":"t1","data":{"id":42}}"#);
        assert_eq!(ok, Some(Incoming::Success { transaction: "t1".into(), id: Some(42), plugin: None }));
        let err = parse(r#"{"janus":"error","transaction":"t2","error":{"code":458,"reason":"No such session"}}"#);
        assert_eq!(err, Some(Incoming::Error { transaction: Some("t2".into()), code: 458, reason: "No such session".into() }));
        let ev = parse(
            r#"{"janus":"event","session_id":1,"sender":7,"transaction":"t3","plugindata":{"plugin":"janus.plugin.videoroom",
            "data":{"videoroom":"event","room":5,"configured":"ok"}},"jsep":{"type":"answer","sdp":"v=0"}}"#,
        )
        .unwrap();
        let Incoming::Event { sender, jsep, data, .. } = ev else { panic!("not an event: {ev:?}") };
        assert_eq!((sender, jsep), (7, Some(Jsep::Answer("v=0".into()))));
        assert_eq!(room_event(&data), RoomEvent::Configured);
        assert_eq!(parse(r#"{"janus":"webrtcup","session_id":1,"sender":7}"#), Some(Incoming::WebrtcUp { sender: 7 }));
        assert_eq!(parse(r#"{"janus":"media","sender":7,"type":"audio"}"#), Some(Incoming::Other));
        assert_eq!(parse(r#"{"janus":"event"}"#), Some(Incoming::Other), "an event without sender");
        assert_eq!(parse("[1,"), None);
    }

    #[test]
    fn videoroom_events_name_feeds_and_streams() {
        let joined: Value = serde_json::from_str(
            r#"{"videoroom":"joined","room":5,"id":11,"private_id":99,
            "publishers":[{"id":12,"display":"b","streams":[]},{"display":"no id"}]}"#,
        )
        .unwrap();
        let want = RoomEvent::Joined { id: 11, private_id: Some(99), publishers: vec![Feed { id: 12, display: "b".into() }] };
        assert_eq!(room_event(&joined), want);
        let updated: Value = serde_json::from_str(
            r#"{"videoroom":"updated","room":5,"streams":[
              {"type":"audio","active":true,"mindex":0,"mid":"0","feed_id":12},
              {"type":"video","active":true,"mindex":1,"mid":"1","feed_id":12},
              {"type":"video","active":false,"mindex":2,"mid":"2"},
              {"type":"data","active":true,"mindex":3,"mid":"3"}]}"#,
        )
        .unwrap();
        let RoomEvent::Streams(tracks) = room_event(&updated) else { panic!("no streams") };
        let got: Vec<_> = tracks.iter().map(|t| (t.mid.as_str(), t.participant_id.as_str(), t.kind)).collect();
        assert_eq!(got, vec![("0", "12", MediaKind::Audio), ("1", "12", MediaKind::Video)]);
        let gone: Value = serde_json::from_str(r#"{"videoroom":"event","room":5,"leaving":12}"#).unwrap();
        assert_eq!(room_event(&gone), RoomEvent::Gone(12));
        let refused: Value = serde_json::from_str(r#"{"videoroom":"event","error_code":427,"error":"Room exists"}"#).unwrap();
        assert_eq!(room_event(&refused), RoomEvent::Error { code: 427, message: "Room exists".into() });
    }

    #[test]
    fn requests_carry_their_sdp_and_room_numbers_are_stable() {
        let m = message(1, 2, "t", publish(), Some(&Jsep::Offer("v=0".into())));
        assert_eq!(m.get("jsep").and_then(|j| j.get("type")), Some(&json!("offer")));
        assert_eq!(join_subscriber(5, Some(9), &[3, 4]).get("streams"), Some(&json!([{ "feed": 3 }, { "feed": 4 }])));
        assert_eq!(room_number("load-0"), room_number("load-0"));
        assert_ne!(room_number("load-0"), room_number("load-1"));
        assert!(room_number("load-0") < 1 << 53);
    }
}
