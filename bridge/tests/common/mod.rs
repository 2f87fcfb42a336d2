//! A virtual-time network around one [`Engine`] for the quality scenarios (simulcast,
//! last-N, NACK): str0m clients that publish simulcast VP8 with audio levels and talk to the
//! bridge over a data channel, and a downlink per client with an optional rate cap (a
//! bottleneck queue with tail drop), a one-way delay and a drop filter. No sockets, no clock.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ponte_bridge::engine::Engine;
use ponte_bridge::forwarding::config::QualityConfig;
use ponte_bridge::metrics::BridgeMetrics;
use ponte_proto::channel::{BridgeChannelMessage, ClientChannelMessage};
use ponte_proto::link::{EndpointEvent, EndpointRef, FocusToBridge};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, MediaTime, Mid, Rid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive, Transmit};
use str0m::rtp::{RawPacket, RtpWrite, SeqNo, Ssrc};
use str0m::{Candidate, Event, Input, Output, Rtc};

pub const BRIDGE: &str = "127.0.0.1:10000";
pub const RIDS: [&str; 3] = ["q", "h", "f"];
/// Frame sizes per layer `(key, delta)`; at 25 fps about 70, 200 and 650 kbit/s.
const SIZES: [(usize, usize); 3] = [(2500, 300), (6000, 900), (15000, 3000)];
/// Each layer's RTP clock starts elsewhere, as a browser's encodings do.
const TIME_BASE: [u64; 3] = [1_000, 7_000_000, 90_000_000];
pub const FPS: u64 = 25;

/// A VP8 frame whose bytes say who sent it, which layer and which frame it is.
pub fn frame(sender: u8, layer: u8, seq: u32, key: bool) -> Vec<u8> {
    let mut f = if key {
        let h: u16 = [180, 360, 720][layer as usize];
        let w = h * 16 / 9;
        let mut v = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
        v.extend_from_slice(&w.to_le_bytes());
        v.extend_from_slice(&h.to_le_bytes());
        v
    } else {
        vec![0x11, 0x02, 0x00]
    };
    f.extend_from_slice(b"PNTE");
    f.push(sender);
    f.push(layer);
    f.extend_from_slice(&seq.to_be_bytes());
    let (k, d) = SIZES[layer as usize];
    let len = if key { k } else { d };
    f.extend((0..len).map(|i| (i as u32 ^ seq).wrapping_mul(31) as u8 ^ sender));
    f
}

/// `(sender, layer, seq)` from the start of a VP8 frame (not an RTP payload).
pub fn parse_frame(data: &[u8]) -> Option<(u8, u8, u32)> {
    let start = if data.first()? & 1 == 0 { 10 } else { 3 };
    let m = data.get(start..start + 10)?;
    (&m[..4] == b"PNTE").then(|| (m[4], m[5], u32::from_be_bytes(m[6..10].try_into().unwrap())))
}

/// The VP8 frame start inside an RTP payload (RFC 7741 descriptor skipped), if this packet
/// starts a frame.
pub fn vp8_frame_start(payload: &[u8]) -> Option<&[u8]> {
    let b0 = *payload.first()?;
    if b0 & 0x10 == 0 {
        return None; // not the start of a partition
    }
    let mut i = 1;
    if b0 & 0x80 != 0 {
        let x = *payload.get(1)?;
        i += 1;
        if x & 0x80 != 0 {
            i += if payload.get(i)? & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1;
        }
        if x & 0x30 != 0 {
            i += 1;
        }
    }
    payload.get(i..)
}

/// One video RTP packet as a receiver in RTP mode saw it.
#[derive(Debug, Clone)]
pub struct RxPacket {
    pub at: Instant,
    pub seq: u64,
    pub ssrc: u32,
    pub timestamp: u32,
    /// `(sender, layer, frame seq)` when the packet starts a frame.
    pub frame: Option<(u8, u8, u32)>,
    /// The VP8 payload descriptor's picture id and TL0PICIDX, when it has them.
    pub picture_id: Option<u16>,
    pub tl0_pic_idx: Option<u8>,
}

/// Picture id and TL0PICIDX from a VP8 payload descriptor (RFC 7741 §4.2), when present.
pub fn vp8_ids(payload: &[u8]) -> (Option<u16>, Option<u8>) {
    let Some(&b0) = payload.first() else { return (None, None) };
    if b0 & 0x80 == 0 {
        return (None, None);
    }
    let Some(&x) = payload.get(1) else { return (None, None) };
    let mut i = 2;
    let mut pid = None;
    if x & 0x80 != 0 {
        let Some(&m) = payload.get(i) else { return (None, None) };
        if m & 0x80 != 0 {
            pid = payload.get(i + 1).map(|lo| u16::from(m & 0x7f) << 8 | u16::from(*lo));
            i += 2;
        } else {
            pid = Some(u16::from(m));
            i += 1;
        }
    }
    let tl0 = if x & 0x40 != 0 { payload.get(i).copied() } else { None };
    (pid, tl0)
}

/// Each layer's picture ids start elsewhere, as a browser's encodings do (15-bit).
const PICTURE_ID_BASE: [u16; 3] = [100, 12_000, 30_000];
/// And so do their TL0PICIDX counters.
const TL0_BASE: [u8; 3] = [7, 90, 200];
/// Temporal layer of the n-th frame: the three-layer pattern browsers use for VP8.
const TID_PATTERN: [u8; 4] = [0, 2, 1, 2];

#[derive(Default)]
pub struct Opts {
    pub audio: bool,
    pub video: bool,
    pub simulcast: bool,
    /// Receive in RTP mode (every packet's sequence number and timestamp visible).
    pub rtp_mode: bool,
    pub channel: bool,
    /// Publish as a browser does: RTP written directly, each packet's VP8 payload descriptor
    /// with a 15-bit picture id, TL0PICIDX and temporal layer id, counted per layer. Video
    /// only (str0m's RTP mode has no frame writer for the audio).
    pub picture_ids: bool,
}

/// Decides per datagram whether the link loses it.
pub type DropFilter = Box<dyn FnMut(&Transmit) -> bool>;

/// The client's downlink: what the bridge sends it passes through here.
#[derive(Default)]
pub struct Link {
    /// Bottleneck rate; `None`: unlimited.
    pub cap_bps: Option<u64>,
    pub delay: Duration,
    /// Packets queued at the bottleneck longer than this are dropped (tail drop).
    pub queue_limit: Duration,
    /// Drop a packet when this returns true (called with the datagram as sent).
    pub drop: Option<DropFilter>,
    busy_until: Option<Instant>,
    queue: VecDeque<(Instant, Transmit)>,
    pub dropped: u64,
}

pub struct Client {
    pub name: String,
    pub room: String,
    pub idx: u8,
    pub rtc: Rtc,
    pub addr: SocketAddr,
    pub audio: Option<Mid>,
    pub video: Option<Mid>,
    pub simulcast: bool,
    pending: Option<SdpPendingOffer>,
    offer: Option<String>,
    /// mid → publisher participant id, from the bridge's `tracks`.
    pub tracks: HashMap<String, String>,
    pub channel: Option<ChannelId>,
    pub messages: Vec<BridgeChannelMessage>,
    /// Constraints to send once the channel opens (and kept sent).
    pub constraints: Option<ClientChannelMessage>,
    /// Video frames received in frame mode: (publisher, layer, seq).
    pub frames: Vec<(String, u8, u32)>,
    pub packets: Vec<RxPacket>,
    /// Audio level (dBov) written with every audio frame.
    pub level: i8,
    pub seq: u32,
    force_key: [bool; 3],
    pub keyframe_requests: u32,
    pub audio_packets: u64,
    /// Padding-only RTP packets (ssrc, 16-bit seq): they take sequence numbers too.
    pub padding: Vec<(u32, u16)>,
    /// Every RTP datagram as it arrived (RTP mode): `(ssrc, payload length)`, RTX included.
    pub raw: Vec<(u32, usize)>,
    pub audio_ssrc: Option<u32>,
    /// Audio frames received per publisher (frame mode).
    pub audio_from: HashMap<String, u64>,
    pub link: Link,
    /// With `Opts::picture_ids`: per layer, the next RTP sequence number.
    direct_seq: Option<[u64; 3]>,
    /// And per layer, the TL0PICIDX of the last temporal-layer-0 picture.
    tl0: [u8; 3],
}

impl Client {
    pub fn new(idx: u8, room: &str, now: Instant, o: &Opts) -> Self {
        let addr: SocketAddr = format!("127.0.0.{}:5000", 10 + idx).parse().unwrap();
        let rtp_mode = o.rtp_mode || o.picture_ids;
        let mut rtc = Rtc::builder().set_rtp_mode(rtp_mode).enable_raw_packets(o.rtp_mode).build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        let mut api = rtc.sdp_api();
        let name = format!("p{idx}");
        let audio = o.audio.then(|| api.add_media(MediaKind::Audio, Direction::SendOnly, Some(name.clone()), None, None));
        let video = o.video.then(|| {
            let sc = o.simulcast.then(|| {
                let mut s = Simulcast::new();
                RIDS.iter().for_each(|r| s.add_send_layer(SimulcastLayer::new(r)));
                s
            });
            api.add_media(MediaKind::Video, Direction::SendOnly, Some(name.clone()), None, sc)
        });
        if o.channel {
            api.add_channel("ponte".into());
        }
        let (offer, pending) = api.apply().expect("something to offer");
        Client {
            name,
            room: room.into(),
            idx,
            rtc,
            addr,
            audio,
            video,
            simulcast: o.simulcast,
            pending: Some(pending),
            offer: Some(offer.to_sdp_string()),
            tracks: HashMap::new(),
            channel: None,
            messages: Vec::new(),
            constraints: None,
            frames: Vec::new(),
            packets: Vec::new(),
            level: -127,
            seq: 0,
            force_key: [false; 3],
            keyframe_requests: 0,
            audio_packets: 0,
            padding: Vec::new(),
            raw: Vec::new(),
            audio_ssrc: None,
            audio_from: HashMap::new(),
            link: Link { queue_limit: Duration::from_millis(500), ..Default::default() },
            direct_seq: o.picture_ids.then_some([1, 20_000, 40_000]),
            tl0: TL0_BASE,
        }
    }

    pub fn target(&self) -> EndpointRef {
        EndpointRef { conference: self.room.clone(), endpoint: self.name.clone() }
    }

    fn send_audio(&mut self, now: Instant, n: u64) {
        let Some(mid) = self.audio else { return };
        let level = self.level;
        let w = self.rtc.writer(mid).unwrap();
        let pt = w.payload_params().find(|p| p.spec().codec.is_audio()).unwrap().pt();
        let data = vec![0x78, self.idx, 0, 0, 0, 0, 0, 0, 0, 0];
        w.audio_level(level, level > -50).write(pt, now, MediaTime::from_90khz(n * 1800), data).unwrap();
    }

    fn send_video(&mut self, now: Instant) {
        let Some(mid) = self.video else { return };
        if self.direct_seq.is_some() {
            return self.send_video_rtp(mid, now);
        }
        self.seq += 1;
        let periodic = self.seq % (FPS as u32 * 4) == 1;
        let layers: &[u8] = if self.simulcast { &[0, 1, 2] } else { &[0] };
        for &l in layers {
            let key = periodic || std::mem::take(&mut self.force_key[l as usize]);
            let data = frame(self.idx, l, self.seq, key);
            let time = MediaTime::from_90khz(TIME_BASE[l as usize] + u64::from(self.seq) * 90_000 / FPS);
            let w = self.rtc.writer(mid).unwrap();
            let pt = w.payload_params().find(|p| !p.spec().codec.is_audio()).unwrap().pt();
            let w = if self.simulcast { w.rid(Rid::from(RIDS[l as usize])) } else { w };
            w.write(pt, now, time, data).unwrap();
        }
    }

    /// One frame per layer as RTP packets with a browser's VP8 payload descriptor.
    fn send_video_rtp(&mut self, mid: Mid, now: Instant) {
        self.seq += 1;
        let n = self.seq;
        let periodic = n % (FPS as u32 * 4) == 1;
        // RTP mode has no writer: the negotiated VP8 payload type from the codec config.
        let remote = self.rtc.media(mid).unwrap().remote_pts().to_vec();
        let params = self.rtc.codec_config().params();
        let pt = params.iter().find(|p| p.spec().codec == Codec::Vp8 && remote.contains(&p.pt())).expect("VP8 negotiated").pt();
        let layers: &[u8] = if self.simulcast { &[0, 1, 2] } else { &[0] };
        for &l in layers {
            let li = l as usize;
            let key = periodic || std::mem::take(&mut self.force_key[li]);
            let data = frame(self.idx, l, n, key);
            let time = (TIME_BASE[li] + u64::from(n) * 90_000 / FPS) as u32;
            let pid = (u32::from(PICTURE_ID_BASE[li]) + n) as u16 & 0x7fff;
            // A key frame is on temporal layer 0, as an encoder makes it.
            let tid = if key { 0 } else { TID_PATTERN[n as usize % TID_PATTERN.len()] };
            if tid == 0 {
                self.tl0[li] = self.tl0[li].wrapping_add(1);
            }
            let tl0 = self.tl0[li];
            let rid = self.simulcast.then(|| Rid::from(RIDS[li]));
            let mut api = self.rtc.direct_api();
            // The SSRCs str0m announced in its offer, if it did; else our own.
            if api.stream_tx_by_mid(mid, rid).is_none() {
                api.declare_stream_tx(Ssrc::from(1000 + u32::from(l) + 10 * u32::from(self.idx)), None, mid, rid);
            }
            let stream = api.stream_tx_by_mid(mid, rid).unwrap();
            let chunks: Vec<&[u8]> = data.chunks(1000).collect();
            for (i, chunk) in chunks.iter().enumerate() {
                let start = if i == 0 { 0x10 } else { 0 };
                // X, then I (15-bit picture id), L (TL0PICIDX), T (TID, Y = 0).
                let mut payload = vec![0x80 | start, 0xe0, 0x80 | (pid >> 8) as u8, pid as u8, tl0, tid << 6];
                payload.extend_from_slice(chunk);
                let seq = &mut self.direct_seq.as_mut().unwrap()[li];
                let write = RtpWrite::new(pt, SeqNo::from(*seq), time, now, payload).marker(i + 1 == chunks.len()).nackable(true);
                *seq += 1;
                stream.write_rtp(write);
            }
        }
    }

    fn send_constraints(&mut self) {
        let (Some(id), Some(c)) = (self.channel, &self.constraints) else { return };
        let text = serde_json::to_string(c).unwrap();
        if let Some(mut ch) = self.rtc.channel(id) {
            ch.write(false, text.as_bytes()).unwrap();
        }
    }

    /// Replace the constraints (sent at once if the channel is open).
    pub fn set_constraints(&mut self, c: ClientChannelMessage) {
        self.constraints = Some(c);
        self.send_constraints();
    }

    fn on_event(&mut self, now: Instant, e: Event) {
        match e {
            Event::MediaData(d) if d.params.spec().codec.is_audio() => {
                let publisher = self.tracks.get(&d.mid.to_string()).cloned().expect("mid is in the track list");
                *self.audio_from.entry(publisher).or_default() += 1;
            }
            Event::MediaData(d) => {
                let publisher = self.tracks.get(&d.mid.to_string()).cloned().expect("mid is in the track list");
                let (sender, layer, seq) = parse_frame(&d.data).expect("marked frame");
                assert_eq!(publisher, format!("p{sender}"));
                self.frames.push((publisher, layer, seq));
            }
            Event::RtpPacket(p) => {
                // Audio (10-byte Opus stand-ins) is not what these tests follow; padding is
                // kept, since it takes sequence numbers of the video stream.
                if p.payload.len() == 10 && p.payload[0] == 0x78 {
                    self.audio_packets += 1;
                    self.audio_ssrc = Some(*p.header.ssrc);
                    return;
                }
                let frame = vp8_frame_start(&p.payload).and_then(parse_frame);
                let (picture_id, tl0_pic_idx) = vp8_ids(&p.payload);
                let (seq, ssrc, timestamp) = (*p.seq_no, *p.header.ssrc, p.header.timestamp);
                self.packets.push(RxPacket { at: now, seq, ssrc, timestamp, frame, picture_id, tl0_pic_idx });
            }
            Event::RawPacket(raw) => {
                if let RawPacket::RtpRx(h, data) = *raw {
                    self.raw.push((*h.ssrc, data.len()));
                    if data.is_empty() {
                        self.padding.push((*h.ssrc, h.sequence_number));
                    }
                }
            }
            Event::KeyframeRequest(r) => {
                self.keyframe_requests += 1;
                let l = r.rid.map_or(0, |rid| RIDS.iter().position(|x| **x == *rid).unwrap_or(0));
                self.force_key[l] = true;
            }
            Event::ChannelOpen(id, _) => {
                self.channel = Some(id);
                self.send_constraints();
            }
            Event::ChannelData(d) => {
                let m: BridgeChannelMessage = serde_json::from_slice(&d.data).expect("bridge messages parse");
                self.messages.push(m);
            }
            _ => {}
        }
    }

    /// The latest `last_n` set the bridge announced.
    pub fn last_n(&self) -> Option<Vec<String>> {
        self.messages.iter().rev().find_map(|m| match m {
            BridgeChannelMessage::LastN { participant_ids } => Some(participant_ids.clone()),
            _ => None,
        })
    }

    pub fn dominant(&self) -> Option<String> {
        self.messages.iter().rev().find_map(|m| match m {
            BridgeChannelMessage::DominantSpeaker { participant_id } => Some(participant_id.clone()),
            _ => None,
        })
    }
}

pub struct Net {
    pub engine: Engine,
    pub clients: Vec<Client>,
    pub now: Instant,
    pub registry: prometheus::Registry,
    /// Clients whose signaling is down: what the bridge says to them is lost.
    pub unreachable: std::collections::HashSet<usize>,
    tick: u64,
}

impl Net {
    pub fn new(quality: QualityConfig) -> Self {
        let registry = prometheus::Registry::new();
        let metrics = BridgeMetrics::new(&registry).unwrap();
        ponte_bridge::init_crypto();
        let mut engine = Engine::new(vec![BRIDGE.parse().unwrap()], Duration::from_millis(300), metrics);
        engine.set_quality(quality);
        Net { engine, clients: Vec::new(), now: Instant::now(), registry, unreachable: Default::default(), tick: 0 }
    }

    pub fn join(&mut self, room: &str, o: &Opts) -> usize {
        let idx = self.clients.len() as u8;
        let mut c = Client::new(idx, room, self.now, o);
        let sdp = c.offer.take().unwrap();
        let cmd = FocusToBridge::Offer { target: c.target(), sdp, display_name: c.name.clone() };
        self.clients.push(c);
        self.engine.handle_command(self.now, cmd);
        self.pump();
        idx as usize
    }

    fn on_bridge_event(&mut self, ev: EndpointEvent) {
        let target = ev.target().clone();
        let Some(i) = self.clients.iter().position(|c| c.target() == target) else { return };
        if self.unreachable.contains(&i) {
            return;
        }
        let c = &mut self.clients[i];
        match ev {
            EndpointEvent::Answer { sdp, .. } => {
                let answer = SdpAnswer::from_sdp_string(&sdp).unwrap();
                c.rtc.sdp_api().accept_answer(c.pending.take().unwrap(), answer).unwrap();
            }
            EndpointEvent::Offer { sdp, tracks, .. } => {
                c.tracks = tracks.into_iter().map(|t| (t.mid, t.participant_id)).collect();
                let answer = c.rtc.sdp_api().accept_offer(SdpOffer::from_sdp_string(&sdp).unwrap()).unwrap();
                let cmd = FocusToBridge::Answer { target, sdp: answer.to_sdp_string() };
                self.engine.handle_command(self.now, cmd);
            }
            EndpointEvent::Connected { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Queue a bridge datagram on its client's downlink.
    fn downlink(&mut self, t: Transmit) {
        let now = self.now;
        let Some(c) = self.clients.iter_mut().find(|c| c.addr == t.destination) else { return };
        let link = &mut c.link;
        if link.drop.as_mut().is_some_and(|d| d(&t)) {
            link.dropped += 1;
            return;
        }
        let leaves = match link.cap_bps {
            None => now,
            Some(cap) => {
                let start = link.busy_until.map_or(now, |b| b.max(now));
                if start.saturating_duration_since(now) > link.queue_limit {
                    link.dropped += 1;
                    return;
                }
                let end = start + Duration::from_micros(t.contents.len() as u64 * 8 * 1_000_000 / cap);
                link.busy_until = Some(end);
                end
            }
        };
        link.queue.push_back((leaves + link.delay, t));
    }

    /// Deliver everything due until the network is quiet.
    pub fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(ev) = self.engine.poll_event() {
                moved = true;
                self.on_bridge_event(ev);
            }
            while let Some(t) = self.engine.poll_transmit() {
                moved = true;
                self.downlink(t);
            }
            let now = self.now;
            for i in 0..self.clients.len() {
                // str0m wants its output drained after every input (RTP mode keeps only one
                // received packet for the next poll).
                loop {
                    moved |= self.drain(i, now);
                    let c = &mut self.clients[i];
                    if c.link.queue.front().is_none_or(|(at, _)| *at > now) {
                        break;
                    }
                    let (_, t) = c.link.queue.pop_front().expect("front checked");
                    moved = true;
                    let contents = (&*t.contents).try_into().unwrap();
                    let input = Input::Receive(now, Receive { proto: Protocol::Udp, source: t.source, destination: t.destination, contents });
                    if c.rtc.is_alive() {
                        c.rtc.handle_input(input).unwrap();
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }

    /// Poll one client dry: events to it, transmits to the bridge. True if anything moved.
    fn drain(&mut self, i: usize, now: Instant) -> bool {
        let mut moved = false;
        loop {
            let c = &mut self.clients[i];
            if !c.rtc.is_alive() {
                return moved;
            }
            match c.rtc.poll_output().unwrap() {
                Output::Timeout(_) => return moved,
                Output::Event(e) => c.on_event(now, e),
                Output::Transmit(t) => {
                    moved = true;
                    let (ip, from) = (t.destination.ip(), c.addr);
                    self.engine.handle_datagram(now, from, Some(ip), &t.contents);
                }
            }
        }
    }

    /// Run `ms` milliseconds of virtual time in 2 ms steps: audio every 20 ms, video at [`FPS`].
    pub fn run(&mut self, ms: u64) {
        for _ in 0..ms / 2 {
            self.now += Duration::from_millis(2);
            self.tick += 2;
            let now = self.now;
            let (audio, video) = (self.tick.is_multiple_of(20), self.tick.is_multiple_of(1000 / FPS));
            for c in &mut self.clients {
                if !c.rtc.is_connected() {
                    continue;
                }
                if audio {
                    c.send_audio(now, self.tick / 20);
                }
                if video {
                    c.send_video(now);
                }
            }
            for c in &mut self.clients {
                if c.rtc.is_alive() {
                    c.rtc.handle_input(Input::Timeout(now)).unwrap();
                }
            }
            self.engine.handle_timeout(now);
            self.pump();
        }
    }

    pub fn metric(&self, name: &str) -> f64 {
        self.registry
            .gather()
            .iter()
            .filter(|f| f.name() == name)
            .flat_map(|f| {
                f.get_metric().iter().map(|m| {
                    m.get_counter().get_value() + m.get_gauge().get_value() + m.get_histogram().get_sample_count() as f64
                })
            })
            .sum()
    }
}
