//! Key-frame request throttling for one published video track.
//!
//! Subscribers that join, lose packets or ask with PLI/FIR all want a key frame from the same
//! publisher. One request is enough until it is answered: a request goes out when none is
//! outstanding, or when the outstanding one is older than the interval (it may have been lost).
//! A key frame arriving from the publisher clears it.

use std::time::{Duration, Instant};

#[derive(Debug, Default, Clone)]
pub struct KeyframeThrottle {
    outstanding_since: Option<Instant>,
}

impl KeyframeThrottle {
    /// Whether to send a request now; records it if so.
    pub fn should_request(&mut self, now: Instant, interval: Duration) -> bool {
        match self.outstanding_since {
            Some(t) if now.saturating_duration_since(t) < interval => false,
            _ => {
                self.outstanding_since = Some(now);
                true
            }
        }
    }

    /// The publisher sent a key frame: the next need gets a fresh request at once.
    pub fn keyframe_seen(&mut self) {
        self.outstanding_since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_until_answered_or_stale() {
        let t0 = Instant::now();
        let iv = Duration::from_millis(300);
        let mut k = KeyframeThrottle::default();
        assert!(k.should_request(t0, iv));
        assert!(!k.should_request(t0 + Duration::from_millis(100), iv));
        assert!(k.should_request(t0 + Duration::from_millis(301), iv), "stale request is retried");
        k.keyframe_seen();
        assert!(k.should_request(t0 + Duration::from_millis(302), iv), "answered: ask again at once");
    }
}
