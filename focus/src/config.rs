//! Focus configuration: one typed struct, read from a TOML file, then `PONTE_FOCUS_*`
//! environment variables and flags (later ones win). Unknown keys are refused, and every
//! error names the key and the reason.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Everything a focus needs. `Default` is the single-machine setup.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FocusConfig {
    /// HTTP listener: `/v1/bridge-link`, the operator API, `/health`, `/ready`, `/metrics`.
    pub listen: SocketAddr,
    /// Shared secret. When set, bridges send `Authorization: Bearer <secret>` on the link
    /// upgrade and operator API calls must carry the same header.
    pub secret: Option<String>,
    /// A bridge that has said nothing for this long is dead (seconds in TOML).
    #[serde(deserialize_with = "seconds")]
    pub heartbeat_timeout: Duration,
    /// New conferences prefer bridges in this region when one can take them.
    pub prefer_region: Option<String>,
    /// A bridge at or above this stress (0..1, corrected for joins since its last report)
    /// takes a new conference only when every usable bridge is (last resort).
    pub stress_ceiling: f64,
    /// A bridge with this many participants takes no new conference; 0: no limit.
    pub max_participants_per_bridge: u32,
    /// Stress one join adds to a bridge until its next stats report.
    pub join_stress: f64,
}

impl Default for FocusConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8888)),
            secret: None,
            heartbeat_timeout: Duration::from_secs(3),
            prefer_region: None,
            stress_ceiling: 0.9,
            max_participants_per_bridge: 0,
            join_stress: 0.01,
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
#[error("bad focus config: `{key}`: {reason}")]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { key: key.into(), reason: reason.into() }
    }
}

impl FocusConfig {
    /// Parse a TOML document (every key optional) and validate it.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| {
            // toml names unknown keys in its message; for bad values the span is the value.
            let key = e.span().map(|s| key_at(text, s.start)).unwrap_or_else(|| "<file>".into());
            ConfigError::new(key, e.message().trim())
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Check what types cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.secret.as_deref().is_some_and(str::is_empty) {
            return Err(ConfigError::new("secret", "must not be empty (leave it unset instead)"));
        }
        if self.heartbeat_timeout.is_zero() {
            return Err(ConfigError::new("heartbeat_timeout", "must be longer than zero"));
        }
        if self.prefer_region.as_deref().is_some_and(str::is_empty) {
            return Err(ConfigError::new("prefer_region", "must not be empty"));
        }
        if !(self.stress_ceiling > 0.0 && self.stress_ceiling <= 1.0) {
            return Err(ConfigError::new("stress_ceiling", "must be above 0 and at most 1"));
        }
        if !(0.0..=1.0).contains(&self.join_stress) {
            return Err(ConfigError::new("join_stress", "must be between 0 and 1"));
        }
        Ok(())
    }
}

/// The key on the line holding byte `pos`, so that a bad value's error names its key.
fn key_at(text: &str, pos: usize) -> String {
    let start = text[..pos.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    match line.split_once('=') {
        Some((key, _)) => key.trim().to_string(),
        None => line.trim().to_string(),
    }
}

impl FocusConfig {
    /// The placement limits.
    pub fn policy(&self) -> crate::placement::Policy {
        crate::placement::Policy {
            join_stress: self.join_stress,
            stress_ceiling: self.stress_ceiling,
            max_participants: self.max_participants_per_bridge,
        }
    }
}

fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let secs = f64::deserialize(d)?;
    Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
}

/// Flags and `PONTE_FOCUS_*` environment variables. Flag names carry a `focus-` prefix
/// where a bare name could clash with another service's flags in the all-in-one binary.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FocusArgs {
    /// TOML configuration file.
    #[arg(id = "focus_config", long = "focus-config", env = "PONTE_FOCUS_CONFIG")]
    pub config: Option<PathBuf>,
    /// HTTP listener for the bridge link, operator API and probes [default: 0.0.0.0:8888].
    #[arg(id = "focus_listen", long = "focus-listen", env = "PONTE_FOCUS_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Shared secret for the bridge link and the operator API.
    #[arg(id = "focus_secret", long = "focus-secret", env = "PONTE_FOCUS_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Seconds of silence after which a bridge is dead [default: 3].
    #[arg(id = "focus_heartbeat_timeout", long = "heartbeat-timeout", env = "PONTE_FOCUS_HEARTBEAT_TIMEOUT")]
    pub heartbeat_timeout: Option<f64>,
    /// Region that new conferences prefer.
    #[arg(id = "focus_prefer_region", long = "prefer-region", env = "PONTE_FOCUS_PREFER_REGION")]
    pub prefer_region: Option<String>,
    /// Stress (0..1) at which a bridge takes no new conference [default: 0.9].
    #[arg(id = "focus_stress_ceiling", long = "stress-ceiling", env = "PONTE_FOCUS_STRESS_CEILING")]
    pub stress_ceiling: Option<f64>,
    /// Participants at which a bridge takes no new conference, 0 for no limit [default: 0].
    #[arg(id = "focus_max_participants", long = "max-participants-per-bridge", env = "PONTE_FOCUS_MAX_PARTICIPANTS_PER_BRIDGE")]
    pub max_participants_per_bridge: Option<u32>,
}

impl FocusArgs {
    /// Defaults, then the file, then env and flags, then validation.
    pub fn load(&self) -> Result<FocusConfig, ConfigError> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError::new("focus-config", format!("cannot read {}: {e}", path.display()))
                })?;
                FocusConfig::from_toml(&text).map_err(|e| ConfigError {
                    reason: format!("{} (in {})", e.reason, path.display()),
                    ..e
                })?
            }
            None => FocusConfig::default(),
        };
        self.apply(&mut config)?;
        config.validate()?;
        Ok(config)
    }

    fn apply(&self, config: &mut FocusConfig) -> Result<(), ConfigError> {
        if let Some(v) = self.listen {
            config.listen = v;
        }
        if let Some(v) = &self.secret {
            config.secret = Some(v.clone());
        }
        if let Some(v) = self.heartbeat_timeout {
            config.heartbeat_timeout = Duration::try_from_secs_f64(v)
                .map_err(|e| ConfigError::new("heartbeat_timeout", e.to_string()))?;
        }
        if let Some(v) = &self.prefer_region {
            config.prefer_region = Some(v.clone());
        }
        if let Some(v) = self.stress_ceiling {
            config.stress_ceiling = v;
        }
        if let Some(v) = self.max_participants_per_bridge {
            config.max_participants_per_bridge = v;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_config_is_the_default() {
        let c = FocusConfig::from_toml(include_str!("../focus.sample.toml")).unwrap();
        assert_eq!(c, FocusConfig::default());
    }

    #[test]
    fn values_are_read() {
        let c = FocusConfig::from_toml(
            "listen = \"127.0.0.1:9999\"\nsecret = \"s\"\nheartbeat_timeout = 2.5\n",
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9999);
        assert_eq!(c.secret.as_deref(), Some("s"));
        assert_eq!(c.heartbeat_timeout, Duration::from_millis(2500));
    }

    #[test]
    fn unknown_key_is_named() {
        let e = FocusConfig::from_toml("lisen = \"0.0.0.0:1\"\n").unwrap_err();
        assert!(e.to_string().contains("lisen"), "{e}");
    }

    #[test]
    fn bad_value_names_its_key() {
        let e = FocusConfig::from_toml("secret = \"x\"\nlisten = \"nowhere\"\n").unwrap_err();
        assert_eq!(e.key, "listen", "{e}");
        let e = FocusConfig::from_toml("heartbeat_timeout = -1\n").unwrap_err();
        assert_eq!(e.key, "heartbeat_timeout", "{e}");
        let e = FocusConfig::from_toml("heartbeat_timeout = 0\n").unwrap_err();
        assert_eq!(e.key, "heartbeat_timeout", "{e}");
        let e = FocusConfig::from_toml("secret = \"\"\n").unwrap_err();
        assert_eq!(e.key, "secret", "{e}");
    }

    #[test]
    fn flags_override_file_values() {
        let args = FocusArgs {
            listen: Some("127.0.0.1:1".parse().unwrap()),
            heartbeat_timeout: Some(3.0),
            ..Default::default()
        };
        let c = args.load().unwrap();
        assert_eq!(c.listen.port(), 1);
        assert_eq!(c.heartbeat_timeout, Duration::from_secs(3));
        let bad = FocusArgs { heartbeat_timeout: Some(f64::NAN), ..Default::default() };
        assert_eq!(bad.load().unwrap_err().key, "heartbeat_timeout");
    }
}
