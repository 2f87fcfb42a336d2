//! Rooms and their rosters. A room exists while someone is in it.
//!
//! Each participant is reached through a bounded queue that its session drains onto the
//! socket. Sending never waits: a participant whose queue is full is dropped from the room
//! (logged and counted) so that one slow client never holds up the others. Dropping its
//! queue sender ends its session, which then frees its endpoint on the bridge.

use dashmap::DashMap;
use rand::distr::{Alphanumeric, SampleString};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use ponte_proto::signal::{Participant, ServerMessage};
use ponte_proto::MediaKind;

use crate::metrics::SignalingMetrics;

/// Length of a participant id: 62^12 ids, URL-safe, also used as the bridge's endpoint id.
const ID_LEN: usize = 12;

pub struct Rooms {
    rooms: DashMap<String, Room>,
    /// Live streams (ingest) per room: in the roster, but with no session of their own. Kept
    /// apart from `rooms` because a stream can be live in a room nobody has joined yet.
    live: DashMap<String, Vec<Participant>>,
    max_room_size: usize,
    metrics: SignalingMetrics,
}

#[derive(Default)]
struct Room {
    /// In join order, so rosters list the earliest participant first.
    members: Vec<Member>,
}

struct Member {
    info: Participant,
    tx: mpsc::Sender<ServerMessage>,
}

/// Who is joining.
pub struct Arrival {
    /// The participant id to take (a resumed session); None: a fresh one.
    pub id: Option<String>,
    pub display_name: String,
    pub audio_muted: bool,
    pub video_muted: bool,
    pub tx: mpsc::Sender<ServerMessage>,
}

/// A successful join.
pub struct Joined {
    pub participant_id: String,
    /// Everyone else, in join order.
    pub roster: Vec<Participant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomError {
    Full { max: usize },
    /// A resumed id that is still in the room.
    Taken,
}

/// What became of a message for one participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Queued,
    /// No such room or participant.
    Unknown,
    /// Its queue was full: the participant was dropped.
    Dropped,
}

impl Rooms {
    pub fn new(max_room_size: usize, metrics: SignalingMetrics) -> Self {
        Self { rooms: DashMap::new(), live: DashMap::new(), max_room_size, metrics }
    }

    /// Add a participant and tell the others. The roster snapshot and the announcement
    /// happen under the room's lock, so every later event reaches the newcomer's queue.
    pub fn join(&self, room: &str, arrival: Arrival) -> Result<Joined, RoomError> {
        let mut created = false;
        let result = {
            let mut entry = self.rooms.entry(room.to_owned()).or_insert_with(|| {
                created = true;
                Room::default()
            });
            self.admit(room, &mut entry, arrival)
        };
        if created {
            self.metrics.rooms.inc();
        }
        if result.is_err() {
            self.remove_if_empty(room);
        }
        result
    }

    fn admit(&self, room: &str, r: &mut Room, arrival: Arrival) -> Result<Joined, RoomError> {
        if r.members.len() >= self.max_room_size {
            return Err(RoomError::Full { max: self.max_room_size });
        }
        let id = match arrival.id {
            Some(id) if r.members.iter().any(|m| m.info.id == id) => return Err(RoomError::Taken),
            Some(id) => id,
            None => loop {
                let id = Alphanumeric.sample_string(&mut rand::rng(), ID_LEN);
                if r.members.iter().all(|m| m.info.id != id) {
                    break id;
                }
            },
        };
        let info = Participant {
            id: id.clone(),
            display_name: arrival.display_name,
            audio_muted: arrival.audio_muted,
            video_muted: arrival.video_muted,
        };
        let live = self.live.get(room).map(|l| l.clone()).unwrap_or_default();
        let roster = live.into_iter().chain(r.members.iter().map(|m| m.info.clone())).collect();
        self.fan_out(room, r, ServerMessage::ParticipantJoined { participant: info.clone() }, None);
        r.members.push(Member { info, tx: arrival.tx });
        self.metrics.participants.inc();
        Ok(Joined { participant_id: id, roster })
    }

    /// Remove a participant and tell the others. False if it was not there (already
    /// dropped as slow, or never joined).
    pub fn leave(&self, room: &str, id: &str) -> bool {
        self.remove(room, id, true)
    }

    /// Remove a participant without telling the others: the server is shutting down, and
    /// they resume together with it on the next one (a `participant_left` would make their
    /// clients drop its video for good).
    pub fn forget(&self, room: &str, id: &str) -> bool {
        self.remove(room, id, false)
    }

    fn remove(&self, room: &str, id: &str, announce: bool) -> bool {
        let removed = match self.rooms.get_mut(room) {
            Some(mut r) => {
                let removed = self.remove_member(&mut r, id);
                if removed && announce {
                    self.fan_out(room, &mut r, ServerMessage::ParticipantLeft { participant_id: id.to_owned() }, None);
                }
                removed
            }
            None => false,
        };
        self.remove_if_empty(room);
        removed
    }

    /// Record a mute change and tell everyone, the sender included (its other tabs and
    /// devices, and a simple client, learn it the same way).
    pub fn set_mute(&self, room: &str, id: &str, kind: MediaKind, muted: bool) -> bool {
        let Some(mut r) = self.rooms.get_mut(room) else { return false };
        let Some(m) = r.members.iter_mut().find(|m| m.info.id == id) else { return false };
        match kind {
            MediaKind::Audio => m.info.audio_muted = muted,
            MediaKind::Video => m.info.video_muted = muted,
        }
        let msg = ServerMessage::MuteChanged { participant_id: id.to_owned(), kind, muted };
        self.fan_out(room, &mut r, msg, None);
        drop(r);
        self.remove_if_empty(room);
        true
    }

    /// A live stream joined the room: into the roster, and announced.
    pub fn live_started(&self, room: &str, participant: Participant) {
        {
            let mut live = self.live.entry(room.to_owned()).or_default();
            live.retain(|p| p.id != participant.id);
            live.push(participant.clone());
        }
        self.broadcast(room, ServerMessage::ParticipantJoined { participant }, None);
    }

    /// A live stream left the room.
    pub fn live_stopped(&self, room: &str, id: &str) {
        let removed = match self.live.get_mut(room) {
            Some(mut live) => {
                let before = live.len();
                live.retain(|p| p.id != id);
                before != live.len()
            }
            None => false,
        };
        self.live.remove_if(room, |_, l| l.is_empty());
        if removed {
            self.broadcast(room, ServerMessage::ParticipantLeft { participant_id: id.to_owned() }, None);
        }
    }

    /// Send to everyone in the room except `except`.
    pub fn broadcast(&self, room: &str, msg: ServerMessage, except: Option<&str>) {
        if let Some(mut r) = self.rooms.get_mut(room) {
            self.fan_out(room, &mut r, msg, except);
        }
        self.remove_if_empty(room);
    }

    /// Send to one participant.
    pub fn send_to(&self, room: &str, id: &str, msg: ServerMessage) -> Delivery {
        let delivery = match self.rooms.get_mut(room) {
            Some(mut r) => match r.members.iter().position(|m| m.info.id == id) {
                Some(i) => match r.members[i].tx.try_send(msg) {
                    Err(TrySendError::Full(_)) => {
                        self.drop_slow(room, &mut r, vec![id.to_owned()]);
                        Delivery::Dropped
                    }
                    // A closed queue means the session is ending and will leave by itself.
                    Ok(()) | Err(TrySendError::Closed(_)) => Delivery::Queued,
                },
                None => Delivery::Unknown,
            },
            None => Delivery::Unknown,
        };
        self.remove_if_empty(room);
        delivery
    }

    /// The roster of a room, in join order.
    #[cfg(test)]
    pub fn roster(&self, room: &str) -> Vec<Participant> {
        self.rooms.get(room).map(|r| r.members.iter().map(|m| m.info.clone()).collect()).unwrap_or_default()
    }

    /// Queue `msg` for each member but `except`, then drop whoever could not take it.
    fn fan_out(&self, room: &str, r: &mut Room, msg: ServerMessage, except: Option<&str>) {
        let slow: Vec<String> = r
            .members
            .iter()
            .filter(|m| Some(m.info.id.as_str()) != except)
            .filter(|m| matches!(m.tx.try_send(msg.clone()), Err(TrySendError::Full(_))))
            .map(|m| m.info.id.clone())
            .collect();
        self.drop_slow(room, r, slow);
    }

    /// Remove slow members and announce their departure; announcing may find more slow
    /// members, so this repeats until nobody new is dropped (at most once per member).
    fn drop_slow(&self, room: &str, r: &mut Room, mut slow: Vec<String>) {
        while let Some(id) = slow.pop() {
            if !self.remove_member(r, &id) {
                continue;
            }
            self.metrics.slow_clients_dropped.inc();
            tracing::warn!(room, participant = %id, "dropping client: it is not reading its messages (queue full)");
            let left = ServerMessage::ParticipantLeft { participant_id: id };
            for m in &r.members {
                if matches!(m.tx.try_send(left.clone()), Err(TrySendError::Full(_))) && !slow.contains(&m.info.id) {
                    slow.push(m.info.id.clone());
                }
            }
        }
    }

    fn remove_member(&self, r: &mut Room, id: &str) -> bool {
        let before = r.members.len();
        r.members.retain(|m| m.info.id != id);
        let removed = r.members.len() < before;
        if removed {
            self.metrics.participants.dec();
        }
        removed
    }

    fn remove_if_empty(&self, room: &str) {
        if self.rooms.remove_if(room, |_, r| r.members.is_empty()).is_some() {
            self.metrics.rooms.dec();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rooms(max: usize) -> Rooms {
        Rooms::new(max, SignalingMetrics::new(&prometheus::Registry::new()).unwrap())
    }

    fn arrival(name: &str, cap: usize) -> (Arrival, mpsc::Receiver<ServerMessage>) {
        let (tx, rx) = mpsc::channel(cap);
        (Arrival { id: None, display_name: name.into(), audio_muted: false, video_muted: true, tx }, rx)
    }

    #[test]
    fn join_announces_and_leave_cleans_up() {
        let rs = rooms(10);
        let (a, mut rx_a) = arrival("Ann", 8);
        let ann = rs.join("r", a).unwrap();
        assert!(ann.roster.is_empty());
        let (b, _rx_b) = arrival("Bob", 8);
        let bob = rs.join("r", b).unwrap();
        assert_eq!(bob.roster.len(), 1);
        assert_eq!(bob.roster[0].id, ann.participant_id);
        assert!(matches!(rx_a.try_recv(), Ok(ServerMessage::ParticipantJoined { participant }) if participant.id == bob.participant_id));
        assert!(rs.leave("r", &bob.participant_id));
        assert!(matches!(rx_a.try_recv(), Ok(ServerMessage::ParticipantLeft { participant_id }) if participant_id == bob.participant_id));
        assert!(rs.leave("r", &ann.participant_id));
        assert_eq!(rs.rooms.len(), 0);
        assert_eq!((rs.metrics.rooms.get(), rs.metrics.participants.get()), (0, 0));
    }

    #[test]
    fn a_shutdown_forgets_without_telling_the_others() {
        let rs = rooms(10);
        let (a, mut rx_a) = arrival("Ann", 8);
        let _ann = rs.join("r", a).unwrap();
        let (b, _rx_b) = arrival("Bob", 8);
        let bob = rs.join("r", b).unwrap();
        assert!(matches!(rx_a.try_recv(), Ok(ServerMessage::ParticipantJoined { .. })));
        assert!(rs.forget("r", &bob.participant_id));
        assert!(rx_a.try_recv().is_err(), "Ann hears nothing: Bob resumes with her on the next server");
        assert_eq!(rs.roster("r").len(), 1);
    }

    #[test]
    fn full_room_refuses() {
        let rs = rooms(1);
        let (a, _rx) = arrival("Ann", 8);
        rs.join("r", a).unwrap();
        let (b, _rx_b) = arrival("Bob", 8);
        assert_eq!(rs.join("r", b).err(), Some(RoomError::Full { max: 1 }));
        assert_eq!(rs.roster("r").len(), 1);
    }

    #[test]
    fn slow_client_is_dropped_not_waited_for() {
        let rs = rooms(10);
        let (slow, _rx_slow) = arrival("Slow", 1);
        let slow = rs.join("r", slow).unwrap();
        let (a, mut rx_a) = arrival("Ann", 64);
        let ann = rs.join("r", a).unwrap();
        // The slow client's queue holds Ann's `participant_joined`; the next message overflows it.
        rs.broadcast("r", ServerMessage::Pong { id: None }, Some(&ann.participant_id));
        let roster = rs.roster("r");
        assert_eq!(roster.len(), 1);
        assert_eq!(roster[0].id, ann.participant_id);
        assert!(matches!(rx_a.try_recv(), Ok(ServerMessage::ParticipantLeft { participant_id }) if participant_id == slow.participant_id));
        assert_eq!(rs.metrics.slow_clients_dropped.get(), 1);
        assert_eq!(rs.send_to("r", &slow.participant_id, ServerMessage::Pong { id: None }), Delivery::Unknown);
    }
}
