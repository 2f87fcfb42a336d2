//! The participant's WebRTC session, sans-IO: one str0m [`Rtc`] (a full ICE agent, so it
//! controls against the ICE-lite bridge), paced synthetic media out, verified media in.
//!
//! The edge feeds it datagrams and timeouts with the current time and sends what
//! [`Session::poll_transmit`] yields. Every call that mutates the `Rtc` drains its output to
//! the next timeout before returning, as str0m requires. SDP travels through the caller:
//! [`Session::make_offer`] → [`Session::accept_answer`] for our own m-lines, and
//! [`Session::accept_offer`] for the bridge's renegotiations, whose `tracks` list tells which
//! publisher each received m-line carries.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec as RtcCodec;
use str0m::media::{Direction, Mid, Pt};
use str0m::net::{Protocol, Receive, Transmit};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcError};

use ponte_proto::channel::{BridgeChannelMessage, ClientChannelMessage};
use ponte_proto::{MediaKind, TrackInfo};
use str0m::channel::ChannelId;
use str0m::media::{MediaTime, Rid, Simulcast, SimulcastLayer};

use crate::media::source::{Codec, Frame, Source};
use crate::media::{vp8, Marker};
use crate::recorder::{Recorder, Snapshot};

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("invalid SDP: {0}")]
    Sdp(String),
    #[error("local address is no ICE candidate: {0}")]
    Candidate(String),
    #[error("no offer of ours is outstanding")]
    NoPendingOffer,
    #[error("WebRTC: {0}")]
    Rtc(#[from] RtcError),
}

/// What the session sends and how it names itself.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The msid stream id of our m-lines (sanitized to SDP token characters).
    pub label: String,
    /// Written into every frame's marker, so receivers can tell senders apart.
    pub sender_tag: u32,
    pub send_audio: bool,
    pub send_video: bool,
    pub video_fps: u32,
    /// A key frame every this many video frames (0: only when asked for one).
    pub keyframe_interval: u32,
    /// Also accept H.264 (ingest streams arrive as H.264).
    pub receive_h264: bool,
    /// Keep the raw received payloads of this publisher (see [`Snapshot::kept`]).
    pub keep_payloads_of: Option<String>,
    /// Publish video as three simulcast encodings, rids `q`, `h`, `f` (180p, 360p, 720p in
    /// key-frame headers; bodies 1×, 3× and 8× the base frame), like a browser's sendEncodings.
    pub simulcast: bool,
    /// RFC 6464 audio level (dBov, -127..=0) written with every audio frame; `None`: no level.
    /// Change it later with [`Session::set_audio_level`].
    pub audio_level: Option<i8>,
    /// Open a data channel to the bridge in the first offer (constraints out, speaker and
    /// last-N events in; `ponte_proto::channel`).
    pub data_channel: bool,
    /// Video payload bitrate, all simulcast layers together (kbit/s); `None`: the generator's
    /// natural size (~125 kbit/s at 15 fps for one stream).
    pub video_kbps: Option<u32>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            label: "ponte-participant".into(),
            sender_tag: 1,
            send_audio: true,
            send_video: true,
            video_fps: 15,
            keyframe_interval: 30,
            receive_h264: false,
            keep_payloads_of: None,
            simulcast: false,
            audio_level: None,
            data_channel: false,
            video_kbps: None,
        }
    }
}

/// What one kind of outgoing media has sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SentStats {
    pub frames: u64,
    pub bytes: u64,
    pub keyframes: u64,
}

/// Send-side counters and connection state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// ICE and DTLS are up (str0m's `Event::Connected`), and not disconnected since.
    pub connected: bool,
    pub audio: SentStats,
    pub video: SentStats,
    /// PLI/FIR received for our video.
    pub keyframe_requests: u64,
    pub write_errors: u64,
    /// Datagrams str0m refused (not STUN/DTLS/RTP, failed SRTP, ...).
    pub dropped_datagrams: u64,
    /// When ICE and DTLS first came up.
    pub connected_at: Option<Instant>,
    /// RTP packets received and sent, retransmissions included (str0m's per-stream stats,
    /// refreshed every [`STATS_EVERY`]).
    pub rtp_packets_received: u64,
    pub rtp_packets_sent: u64,
}

/// How often str0m reports per-stream packet counts.
pub const STATS_EVERY: Duration = Duration::from_secs(1);

const AUDIO: usize = 0;
const VIDEO: usize = 1;
/// Simulcast rids, lowest first.
pub const RIDS: [&str; 3] = ["q", "h", "f"];
/// RTP clock offset of each simulcast layer.
const LAYER_TIME_BASE: [u64; 3] = [0, 3_000_000, 77_000_000];

/// One kind of outgoing media.
struct Outgoing {
    kind: MediaKind,
    source: Source,
    enabled: bool,
    muted: bool,
    mid: Option<Mid>,
    /// The negotiated payload type of our codec, once an answer settled it.
    pt: Option<Pt>,
    sent: SentStats,
}

pub struct Session {
    rtc: Rtc,
    config: SessionConfig,
    outgoing: [Outgoing; 2],
    lines_added: bool,
    /// Our m-lines to stop in the next offer.
    stopping: Vec<Mid>,
    pending: Option<SdpPendingOffer>,
    /// Received m-lines: mid → (publisher participant id, kind), from the last bridge offer.
    tracks: HashMap<String, (String, MediaKind)>,
    recorder: Recorder,
    stats: Stats,
    transmits: VecDeque<Transmit>,
    rtc_timeout: Instant,
    channel: Channel,
    /// Latest cumulative RTP packet counts per received and sent stream.
    packets_in: HashMap<(Mid, Option<Rid>), u64>,
    packets_out: HashMap<(Mid, Option<Rid>), u64>,
}

/// The data channel to the bridge: messages wait until it opens.
#[derive(Debug, Default)]
struct Channel {
    id: Option<ChannelId>,
    outbox: Vec<ClientChannelMessage>,
    received: Vec<BridgeChannelMessage>,
}

impl Session {
    /// A session whose media flows through the UDP socket bound at `local_addr` (a concrete
    /// IP, since it becomes our ICE host candidate).
    pub fn new(now: Instant, config: SessionConfig, local_addr: SocketAddr) -> Result<Self, SessionError> {
        crate::init_crypto();
        // Like a browser's jitter buffer, take audio as it comes instead of holding it back
        // behind a lost packet (str0m's default waits for up to 15 packets).
        let builder = Rtc::builder()
            .set_reordering_size_audio(0)
            .set_stats_interval(Some(STATS_EVERY))
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true);
        let mut rtc = if config.receive_h264 { builder.enable_h264(true) } else { builder }.build(now);
        let candidate = Candidate::host(local_addr, "udp").map_err(|e| SessionError::Candidate(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let mut video = Source::video(config.sender_tag, config.video_fps, config.keyframe_interval);
        if let Some(kbps) = config.video_kbps {
            let weight = if config.simulcast { vp8::LAYER_SCALE.iter().sum() } else { 1 };
            video = video.with_bitrate(kbps, weight);
        }
        let outgoing = [
            Outgoing::new(MediaKind::Audio, Source::audio(config.sender_tag), config.send_audio),
            Outgoing::new(MediaKind::Video, video, config.send_video),
        ];
        let recorder = Recorder::keeping(config.keep_payloads_of.clone());
        let mut session = Self {
            rtc,
            config,
            outgoing,
            lines_added: false,
            stopping: Vec::new(),
            pending: None,
            tracks: HashMap::new(),
            recorder,
            stats: Stats::default(),
            transmits: VecDeque::new(),
            rtc_timeout: now,
            channel: Channel::default(),
            packets_in: HashMap::new(),
            packets_out: HashMap::new(),
        };
        session.drain(now);
        Ok(session)
    }

    pub fn sender_tag(&self) -> u32 {
        self.config.sender_tag
    }

    pub fn is_alive(&self) -> bool {
        self.rtc.is_alive()
    }

    /// Our offer: the send m-lines on first use, or `None` if nothing changed or an offer of
    /// ours is still unanswered.
    pub fn make_offer(&mut self, now: Instant) -> Result<Option<String>, SessionError> {
        if self.pending.is_some() {
            return Ok(None);
        }
        let mut api = self.rtc.sdp_api();
        if !self.lines_added {
            self.lines_added = true;
            let label = msid_token(&self.config.label);
            for o in self.outgoing.iter_mut().filter(|o| o.enabled) {
                let track_id = format!("{label}-{}", kind_name(o.kind));
                let simulcast = (self.config.simulcast && o.kind == MediaKind::Video).then(|| {
                    let mut s = Simulcast::new();
                    RIDS.iter().for_each(|r| s.add_send_layer(SimulcastLayer::new(r)));
                    s
                });
                o.mid = Some(api.add_media(rtc_kind(o.kind), Direction::SendOnly, Some(label.clone()), Some(track_id), simulcast));
            }
            if self.config.data_channel {
                api.add_channel("ponte".into());
            }
            if self.outgoing.iter().all(|o| !o.enabled) {
                // An offer needs an m-line; a receive-only participant offers one it never uses.
                api.add_media(str0m::media::MediaKind::Audio, Direction::RecvOnly, Some(label), None, None);
            }
        }
        for mid in self.stopping.drain(..) {
            api.stop_media(mid);
        }
        let Some((offer, pending)) = api.apply() else { return Ok(None) };
        self.pending = Some(pending);
        self.drain(now);
        Ok(Some(offer.to_sdp_string()))
    }

    /// The answer to our outstanding offer.
    pub fn accept_answer(&mut self, now: Instant, sdp: &str) -> Result<(), SessionError> {
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| SessionError::Sdp(e.to_string()))?;
        let pending = self.pending.take().ok_or(SessionError::NoPendingOffer)?;
        let result = self.rtc.sdp_api().accept_answer(pending, answer);
        self.after_negotiation(now);
        Ok(result?)
    }

    /// A remote offer (the bridge renegotiating); `tracks` maps its m-lines to publishers.
    /// Returns our answer. An offer of ours still outstanding is dropped: we are the polite peer.
    pub fn accept_offer(&mut self, now: Instant, sdp: &str, tracks: &[TrackInfo]) -> Result<String, SessionError> {
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| SessionError::Sdp(e.to_string()))?;
        self.set_tracks(tracks);
        let result = self.rtc.sdp_api().accept_offer(offer);
        self.pending = None;
        self.after_negotiation(now);
        Ok(result?.to_sdp_string())
    }

    /// The m-lines we send, as a `tracks` list would name them (for peers that are not a bridge).
    pub fn local_tracks(&self, participant_id: &str) -> Vec<TrackInfo> {
        self.outgoing
            .iter()
            .filter_map(|o| {
                o.mid.map(|mid| TrackInfo { mid: mid.to_string(), participant_id: participant_id.to_owned(), kind: o.kind })
            })
            .collect()
    }

    /// One datagram from our socket.
    pub fn handle_receive(&mut self, now: Instant, source: SocketAddr, destination: SocketAddr, data: &[u8]) {
        let Ok(contents) = data.try_into() else {
            self.stats.dropped_datagrams += 1;
            return;
        };
        let input = Input::Receive(now, Receive { proto: Protocol::Udp, source, destination, contents });
        if let Err(e) = self.rtc.handle_input(input) {
            // One bad packet must not end the session.
            tracing::debug!("datagram refused: {e}");
            self.stats.dropped_datagrams += 1;
        }
        self.drain(now);
    }

    /// Advance time: str0m's timers, then any media that is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.rtc.is_alive() {
            if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
                tracing::warn!("session timeout handling failed: {e}");
                self.rtc.disconnect();
            }
            self.drain(now);
        }
        self.poll_media(now);
    }

    /// Write every frame that is due by `now`.
    pub fn poll_media(&mut self, now: Instant) {
        for i in [AUDIO, VIDEO] {
            while let Some(capture) = self.outgoing[i].source.poll_due(now) {
                // A slot we cannot send in (muted, not negotiated) is dropped, not queued:
                // its frame is never made, so receivers see no sequence gap.
                if self.can_send(i) {
                    let frame = self.outgoing[i].source.frame(capture);
                    self.write(i, frame, now);
                }
            }
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// When [`Session::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Instant {
        self.outgoing
            .iter()
            .filter(|o| o.enabled)
            .filter_map(|o| o.source.next_due())
            .fold(self.rtc_timeout, Instant::min)
    }

    /// Stop publishing one kind for good; our next offer stops its m-line.
    pub fn unpublish(&mut self, kind: MediaKind) {
        let o = &mut self.outgoing[kind_index(kind)];
        o.enabled = false;
        o.pt = None;
        if let Some(mid) = o.mid.take() {
            self.stopping.push(mid);
        }
    }

    /// The RFC 6464 level sent with audio from now on (`None`: none).
    pub fn set_audio_level(&mut self, level: Option<i8>) {
        self.config.audio_level = level;
    }

    /// Send a message to the bridge on the data channel (queued until it opens).
    pub fn send_channel(&mut self, now: Instant, msg: ClientChannelMessage) {
        self.channel.outbox.push(msg);
        self.flush_channel(now);
    }

    /// Everything the bridge said on the data channel, in order.
    pub fn channel_messages(&self) -> &[BridgeChannelMessage] {
        &self.channel.received
    }

    fn flush_channel(&mut self, now: Instant) {
        let Some(mut ch) = self.channel.id.and_then(|id| self.rtc.channel(id)) else { return };
        for m in self.channel.outbox.drain(..) {
            let text = serde_json::to_string(&m).expect("channel messages serialize");
            if !matches!(ch.write(false, text.as_bytes()), Ok(true)) {
                tracing::debug!("data channel message dropped");
            }
        }
        self.drain(now);
    }

    pub fn set_muted(&mut self, kind: MediaKind, muted: bool) {
        self.outgoing[kind_index(kind)].muted = muted;
    }

    /// Close the session; str0m stops sending.
    pub fn disconnect(&mut self) {
        self.rtc.disconnect();
        self.stats.connected = false;
    }

    pub fn stats(&self) -> Stats {
        Stats {
            audio: self.outgoing[AUDIO].sent,
            video: self.outgoing[VIDEO].sent,
            rtp_packets_received: self.packets_in.values().sum(),
            rtp_packets_sent: self.packets_out.values().sum(),
            ..self.stats.clone()
        }
    }

    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    pub fn snapshot(&self) -> Snapshot {
        self.recorder.snapshot()
    }

    fn can_send(&self, i: usize) -> bool {
        let o = &self.outgoing[i];
        o.enabled && !o.muted && o.pt.is_some() && self.stats.connected
    }

    fn write(&mut self, i: usize, frame: Frame, now: Instant) {
        if i == VIDEO && self.config.simulcast {
            return self.write_layers(frame, now);
        }
        let level = if i == AUDIO { self.config.audio_level } else { None };
        let out = &mut self.outgoing[i];
        let (Some(mid), Some(pt)) = (out.mid, out.pt) else { return };
        let Some(writer) = self.rtc.writer(mid) else {
            self.stats.write_errors += 1;
            return;
        };
        let writer = match level {
            Some(l) => writer.audio_level(l.clamp(-127, 0), l > -50),
            None => writer,
        };
        let (len, keyframe) = (frame.data.len() as u64, frame.keyframe);
        match writer.write(pt, frame.capture, frame.rtp_time, frame.data) {
            Ok(()) => {
                out.sent.frames += 1;
                out.sent.bytes += len;
                out.sent.keyframes += u64::from(keyframe);
            }
            Err(e) => {
                tracing::debug!("write failed: {e}");
                self.stats.write_errors += 1;
            }
        }
        self.drain(now);
    }

    /// One capture as three simulcast encodings. Each layer's RTP clock starts at its own
    /// offset, as a browser's do, so an SFU must rebase when it switches.
    fn write_layers(&mut self, frame: Frame, now: Instant) {
        let out = &mut self.outgoing[VIDEO];
        let (Some(mid), Some(pt)) = (out.mid, out.pt) else { return };
        let header = vp8::header_len(frame.keyframe);
        let Some(marker) = frame.data.get(header..).and_then(Marker::read) else { return };
        for (l, rid) in RIDS.iter().enumerate() {
            let data = vp8::layer_frame(marker, frame.keyframe, l as u8);
            let time = MediaTime::new(frame.rtp_time.numer() + LAYER_TIME_BASE[l], frame.rtp_time.frequency());
            let len = data.len() as u64;
            let Some(writer) = self.rtc.writer(mid) else {
                self.stats.write_errors += 1;
                return;
            };
            match writer.rid(Rid::from(*rid)).write(pt, frame.capture, time, data) {
                Ok(()) => out.sent.bytes += len,
                Err(e) => {
                    tracing::debug!("write of layer {rid} failed: {e}");
                    self.stats.write_errors += 1;
                }
            }
        }
        out.sent.frames += 1;
        out.sent.keyframes += u64::from(frame.keyframe);
        self.drain(now);
    }

    /// Replace the received-track map; publishers whose m-lines left the list have ended.
    fn set_tracks(&mut self, tracks: &[TrackInfo]) {
        let new: HashMap<String, (String, MediaKind)> =
            tracks.iter().map(|t| (t.mid.clone(), (t.participant_id.clone(), t.kind))).collect();
        for (mid, owner) in &self.tracks {
            if new.get(mid) != Some(owner) {
                self.recorder.mark_ended(&owner.0, owner.1);
            }
        }
        self.tracks = new;
    }

    fn after_negotiation(&mut self, now: Instant) {
        self.drain(now);
        for o in &mut self.outgoing {
            o.pt = o.mid.and_then(|mid| negotiated_pt(&mut self.rtc, mid, o.source.codec()));
        }
    }

    /// Poll str0m until it has nothing more to say than its next timeout.
    fn drain(&mut self, now: Instant) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    // A closed Rtc has no timers; do not let a stale deadline spin the caller.
                    self.rtc_timeout = if self.rtc.is_alive() { t } else { now + Duration::from_secs(3600) };
                    return;
                }
                Ok(Output::Transmit(t)) => self.transmits.push_back(t),
                Ok(Output::Event(e)) => self.on_event(now, e),
                Err(e) => {
                    tracing::warn!("session failed: {e}");
                    self.disconnect();
                    self.rtc_timeout = now + Duration::from_secs(3600);
                    return;
                }
            }
        }
    }

    fn on_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::Connected => {
                self.stats.connected = true;
                self.stats.connected_at.get_or_insert(now);
                for o in self.outgoing.iter_mut().filter(|o| o.enabled) {
                    o.source.start(now);
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => self.stats.connected = false,
            Event::MediaData(d) => match self.tracks.get(&*d.mid) {
                Some((publisher, kind)) => self.recorder.record_at(publisher, *kind, &d.data, d.is_keyframe(), now),
                None => self.recorder.record_unmapped(),
            },
            Event::KeyframeRequest(req) if self.outgoing[VIDEO].mid == Some(req.mid) => {
                self.stats.keyframe_requests += 1;
                self.outgoing[VIDEO].source.request_keyframe();
            }
            Event::ChannelOpen(id, _) => {
                self.channel.id = Some(id);
                self.flush_channel(now);
            }
            Event::ChannelData(d) => match serde_json::from_slice::<BridgeChannelMessage>(&d.data) {
                Ok(m) => self.channel.received.push(m),
                Err(e) => tracing::debug!("unreadable bridge channel message: {e}"),
            },
            Event::ChannelClose(_) => self.channel.id = None,
            Event::MediaIngressStats(s) => {
                self.packets_in.insert((s.mid, s.rid), s.packets);
            }
            Event::MediaEgressStats(s) => {
                self.packets_out.insert((s.mid, s.rid), s.packets);
            }
            Event::MediaChanged(c) if !c.direction.is_receiving() => {
                if let Some((publisher, kind)) = self.tracks.get(&*c.mid) {
                    self.recorder.mark_ended(publisher, *kind);
                }
            }
            _ => {}
        }
    }
}

impl Outgoing {
    fn new(kind: MediaKind, source: Source, enabled: bool) -> Self {
        Self { kind, source, enabled, muted: false, mid: None, pt: None, sent: SentStats::default() }
    }
}

/// The payload type our codec got on a sending m-line, if the m-line sends at all.
fn negotiated_pt(rtc: &mut Rtc, mid: Mid, codec: Codec) -> Option<Pt> {
    if !rtc.media(mid)?.direction().is_sending() {
        return None;
    }
    let want = match codec {
        Codec::Opus => RtcCodec::Opus,
        Codec::Vp8 => RtcCodec::Vp8,
    };
    let writer = rtc.writer(mid)?;
    let pt = writer.payload_params().find(|p| p.spec().codec == want).map(|p| p.pt());
    pt
}

fn kind_index(kind: MediaKind) -> usize {
    match kind {
        MediaKind::Audio => AUDIO,
        MediaKind::Video => VIDEO,
    }
}

fn kind_name(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Audio => "audio",
        MediaKind::Video => "video",
    }
}

fn rtc_kind(kind: MediaKind) -> str0m::media::MediaKind {
    match kind {
        MediaKind::Audio => str0m::media::MediaKind::Audio,
        MediaKind::Video => str0m::media::MediaKind::Video,
    }
}

/// An msid token: display names may hold spaces and any script; SDP tokens may not.
fn msid_token(label: &str) -> String {
    let token: String = label
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(48)
        .collect();
    if token.is_empty() {
        "ponte".into()
    } else {
        token
    }
}
