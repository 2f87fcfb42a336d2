//! A conference: who is in it, what they publish, and who consumes each published track.
//!
//! Pure bookkeeping; the engine applies what the methods return to the endpoints.

use std::collections::HashMap;

use ponte_proto::MediaKind;

use crate::endpoint::tracks::TrackKey;

#[derive(Debug)]
pub struct Producer {
    pub kind: MediaKind,
    pub publisher: String,
    /// Endpoints that are sent this track: every member but the publisher.
    pub consumers: Vec<u64>,
}

#[derive(Debug, Default)]
pub struct Conference {
    pub members: Vec<u64>,
    producers: HashMap<TrackKey, Producer>,
}

impl Conference {
    /// Add a member; returns the tracks it should be sent.
    pub fn join(&mut self, endpoint: u64) -> Vec<(TrackKey, MediaKind, String)> {
        if self.members.contains(&endpoint) {
            return Vec::new();
        }
        self.members.push(endpoint);
        self.producers
            .iter_mut()
            .map(|(key, p)| {
                p.consumers.push(endpoint);
                (*key, p.kind, p.publisher.clone())
            })
            .collect()
    }

    /// A member published a track; returns the members to send it to.
    pub fn add_producer(&mut self, key: TrackKey, kind: MediaKind, publisher: &str) -> &[u64] {
        let consumers: Vec<u64> = self.members.iter().copied().filter(|m| *m != key.endpoint).collect();
        &self
            .producers
            .entry(key)
            .or_insert(Producer { kind, publisher: publisher.to_owned(), consumers })
            .consumers
    }

    /// Remove a member; returns its tracks with the members that were consuming them.
    pub fn leave(&mut self, endpoint: u64) -> Vec<(TrackKey, Vec<u64>)> {
        self.members.retain(|m| *m != endpoint);
        for p in self.producers.values_mut() {
            p.consumers.retain(|c| *c != endpoint);
        }
        let gone: Vec<TrackKey> = self.producers.keys().filter(|k| k.endpoint == endpoint).copied().collect();
        gone.into_iter()
            .filter_map(|k| self.producers.remove(&k).map(|p| (k, p.consumers)))
            .collect()
    }

    pub fn consumers(&self, key: &TrackKey) -> &[u64] {
        self.producers.get(key).map(|p| p.consumers.as_slice()).unwrap_or(&[])
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::media::Mid;

    fn key(endpoint: u64, mid: &str) -> TrackKey {
        TrackKey { endpoint, mid: Mid::from(mid) }
    }

    #[test]
    fn producers_reach_every_other_member_and_leave_cleans_up() {
        let mut c = Conference::default();
        assert!(c.join(1).is_empty());
        assert_eq!(c.add_producer(key(1, "0"), MediaKind::Audio, "a"), &[] as &[u64]);
        let existing = c.join(2);
        assert_eq!(existing.len(), 1);
        assert_eq!(c.consumers(&key(1, "0")), &[2]);
        assert_eq!(c.add_producer(key(2, "0"), MediaKind::Video, "b"), &[1]);
        c.join(3);
        assert_eq!(c.consumers(&key(1, "0")), &[2, 3]);
        let gone = c.leave(1);
        assert_eq!(gone, vec![(key(1, "0"), vec![2, 3])]);
        assert_eq!(c.consumers(&key(2, "0")), &[3]);
        assert!(c.consumers(&key(1, "0")).is_empty());
    }
}
