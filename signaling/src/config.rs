//! Signaling configuration: one typed struct, read from a TOML file, then `PONTE_SIGNALING_*`
//! environment variables and flags (later ones win). Unknown keys are refused, and a bad
//! value stops the start with the key and the reason.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use ponte_proto::signal::MAX_SDP_LEN;

use crate::error::SignalingError;

/// Smallest frame limit that still lets a client send the largest SDP the protocol allows
/// (JSON escaping of its line breaks included).
const MIN_MESSAGE_BYTES: usize = MAX_SDP_LEN + 4096;
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Everything the signaling service needs to start. `Default` is the single-machine setup.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalingConfig {
    /// HTTP listener: the web app, `/ws`, `/health`, `/ready`, `/metrics`.
    pub listen: SocketAddr,
    /// Largest client message (one WebSocket text frame), in bytes.
    pub max_message_bytes: usize,
    /// Sustained client messages per second per connection (token bucket rate).
    pub messages_per_second: u32,
    /// Messages a connection may send at once before the rate applies (bucket size).
    pub message_burst: u32,
    /// Participants per room; the next `join` gets `room_full`.
    pub max_room_size: usize,
    /// HS256 secret for client tokens. When set, `join` needs a token whose `room` claim is
    /// the room (or `*`) and whose `exp` is in the future.
    pub jwt_secret: Option<String>,
    /// The address users open, e.g. `https://meet.example.org`; logged at start.
    pub public_url: Option<String>,
    /// Messages queued for one client; a client that falls this far behind is dropped
    /// so that it never slows its room down.
    pub client_queue: usize,
    /// PEM certificate chain: serve HTTPS/WSS. Browsers give pages the camera only on
    /// localhost or over HTTPS. Needs `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
}

impl Default for SignalingConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            max_message_bytes: 65536,
            messages_per_second: 20,
            message_burst: 40,
            max_room_size: 100,
            jwt_secret: None,
            public_url: None,
            client_queue: 256,
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl SignalingConfig {
    /// Read a TOML file; errors name the key and the reason.
    pub fn from_toml(text: &str) -> Result<Self, SignalingError> {
        toml::from_str(text).map_err(|e| SignalingError::Config {
            key: e.span().map(|s| key_at(text, s.start)).unwrap_or_else(|| "<file>".into()),
            reason: e.message().to_string(),
        })
    }

    /// Apply flags and environment variables over this config.
    pub fn apply(&mut self, args: &SignalingArgs) {
        let a = args.clone();
        self.listen = a.listen.unwrap_or(self.listen);
        self.max_message_bytes = a.max_message_bytes.unwrap_or(self.max_message_bytes);
        self.messages_per_second = a.messages_per_second.unwrap_or(self.messages_per_second);
        self.message_burst = a.message_burst.unwrap_or(self.message_burst);
        self.max_room_size = a.max_room_size.unwrap_or(self.max_room_size);
        self.client_queue = a.client_queue.unwrap_or(self.client_queue);
        if a.jwt_secret.is_some() {
            self.jwt_secret = a.jwt_secret;
        }
        if a.public_url.is_some() {
            self.public_url = a.public_url;
        }
        if a.tls_cert.is_some() {
            self.tls_cert = a.tls_cert;
        }
        if a.tls_key.is_some() {
            self.tls_key = a.tls_key;
        }
    }

    /// Check values that types cannot express.
    pub fn validate(&self) -> Result<(), SignalingError> {
        let bad = |key: &str, reason: String| Err(SignalingError::Config { key: key.into(), reason });
        if !(MIN_MESSAGE_BYTES..=MAX_MESSAGE_BYTES).contains(&self.max_message_bytes) {
            return bad(
                "max_message_bytes",
                format!("must be between {MIN_MESSAGE_BYTES} (room for the largest SDP) and {MAX_MESSAGE_BYTES}"),
            );
        }
        if self.messages_per_second == 0 {
            return bad("messages_per_second", "must be at least 1".into());
        }
        if self.message_burst == 0 {
            return bad("message_burst", "must be at least 1".into());
        }
        if self.max_room_size == 0 {
            return bad("max_room_size", "must be at least 1".into());
        }
        if self.client_queue < 16 {
            return bad("client_queue", "must be at least 16 messages".into());
        }
        if self.jwt_secret.as_ref().is_some_and(|s| s.is_empty()) {
            return bad("jwt_secret", "must not be empty (leave it out to accept joins without a token)".into());
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => return bad("tls_key", "is needed with tls_cert".into()),
            (None, Some(_)) => return bad("tls_cert", "is needed with tls_key".into()),
            _ => {}
        }
        if let Some(url) = &self.public_url {
            let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
            if rest.is_none_or(|r| r.is_empty()) {
                return bad("public_url", format!("{url:?} must be an http:// or https:// URL"));
            }
        }
        Ok(())
    }
}

/// The key on the line where a TOML error points (the value's line names its key).
fn key_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = &text[start..end];
    line.split('=').next().unwrap_or(line).trim().to_string()
}

/// Flags and `PONTE_SIGNALING_*` environment variables. Argument ids carry a `signaling_`
/// prefix so that binaries can flatten these next to other services' arguments.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SignalingArgs {
    /// TOML configuration file for signaling.
    #[arg(id = "signaling_config", value_name = "FILE", long = "signaling-config", env = "PONTE_SIGNALING_CONFIG")]
    pub config: Option<PathBuf>,
    /// HTTP listener for the web app, /ws and /metrics [default: 0.0.0.0:8080].
    #[arg(id = "signaling_listen", value_name = "ADDR", long = "signaling-listen", env = "PONTE_SIGNALING_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Largest client message in bytes [default: 65536].
    #[arg(id = "signaling_max_message_bytes", value_name = "BYTES", long = "max-message-bytes", env = "PONTE_SIGNALING_MAX_MESSAGE_BYTES")]
    pub max_message_bytes: Option<usize>,
    /// Sustained client messages per second per connection [default: 20].
    #[arg(id = "signaling_messages_per_second", value_name = "N", long = "messages-per-second", env = "PONTE_SIGNALING_MESSAGES_PER_SECOND")]
    pub messages_per_second: Option<u32>,
    /// Client messages allowed in a burst [default: 40].
    #[arg(id = "signaling_message_burst", value_name = "N", long = "message-burst", env = "PONTE_SIGNALING_MESSAGE_BURST")]
    pub message_burst: Option<u32>,
    /// Participants per room [default: 100].
    #[arg(id = "signaling_max_room_size", value_name = "N", long = "max-room-size", env = "PONTE_SIGNALING_MAX_ROOM_SIZE")]
    pub max_room_size: Option<usize>,
    /// HS256 secret; when set, joins need a token.
    #[arg(id = "signaling_jwt_secret", value_name = "SECRET", long = "jwt-secret", env = "PONTE_SIGNALING_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// The address users open, e.g. `https://meet.example.org`.
    #[arg(id = "signaling_public_url", value_name = "URL", long = "public-url", env = "PONTE_SIGNALING_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Messages queued per client before a slow client is dropped [default: 256].
    #[arg(id = "signaling_client_queue", value_name = "N", long = "client-queue", env = "PONTE_SIGNALING_CLIENT_QUEUE")]
    pub client_queue: Option<usize>,
    /// PEM certificate chain; serve HTTPS and WSS (needs --tls-key).
    #[arg(id = "signaling_tls_cert", value_name = "FILE", long = "tls-cert", env = "PONTE_SIGNALING_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(id = "signaling_tls_key", value_name = "FILE", long = "tls-key", env = "PONTE_SIGNALING_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
}

impl SignalingArgs {
    /// File, then env and flags, then validation.
    pub fn load(&self) -> Result<SignalingConfig, SignalingError> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| SignalingError::Config {
                    key: "signaling-config".into(),
                    reason: format!("cannot read {}: {e}", path.display()),
                })?;
                SignalingConfig::from_toml(&text)?
            }
            None => SignalingConfig::default(),
        };
        config.apply(self);
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SignalingArgs,
    }

    fn config_error(r: Result<SignalingConfig, SignalingError>) -> (String, String) {
        match r {
            Err(SignalingError::Config { key, reason }) => (key, reason),
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_valid() {
        let c = SignalingConfig::default();
        c.validate().unwrap();
        assert_eq!(c.listen.port(), 8080);
        assert_eq!((c.messages_per_second, c.message_burst, c.max_room_size), (20, 40, 100));
    }

    #[test]
    fn sample_file_shows_the_defaults() {
        let sample = include_str!("../signaling.sample.toml");
        assert_eq!(SignalingConfig::from_toml(sample).unwrap(), SignalingConfig::default());
        // The commented-out keys are real keys too.
        let uncommented = sample.replace("# jwt_secret", "jwt_secret").replace("# public_url", "public_url");
        let c = SignalingConfig::from_toml(&uncommented).unwrap();
        c.validate().unwrap();
        assert!(c.jwt_secret.is_some() && c.public_url.is_some());
    }

    #[test]
    fn toml_errors_name_the_key() {
        let (key, reason) = config_error(SignalingConfig::from_toml("listen = \"0.0.0.0:1\"\nmax_room_size = \"many\"\n"));
        assert_eq!(key, "max_room_size");
        assert!(reason.contains("invalid type"), "{reason}");
        let (key, reason) = config_error(SignalingConfig::from_toml("colour = 1\n"));
        assert_eq!(key, "colour");
        assert!(reason.contains("unknown field"), "{reason}");
        let c = SignalingConfig::from_toml("max_room_size = 3\njwt_secret = \"s3cret\"\n").unwrap();
        assert_eq!((c.max_room_size, c.jwt_secret.as_deref()), (3, Some("s3cret")));
    }

    #[test]
    fn validation_names_the_key() {
        let mut c = SignalingConfig { max_room_size: 0, ..Default::default() };
        assert_eq!(config_error(c.validate().map(|_| c.clone())).0, "max_room_size");
        c = SignalingConfig { max_message_bytes: 100, ..Default::default() };
        assert_eq!(config_error(c.validate().map(|_| c.clone())).0, "max_message_bytes");
        c = SignalingConfig { public_url: Some("meet.example.org".into()), ..Default::default() };
        assert_eq!(config_error(c.validate().map(|_| c.clone())).0, "public_url");
        c = SignalingConfig { jwt_secret: Some(String::new()), ..Default::default() };
        assert_eq!(config_error(c.validate().map(|_| c.clone())).0, "jwt_secret");
    }

    #[test]
    fn flags_override_the_file() {
        let dir = std::env::temp_dir().join(format!("ponte-signaling-{}", rand::random::<u32>()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("signaling.toml");
        std::fs::write(&file, "max_room_size = 7\nmessages_per_second = 5\n").unwrap();
        let cli = Cli::try_parse_from([
            "x",
            "--signaling-config",
            file.to_str().unwrap(),
            "--max-room-size",
            "9",
            "--signaling-listen",
            "127.0.0.1:0",
        ])
        .unwrap();
        let c = cli.args.load().unwrap();
        assert_eq!((c.max_room_size, c.messages_per_second, c.listen.port()), (9, 5, 0));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
