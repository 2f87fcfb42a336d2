//! Quality per receiver: which video layers each subscriber gets, who speaks, and the data
//! channel that carries both.
//!
//! Per frame, the fan-out asks [`Quality::pick`] for every video subscriber: the
//! subscriber's [`Forwarder`] for that source decides (layer switches at key frames, RTP time
//! rebased). Every `allocation_interval`, and at once after a speaker, constraint or large
//! estimate change, a receiver's plan is redone: last-N from the conference's speech order
//! (the on-stage source always in), then the two-phase allocator fits layers into the
//! receiver's bandwidth estimate. What must reach an endpoint's `Rtc` (layer key-frame
//! requests, BWE hints, data-channel messages) is queued and handed over by
//! [`Engine::flush_quality`] after the fan-out, since the fan-out only borrows the engine's
//! parts.

use std::collections::HashMap;
use std::time::Instant;

use str0m::bwe::{Bitrate, BweKind};
use str0m::channel::ChannelId;
use str0m::media::{KeyframeRequestKind, MediaData, Mid};
use str0m::Event;

use ponte_proto::channel::{BridgeChannelMessage, ClientChannelMessage};

use super::Engine;
use crate::endpoint::contain;
use crate::endpoint::tracks::TrackKey;
use crate::forwarding::allocator::{allocate, Demand, UPGRADE_HEADROOM};
use crate::forwarding::config::QualityConfig;
use crate::forwarding::forwarder::{Decision, Forwarder};
use crate::forwarding::frame::Frame;
use crate::forwarding::lastn::SpeechOrder;
use crate::forwarding::layer::{layer_of, Layer};
use crate::forwarding::metrics::QualityMetrics;
use crate::forwarding::source::SourceLayers;
use crate::forwarding::speaker::SpeakerDetector;
use crate::rtcp::keyframe::KeyframeThrottle;

/// What a receiver asked for over the data channel.
#[derive(Debug, Default)]
struct Constraints {
    on_stage: Option<String>,
    max_height: HashMap<String, u32>,
    default_max_height: Option<u32>,
    last_n: Option<u32>,
}

#[derive(Debug)]
struct Receiver {
    room: String,
    /// Latest downlink estimate (bits/s), if the BWE has produced one.
    estimate: Option<u64>,
    constraints: Constraints,
    forwarders: HashMap<TrackKey, Forwarder>,
    channel: Option<ChannelId>,
    /// When the plan is redone; `None`: at the next frame.
    next_plan: Option<Instant>,
    /// The last-N set last announced, by participant id.
    announced: Vec<String>,
    outbox: Vec<BridgeChannelMessage>,
    /// `(allocated, desired)` bits/s: to hand to str0m's BWE, and what was handed last.
    bitrate: Option<(u64, u64)>,
    bitrate_sent: Option<(u64, u64)>,
}

impl Receiver {
    fn new(room: &str) -> Self {
        Self {
            room: room.to_owned(),
            estimate: None,
            constraints: Constraints::default(),
            forwarders: HashMap::new(),
            channel: None,
            next_plan: None,
            announced: Vec::new(),
            outbox: Vec::new(),
            bitrate: None,
            bitrate_sent: None,
        }
    }
}

#[derive(Debug)]
struct Room {
    speakers: SpeakerDetector,
    order: SpeechOrder,
    /// Endpoint → participant id, for members that sent media.
    names: HashMap<u64, String>,
}

pub(super) struct Quality {
    config: QualityConfig,
    metrics: QualityMetrics,
    sources: HashMap<TrackKey, SourceLayers>,
    rooms: HashMap<String, Room>,
    receivers: HashMap<u64, Receiver>,
    keyframes: HashMap<(TrackKey, Layer), KeyframeThrottle>,
    /// Layer key frames forwarders wait for, requested after the fan-out.
    wanted: Vec<(TrackKey, Layer)>,
    /// Receivers with messages or BWE hints for their `Rtc`.
    touched: Vec<u64>,
    /// NACK counts last seen per outgoing m-line, to count the difference.
    nacks: HashMap<(u64, Mid), u64>,
}

impl Quality {
    pub(super) fn new(config: QualityConfig, metrics: QualityMetrics) -> Self {
        Self {
            config,
            metrics,
            sources: HashMap::new(),
            rooms: HashMap::new(),
            receivers: HashMap::new(),
            keyframes: HashMap::new(),
            wanted: Vec::new(),
            touched: Vec::new(),
            nacks: HashMap::new(),
        }
    }

    /// The BWE setting for a new endpoint's `Rtc`.
    pub(super) fn rtc_bwe(&self) -> Option<Bitrate> {
        self.config.bandwidth_estimation.then(|| Bitrate::kbps(self.config.initial_bitrate_kbps))
    }

    fn room(&mut self, name: &str) -> &mut Room {
        // Not the entry API: that would allocate the name on every frame.
        if !self.rooms.contains_key(name) {
            let room = Room { speakers: SpeakerDetector::new(self.config.speaker()), order: SpeechOrder::default(), names: HashMap::new() };
            self.rooms.insert(name.to_owned(), room);
        }
        self.rooms.get_mut(name).expect("inserted above")
    }

    fn receiver(&mut self, id: u64, room: &str) -> &mut Receiver {
        self.receivers.entry(id).or_insert_with(|| Receiver::new(room))
    }

    fn touch(&mut self, id: u64) {
        if !self.touched.contains(&id) {
            self.touched.push(id);
        }
    }

    /// A video frame from a source, before it fans out.
    pub(super) fn observe_video(&mut self, key: TrackKey, frame: &Frame<'_>, now: Instant) {
        let layer = layer_of(frame.rid.as_deref());
        let source = self.sources.entry(key).or_default();
        source.observe(layer, frame.rid, frame.data.len(), frame.keyframe, frame.data, now);
        if frame.keyframe {
            if let Some(t) = self.keyframes.get_mut(&(key, layer)) {
                t.keyframe_seen();
            }
        }
    }

    pub(super) fn is_simulcast(&self, key: TrackKey) -> bool {
        self.sources.get(&key).is_some_and(|s| s.simulcast)
    }

    /// The frame `sub` is sent for `frame` from `key` (with its RTP time rebased), or `None`.
    pub(super) fn pick<'a>(&mut self, sub: u64, room: &str, key: TrackKey, frame: &Frame<'a>, now: Instant) -> Option<Frame<'a>> {
        let simulcast = self.is_simulcast(key);
        let r = self.receiver(sub, room);
        if let std::collections::hash_map::Entry::Vacant(e) = r.forwarders.entry(key) {
            e.insert(Forwarder::new(simulcast));
            r.next_plan = None;
            self.room(room).order.join(key.endpoint);
        }
        if self.receivers[&sub].next_plan.is_none_or(|t| now >= t) {
            self.plan(sub, now);
        }
        let f = self.receivers.get_mut(&sub)?.forwarders.get_mut(&key)?;
        let before = f.current();
        let decision = f.forward(layer_of(frame.rid.as_deref()), frame.keyframe, frame.time, frame.network_time);
        if let Some(l) = f.wants_keyframe() {
            if !self.wanted.contains(&(key, l)) {
                self.wanted.push((key, l));
            }
        }
        match decision {
            Decision::Drop => None,
            Decision::Send { time, switched } => {
                if let (true, Some(b), Some(a)) = (switched, before, f.current()) {
                    self.metrics.layer_switches[usize::from(a < b)].inc();
                }
                Some(Frame { time, ..*frame })
            }
        }
    }

    /// Redo one receiver's plan: last-N, then layers within its budget.
    fn plan(&mut self, sub: u64, now: Instant) {
        let config = &self.config;
        let Some(r) = self.receivers.get_mut(&sub) else { return };
        r.next_plan = Some(now + config.allocation_interval());
        let Some(room) = self.rooms.get(&r.room) else { return };
        let name_of = |w: u64| room.names.get(&w).map(String::as_str);
        let on_stage = r.constraints.on_stage.as_deref().and_then(|n| room.names.iter().find(|(_, v)| *v == n).map(|(k, _)| *k));
        let n = match (r.constraints.last_n, config.last_n) {
            (Some(n), _) => n as usize,
            (None, n) if n < 0 => usize::MAX,
            (None, n) => n as usize,
        };
        let mut keys: Vec<TrackKey> = r.forwarders.keys().copied().collect();
        keys.sort_by_key(|k| (k.endpoint, k.mid.to_string()));
        let selected = room.order.select(sub, n, on_stage, |w| keys.iter().any(|k| k.endpoint == w));
        let mut planned = Vec::new();
        let mut demands = Vec::new();
        let mut reserved = 0u64;
        for &w in &selected {
            let max_h = name_of(w).and_then(|n| r.constraints.max_height.get(n).copied()).or(r.constraints.default_max_height);
            for k in keys.iter().filter(|k| k.endpoint == w) {
                let mut layers = self.sources.get(k).map(|s| s.active(now)).unwrap_or_default();
                if max_h == Some(0) {
                    layers.clear();
                } else if let Some(h) = max_h {
                    let lowest = layers.first().copied();
                    layers.retain(|l| l.2 <= h);
                    if layers.is_empty() {
                        layers.extend(lowest);
                    }
                }
                if !config.simulcast && layers.len() > 1 {
                    layers.drain(..layers.len() - 1);
                }
                let single = !self.sources.get(k).is_some_and(|s| s.simulcast);
                if single {
                    // Nothing lower to fall back to: sent whenever selected, its rate taken
                    // off the top of the budget the simulcast sources share.
                    reserved += layers.iter().map(|l| l.1).sum::<u64>();
                    layers.iter_mut().for_each(|l| l.1 = 0);
                }
                planned.push(*k);
                let current = r.forwarders.get(k).and_then(Forwarder::current);
                demands.push(Demand { layers: layers.iter().map(|l| (l.0, l.1)).collect(), on_stage: Some(w) == on_stage, current });
            }
        }
        let budget = if config.bandwidth_estimation {
            let estimate = r.estimate.unwrap_or(config.initial_bitrate_kbps * 1000);
            ((estimate as f64 * config.video_share) as u64).saturating_sub(reserved)
        } else {
            u64::MAX
        };
        let targets = allocate(budget, &demands);
        let mut allocated = reserved;
        for (k, f) in r.forwarders.iter_mut() {
            let target = planned.iter().position(|p| p == k).and_then(|i| {
                let t = targets[i]?;
                allocated += demands[i].layers.iter().find(|l| l.0 == t).map_or(0, |l| l.1);
                Some(t)
            });
            f.set_target(target);
        }
        // What to probe for: the best layers with the video share's and an upgrade's headroom
        // on top, so the estimate can grow past (and then hold) the top layers.
        let top: u64 = demands.iter().filter_map(|d| d.layers.last().map(|l| l.1)).sum::<u64>() + reserved;
        let desired = (top as f64 / config.video_share * UPGRADE_HEADROOM) as u64;
        r.bitrate = Some((allocated, desired.max(allocated)));
        let names: Vec<String> = selected.iter().filter_map(|w| name_of(*w).map(str::to_owned)).collect();
        if names != r.announced {
            r.announced = names.clone();
            r.outbox.push(BridgeChannelMessage::LastN { participant_ids: names });
        }
        self.touch(sub);
    }

    /// The dominant speaker of `room` changed: move it up the order and tell every receiver.
    fn speaker_changed(&mut self, room: &str, who: u64) {
        self.metrics.dominant_speaker_changes.inc();
        let Some(r) = self.rooms.get_mut(room) else { return };
        r.order.spoke(who);
        let Some(name) = r.names.get(&who).cloned() else { return };
        tracing::debug!(conference = room, speaker = %name, "dominant speaker");
        let ids: Vec<u64> = self.receivers.iter().filter(|(_, r)| r.room == room).map(|(id, _)| *id).collect();
        for id in ids {
            let r = self.receivers.get_mut(&id).expect("listed above");
            r.next_plan = None;
            r.outbox.push(BridgeChannelMessage::DominantSpeaker { participant_id: name.clone() });
            self.touch(id);
        }
    }

    /// A participant that is no endpoint (a live stream from ingest): named like one, so
    /// receivers' last-N announcements and on-stage choices know it.
    pub(super) fn add_named(&mut self, id: u64, room: &str, participant: &str) {
        let r = self.room(room);
        r.names.insert(id, participant.to_owned());
        r.order.join(id);
    }

    /// An endpoint left: forget it as receiver, source and speaker.
    pub(super) fn remove_endpoint(&mut self, id: u64, room: &str) {
        self.receivers.remove(&id);
        self.sources.retain(|k, _| k.endpoint != id);
        self.keyframes.retain(|(k, _), _| k.endpoint != id);
        self.nacks.retain(|(e, _), _| *e != id);
        // Receivers it was announced to hear at once: with no other source sending, no frame
        // would come to redo their plan.
        let gone = self.rooms.get(room).and_then(|r| r.names.get(&id).cloned());
        let mut told = Vec::new();
        for (rid, r) in self.receivers.iter_mut() {
            if r.forwarders.keys().any(|k| k.endpoint == id) {
                r.forwarders.retain(|k, _| k.endpoint != id);
                r.next_plan = None;
            }
            if let Some(name) = gone.as_ref().filter(|n| r.announced.contains(n)) {
                r.announced.retain(|n| n != name);
                r.outbox.push(BridgeChannelMessage::LastN { participant_ids: r.announced.clone() });
                told.push(*rid);
            }
        }
        told.into_iter().for_each(|rid| self.touch(rid));
        if let Some(r) = self.rooms.get_mut(room) {
            r.speakers.remove(id);
            r.order.leave(id);
            r.names.remove(&id);
            if r.names.is_empty() && !self.receivers.values().any(|x| x.room == room) {
                self.rooms.remove(room);
            }
        }
    }

    fn on_channel_data(&mut self, id: u64, room: &str, data: &[u8]) {
        let Ok(ClientChannelMessage::Constraints { on_stage, max_height, default_max_height, last_n }) = serde_json::from_slice(data) else {
            self.metrics.bad_channel_messages.inc();
            return;
        };
        let r = self.receiver(id, room);
        r.constraints = Constraints { on_stage, max_height, default_max_height, last_n };
        r.next_plan = None;
    }

    fn on_estimate(&mut self, id: u64, room: &str, bps: u64) {
        self.metrics.estimates.observe(bps as f64);
        let r = self.receiver(id, room);
        let before = r.estimate.replace(bps);
        // Small wobbles wait for the periodic plan; big moves re-plan at once.
        if before.is_none_or(|b| bps.abs_diff(b) * 10 > b) {
            r.next_plan = None;
        }
    }
}

impl Engine {
    /// Simulcast, bandwidth, last-N and speaker settings (the `[quality]` config section).
    pub fn set_quality(&mut self, config: QualityConfig) {
        for room in self.quality.rooms.values_mut() {
            room.speakers = SpeakerDetector::new(config.speaker());
        }
        self.quality.config = config;
    }

    /// Every media frame of an endpoint: learn its name, and feed audio levels to the
    /// room's speaker detector. False when the frame is not to be forwarded (audio from
    /// outside the `audio_loudest` loudest).
    pub(super) fn observe_media(&mut self, id: u64, now: Instant, data: &MediaData) -> bool {
        let Some(ep) = self.endpoints.get(&id) else { return true };
        let loudest = self.quality.config.audio_loudest as usize;
        let room_name = &ep.target.conference;
        let room = self.quality.room(room_name);
        if let std::collections::hash_map::Entry::Vacant(e) = room.names.entry(id) {
            e.insert(ep.target.endpoint.clone());
            room.order.join(id);
        }
        if !data.params.spec().codec.is_audio() {
            return true;
        }
        let Some(level) = data.ext_vals.audio_level else { return true };
        if let Some(who) = room.speakers.observe(id, level, now) {
            let room_name = room_name.clone();
            self.quality.speaker_changed(&room_name, who);
        }
        loudest == 0 || self.quality.rooms.get(&ep.target.conference).is_none_or(|r| r.speakers.rank(id, now) < loudest)
    }

    /// str0m events the quality layer handles: data channel, estimates, egress stats.
    pub(super) fn on_quality_event(&mut self, id: u64, event: &Event) {
        let Some(ep) = self.endpoints.get(&id) else { return };
        let room = ep.target.conference.clone();
        match event {
            Event::ChannelOpen(cid, label) => {
                tracing::debug!(endpoint = %ep.target.endpoint, label, "data channel open");
                let speaker = self.quality.rooms.get(&room).and_then(|r| r.speakers.dominant().and_then(|d| r.names.get(&d).cloned()));
                let r = self.quality.receiver(id, &room);
                r.channel = Some(*cid);
                r.outbox.extend(speaker.map(|participant_id| BridgeChannelMessage::DominantSpeaker { participant_id }));
                r.outbox.push(BridgeChannelMessage::LastN { participant_ids: r.announced.clone() });
                self.quality.touch(id);
            }
            Event::ChannelData(d) => self.quality.on_channel_data(id, &room, &d.data),
            Event::ChannelClose(cid) => {
                if let Some(r) = self.quality.receivers.get_mut(&id).filter(|r| r.channel == Some(*cid)) {
                    r.channel = None;
                }
            }
            Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }) => self.quality.on_estimate(id, &room, estimate.as_u64()),
            Event::MediaEgressStats(s) => {
                let last = self.quality.nacks.entry((id, s.mid)).or_insert(0);
                self.quality.metrics.nacks_received.inc_by(s.nacks.saturating_sub(*last));
                *last = s.nacks.max(*last);
            }
            _ => {}
        }
    }

    /// Hand what the fan-out queued to the endpoints: layer key-frame requests, BWE hints and
    /// data-channel messages.
    pub(super) fn flush_quality(&mut self, now: Instant) {
        for (key, layer) in std::mem::take(&mut self.quality.wanted) {
            self.request_layer_keyframe(key, Some(layer), now);
        }
        for id in std::mem::take(&mut self.quality.touched) {
            let bwe = self.quality.config.bandwidth_estimation;
            let (Some(r), Some(ep)) = (self.quality.receivers.get_mut(&id), self.endpoints.get_mut(&id)) else { continue };
            let messages = std::mem::take(&mut r.outbox);
            let bitrate = r.bitrate.take().filter(|b| bwe && r.bitrate_sent != Some(*b));
            if bitrate.is_some() {
                r.bitrate_sent = bitrate;
            }
            let channel = if messages.is_empty() { None } else { r.channel };
            if bitrate.is_none() && channel.is_none() {
                continue;
            }
            let done = contain(|| {
                if let Some((allocated, desired)) = bitrate {
                    ep.rtc.bwe().set_bitrate(Bitrate::bps(allocated), Bitrate::bps(desired));
                }
                let Some(mut ch) = channel.and_then(|c| ep.rtc.channel(c)) else { return };
                for m in &messages {
                    let text = serde_json::to_string(m).expect("channel messages serialize");
                    if !matches!(ch.write(false, text.as_bytes()), Ok(true)) {
                        tracing::debug!(endpoint = id, "data channel full; message dropped");
                    }
                }
            });
            if let Err(p) = done {
                self.contain_failed(id, p);
            }
            self.queue(id);
        }
    }

    /// Ask for a key frame of one layer of a source (`None`: every layer someone is sent).
    pub(super) fn request_layer_keyframe(&mut self, key: TrackKey, layer: Option<Layer>, now: Instant) {
        let layers: Vec<Layer> = match layer {
            Some(l) => vec![l],
            None => {
                let mut v: Vec<Layer> = self.quality.receivers.values().filter_map(|r| r.forwarders.get(&key)?.current()).collect();
                v.sort_unstable();
                v.dedup();
                v
            }
        };
        for layer in layers {
            let rid = self.quality.sources.get(&key).and_then(|s| s.rid(layer));
            let Some(rid) = rid else {
                // A single-layer source: the track's own throttle and path (ingest included).
                if !self.quality.is_simulcast(key) {
                    self.request_keyframe(key, now);
                }
                continue;
            };
            let interval = self.keyframe_interval;
            if !self.quality.keyframes.entry((key, layer)).or_default().should_request(now, interval) {
                continue;
            }
            let Some(ep) = self.endpoints.get_mut(&key.endpoint) else { return };
            let requested = contain(|| ep.rtc.writer(key.mid).map(|mut w| w.request_keyframe(Some(rid), KeyframeRequestKind::Pli).is_ok()));
            if let Ok(Some(true)) = requested {
                self.metrics.keyframe_requests.inc();
            }
            self.queue(key.endpoint);
        }
    }
}
