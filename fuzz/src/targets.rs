//! The fuzz targets: arbitrary bytes in, no panic out. Each feeds the bytes where the network
//! would: a signaling text frame, a focus-link frame, an SDP offer from a client, a datagram
//! on the media port, a media frame a test participant receives.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Cursor;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ponte_bridge::endpoint::{contain, Endpoint, Panicked};
use ponte_bridge::engine::Engine;
use ponte_bridge::ingest::aac_opus::Transcoder;
use ponte_bridge::ingest::flv::{self as flv_tag, FlvAudio, FlvVideo};
use ponte_bridge::ingest::h264::{self as h264_units, AccessUnits};
use ponte_bridge::ingest::keys;
use ponte_bridge::ingest::mpegts::{EsKind, TsDemuxer, TsEvent};
use ponte_bridge::ingest::publisher::{Media, Publisher};
use ponte_bridge::ingest::srt_guard::{datagrams, CallerGuard};
use ponte_bridge::metrics::BridgeMetrics;
use ponte_bridge::socket::demux;
use ponte_loadtest::media::{check, Marker};
use ponte_proto::link::{BridgeToFocus, EndpointEvent, EndpointRef, FocusToBridge};
use ponte_proto::signal::ClientMessage;
use str0m::change::SdpOffer;
use str0m::media::{Direction, MediaKind};
use str0m::{Candidate, Rtc};
use rml_rtmp::handshake::{Handshake, PeerType};
use rml_rtmp::sessions::{ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult};
use srt_protocol::connection::DuplexConnection;
use srt_protocol::listener::{AccessControlResponse, Action as ListenAction, Input as ListenInput, MultiplexListener, NextInputContext};
use srt_protocol::options::{KeySize, Passphrase};
use srt_protocol::packet::Packet;
use srt_protocol::settings::{ConnInitSettings, KeySettings};

/// Every target by name, as the corpus folders are named.
pub const ALL: &[(&str, fn(&[u8]))] = &[
    ("signal_json", signal_json),
    ("link_json", link_json),
    ("sdp_offer", sdp_offer),
    ("udp_datagram", udp_datagram),
    ("media_verify", media_verify),
    ("mpegts", mpegts),
    ("flv", flv),
    ("h264", h264),
    ("aac", aac),
    ("stream_id", stream_id),
    ("rtmp", rtmp),
    ("srt", srt),
    ("rtp_h264", rtp_h264),
];

const BRIDGE: &str = "127.0.0.1:10000";
const CLIENT: &str = "127.0.0.9:5000";
/// Signaling's default frame limit.
const MAX_MESSAGE_BYTES: usize = 65536;

/// A client's text frame on `/ws`: parse, then validate (what signaling does to every frame).
pub fn signal_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(msg) = ClientMessage::parse(text, MAX_MESSAGE_BYTES) {
        let _ = msg.validate();
        let _ = msg.type_name();
    }
}

/// A text frame on the focus ⇄ bridge link, read by both ends.
pub fn link_json(data: &[u8]) {
    let _ = serde_json::from_slice::<BridgeToFocus>(data);
    let _ = serde_json::from_slice::<FocusToBridge>(data);
}

/// A client's SDP offer: str0m's parser, then the bridge endpoint's negotiation.
pub fn sdp_offer(data: &[u8]) {
    let Ok(sdp) = std::str::from_utf8(data) else { return };
    if SdpOffer::from_sdp_string(sdp).is_err() {
        return; // accept_offer would stop at the same parse
    }
    ponte_bridge::init_crypto();
    tolerate_known_panics();
    let target = EndpointRef { conference: "fuzz".into(), endpoint: "e".into() };
    let bridge: SocketAddr = BRIDGE.parse().expect("constant address");
    let mut ep = Endpoint::new(1, target, "fuzz".into(), Instant::now(), &[bridge], None);
    // As the engine calls it: inside `contain`, which ends only this endpoint on a panic.
    if let Ok(Ok(_)) = contain_known(|| ep.accept_offer(sdp)) {
        // A renegotiation with the same offer takes the other path through the SDP code.
        let _ = contain_known(|| ep.accept_offer(sdp));
    }
}

/// Panics of str0m 0.25 that fuzzing found and that the bridge contains (the endpoint gets a
/// `Failed` event; `tests/regressions.rs` proves it on the engine). They are upstream bugs:
/// tolerated here so the run goes on to find new ones, which still fail the target.
pub const KNOWN_STR0M_PANICS: &[&str] = &[
    // codec_config.rs `update_params`: a remote payload type claimed twice by a mangled offer.
    "Pt locked multiple times",
    "Exhausted all PT ranges",
];

/// Panics of srt-protocol 0.4.4's packet parser on input a peer controls, found by fuzzing.
/// The bridge's SRT guard (`ingest::srt_guard`) parses every datagram inside `contain` before
/// srt-tokio sees it and drops these; they are listed so that libFuzzer's hook lets them unwind
/// to it. Everything else srt-protocol panicked on (handshake crypto mismatches in `hsv5.rs`,
/// `todo!`s for control packets on a connection) the guard keeps from srt-protocol, so the
/// `srt` target tolerates no other panic.
pub const KNOWN_SRT_PANICS: &[&str] = &[
    // packet/control/mod.rs, handshake parse: a config extension other than a stream id.
    "Implement other kinds",
    // packet/control/srt.rs `le_bytes_to_string` (bytes' `get_u32_le`): a handshake extension
    // whose length runs past the end of the datagram.
    "advance out of bounds",
];

/// Source folders of crates whose every panic the bridge contains: the RTMP listener runs
/// rml_rtmp inside `endpoint::contain` and closes that one connection with an error. Fuzzing
/// found rml_rtmp 0.8 panicking on an AMF0 command of fewer than three values
/// (`amf0_command.rs`, `drain(..3)`) and on a chunk whose message length shrinks mid-message
/// (`chunk_io/deserializer.rs`, a subtraction that overflows): `corpus/rtmp/regress-*`.
pub const CONTAINED_CRATES: &[&str] = &["/rml_rtmp-", "/rml_amf0-"];

/// rml_rtmp's panics that core reports at its own location (`Vec::drain`'s range check).
pub const KNOWN_RTMP_PANICS: &[&str] = &["range end index 3 out of range for slice of length"];

fn is_known(message: &str) -> bool {
    KNOWN_STR0M_PANICS.iter().chain(KNOWN_SRT_PANICS).chain(KNOWN_RTMP_PANICS).any(|k| message.contains(k)) || message.starts_with(PUBLISHER_ENDED)
}

/// libFuzzer's panic hook aborts the process before `contain` can catch the unwind; wrap it so
/// that the known panics (and those of [`CONTAINED_CRATES`]) unwind, to be contained as in the
/// bridge, and every other one still reaches the previous hook.
fn tolerate_known_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload.downcast_ref::<&str>().copied().or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            let contained_crate = info.location().is_some_and(|l| CONTAINED_CRATES.iter().any(|c| l.file().contains(c)));
            if !(message.is_some_and(is_known) || contained_crate) {
                previous(info);
            }
        }));
    });
}

fn contain_known<R>(f: impl FnOnce() -> R) -> Result<R, ()> {
    match contain(f) {
        Ok(r) => Ok(r),
        Err(Panicked(msg)) if is_known(&msg) => Err(()),
        Err(Panicked(msg)) => panic!("new panic: {msg}"),
    }
}

/// Placeholder in corpus entries for the ufrag of the engine's endpoint (16 characters, as
/// the bridge makes them), so STUN checks reach its ICE agent instead of the unknown-ufrag
/// drop.
pub const UFRAG_PLACEHOLDER: &[u8; 16] = b"UFRAGUFRAGUFRAG1";

/// A datagram on the media port: demux, then the engine with one live endpoint whose ufrag
/// the input may name. A panic the engine contains still fails the target.
pub fn udp_datagram(data: &[u8]) {
    let _ = demux::classify(data);
    let _ = demux::stun_local_ufrag(data);
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let fixture = slot.get_or_insert_with(EngineFixture::new);
        fixture.feed(data);
        if fixture.engine.endpoint_count() == 0 {
            *slot = None; // the input ended the endpoint; start afresh
        }
    });
}

/// A media frame a test participant receives: find the marker, regenerate, compare.
pub fn media_verify(data: &[u8]) {
    let _ = Marker::read(data);
    if let Ok((tag, seq)) = check::verify(data) {
        // Only a frame the sender could have made verifies.
        let _ = (tag, seq);
    }
}

thread_local! {
    static ENGINE: RefCell<Option<EngineFixture>> = const { RefCell::new(None) };
}

struct EngineFixture {
    engine: Engine,
    registry: prometheus::Registry,
    ufrag: String,
    now: Instant,
    fed: u64,
}

impl EngineFixture {
    fn new() -> Self {
        ponte_bridge::init_crypto();
        let registry = prometheus::Registry::new();
        let metrics = BridgeMetrics::new(&registry).expect("a fresh registry");
        let bridge: SocketAddr = BRIDGE.parse().expect("constant address");
        let mut engine = Engine::new(vec![bridge], Duration::from_millis(300), metrics);
        let now = Instant::now();
        let target = EndpointRef { conference: "fuzz".into(), endpoint: "e".into() };
        engine.handle_command(now, FocusToBridge::Offer { target, sdp: client_offer(now), display_name: "e".into() });
        let ufrag = std::iter::from_fn(|| engine.poll_event())
            .find_map(|ev| match ev {
                EndpointEvent::Answer { sdp, .. } => sdp.lines().find_map(|l| l.strip_prefix("a=ice-ufrag:")).map(str::to_owned),
                _ => None,
            })
            .expect("the engine answers a str0m offer with its ufrag");
        Self { engine, registry, ufrag, now, fed: 0 }
    }

    fn feed(&mut self, data: &[u8]) {
        let mut datagram = data.to_vec();
        if let Some(i) = datagram.windows(16).position(|w| w == UFRAG_PLACEHOLDER) {
            datagram[i..i + 16].copy_from_slice(self.ufrag.as_bytes());
        }
        let client: SocketAddr = CLIENT.parse().expect("constant address");
        self.now += Duration::from_millis(5);
        self.engine.handle_datagram(self.now, client, Some(client.ip()), &datagram);
        self.fed += 1;
        if self.fed % 16 == 0 {
            self.engine.handle_timeout(self.now);
        }
        while self.engine.poll_transmit().is_some() {}
        while self.engine.poll_event().is_some() {}
        let contained = self
            .registry
            .gather()
            .iter()
            .filter(|f| f.name() == "bridge_endpoint_failures_total")
            .flat_map(|f| f.get_metric().iter())
            .any(|m| m.get_label().iter().any(|l| l.value() == "panic"));
        assert!(!contained, "the engine contained a panic while handling this datagram");
    }
}

/// What a browser-like client offers: audio and video, both directions.
fn client_offer(now: Instant) -> String {
    let mut rtc = Rtc::builder().build(now);
    let addr: SocketAddr = CLIENT.parse().expect("constant address");
    rtc.add_local_candidate(Candidate::host(addr, "udp").expect("a loopback host candidate"));
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    api.add_media(MediaKind::Video, Direction::SendRecv, None, None, None);
    api.apply().expect("media was added").0.to_sdp_string()
}

/// SRT payload: MPEG-TS in messages of any size (the first byte picks the chunking), then
/// what the ingest does with each PES: H.264 access units, AAC to Opus.
pub fn mpegts(data: &[u8]) {
    let Some((&first, stream)) = data.split_first() else { return };
    let chunk = 1 + usize::from(first) * 7;
    let mut demuxer = TsDemuxer::new();
    let mut video = AccessUnits::default();
    let mut audio = Transcoder::new();
    let mut out = Vec::new();
    let mut events: Vec<TsEvent> = stream.chunks(chunk).flat_map(|c| demuxer.push(c)).collect();
    events.extend(demuxer.flush());
    for event in events {
        let TsEvent::Pes(pes) = event else { continue };
        match pes.kind {
            EsKind::H264 => {
                let _ = video.assemble(&h264_units::nal_units(&pes.data));
            }
            EsKind::Aac => {
                let _ = audio.push_adts(&pes.data, pes.pts.unwrap_or(0), &mut out);
            }
        }
    }
}

/// RTMP payload: FLV video and audio tag bodies (the first byte says which), then what the
/// ingest does with them.
pub fn flv(data: &[u8]) {
    let Some((&first, tag)) = data.split_first() else { return };
    if first & 1 == 0 {
        let mut video = AccessUnits::default();
        match flv_tag::parse_video(tag) {
            Ok(FlvVideo::AvcConfig(rec)) => {
                if let Some((length_size, sets)) = h264_units::parse_avc_config(rec) {
                    video.set_parameter_sets(&sets);
                    let _ = h264_units::avcc_units(rec, length_size);
                }
            }
            Ok(FlvVideo::AvcNalus { data, .. }) => {
                for size in 1..=4 {
                    if let Some(units) = h264_units::avcc_units(data, size) {
                        let _ = video.assemble(&units);
                    }
                }
            }
            _ => {}
        }
    } else {
        let mut audio = Transcoder::new();
        let mut out = Vec::new();
        match flv_tag::parse_audio(tag) {
            Ok(FlvAudio::AacConfig(asc)) => {
                if audio.configure(asc).is_ok() {
                    let _ = audio.push_raw(asc, 0, &mut out);
                }
            }
            Ok(FlvAudio::AacFrame(frame)) => {
                // A common AAC-LC stereo 44.1 kHz config, so the frame reaches the decoder.
                if audio.configure(&[0x12, 0x10]).is_ok() {
                    let _ = audio.push_raw(frame, 0, &mut out);
                }
            }
            _ => {}
        }
    }
}

/// H.264 in both framings, parameter sets, and access-unit assembly.
pub fn h264(data: &[u8]) {
    let units = h264_units::nal_units(data);
    for u in &units {
        let _ = h264_units::nal_type(u);
    }
    let mut au = AccessUnits::default();
    let _ = au.assemble(&units);
    let _ = au.assemble(&units);
    let _ = au.profile_level_id();
    for size in 1..=4 {
        let _ = h264_units::avcc_units(data, size);
    }
    let _ = h264_units::parse_avc_config(data);
}

/// AAC in ADTS, as SRT carries it, through decode, resampling and Opus encoding.
pub fn aac(data: &[u8]) {
    let mut audio = Transcoder::new();
    let mut out = Vec::new();
    let _ = audio.push_adts(data, 0, &mut out);
}

/// SRT stream ids and RTMP app/stream names naming a room and key.
pub fn stream_id(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = keys::parse_srt_stream_id(text);
    let (app, stream) = text.split_once('/').unwrap_or((text, ""));
    let _ = keys::parse_rtmp(app, stream);
}

/// RTMP after the handshake, as the listener reads a TCP connection: rml_rtmp's server
/// session parses the chunk stream and AMF0 commands; requests are answered as
/// `ingest::rtmp` answers them (connect accepted, publish checked by stream key), and audio and
/// video tags go into the ingest's publisher. The first byte picks the read size; 0xff feeds
/// the handshake instead.
pub fn rtmp(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else { return };
    if first == 0xff {
        let mut hs = Handshake::new(PeerType::Server);
        for c in rest.chunks(1537) {
            if !matches!(contain(|| hs.process_bytes(c)), Ok(Ok(_))) {
                return;
            }
        }
        return;
    }
    tolerate_known_panics();
    let Ok((mut session, _)) = ServerSession::new(ServerSessionConfig::new()) else { return };
    let mut publisher = Publisher::new();
    let (mut out, mut notes) = (Vec::new(), Vec::new());
    let now = Instant::now();
    let read = 1 + usize::from(first) * 17;
    for c in rest.chunks(read) {
        // As the listener calls it: a panic inside rml_rtmp ends the connection.
        let Ok(Ok(results)) = contain(|| session.handle_input(c)) else { return };
        let mut queue = VecDeque::from(results);
        while let Some(r) = queue.pop_front() {
            let ServerSessionResult::RaisedEvent(e) = r else { continue };
            let more = match e {
                ServerSessionEvent::ConnectionRequested { request_id, .. } => session.accept_request(request_id),
                ServerSessionEvent::PublishStreamRequested { request_id, app_name, stream_key, .. } => {
                    match keys::parse_rtmp(&app_name, &stream_key) {
                        Some(_) => session.accept_request(request_id),
                        None => session.reject_request(request_id, "NetStream.Publish.Denied", "bad stream id"),
                    }
                }
                ServerSessionEvent::VideoDataReceived { data, timestamp, .. } => {
                    publisher.flv_video(&data, timestamp.value, now, &mut out, &mut notes);
                    continue;
                }
                ServerSessionEvent::AudioDataReceived { data, timestamp, .. } => {
                    publisher.flv_audio(&data, timestamp.value, &mut out, &mut notes);
                    continue;
                }
                _ => continue,
            };
            match more {
                Ok(more) => queue.extend(more),
                Err(_) => return,
            }
        }
        out.clear();
    }
}

/// The SRT port: datagrams (each `u16` length-prefixed) through the bridge's guard, and what
/// it passes parsed as SRT packets, through srt-protocol's listener (handshakes, access control
/// with the AES passphrase when the caller asks for one), then into the connection it opens,
/// whose delivered messages go to the MPEG-TS demuxer. No panic is tolerated: the guard must
/// keep every known one of srt-protocol's (see [`KNOWN_SRT_PANICS`]) from it.
pub fn srt(data: &[u8]) {
    tolerate_known_panics();
    srt_session(data);
}

fn srt_session(data: &[u8]) {
    let local: SocketAddr = "127.0.0.1:9000".parse().expect("constant address");
    let caller: SocketAddr = CLIENT.parse().expect("constant address");
    let mut now = Instant::now();
    let mut listener = MultiplexListener::new(now, local, ConnInitSettings::default());
    let mut conn: Option<DuplexConnection> = None;
    let mut demux = TsDemuxer::new();
    let mut guard = CallerGuard::default();
    for datagram in datagrams(data) {
        now += Duration::from_millis(3);
        // srt-tokio's socket is the guard's loopback one (IPv4).
        if guard.check(datagram, false).is_err() {
            continue;
        }
        let Ok(packet) = Packet::parse(&mut Cursor::new(datagram), false) else { continue };
        let mut input = ListenInput::Packet(Ok((packet, caller)));
        for _ in 0..32 {
            let action = listener.handle_input(now, input);
            let next = NextInputContext::for_action(&action);
            input = match action {
                ListenAction::RequestAccess(id, request) => {
                    let keys = (request.key_size != KeySize::Unspecified).then(|| KeySettings {
                        key_size: request.key_size,
                        passphrase: Passphrase::from("correct-horse-battery"),
                    });
                    let _ = listener.handle_input(now, ListenInput::Success(srt_protocol::listener::ResultOf::RequestAccess(id)));
                    ListenInput::AccessResponse(Some((id, AccessControlResponse::Accepted(keys))))
                }
                ListenAction::OpenConnection(_, opened) => {
                    let (_, connection) = *opened;
                    conn = Some(DuplexConnection::new(connection));
                    next.input_from(Ok::<(), ()>(()))
                }
                ListenAction::DelegatePacket(_, packet) => {
                    if let Some(c) = conn.as_mut() {
                        c.handle_packet_input(now, Ok(packet));
                    }
                    next.input_from(Ok::<(), ()>(()))
                }
                ListenAction::SendPacket(_) | ListenAction::RejectConnection(..) | ListenAction::DropConnection(_) | ListenAction::UpdateStatistics(_) => {
                    next.input_from(Ok::<(), ()>(()))
                }
                ListenAction::WaitForInput | ListenAction::Close => break,
            };
        }
        if let Some(c) = conn.as_mut() {
            c.check_timers(now);
            while c.next_packet(now).is_some() {}
            while let Some((_, message)) = c.next_data(now + Duration::from_secs(1)) {
                let _ = demux.push(&message);
            }
        }
    }
}

/// The virtual-time network of the bridge's own tests: str0m clients and one engine, no sockets.
#[path = "../../bridge/tests/common/mod.rs"]
mod vnet;

thread_local! {
    static RTP: RefCell<Option<RtpFixture>> = const { RefCell::new(None) };
}

/// How the test network reports the bridge ending the publisher's endpoint.
const PUBLISHER_ENDED: &str = "unexpected Expired { target: EndpointRef { conference: \"fuzz-publisher\"";

/// A room with a live ingest and a viewing client (RTP mode), a publishing client in a room of
/// its own, DTLS up.
struct RtpFixture {
    net: vnet::Net,
    publisher: usize,
    time: u64,
}

impl RtpFixture {
    fn new() -> Self {
        let mut net = vnet::Net::new(ponte_bridge::forwarding::config::QualityConfig::default());
        net.engine.ingest_start(net.now, "fuzz", 1, "live: fuzz").expect("a fresh engine takes the stream");
        // Alone in its room: the test client checks every frame it receives for its own
        // markers, so it must not see the fuzzed ones.
        let publisher = net.join("fuzz-publisher", &vnet::Opts { video: true, ..Default::default() });
        net.join("fuzz", &vnet::Opts { rtp_mode: true, channel: true, ..Default::default() });
        // Connect without the test clients' own media (the fixture writes its own).
        for _ in 0..100 {
            net.now += Duration::from_millis(10);
            let now = net.now;
            for c in &mut net.clients {
                let _ = c.rtc.handle_input(str0m::Input::Timeout(now));
            }
            net.engine.handle_timeout(now);
            net.pump();
        }
        assert!(net.clients.iter().all(|c| c.rtc.is_connected()), "the virtual clients connect");
        Self { net, publisher, time: 0 }
    }

    fn step(&mut self) {
        self.net.now += Duration::from_millis(5);
        let now = self.net.now;
        for c in &mut self.net.clients {
            if c.rtc.is_alive() {
                let _ = c.rtc.handle_input(str0m::Input::Timeout(now));
            }
        }
        self.net.engine.handle_timeout(now);
        self.net.pump();
    }
}

/// H.264 through the RTP paths the bridge runs: the first byte's low bit picks the source.
/// Ingest: the bytes are an access unit from an encoder, which the engine hands to str0m's
/// H.264 packetizer (FU-A for large NAL units) towards the viewer. Publisher: the bytes are a
/// client's frame, packetized by its str0m, depacketized by the bridge's endpoint, forwarded.
/// A panic the engine contains still fails the target, as in `udp_datagram`.
pub fn rtp_h264(data: &[u8]) {
    tolerate_known_panics();
    let Some((&first, frame)) = data.split_first() else { return };
    RTP.with(|cell| {
        let mut slot = cell.borrow_mut();
        let f = slot.get_or_insert_with(RtpFixture::new);
        f.time += 3000;
        let keyframe = first & 2 != 0;
        if first & 1 == 0 {
            let (now, time) = (f.net.now, f.time);
            let media = Media::Video { time, data: frame.to_vec(), keyframe, profile_level_id: 0x42e01f };
            f.net.engine.ingest_media(now, "fuzz", media, now);
        } else {
            let now = f.net.now;
            let c = &mut f.net.clients[f.publisher];
            if let Some(mid) = c.video {
                if let Some(w) = c.rtc.writer(mid) {
                    let pt = w.payload_params().find(|p| p.spec().codec == str0m::format::Codec::H264).map(|p| p.pt());
                    if let Some(pt) = pt {
                        let _ = w.write(pt, now, str0m::media::MediaTime::from_90khz(f.time), frame.to_vec());
                    }
                }
            }
        }
        // A publisher's own malformed frame may make the bridge's str0m return an error for
        // that endpoint, which the engine then ends ("connection closed"): it hurts only the
        // sender. The test network reports that as an unexpected event; start afresh then.
        if let Err(Panicked(msg)) = contain(|| f.step()) {
            *slot = None;
            if msg.starts_with(PUBLISHER_ENDED) {
                return;
            }
            panic!("{msg}");
        }
        let panics = f
            .net
            .registry
            .gather()
            .iter()
            .filter(|m| m.name() == "bridge_endpoint_failures_total")
            .flat_map(|m| m.get_metric().iter())
            .any(|m| m.get_label().iter().any(|l| l.value() == "panic"));
        let viewer_gone = !f.net.clients.iter().all(|c| c.rtc.is_alive());
        if panics || viewer_gone {
            *slot = None;
            panic!("the bridge contained a panic ({panics}) or a client died ({viewer_gone}) on this input");
        }
    });
}
