//! The `[ingest]` section of the bridge config.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::keys::RoomKey;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// SRT listener (UDP); every caller shares the one port.
    pub srt_enabled: bool,
    pub srt_listen: SocketAddr,
    /// SRT receive latency in milliseconds: how long SRT may spend recovering lost packets.
    pub srt_latency_ms: u64,
    /// RTMP listener (TCP).
    pub rtmp_enabled: bool,
    pub rtmp_listen: SocketAddr,
    /// How long (ms) the live participant stays after its encoder disconnects; an encoder
    /// that reconnects within it resumes the same participant without viewers renegotiating.
    pub reconnect_grace_ms: u64,
    /// Live streams this bridge takes at once (each decodes and re-encodes its audio); the
    /// next encoder is refused (SRT 2402 overload, RTMP `NetStream.Publish.Denied`).
    pub max_streams: usize,
    /// Addresses talking to the SRT port at once (handshakes in flight and live streams); a
    /// datagram from one more is dropped (`bridge_ingest_srt_dropped_total{reason="too_many_callers"}`).
    pub srt_max_callers: usize,
    /// Room → stream key (and optional SRT passphrase, display name).
    pub keys: HashMap<String, RoomKey>,
    /// Addresses told to the focus and to refused encoders, e.g. `srt://media.example.org:9000`.
    /// Empty: derived from the listeners.
    pub public_addrs: Vec<String>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            srt_enabled: true,
            srt_listen: SocketAddr::from(([0, 0, 0, 0], 9000)),
            srt_latency_ms: 120,
            rtmp_enabled: true,
            rtmp_listen: SocketAddr::from(([0, 0, 0, 0], 1935)),
            reconnect_grace_ms: 3000,
            max_streams: 16,
            srt_max_callers: 256,
            keys: HashMap::new(),
            public_addrs: Vec::new(),
        }
    }
}

impl IngestConfig {
    pub fn srt_latency(&self) -> Duration {
        Duration::from_millis(self.srt_latency_ms)
    }

    /// Errors name the key: `(key, reason)`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.srt_latency_ms > 10_000 {
            return Err(("ingest.srt_latency_ms".into(), "must be at most 10000".into()));
        }
        if self.srt_max_callers == 0 {
            return Err(("ingest.srt_max_callers".into(), "must be at least 1".into()));
        }
        if self.max_streams == 0 {
            return Err(("ingest.max_streams".into(), "must be at least 1 (remove the room keys to take no streams)".into()));
        }
        self.keys.iter().try_for_each(|(room, k)| validate_room_key(room, k))
    }
}

/// One room's key, from the config or the operator API; errors name `ingest.keys.ROOM.FIELD`.
pub fn validate_room_key(room: &str, k: &RoomKey) -> Result<(), (String, String)> {
    let key = |field: &str| format!("ingest.keys.{room}.{field}");
    if room.is_empty() || room.len() > 128 || room.contains(['/', '?', ' ', '&', ',', '=']) {
        return Err((format!("ingest.keys.{room}"), "room names are 1 to 128 characters without '/', '?', '&', ',', '=' or spaces".into()));
    }
    if k.key.len() < 8 || k.key.len() > 128 || k.key.contains(['/', '?', '&', ' ', ',', '=']) {
        return Err((key("key"), "must be 8 to 128 characters without '/', '?', '&', ',', '=' or spaces".into()));
    }
    if let Some(p) = &k.passphrase {
        if !(10..=79).contains(&p.len()) {
            return Err((key("passphrase"), "SRT passphrases are 10 to 79 characters".into()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_key() {
        let mut c = IngestConfig::default();
        c.keys.insert("town".into(), RoomKey { key: "short".into(), passphrase: None, name: None, enabled: true });
        assert_eq!(c.validate().unwrap_err().0, "ingest.keys.town.key");
        c.keys.get_mut("town").unwrap().key = "long-enough".into();
        c.keys.get_mut("town").unwrap().passphrase = Some("tiny".into());
        assert_eq!(c.validate().unwrap_err().0, "ingest.keys.town.passphrase");
        c.keys.get_mut("town").unwrap().passphrase = None;
        assert!(c.validate().is_ok());
        c.max_streams = 0;
        assert_eq!(c.validate().unwrap_err().0, "ingest.max_streams");
    }

    #[test]
    fn the_sample_documents_the_defaults() {
        let c = crate::config::BridgeConfig::from_toml(include_str!("../../bridge.sample.toml")).unwrap();
        assert_eq!(c.ingest, IngestConfig::default());
    }
}
