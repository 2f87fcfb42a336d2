//! The `[quality]` section of the bridge config: simulcast, bandwidth, last-N, speakers.

use std::time::Duration;

use serde::Deserialize;

use super::speaker::SpeakerConfig;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QualityConfig {
    /// Videos a receiver gets at most, ordered by recent speech; -1: no limit. Receivers may
    /// ask for fewer or more over the data channel.
    pub last_n: i32,
    /// Choose a simulcast layer per receiver. Off: every receiver gets the highest layer a
    /// publisher sends.
    pub simulcast: bool,
    /// Estimate each receiver's downlink (TWCC, str0m's GCC) and fit its layers into it.
    /// Off: layers follow constraints only.
    pub bandwidth_estimation: bool,
    /// The estimate a receiver starts from, before feedback arrives.
    pub initial_bitrate_kbps: u64,
    /// Share of the estimate given to video; the rest is headroom for audio, RTCP and
    /// retransmissions.
    pub video_share: f64,
    /// How often each receiver's layers are re-planned (also on every speaker or
    /// constraint change).
    pub allocation_interval_ms: u64,
    /// A new dominant speaker must be louder than the current one for this long.
    pub speaker_hold_ms: u64,
    /// Loudness (dBov, negative) above which a participant counts as speaking.
    pub speech_threshold_dbov: i8,
    /// Forward audio only from this many of the loudest participants of a room; 0: from all.
    pub audio_loudest: u32,
}

impl Default for QualityConfig {
    fn default() -> Self {
        Self {
            last_n: -1,
            simulcast: true,
            bandwidth_estimation: true,
            initial_bitrate_kbps: 1_000,
            video_share: 0.85,
            allocation_interval_ms: 500,
            speaker_hold_ms: 600,
            speech_threshold_dbov: -50,
            audio_loudest: 0,
        }
    }
}

impl QualityConfig {
    pub fn allocation_interval(&self) -> Duration {
        Duration::from_millis(self.allocation_interval_ms)
    }

    pub fn speaker(&self) -> SpeakerConfig {
        SpeakerConfig {
            speech_threshold: f32::from(127 - self.speech_threshold_dbov.unsigned_abs().min(127)),
            hold: Duration::from_millis(self.speaker_hold_ms),
            ..SpeakerConfig::default()
        }
    }

    /// Errors name the key: `(key, reason)`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |k: &str, r: &str| Err((format!("quality.{k}"), r.to_owned()));
        if self.last_n < -1 {
            return bad("last_n", "must be -1 (no limit) or at least 0");
        }
        if !(0.1..=1.0).contains(&self.video_share) {
            return bad("video_share", "must be between 0.1 and 1.0");
        }
        if self.initial_bitrate_kbps < 30 || self.initial_bitrate_kbps > 100_000 {
            return bad("initial_bitrate_kbps", "must be between 30 and 100000");
        }
        if self.allocation_interval_ms < 50 {
            return bad("allocation_interval_ms", "must be at least 50");
        }
        if self.speech_threshold_dbov > 0 {
            return bad("speech_threshold_dbov", "is a level in dBov: 0 or below");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_documents_the_defaults() {
        let c = crate::config::BridgeConfig::from_toml(include_str!("../../bridge.sample.toml")).unwrap();
        assert_eq!(c.quality, QualityConfig::default());
        assert!(c.quality.validate().is_ok());
        let bad = QualityConfig { last_n: -2, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().0, "quality.last_n");
    }
}
