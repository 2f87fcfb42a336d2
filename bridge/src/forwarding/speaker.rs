//! Dominant speaker detection from RFC 6464 audio levels, with hysteresis.
//!
//! Each participant's loudness (127 + the level in dBov, so 0 is silence and 127 is full
//! scale) is smoothed per packet. The dominant speaker changes when another participant has
//! been louder than it by a margin, and above the speech threshold, for a hold time; a single
//! cough or a short overlap therefore does not move the stage. Participants whose audio
//! stopped arriving count as silent.

use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct SpeakerConfig {
    /// Smoothed loudness above which a participant speaks (127 = 0 dBov; 77 = -50 dBov).
    pub speech_threshold: f32,
    /// How much louder a challenger must be than the dominant speaker.
    pub margin: f32,
    /// How long a challenger must stay ahead before it takes over.
    pub hold: Duration,
}

impl Default for SpeakerConfig {
    fn default() -> Self {
        Self { speech_threshold: 77.0, margin: 6.0, hold: Duration::from_millis(600) }
    }
}

/// Smoothing per packet; at 50 packets/s this is a time constant of about 100 ms.
const ALPHA: f32 = 0.2;
/// Audio older than this is silence.
const STALE: Duration = Duration::from_millis(500);

#[derive(Debug)]
struct Loudness {
    avg: f32,
    last: Instant,
}

#[derive(Debug)]
pub struct SpeakerDetector {
    config: SpeakerConfig,
    levels: HashMap<u64, Loudness>,
    dominant: Option<u64>,
    challenger: Option<(u64, Instant)>,
}

impl SpeakerDetector {
    pub fn new(config: SpeakerConfig) -> Self {
        Self { config, levels: HashMap::new(), dominant: None, challenger: None }
    }

    pub fn dominant(&self) -> Option<u64> {
        self.dominant
    }

    /// One audio packet's level (str0m's `audio_level`: -127..=0 dBov). Returns the new
    /// dominant speaker when it changes.
    pub fn observe(&mut self, who: u64, dbov: i8, now: Instant) -> Option<u64> {
        let loud = f32::from(127 - dbov.unsigned_abs().min(127));
        let l = self.levels.entry(who).or_insert(Loudness { avg: 0.0, last: now });
        l.avg += ALPHA * (loud - l.avg);
        l.last = now;
        self.decide(now)
    }

    /// How many participants are louder than `who` now (0: the loudest).
    pub fn rank(&self, who: u64, now: Instant) -> usize {
        let mine = self.loudness(who, now);
        self.levels
            .keys()
            .filter(|k| **k != who)
            .filter(|k| {
                let l = self.loudness(**k, now);
                l > mine || (l == mine && **k < who)
            })
            .count()
    }

    pub fn remove(&mut self, who: u64) {
        self.levels.remove(&who);
        if self.dominant == Some(who) {
            self.dominant = None;
        }
        if self.challenger.is_some_and(|(c, _)| c == who) {
            self.challenger = None;
        }
    }

    fn loudness(&self, who: u64, now: Instant) -> f32 {
        self.levels
            .get(&who)
            .filter(|l| now.saturating_duration_since(l.last) < STALE)
            .map_or(0.0, |l| l.avg)
    }

    fn decide(&mut self, now: Instant) -> Option<u64> {
        let (loudest, level) = self
            .levels
            .keys()
            .map(|k| (*k, self.loudness(*k, now)))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))?;
        if level < self.config.speech_threshold || Some(loudest) == self.dominant {
            self.challenger = None;
            return None;
        }
        let current = self.dominant.map_or(0.0, |d| self.loudness(d, now));
        if level < current + self.config.margin {
            self.challenger = None;
            return None;
        }
        let since = match self.challenger {
            Some((c, since)) if c == loudest => since,
            _ => {
                self.challenger = Some((loudest, now));
                now
            }
        };
        if self.dominant.is_some() && now.saturating_duration_since(since) < self.config.hold {
            return None;
        }
        self.dominant = Some(loudest);
        self.challenger = None;
        Some(loudest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed 20 ms packets for `ms` milliseconds: `(who, dBov)` each tick.
    fn talk(d: &mut SpeakerDetector, t: &mut Instant, ms: u64, who: &[(u64, i8)]) -> Vec<u64> {
        let mut changes = Vec::new();
        for _ in 0..ms / 20 {
            *t += Duration::from_millis(20);
            for &(w, l) in who {
                changes.extend(d.observe(w, l, *t));
            }
        }
        changes
    }

    #[test]
    fn first_speaker_takes_over_at_once_then_hysteresis() {
        let mut d = SpeakerDetector::new(SpeakerConfig::default());
        let mut t = Instant::now();
        assert_eq!(talk(&mut d, &mut t, 400, &[(1, -127), (2, -127)]), Vec::<u64>::new(), "silence elects nobody");
        assert_eq!(talk(&mut d, &mut t, 400, &[(1, -20), (2, -127)]), vec![1]);
        assert_eq!(talk(&mut d, &mut t, 300, &[(1, -127), (2, -20)]), Vec::<u64>::new(), "a short burst does not switch");
        assert_eq!(talk(&mut d, &mut t, 1000, &[(1, -127), (2, -20)]), vec![2]);
        assert_eq!(talk(&mut d, &mut t, 2000, &[(1, -22), (2, -20)]), Vec::<u64>::new(), "similar levels: no flicker");
        assert_eq!(d.dominant(), Some(2));
    }

    #[test]
    fn ranks_by_loudness() {
        let mut d = SpeakerDetector::new(SpeakerConfig::default());
        let mut t = Instant::now();
        talk(&mut d, &mut t, 400, &[(1, -60), (2, -20), (3, -40)]);
        assert_eq!([1, 2, 3].map(|w| d.rank(w, t)), [2, 0, 1]);
    }

    #[test]
    fn silent_or_gone_dominant_is_replaced() {
        let mut d = SpeakerDetector::new(SpeakerConfig::default());
        let mut t = Instant::now();
        talk(&mut d, &mut t, 400, &[(1, -20)]);
        d.remove(1);
        assert_eq!(talk(&mut d, &mut t, 200, &[(3, -30)]), vec![3]);
    }
}
