//! Who is in each conference, as the focus sees requests and events go by (offers and
//! live streams in; expiries and stopped streams out). For the operator API, and to know
//! when a conference has ended. Sans-IO.

use std::collections::BTreeMap;

use serde::Serialize;

/// One participant: a WebRTC endpoint or a live stream (`live-ROOM`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Participant {
    pub endpoint: String,
    pub display_name: String,
}

#[derive(Debug, Default)]
pub struct Participants {
    /// conference → endpoint → display name
    rooms: BTreeMap<String, BTreeMap<String, String>>,
}

impl Participants {
    /// An endpoint made an offer or a stream started. A repeated offer (renegotiation, or a
    /// move to another bridge) keeps one entry.
    pub fn joined(&mut self, conference: &str, endpoint: &str, display_name: &str) {
        self.rooms
            .entry(conference.to_owned())
            .or_default()
            .insert(endpoint.to_owned(), display_name.to_owned());
    }

    /// An endpoint left; true when it was the conference's last participant.
    pub fn left(&mut self, conference: &str, endpoint: &str) -> bool {
        let Some(room) = self.rooms.get_mut(conference) else { return false };
        if room.remove(endpoint).is_none() {
            return false;
        }
        if room.is_empty() {
            self.rooms.remove(conference);
            return true;
        }
        false
    }

    pub fn forget(&mut self, conference: &str) {
        self.rooms.remove(conference);
    }

    /// The participants of `conference`, ordered by endpoint id.
    pub fn of(&self, conference: &str) -> Vec<Participant> {
        self.rooms
            .get(conference)
            .map(|room| {
                room.iter()
                    .map(|(endpoint, name)| Participant { endpoint: endpoint.clone(), display_name: name.clone() })
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_one_out_ends_the_conference() {
        let mut p = Participants::default();
        p.joined("room", "a", "Ann");
        p.joined("room", "b", "Bob");
        p.joined("room", "a", "Ann");
        assert_eq!(p.of("room").len(), 2);
        assert!(!p.left("room", "a"));
        assert!(!p.left("room", "a"), "a second expiry of one endpoint is not an end");
        assert!(!p.left("other", "b"), "unknown conference");
        assert!(p.left("room", "b"));
        assert!(p.of("room").is_empty());
        p.joined("room", "c", "Cy");
        p.forget("room");
        assert!(!p.left("room", "c"));
    }
}
