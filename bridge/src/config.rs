//! Bridge configuration: one typed struct, read from a TOML file, then `PONTE_BRIDGE_*`
//! environment variables and flags (later ones win). Unknown keys are refused.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::error::BridgeError;
use crate::forwarding::config::QualityConfig;
use crate::ingest::IngestConfig;

/// Everything a bridge needs to start. `Default` is the single-machine setup.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BridgeConfig {
    /// Unique name reported to the focus. Default: `bridge-<hostname>`-like random id.
    pub bridge_id: String,
    /// Region label for region-aware placement.
    pub region: Option<String>,
    /// Address the media socket binds to.
    pub bind_ip: IpAddr,
    /// The one UDP port for all WebRTC media.
    pub media_port: u16,
    /// Addresses advertised in ICE candidates. Empty: the bind address if it is specific,
    /// else every interface address.
    pub public_ip: Vec<IpAddr>,
    /// `/health`, `/ready`, `/metrics`, `/v1/stats`.
    pub http_listen: SocketAddr,
    /// Focus link, e.g. `ws://127.0.0.1:8888/v1/bridge-link`. None: in-process (all-in-one).
    pub focus_url: Option<String>,
    /// Shared secret for the focus link.
    pub secret: Option<String>,
    /// How often load is reported to the focus.
    #[serde(with = "humantime_secs")]
    pub stats_interval: Duration,
    /// Endpoints at which the bridge reports stress 1.0.
    pub max_endpoints: u32,
    /// Packets per second (in + out) at which the bridge reports stress 1.0.
    pub full_packet_rate: u32,
    /// Conferences this bridge hosts at most; an offer for one more is refused.
    pub max_conferences: u32,
    /// Endpoints still in their ICE/DTLS handshake at most; an offer for one more is refused.
    pub max_pending_endpoints: u32,
    /// How long a draining bridge (SIGTERM or an operator's drain) waits for its conferences
    /// to end before it has the focus move what is left and exits. Zero: move at once.
    #[serde(rename = "drain_deadline_secs", with = "humantime_secs")]
    pub drain_deadline: Duration,
    /// Shortest gap between two key-frame requests sent to one publisher's track.
    #[serde(with = "humantime_millis")]
    pub keyframe_request_interval: Duration,
    /// SRT and RTMP ingest (`[ingest]`); listeners open only when a room has a key.
    pub ingest: IngestConfig,
    /// Simulcast, bandwidth estimation, last-N and dominant speaker (`[quality]`).
    pub quality: QualityConfig,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            bridge_id: format!("bridge-{:08x}", rand::random::<u32>()),
            region: None,
            bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            media_port: 10000,
            public_ip: Vec::new(),
            http_listen: SocketAddr::from(([0, 0, 0, 0], 8081)),
            focus_url: None,
            secret: None,
            stats_interval: Duration::from_secs(1),
            max_endpoints: 500,
            // One engine task forwards everything; a release build spends about 40 µs of CPU
            // per forwarded packet on a small cloud core (docs/performance.md), so one core
            // is full at some 25 000 packets out, with the packets in on top.
            full_packet_rate: 50_000,
            max_conferences: 1000,
            max_pending_endpoints: 200,
            drain_deadline: Duration::from_secs(300),
            keyframe_request_interval: Duration::from_millis(300),
            ingest: IngestConfig::default(),
            quality: QualityConfig::default(),
        }
    }
}

impl BridgeConfig {
    /// Read a TOML file; errors name the key and the reason.
    pub fn from_toml(text: &str) -> Result<Self, BridgeError> {
        toml::from_str(text).map_err(|e| BridgeError::Config {
            key: e.span().map(|s| text[s].to_string()).unwrap_or_else(|| "<file>".into()),
            reason: e.message().to_string(),
        })
    }

    /// Apply flags and environment variables over this config.
    pub fn apply(&mut self, args: &BridgeArgs) {
        if let Some(v) = &args.bridge_id {
            self.bridge_id = v.clone();
        }
        if let Some(v) = &args.region {
            self.region = Some(v.clone());
        }
        if let Some(v) = args.bind_ip {
            self.bind_ip = v;
        }
        if let Some(v) = args.media_port {
            self.media_port = v;
        }
        if !args.public_ip.is_empty() {
            self.public_ip = args.public_ip.clone();
        }
        if let Some(v) = args.http_listen {
            self.http_listen = v;
        }
        if let Some(v) = &args.focus {
            self.focus_url = Some(v.clone());
        }
        if let Some(v) = &args.secret {
            self.secret = Some(v.clone());
        }
        if let Some(v) = args.max_endpoints {
            self.max_endpoints = v;
        }
        if let Some(v) = args.full_packet_rate {
            self.full_packet_rate = v;
        }
        if let Some(v) = args.max_conferences {
            self.max_conferences = v;
        }
        if let Some(v) = args.max_pending_endpoints {
            self.max_pending_endpoints = v;
        }
        if let Some(v) = args.drain_deadline_secs {
            // Negative, NaN or huge: out of range, so that validate() names the key.
            self.drain_deadline = Duration::try_from_secs_f64(v).unwrap_or(Duration::MAX);
        }
    }

    /// Check values that types cannot express.
    pub fn validate(&self) -> Result<(), BridgeError> {
        let bad = |key: &str, reason: &str| {
            Err(BridgeError::Config { key: key.into(), reason: reason.into() })
        };
        if self.bridge_id.is_empty() || self.bridge_id.len() > 64 {
            return bad("bridge_id", "must be 1 to 64 characters");
        }
        if let Some(ip) = self.public_ip.iter().find(|ip| ip.is_unspecified()) {
            return bad("public_ip", &format!("{ip} is not an address a browser can reach"));
        }
        if self.max_endpoints == 0 {
            return bad("max_endpoints", "must be at least 1");
        }
        if self.full_packet_rate == 0 {
            return bad("full_packet_rate", "must be at least 1");
        }
        if self.max_conferences == 0 {
            return bad("max_conferences", "must be at least 1");
        }
        if self.max_pending_endpoints == 0 {
            return bad("max_pending_endpoints", "must be at least 1");
        }
        if self.drain_deadline > Duration::from_secs(7 * 24 * 3600) {
            return bad("drain_deadline_secs", "must be a number of seconds from 0 to 604800");
        }
        if self.stats_interval.is_zero() {
            return bad("stats_interval", "must be longer than zero");
        }
        if let Err((key, reason)) = self.ingest.validate() {
            return bad(&key, &reason);
        }
        if let Err((key, reason)) = self.quality.validate() {
            return bad(&key, &reason);
        }
        if let Some(url) = &self.focus_url {
            if !(url.starts_with("ws://") || url.starts_with("wss://")) {
                return bad("focus_url", "must be a ws:// or wss:// URL");
            }
        }
        Ok(())
    }
}

/// Flags and `PONTE_BRIDGE_*` environment variables.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BridgeArgs {
    /// TOML configuration file.
    #[arg(id = "bridge_config", long = "bridge-config", env = "PONTE_BRIDGE_CONFIG")]
    pub config: Option<PathBuf>,
    #[arg(id = "bridge_bridge_id", long = "bridge-id", env = "PONTE_BRIDGE_ID")]
    pub bridge_id: Option<String>,
    #[arg(id = "bridge_region", long = "region", env = "PONTE_BRIDGE_REGION")]
    pub region: Option<String>,
    /// Address the media socket binds to [default: 0.0.0.0].
    #[arg(id = "bridge_bind_ip", long = "bind-ip", env = "PONTE_BRIDGE_BIND_IP")]
    pub bind_ip: Option<IpAddr>,
    /// UDP port for all WebRTC media [default: 10000].
    #[arg(id = "bridge_media_port", long = "media-port", env = "PONTE_BRIDGE_MEDIA_PORT")]
    pub media_port: Option<u16>,
    /// Address to advertise in ICE candidates (repeatable).
    #[arg(id = "bridge_public_ip", long = "public-ip", env = "PONTE_BRIDGE_PUBLIC_IP", value_delimiter = ',')]
    pub public_ip: Vec<IpAddr>,
    /// HTTP listener for /health, /ready, /metrics [default: 0.0.0.0:8081].
    #[arg(id = "bridge_http_listen", long = "bridge-http", env = "PONTE_BRIDGE_HTTP")]
    pub http_listen: Option<SocketAddr>,
    /// Focus bridge-link URL, e.g. ws://127.0.0.1:8888/v1/bridge-link.
    #[arg(id = "bridge_focus", long = "focus", env = "PONTE_BRIDGE_FOCUS")]
    pub focus: Option<String>,
    /// Shared secret for the focus link.
    #[arg(id = "bridge_secret", long = "secret", env = "PONTE_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Endpoints at which the bridge reports full stress [default: 500].
    #[arg(id = "bridge_max_endpoints", long = "max-endpoints", env = "PONTE_BRIDGE_MAX_ENDPOINTS")]
    pub max_endpoints: Option<u32>,
    /// Packets per second (in + out) at which the bridge reports full stress [default: 50000].
    #[arg(id = "bridge_full_packet_rate", long = "full-packet-rate", env = "PONTE_BRIDGE_FULL_PACKET_RATE")]
    pub full_packet_rate: Option<u32>,
    /// Conferences this bridge hosts at most [default: 1000].
    #[arg(id = "bridge_max_conferences", long = "max-conferences", env = "PONTE_BRIDGE_MAX_CONFERENCES")]
    pub max_conferences: Option<u32>,
    /// Endpoints in their ICE/DTLS handshake at most [default: 200].
    #[arg(id = "bridge_max_pending_endpoints", long = "max-pending-endpoints", env = "PONTE_BRIDGE_MAX_PENDING_ENDPOINTS")]
    pub max_pending_endpoints: Option<u32>,
    /// Seconds a draining bridge waits for its conferences to end before it has the focus
    /// move them and exits [default: 300].
    #[arg(id = "bridge_drain_deadline_secs", long = "drain-deadline-secs", env = "PONTE_BRIDGE_DRAIN_DEADLINE_SECS")]
    pub drain_deadline_secs: Option<f64>,
}

impl BridgeArgs {
    /// File, then env and flags, then validation.
    pub fn load(&self) -> Result<BridgeConfig, BridgeError> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| BridgeError::Config {
                    key: "bridge-config".into(),
                    reason: format!("cannot read {}: {e}", path.display()),
                })?;
                BridgeConfig::from_toml(&text)?
            }
            None => BridgeConfig::default(),
        };
        config.apply(self);
        config.validate()?;
        Ok(config)
    }
}

mod humantime_secs {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        f64::deserialize(d).and_then(|s| {
            Duration::try_from_secs_f64(s).map_err(serde::de::Error::custom)
        })
    }
}

mod humantime_millis {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_config_loads() {
        let text = include_str!("../bridge.sample.toml");
        let c = BridgeConfig::from_toml(text).unwrap();
        c.validate().unwrap();
        assert_eq!(c.media_port, 10000);
        assert_eq!(c.drain_deadline, BridgeConfig::default().drain_deadline, "the sample documents the default");
        assert_eq!(c.stats_interval, BridgeConfig::default().stats_interval);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = BridgeConfig::from_toml("media_prot = 5\n").unwrap_err().to_string();
        assert!(e.contains("media_prot"), "{e}");
    }

    #[test]
    fn bad_value_is_named() {
        let e = BridgeConfig::from_toml("media_port = \"x\"\n").unwrap_err().to_string();
        assert!(e.contains("media_port") || e.contains("\"x\""), "{e}");
        let c = BridgeConfig { public_ip: vec!["0.0.0.0".parse().unwrap()], ..Default::default() };
        assert!(c.validate().unwrap_err().to_string().contains("public_ip"));
        let e = BridgeConfig::from_toml("drain_deadline_secs = -1\n").unwrap_err().to_string();
        assert!(e.contains("drain_deadline_secs") || e.contains("-1"), "{e}");
        let mut c = BridgeConfig::default();
        c.apply(&BridgeArgs { drain_deadline_secs: Some(f64::NAN), ..Default::default() });
        assert!(c.validate().unwrap_err().to_string().contains("drain_deadline_secs"));
        c.apply(&BridgeArgs { drain_deadline_secs: Some(2.5), ..Default::default() });
        assert_eq!(c.drain_deadline, Duration::from_millis(2500));
    }
}
