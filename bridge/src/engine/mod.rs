//! The media engine: every endpoint of the bridge, driven sans-IO.
//!
//! The engine never touches a socket or a clock. The service loop feeds it datagrams,
//! focus commands and timeouts, each with the current time, and drains transmits and
//! endpoint events from it. That keeps the forwarding path testable without sockets and
//! free of locks: one engine owns its endpoints outright.
//!
//! Per datagram: classify by first byte → find the endpoint (STUN by ufrag, everything else
//! by source address; two hash lookups, never a scan) → hand it to the endpoint's `Rtc` →
//! drive that endpoint: its media events fan out through the conference's
//! producer → consumers map to the subscribers' outgoing tracks, and each touched endpoint is
//! driven once more to collect what it now wants to send.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use str0m::media::KeyframeRequestKind;
use str0m::net::{Protocol, Receive, Transmit};
use str0m::{Event, IceConnectionState, Input, Output};

use ponte_proto::link::{EndpointEvent, EndpointRef, FocusToBridge};
use ponte_proto::MediaKind;

use crate::conference::Conference;
use crate::endpoint::tracks::TrackKey;
use crate::endpoint::{contain, Endpoint, Written};
use crate::forwarding::frame::Frame;
use crate::metrics::{BridgeMetrics, DropReason};
use crate::socket::demux::{self, Kind};

mod ingest;
mod limits;
mod quality;
pub use limits::Limits;

pub struct Engine {
    candidates: Vec<SocketAddr>,
    keyframe_interval: Duration,
    metrics: BridgeMetrics,
    next_id: u64,
    endpoints: HashMap<u64, Endpoint>,
    by_ref: HashMap<EndpointRef, u64>,
    by_ufrag: HashMap<String, u64>,
    by_addr: HashMap<SocketAddr, u64>,
    conferences: HashMap<String, Conference>,
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<EndpointEvent>,
    /// Endpoints to negotiate and poll before returning to the caller.
    work: Vec<u64>,
    /// str0m events of the endpoint being driven, handled once it is polled dry.
    rtc_events: Vec<Event>,
    /// Endpoints whose WebRTC stack panicked; ended before control returns to the caller.
    panicked: Vec<u64>,
    limits: Limits,
    /// Layers, last-N, speakers and the data channel, per receiver (see `quality.rs`).
    quality: quality::Quality,
    /// Live streams from SRT/RTMP encoders: members without a WebRTC session.
    ingests: ingest::Ingests,
}

impl Engine {
    /// `candidates` are the advertised media addresses (at least one).
    pub fn new(candidates: Vec<SocketAddr>, keyframe_interval: Duration, metrics: BridgeMetrics) -> Self {
        assert!(!candidates.is_empty(), "the service resolves at least one candidate");
        let quality = quality::Quality::new(Default::default(), metrics.quality.clone());
        Self {
            candidates,
            keyframe_interval,
            metrics,
            next_id: 1,
            endpoints: HashMap::new(),
            by_ref: HashMap::new(),
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            conferences: HashMap::new(),
            timers: BinaryHeap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            work: Vec::new(),
            rtc_events: Vec::new(),
            panicked: Vec::new(),
            limits: Limits::default(),
            quality,
            ingests: ingest::Ingests::default(),
        }
    }

    pub fn endpoint_count(&self) -> usize {
        self.endpoints.len()
    }

    /// Every endpoint, for a re-registration: what clients may resume after a focus restart.
    pub fn hosted_endpoints(&self) -> Vec<ponte_proto::link::HostedEndpoint> {
        self.endpoints
            .values()
            .map(|ep| ponte_proto::link::HostedEndpoint {
                target: ep.target.clone(),
                display_name: ep.display_name.clone(),
                resume_hash: ep.resume_hash.clone(),
            })
            .collect()
    }

    pub fn conference_names(&self) -> impl Iterator<Item = &str> {
        self.conferences.keys().map(String::as_str)
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.events.pop_front()
    }

    /// The earliest time [`Engine::handle_timeout`] has work to do.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// A request from the focus.
    pub fn handle_command(&mut self, now: Instant, cmd: FocusToBridge) {
        match cmd {
            FocusToBridge::Offer { target, sdp, display_name } => self.on_offer(now, target, &sdp, display_name),
            FocusToBridge::Answer { target, sdp } => self.on_answer(now, target, &sdp),
            FocusToBridge::ExpireEndpoint { target } => {
                if let Some(id) = self.by_ref.get(&target).copied() {
                    self.remove_endpoint(id, None);
                }
            }
            FocusToBridge::ExpireConference { conference } => {
                let members = self.conferences.get(&conference).map(|c| c.members.clone()).unwrap_or_default();
                for id in members {
                    self.remove_endpoint(id, Some(("conference_expired", "conference expired")));
                }
            }
            FocusToBridge::Resumed { target } => self.resend_offer(target),
            FocusToBridge::Registered { .. } | FocusToBridge::Drain { .. } | FocusToBridge::ClaimResult { .. } => {}
        }
        self.run_work(now);
    }

    /// One datagram from the media socket.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, destination: Option<IpAddr>, data: &[u8]) {
        self.metrics.packets_in.inc();
        self.metrics.bytes_in.inc_by(data.len() as u64);
        let kind = demux::classify(data);
        let id = match kind {
            Kind::Unknown => return self.metrics.drop(DropReason::Malformed),
            Kind::Stun => {
                let Some(ufrag) = demux::stun_local_ufrag(data) else {
                    return self.metrics.drop(DropReason::BadStun);
                };
                match self.by_ufrag.get(ufrag) {
                    Some(id) => *id,
                    None => return self.metrics.drop(DropReason::UnknownUfrag),
                }
            }
            Kind::Dtls | Kind::Rtp => match self.by_addr.get(&source) {
                Some(id) => *id,
                None => return self.metrics.drop(DropReason::UnknownSource),
            },
        };
        let Ok(contents) = data.try_into() else {
            return self.metrics.drop(if kind == Kind::Stun { DropReason::BadStun } else { DropReason::Malformed });
        };
        let destination = self.local_candidate(source, destination);
        let input = Input::Receive(now, Receive { proto: Protocol::Udp, source, destination, contents });
        let ep = self.endpoints.get_mut(&id).expect("demux maps only hold live endpoints");
        if !ep.rtc.accepts(&input) {
            return self.metrics.drop(DropReason::Rejected);
        }
        if kind == Kind::Stun && !ep.addrs.contains(&source) {
            ep.addrs.push(source);
            self.by_addr.insert(source, id);
        }
        match contain(|| ep.rtc.handle_input(input)) {
            Ok(Ok(())) => {}
            // str0m reports per-packet trouble (SRTP auth, bad RTCP) as errors; one bad packet
            // must not end a session, so it is dropped and counted.
            Ok(Err(e)) => {
                tracing::debug!(endpoint = %ep.target.endpoint, "datagram refused: {e}");
                self.metrics.drop(DropReason::Rejected);
            }
            Err(p) => self.contain_failed(id, p),
        }
        self.queue(id);
        self.run_work(now);
    }

    /// Drive every endpoint whose timeout has come.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((t, id))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(ep) = self.endpoints.get_mut(&id) else { continue };
            if ep.scheduled != Some(t) {
                continue; // superseded by a later poll
            }
            ep.scheduled = None;
            match contain(|| ep.rtc.handle_input(Input::Timeout(now))) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(endpoint = %ep.target.endpoint, "timeout handling failed: {e}");
                    ep.rtc.disconnect();
                }
                Err(p) => self.contain_failed(id, p),
            }
            self.queue(id);
        }
        self.run_work(now);
    }

    /// Pick the candidate the datagram was addressed to. A socket bound to 0.0.0.0 learns the
    /// local IP per datagram; behind 1:1 NAT it is not the advertised one, so fall back to the
    /// first candidate of the source's family.
    fn local_candidate(&self, source: SocketAddr, destination: Option<IpAddr>) -> SocketAddr {
        let port = self.candidates[0].port();
        if let Some(ip) = destination {
            let addr = SocketAddr::new(ip, port);
            if self.candidates.contains(&addr) {
                return addr;
            }
        }
        self.candidates
            .iter()
            .find(|c| c.is_ipv4() == source.is_ipv4())
            .copied()
            .unwrap_or(self.candidates[0])
    }

    fn on_offer(&mut self, now: Instant, target: EndpointRef, sdp: &str, display_name: String) {
        let (id, created) = match self.by_ref.get(&target) {
            Some(id) => (*id, false),
            None => {
                if let Err(refusal) = self.admit(&target) {
                    return self.refuse(target, refusal);
                }
                (self.create_endpoint(now, target.clone(), display_name), true)
            }
        };
        let ep = self.endpoints.get_mut(&id).expect("just looked up or created");
        if let Some(pwd) = ponte_proto::resume::ice_pwd(sdp) {
            let hash = ponte_proto::resume::proof_hash(&ep.target.conference, &ep.target.endpoint, pwd);
            tracing::debug!(endpoint = %ep.target.endpoint, hash = hash.get(..8).unwrap_or(""), "resume hash");
            ep.resume_hash = Some(hash);
        }
        match contain(|| ep.accept_offer(sdp)).unwrap_or_else(|p| Err(p.into())) {
            Ok(answer) => self.events.push_back(EndpointEvent::Answer { target, sdp: answer }),
            Err(e) => {
                self.metrics.endpoint_failures.with_label_values(&["bad_offer"]).inc();
                self.events.push_back(EndpointEvent::Failed { target, reason: e.to_string() });
                if created {
                    self.remove_endpoint(id, None);
                    return;
                }
            }
        }
        self.queue(id);
    }

    /// A resumed client may have missed our last offer (signaling was down when it went out);
    /// it answers this copy instead, and renegotiation goes on.
    fn resend_offer(&mut self, target: EndpointRef) {
        let Some(ep) = self.by_ref.get(&target).and_then(|id| self.endpoints.get(id)) else { return };
        if let Some((sdp, tracks)) = ep.unanswered_offer().cloned() {
            tracing::info!(endpoint = %target.endpoint, "resumed client: sending our unanswered offer again");
            self.events.push_back(EndpointEvent::Offer { target, sdp, tracks });
        }
    }

    fn on_answer(&mut self, now: Instant, target: EndpointRef, sdp: &str) {
        let Some(id) = self.by_ref.get(&target).copied() else {
            let reason = "no such endpoint on this bridge".to_owned();
            self.events.push_back(EndpointEvent::Failed { target, reason });
            return;
        };
        let ep = self.endpoints.get_mut(&id).expect("by_ref holds live endpoints");
        match contain(|| ep.accept_answer(sdp)).unwrap_or_else(|p| Err(p.into())) {
            Ok(opened) => {
                for source in opened {
                    self.request_keyframe(source, now);
                }
            }
            Err(e) => {
                self.metrics.endpoint_failures.with_label_values(&["bad_answer"]).inc();
                self.events.push_back(EndpointEvent::Failed { target, reason: e.to_string() });
            }
        }
        self.queue(id);
    }

    fn create_endpoint(&mut self, now: Instant, target: EndpointRef, display_name: String) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut ep = Endpoint::new(id, target.clone(), display_name, now, &self.candidates, self.quality.rtc_bwe());
        let conference = self.conferences.entry(target.conference.clone()).or_default();
        for (key, kind, publisher) in conference.join(id) {
            ep.subscribe(key, &publisher, kind);
        }
        tracing::info!(conference = %target.conference, endpoint = %target.endpoint, "endpoint created");
        self.by_ufrag.insert(ep.ufrag.clone(), id);
        self.by_ref.insert(target, id);
        self.endpoints.insert(id, ep);
        self.update_gauges();
        id
    }

    /// Remove an endpoint; `reason` is Some when the bridge ends it on its own (the client is
    /// told), with the metrics label and the words for the client.
    fn remove_endpoint(&mut self, id: u64, reason: Option<(&'static str, &str)>) {
        let Some(mut ep) = self.endpoints.remove(&id) else { return };
        self.by_ref.remove(&ep.target);
        self.by_ufrag.remove(&ep.ufrag);
        for addr in &ep.addrs {
            self.by_addr.remove(addr);
        }
        ep.rtc.disconnect();
        self.quality.remove_endpoint(id, &ep.target.conference);
        tracing::info!(conference = %ep.target.conference, endpoint = %ep.target.endpoint, reason = reason.map_or("left", |r| r.1), "endpoint removed");
        if let Some((label, reason)) = reason {
            self.metrics.endpoint_failures.with_label_values(&[label]).inc();
            self.events.push_back(EndpointEvent::Expired { target: ep.target.clone(), reason: reason.to_owned() });
        }
        if let Some(conf) = self.conferences.get_mut(&ep.target.conference) {
            for (key, consumers) in conf.leave(id) {
                for c in consumers {
                    if let Some(sub) = self.endpoints.get_mut(&c) {
                        sub.unsubscribe(key);
                        self.work.push(c);
                    }
                }
            }
            if conf.is_empty() {
                self.conferences.remove(&ep.target.conference);
            }
        }
        self.update_gauges();
    }

    fn update_gauges(&self) {
        self.metrics.endpoints.set(self.endpoints.len() as i64);
        self.metrics.conferences.set(self.conferences.len() as i64);
    }

    fn queue(&mut self, id: u64) {
        if !self.work.contains(&id) {
            self.work.push(id);
        }
    }

    fn run_work(&mut self, now: Instant) {
        // What quality queued outside a fan-out (a last-N change when a source left).
        self.flush_quality(now);
        loop {
            while let Some(id) = self.work.pop() {
                self.drive(id, now);
            }
            let Some(id) = self.panicked.pop() else { break };
            self.remove_endpoint(id, Some(("panic", "internal error in the media engine")));
        }
    }

    /// A contained panic: the endpoint is ended once the current work is done.
    fn contain_failed(&mut self, id: u64, p: crate::endpoint::Panicked) {
        tracing::error!(endpoint = id, "{p}; ending this endpoint, the others go on");
        if let Some(ep) = self.endpoints.get_mut(&id) {
            // Whatever state the panic left behind must not be touched again.
            ep.fault = false;
        }
        if !self.panicked.contains(&id) {
            self.panicked.push(id);
        }
    }

    /// Fault injection for tests: the endpoint's next poll panics inside the engine.
    #[doc(hidden)]
    pub fn inject_panic(&mut self, now: Instant, target: &EndpointRef) {
        if let Some(ep) = self.by_ref.get(target).and_then(|id| self.endpoints.get_mut(id)) {
            ep.fault = true;
            let id = ep.id;
            self.queue(id);
            self.run_work(now);
        }
    }

    /// Negotiate if tracks changed, then poll the endpoint dry and act on its events.
    fn drive(&mut self, id: u64, now: Instant) {
        if self.panicked.contains(&id) {
            return;
        }
        let Some(ep) = self.endpoints.get_mut(&id) else { return };
        let (transmits, timers, rtc_events) = (&mut self.transmits, &mut self.timers, &mut self.rtc_events);
        let polled = contain(|| {
            if std::mem::take(&mut ep.fault) {
                panic!("injected fault");
            }
            let offer = ep.negotiate();
            loop {
                match ep.rtc.poll_output() {
                    Ok(Output::Transmit(t)) => transmits.push_back(t),
                    Ok(Output::Timeout(t)) => {
                        if ep.scheduled.is_none_or(|s| t < s) {
                            ep.scheduled = Some(t);
                            timers.push(Reverse((t, id)));
                        }
                        break;
                    }
                    Ok(Output::Event(e)) => rtc_events.push(e),
                    Err(e) => {
                        tracing::warn!(endpoint = %ep.target.endpoint, "endpoint failed: {e}");
                        ep.rtc.disconnect();
                        break;
                    }
                }
            }
            offer
        });
        let offer = match polled {
            Ok(offer) => offer,
            Err(p) => {
                self.rtc_events.clear();
                return self.contain_failed(id, p);
            }
        };
        if let Some((sdp, tracks)) = offer {
            self.metrics.renegotiations.inc();
            self.events.push_back(EndpointEvent::Offer { target: ep.target.clone(), sdp, tracks });
        }
        let alive = ep.rtc.is_alive();
        let events = std::mem::take(&mut self.rtc_events);
        for e in &events {
            self.on_rtc_event(id, now, e);
        }
        self.rtc_events = events;
        self.rtc_events.clear();
        if !alive {
            self.remove_endpoint(id, Some(("closed", "connection closed")));
        }
    }

    fn on_rtc_event(&mut self, id: u64, now: Instant, event: &Event) {
        match event {
            Event::MediaData(data) => {
                if self.observe_media(id, now, data) {
                    self.forward(TrackKey { endpoint: id, mid: data.mid }, now, &Frame::from_media(data));
                }
            }
            Event::MediaAdded(added) if added.direction.is_receiving() => {
                let kind = match added.kind {
                    str0m::media::MediaKind::Audio => MediaKind::Audio,
                    str0m::media::MediaKind::Video => MediaKind::Video,
                };
                self.add_producer(TrackKey { endpoint: id, mid: added.mid }, kind);
            }
            Event::KeyframeRequest(req) => {
                if let Some(source) = self.endpoints.get(&id).and_then(|ep| ep.source_of(req.mid)) {
                    self.request_keyframe(source, now);
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                if let Some(ep) = self.endpoints.get_mut(&id) {
                    // ICE-lite cannot restart on its own; the client rejoins.
                    ep.rtc.disconnect();
                }
            }
            Event::Connected => {
                if let Some(ep) = self.endpoints.get(&id) {
                    tracing::info!(endpoint = %ep.target.endpoint, "media connected");
                    self.events.push_back(EndpointEvent::Connected { target: ep.target.clone() });
                }
            }
            _ => self.on_quality_event(id, event),
        }
    }

    fn add_producer(&mut self, key: TrackKey, kind: MediaKind) {
        let Some(ep) = self.endpoints.get_mut(&key.endpoint) else { return };
        ep.add_track_in(key.mid, kind);
        let publisher = ep.target.endpoint.clone();
        let Some(conf) = self.conferences.get_mut(&ep.target.conference) else { return };
        for c in conf.add_producer(key, kind, &publisher) {
            if let Some(sub) = self.endpoints.get_mut(c) {
                sub.subscribe(key, &publisher, kind);
                if !self.work.contains(c) {
                    self.work.push(*c);
                }
            }
        }
    }

    /// The fan-out: one publisher's frame to every consumer of that track.
    fn forward(&mut self, key: TrackKey, now: Instant, frame: &Frame<'_>) {
        if !frame.is_audio() {
            self.quality.observe_video(key, frame, now);
        }
        let conf = match self.endpoints.get_mut(&key.endpoint) {
            Some(ep) => {
                if let Some(t) = ep.track_in(key.mid) {
                    if frame.keyframe {
                        t.keyframes.keyframe_seen();
                    }
                }
                self.conferences.get(&ep.target.conference)
            }
            None => self.ingests.conference_of(key.endpoint).and_then(|c| self.conferences.get(c)),
        };
        let Some(conf) = conf else { return };
        let mut want_keyframe = !frame.contiguous;
        let forwarded = &self.metrics.frames_forwarded[usize::from(!frame.is_audio())];
        for c in conf.consumers(&key) {
            let Some(sub) = self.endpoints.get_mut(c) else { continue };
            // Video goes through the subscriber's forwarder (layer choice, last-N, RTP time).
            let picked = if frame.is_audio() { Some(*frame) } else { self.quality.pick(*c, &sub.target.conference, key, frame, now) };
            let Some(frame) = picked else { continue };
            match contain(|| sub.write(key, &frame)) {
                Err(p) => {
                    tracing::error!(endpoint = %sub.target.endpoint, "{p}; ending this endpoint, the others go on");
                    if !self.panicked.contains(c) {
                        self.panicked.push(*c);
                    }
                }
                Ok(Ok(Written::Sent)) => {
                    forwarded.inc();
                    if !self.work.contains(c) {
                        self.work.push(*c);
                    }
                }
                Ok(Ok(Written::AwaitingKeyframe)) => want_keyframe = true,
                Ok(Ok(Written::Skipped)) => {}
                Ok(Err(e)) => tracing::debug!(endpoint = %sub.target.endpoint, "write failed: {e}"),
            }
        }
        if want_keyframe {
            self.request_keyframe(key, now);
        }
        self.flush_quality(now);
    }

    /// Ask a publisher for a key frame on one track, throttled (see [`crate::rtcp::keyframe`]).
    fn request_keyframe(&mut self, source: TrackKey, now: Instant) {
        if self.quality.is_simulcast(source) {
            return self.request_layer_keyframe(source, None, now);
        }
        if self.ingests.owns(source.endpoint) {
            return self.ingest_replay(source);
        }
        let interval = self.keyframe_interval;
        let Some(ep) = self.endpoints.get_mut(&source.endpoint) else { return };
        let Some(track) = ep.track_in(source.mid) else { return };
        if track.kind != MediaKind::Video || !track.keyframes.should_request(now, interval) {
            return;
        }
        if let Some(mut writer) = ep.rtc.writer(source.mid) {
            if writer.request_keyframe(None, KeyframeRequestKind::Pli).is_ok() {
                self.metrics.keyframe_requests.inc();
            }
        }
        self.queue(source.endpoint);
    }
}
