//! Ingest streams in the engine: each is a "virtual publisher" — a conference member with one
//! video and one audio producer and no WebRTC session — whose frames go through the ordinary
//! fan-out. Key-frame requests for its video are answered from the cached group of pictures
//! (the last key frame and what followed), so a viewer who arrives late starts at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use str0m::format::{Codec, CodecSpec, FormatParams, PayloadParams};
use str0m::media::{Frequency, MediaTime, Mid, Pt};

use ponte_proto::link::{EndpointEvent, EndpointRef};
use ponte_proto::MediaKind;

use super::Engine;
use crate::endpoint::contain;
use crate::endpoint::tracks::TrackKey;
use crate::forwarding::frame::Frame;
use crate::ingest::keys::Refusal;
use crate::ingest::participant_id;
use crate::ingest::publisher::Media;

/// The cached group of pictures stops growing here (a stream with no key frames in sight).
const MAX_GOP_FRAMES: usize = 600;

struct Cached {
    params: PayloadParams,
    at: Instant,
    time: MediaTime,
    data: Arc<[u8]>,
    keyframe: bool,
}

struct Live {
    id: u64,
    serial: u64,
    conference: String,
    participant: String,
    gop: Vec<Cached>,
    /// Video and audio clocks: a reconnected encoder starts its timestamps anew, so they are
    /// rebased to continue where the last session stopped (viewers see one stream).
    clocks: [Clock; 2],
}

#[derive(Default)]
struct Clock {
    offset: i64,
    last: Option<u64>,
    rebase: bool,
}

impl Clock {
    /// The continuous time for a source time; `step` is one frame on this clock.
    fn map(&mut self, source: u64, step: u64) -> u64 {
        if std::mem::take(&mut self.rebase) {
            if let Some(last) = self.last {
                self.offset = (last + step) as i64 - source as i64;
            }
        }
        let t = (source as i64 + self.offset).max(0) as u64;
        self.last = Some(t);
        t
    }
}

/// The live ingests of this engine, by room.
#[derive(Default)]
pub(crate) struct Ingests {
    by_room: HashMap<String, Live>,
    rooms: HashMap<u64, String>,
}

impl Ingests {
    pub(crate) fn conference_of(&self, id: u64) -> Option<&str> {
        self.rooms.get(&id).map(String::as_str)
    }

    pub(crate) fn owns(&self, id: u64) -> bool {
        self.rooms.contains_key(&id)
    }
}

fn video_mid() -> Mid {
    Mid::from("v")
}

fn audio_mid() -> Mid {
    Mid::from("a")
}

fn h264_params(profile_level_id: u32) -> PayloadParams {
    let format = FormatParams {
        packetization_mode: Some(1),
        level_asymmetry_allowed: Some(true),
        profile_level_id: Some(profile_level_id),
        ..Default::default()
    };
    PayloadParams::new(Pt::new_with_value(96), None, CodecSpec { codec: Codec::H264, clock_rate: Frequency::NINETY_KHZ, channels: None, format })
}

fn opus_params() -> PayloadParams {
    let format = FormatParams { min_p_time: Some(10), use_inband_fec: Some(true), ..Default::default() };
    PayloadParams::new(
        Pt::new_with_value(111),
        None,
        CodecSpec { codec: Codec::Opus, clock_rate: Frequency::FORTY_EIGHT_KHZ, channels: Some(2), format },
    )
}

impl Engine {
    /// The room's live participant joins (or, for an encoder that reconnects, stays and is
    /// handed to the new session).
    pub fn ingest_start(&mut self, now: Instant, room: &str, serial: u64, display_name: &str) -> Result<(), Refusal> {
        if let Some(live) = self.ingests.by_room.get_mut(room) {
            tracing::info!(conference = room, participant = %live.participant, "live stream resumed by a reconnecting encoder");
            live.serial = serial;
            live.gop.clear();
            for c in &mut live.clocks {
                c.rebase = true;
            }
            return Ok(());
        }
        if !self.conferences.contains_key(room) && self.conferences.len() >= self.limits.max_conferences {
            return Err(Refusal::Unsupported(format!("this bridge hosts its maximum of {} conferences", self.limits.max_conferences)));
        }
        let id = self.next_id;
        self.next_id += 1;
        let participant = participant_id(room);
        let conf = self.conferences.entry(room.to_owned()).or_default();
        conf.join(id);
        for (mid, kind) in [(video_mid(), MediaKind::Video), (audio_mid(), MediaKind::Audio)] {
            let key = TrackKey { endpoint: id, mid };
            for c in conf.add_producer(key, kind, &participant).to_vec() {
                if let Some(sub) = self.endpoints.get_mut(&c) {
                    sub.subscribe(key, &participant, kind);
                    if !self.work.contains(&c) {
                        self.work.push(c);
                    }
                }
            }
        }
        self.quality.add_named(id, room, &participant);
        tracing::info!(conference = room, participant = %participant, display_name, "live stream joined");
        let target = EndpointRef { conference: room.to_owned(), endpoint: participant.clone() };
        self.events.push_back(EndpointEvent::IngestStarted { target, display_name: display_name.to_owned() });
        self.ingests.rooms.insert(id, room.to_owned());
        let live = Live { id, serial, conference: room.to_owned(), participant, gop: Vec::new(), clocks: Default::default() };
        self.ingests.by_room.insert(room.to_owned(), live);
        self.update_gauges();
        self.run_work(now);
        Ok(())
    }

    /// The session `serial` of the room ended; the live participant leaves unless a newer
    /// session of the same room took it over.
    pub fn ingest_stop(&mut self, now: Instant, room: &str, serial: u64) {
        if self.ingests.by_room.get(room).is_none_or(|l| l.serial != serial) {
            return;
        }
        let Some(live) = self.ingests.by_room.remove(room) else { return };
        self.ingests.rooms.remove(&live.id);
        tracing::info!(conference = room, participant = %live.participant, "live stream left");
        self.quality.remove_endpoint(live.id, &live.conference);
        let target = EndpointRef { conference: room.to_owned(), endpoint: live.participant.clone() };
        self.events.push_back(EndpointEvent::IngestStopped { target });
        if let Some(conf) = self.conferences.get_mut(&live.conference) {
            for (key, consumers) in conf.leave(live.id) {
                for c in consumers {
                    if let Some(sub) = self.endpoints.get_mut(&c) {
                        sub.unsubscribe(key);
                        if !self.work.contains(&c) {
                            self.work.push(c);
                        }
                    }
                }
            }
            if conf.is_empty() {
                self.conferences.remove(&live.conference);
            }
        }
        self.update_gauges();
        self.run_work(now);
    }

    /// One frame of a room's live stream, into the fan-out.
    pub fn ingest_media(&mut self, now: Instant, room: &str, media: Media, at: Instant) {
        let Some(live) = self.ingests.by_room.get_mut(room) else { return };
        let id = live.id;
        match media {
            Media::Video { time, data, keyframe, profile_level_id } => {
                let data: Arc<[u8]> = data.into();
                let time = MediaTime::new(live.clocks[0].map(time, 3600), Frequency::NINETY_KHZ);
                let params = h264_params(profile_level_id);
                if keyframe {
                    live.gop.clear();
                }
                if live.gop.len() < MAX_GOP_FRAMES && (keyframe || !live.gop.is_empty()) {
                    live.gop.push(Cached { params, at, time, data: data.clone(), keyframe });
                }
                let frame = Frame { params, rid: None, network_time: at, time, data: &data, keyframe, contiguous: true };
                self.forward(TrackKey { endpoint: id, mid: video_mid() }, now, &frame);
            }
            Media::Audio { time, data } => {
                let data: Arc<[u8]> = data.into();
                let time = MediaTime::new(live.clocks[1].map(time, 960), Frequency::FORTY_EIGHT_KHZ);
                let frame = Frame { params: opus_params(), rid: None, network_time: at, time, data: &data, keyframe: false, contiguous: true };
                self.forward(TrackKey { endpoint: id, mid: audio_mid() }, now, &frame);
            }
        }
        self.run_work(now);
    }

    /// A key frame is wanted from a live stream: replay the cached group of pictures to each
    /// subscriber still waiting for one.
    pub(super) fn ingest_replay(&mut self, source: TrackKey) {
        let Some(room) = self.ingests.rooms.get(&source.endpoint) else { return };
        let Some(live) = self.ingests.by_room.get(room) else { return };
        if source.mid != video_mid() || live.gop.is_empty() {
            return;
        }
        let Some(conf) = self.conferences.get(&live.conference) else { return };
        for c in conf.consumers(&source) {
            let Some(sub) = self.endpoints.get_mut(c) else { continue };
            if !sub.awaits_keyframe(source) {
                continue;
            }
            for f in &live.gop {
                let frame = Frame { params: f.params, rid: None, network_time: f.at, time: f.time, data: &f.data, keyframe: f.keyframe, contiguous: true };
                if !matches!(contain(|| sub.write(source, &frame)), Ok(Ok(_))) {
                    break;
                }
            }
            if !self.work.contains(c) {
                self.work.push(*c);
            }
        }
    }
}
