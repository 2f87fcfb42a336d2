//! Stream keys and who may publish where: parsing the stream ids encoders send, checking keys,
//! and the one-publisher-per-room rule.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use serde::Deserialize;
use subtle::ConstantTimeEq;

/// One room's ingest policy, from the `[ingest.keys.ROOM]` table of the bridge config.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RoomKey {
    /// The stream key an encoder must present.
    pub key: String,
    /// SRT AES passphrase (10 to 79 characters); None: unencrypted SRT.
    #[serde(default)]
    pub passphrase: Option<String>,
    /// Shown to the room as `live: NAME`; default: the room name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// Why an encoder is turned away; each has a metrics label and words for the log and the encoder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("stream id not understood (use ROOM/KEY or #!::r=ROOM,m=publish,s=KEY)")]
    BadStreamId,
    #[error("no ingest is configured for room {0}")]
    UnknownRoom(String),
    #[error("wrong stream key for room {0}")]
    WrongKey(String),
    #[error("ingest into room {0} is disabled")]
    Disabled(String),
    #[error("room {0} already has a live stream")]
    InUse(String),
    #[error("room {room} is hosted by bridge {bridge}; push to its ingest address {addr}")]
    OtherBridge { room: String, bridge: String, addr: String },
    #[error("this bridge takes at most {0} live streams at once")]
    TooManyStreams(usize),
    #[error("{0}")]
    Unsupported(String),
}

impl Refusal {
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::BadStreamId => "bad_stream_id",
            Refusal::UnknownRoom(_) => "unknown_room",
            Refusal::WrongKey(_) => "wrong_key",
            Refusal::Disabled(_) => "disabled",
            Refusal::InUse(_) => "in_use",
            Refusal::OtherBridge { .. } => "other_bridge",
            Refusal::TooManyStreams(_) => "stream_limit",
            Refusal::Unsupported(_) => "unsupported",
        }
    }
}

/// Where an encoder wants to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamTarget {
    pub room: String,
    pub key: String,
}

/// SRT stream id: `#!::r=ROOM,m=publish,s=KEY` (SRT Access Control) or `ROOM/KEY`.
pub fn parse_srt_stream_id(id: &str) -> Option<StreamTarget> {
    // Some encoders send the '#' still URL-encoded.
    if let Some(acl) = id.strip_prefix("#!::").or_else(|| id.strip_prefix("%23!::")) {
        let (mut room, mut key) = (None, None);
        for entry in acl.split(',') {
            let (k, v) = entry.split_once('=')?;
            match k {
                "r" => room = Some(v),
                "s" => key = Some(v),
                "m" if v != "publish" => return None,
                _ => {}
            }
        }
        return target(room?, key?);
    }
    let (room, key) = id.split_once('/')?;
    target(room, key)
}

/// RTMP: `rtmp://HOST/live/ROOM?key=KEY`, or app `live` with stream key `ROOM/KEY` (OBS).
/// Encoders split app and stream name differently, so both are joined and read as one path.
pub fn parse_rtmp(app: &str, stream: &str) -> Option<StreamTarget> {
    let path = format!("{}/{}", app.trim_matches('/'), stream.trim_matches('/'));
    let path = path.strip_prefix("live/").unwrap_or(&path);
    if let Some((room, query)) = path.split_once('?') {
        let key = query.split('&').find_map(|kv| kv.strip_prefix("key="))?;
        return target(room.trim_end_matches('/'), key);
    }
    let (room, key) = path.rsplit_once('/')?;
    target(room, key)
}

fn target(room: &str, key: &str) -> Option<StreamTarget> {
    let ok = |s: &str| !s.is_empty() && s.len() <= 128 && !s.contains(['/', '?', ' ']);
    (ok(room) && ok(key)).then(|| StreamTarget { room: room.to_owned(), key: key.to_owned() })
}

/// The configured keys plus the rooms live right now; shared by every listener.
#[derive(Debug, Clone)]
pub struct KeyRing {
    /// Shared with the operator API, which adds, changes and removes rooms at run time.
    keys: Arc<RwLock<HashMap<String, RoomKey>>>,
    live: Arc<Mutex<HashSet<String>>>,
    /// Rooms live at once, at most (`[ingest] max_streams`).
    max_live: usize,
}

impl KeyRing {
    pub fn new(keys: HashMap<String, RoomKey>, max_live: usize) -> Self {
        Self { keys: Arc::new(RwLock::new(keys)), live: Arc::default(), max_live }
    }

    /// The room's policy if the key is right (compared in constant time).
    pub fn check(&self, t: &StreamTarget) -> Result<RoomKey, Refusal> {
        let keys = self.keys.read().expect("the key lock is never held across a panic");
        let entry = keys.get(&t.room).ok_or_else(|| Refusal::UnknownRoom(t.room.clone()))?.clone();
        if !bool::from(entry.key.as_bytes().ct_eq(t.key.as_bytes())) {
            return Err(Refusal::WrongKey(t.room.clone()));
        }
        if !entry.enabled {
            return Err(Refusal::Disabled(t.room.clone()));
        }
        Ok(entry)
    }

    /// Passphrase for an SRT caller's stream id, if its key is right.
    pub fn passphrase(&self, t: &StreamTarget) -> Result<Option<String>, Refusal> {
        self.check(t).map(|e| e.passphrase.clone())
    }

    /// Claim the room for one publisher; the guard frees it when dropped.
    pub fn claim(&self, room: &str) -> Result<LiveGuard, Refusal> {
        let mut live = self.live.lock().expect("the live set lock is never held across a panic");
        if live.contains(room) {
            return Err(Refusal::InUse(room.to_owned()));
        }
        if live.len() >= self.max_live {
            return Err(Refusal::TooManyStreams(self.max_live));
        }
        live.insert(room.to_owned());
        Ok(LiveGuard { room: room.to_owned(), live: self.live.clone() })
    }

    pub fn display_name(&self, room: &str) -> String {
        let keys = self.keys.read().expect("the key lock is never held across a panic");
        let name = keys.get(room).and_then(|k| k.name.clone()).unwrap_or_else(|| room.to_owned());
        format!("live: {name}")
    }
}

impl KeyRing {
    /// Add or replace a room's key (operator API). Streams already live keep going.
    pub fn set(&self, room: &str, key: RoomKey) {
        self.keys.write().expect("the key lock is never held across a panic").insert(room.to_owned(), key);
    }

    /// Remove a room's key; false if it had none.
    pub fn remove(&self, room: &str) -> bool {
        self.keys.write().expect("the key lock is never held across a panic").remove(room).is_some()
    }

    /// The rooms that take streams, with whether each is enabled and live (never the keys).
    pub fn rooms(&self) -> Vec<(String, bool, bool)> {
        let keys = self.keys.read().expect("the key lock is never held across a panic");
        let live = self.live.lock().expect("the live set lock is never held across a panic");
        let mut v: Vec<_> = keys.iter().map(|(r, k)| (r.clone(), k.enabled, live.contains(r))).collect();
        v.sort();
        v
    }
}

/// Holds a room's one publishing slot.
#[derive(Debug)]
pub struct LiveGuard {
    room: String,
    live: Arc<Mutex<HashSet<String>>>,
}

impl LiveGuard {
    pub fn room(&self) -> &str {
        &self.room
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        if let Ok(mut live) = self.live.lock() {
            live.remove(&self.room);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(room: &str, key: &str) -> Option<StreamTarget> {
        Some(StreamTarget { room: room.into(), key: key.into() })
    }

    #[test]
    fn srt_stream_ids() {
        assert_eq!(parse_srt_stream_id("#!::r=town,m=publish,s=abc"), t("town", "abc"));
        assert_eq!(parse_srt_stream_id("#!::s=abc,r=town"), t("town", "abc"));
        assert_eq!(parse_srt_stream_id("%23!::r=town,s=abc"), t("town", "abc"));
        assert_eq!(parse_srt_stream_id("#!::r=town,m=request,s=abc"), None);
        assert_eq!(parse_srt_stream_id("town/abc"), t("town", "abc"));
        assert_eq!(parse_srt_stream_id("town"), None);
        assert_eq!(parse_srt_stream_id("/abc"), None);
    }

    #[test]
    fn rtmp_paths() {
        assert_eq!(parse_rtmp("live", "town?key=abc"), t("town", "abc"));
        assert_eq!(parse_rtmp("live/town", "?key=abc"), t("town", "abc"));
        assert_eq!(parse_rtmp("live", "town/abc"), t("town", "abc"));
        assert_eq!(parse_rtmp("live/town", "abc"), t("town", "abc"));
        assert_eq!(parse_rtmp("live", "town"), None);
    }

    #[test]
    fn keys_and_one_publisher_per_room() {
        let mut keys = HashMap::new();
        keys.insert("town".into(), RoomKey { key: "abc".into(), passphrase: None, name: None, enabled: true });
        keys.insert("off".into(), RoomKey { key: "k".into(), passphrase: None, name: None, enabled: false });
        keys.insert("second".into(), RoomKey { key: "k2".into(), passphrase: None, name: None, enabled: true });
        let ring = KeyRing::new(keys, 1);
        assert!(ring.check(&t("town", "abc").unwrap()).is_ok());
        assert_eq!(ring.check(&t("town", "abd").unwrap()).unwrap_err().label(), "wrong_key");
        assert_eq!(ring.check(&t("x", "abc").unwrap()).unwrap_err().label(), "unknown_room");
        assert_eq!(ring.check(&t("off", "k").unwrap()).unwrap_err().label(), "disabled");
        let g = ring.claim("town").unwrap();
        assert_eq!(ring.claim("town").unwrap_err().label(), "in_use");
        assert_eq!(ring.claim("second").unwrap_err(), Refusal::TooManyStreams(1), "one stream per bridge here");
        drop(g);
        let second = ring.claim("second").expect("a freed slot takes the next stream");
        assert_eq!(ring.claim("town").unwrap_err().label(), "stream_limit");
        drop(second);
        assert!(ring.claim("town").is_ok(), "a reconnecting encoder gets the room back");
        assert_eq!(ring.display_name("town"), "live: town");
    }
}
