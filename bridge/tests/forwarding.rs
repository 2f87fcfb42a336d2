//! The engine in virtual time: three str0m clients and one [`Engine`] exchange datagrams in
//! memory (no sockets, no clock), so forwarding, renegotiation and isolation are checked
//! deterministically and fast.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ponte_bridge::engine::Engine;
use ponte_bridge::metrics::BridgeMetrics;
use ponte_proto::link::{EndpointEvent, EndpointRef, FocusToBridge};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

const BRIDGE: &str = "127.0.0.1:10000";

/// A frame whose bytes say who sent it and which one it is; `parse` proves it arrived intact.
fn frame(sender: u8, seq: u32, video: bool, key: bool) -> Vec<u8> {
    let mut f = if !video {
        vec![0x78] // Opus TOC: CELT, 20 ms
    } else if key {
        vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00]
    } else {
        vec![0x11, 0x02, 0x00]
    };
    f.extend_from_slice(b"PNTE");
    f.push(sender);
    f.extend_from_slice(&seq.to_be_bytes());
    let len = match (video, key) {
        (false, _) => 80,
        (true, true) => 3000,
        (true, false) => 700,
    };
    f.extend((0..len).map(|i| (i as u32 ^ seq).wrapping_mul(31) as u8 ^ sender));
    f
}

fn parse(data: &[u8], video: bool) -> (u8, u32) {
    let start = if !video { 1 } else if data[0] & 1 == 0 { 10 } else { 3 };
    assert_eq!(&data[start..start + 4], b"PNTE", "marker intact");
    let sender = data[start + 4];
    let seq = u32::from_be_bytes(data[start + 5..start + 9].try_into().unwrap());
    let key = video && data[0] & 1 == 0;
    assert!(data == frame(sender, seq, video, key).as_slice(), "payload of p{sender} #{seq} altered ({} bytes)", data.len());
    (sender, seq)
}

struct Client {
    name: String,
    room: String,
    idx: u8,
    rtc: Rtc,
    addr: SocketAddr,
    audio: Mid,
    video: Mid,
    pending: Option<SdpPendingOffer>,
    /// mid → publisher participant id, from the bridge's `tracks`.
    tracks: HashMap<String, String>,
    /// (publisher, video?) → seqs received
    got: HashMap<(String, bool), Vec<u32>>,
    seq: u32,
    force_key: bool,
    /// `Connected` events the bridge reported for this client (for the focus's failover clock).
    connected_events: u32,
}

impl Client {
    fn new(idx: u8, room: &str, now: Instant) -> Self {
        let addr: SocketAddr = format!("127.0.0.{}:5000", 10 + idx).parse().unwrap();
        let mut rtc = Rtc::builder().build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        let mut api = rtc.sdp_api();
        let audio = api.add_media(MediaKind::Audio, Direction::SendOnly, Some(format!("p{idx}")), None, None);
        let video = api.add_media(MediaKind::Video, Direction::SendOnly, Some(format!("p{idx}")), None, None);
        let (offer, pending) = api.apply().unwrap();
        let mut c = Client {
            name: format!("p{idx}"),
            room: room.into(),
            idx,
            rtc,
            addr,
            audio,
            video,
            pending: Some(pending),
            tracks: HashMap::new(),
            got: HashMap::new(),
            seq: 0,
            force_key: false,
            connected_events: 0,
        };
        c.tracks.insert("offer".into(), offer.to_sdp_string()); // stash until joined
        c
    }

    fn target(&self) -> EndpointRef {
        EndpointRef { conference: self.room.clone(), endpoint: self.name.clone() }
    }

    fn send_media(&mut self, now: Instant) {
        if !self.rtc.is_alive() || !self.rtc.is_connected() {
            return;
        }
        self.seq += 1;
        let key = self.seq % 30 == 1 || std::mem::take(&mut self.force_key);
        let time = str0m::media::MediaTime::from_90khz(self.seq as u64 * 3000);
        for (mid, video) in [(self.audio, false), (self.video, true)] {
            let data = frame(self.idx, self.seq, video, key);
            let w = self.rtc.writer(mid).unwrap();
            let pt = w.payload_params().find(|p| p.spec().codec.is_audio() != video).unwrap().pt();
            w.write(pt, now, time, data).unwrap();
        }
    }

    fn on_event(&mut self, e: Event) {
        match e {
            Event::MediaData(d) => {
                let video = !d.params.spec().codec.is_audio();
                let (sender, seq) = parse(&d.data, video);
                let publisher = self.tracks.get(&d.mid.to_string()).cloned().expect("mid is in the bridge's track list");
                assert_eq!(publisher, format!("p{sender}"), "track carries its publisher's media");
                self.got.entry((publisher, video)).or_default().push(seq);
            }
            Event::KeyframeRequest(_) => self.force_key = true,
            _ => {}
        }
    }
}

struct Net {
    engine: Engine,
    clients: Vec<Client>,
    now: Instant,
    registry: prometheus::Registry,
}

impl Net {
    fn new() -> Self {
        let registry = prometheus::Registry::new();
        let metrics = BridgeMetrics::new(&registry).unwrap();
        ponte_bridge::init_crypto();
        let engine = Engine::new(vec![BRIDGE.parse().unwrap()], Duration::from_millis(300), metrics);
        Net { engine, clients: Vec::new(), now: Instant::now(), registry }
    }

    fn join(&mut self, room: &str) {
        let idx = self.clients.len() as u8;
        let mut c = Client::new(idx, room, self.now);
        let sdp = c.tracks.remove("offer").unwrap();
        let cmd = FocusToBridge::Offer { target: c.target(), sdp, display_name: c.name.clone() };
        self.clients.push(c);
        self.engine.handle_command(self.now, cmd);
        self.pump();
    }

    fn leave(&mut self, idx: usize) {
        let target = self.clients[idx].target();
        self.clients[idx].rtc.disconnect();
        self.engine.handle_command(self.now, FocusToBridge::ExpireEndpoint { target });
        self.pump();
    }

    /// Deliver everything in flight until the network is quiet.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(ev) = self.engine.poll_event() {
                moved = true;
                self.on_bridge_event(ev);
            }
            while let Some(t) = self.engine.poll_transmit() {
                moved = true;
                let Some(c) = self.clients.iter_mut().find(|c| c.addr == t.destination) else { continue };
                let input = Input::Receive(self.now, Receive { proto: Protocol::Udp, source: t.source, destination: t.destination, contents: (&*t.contents).try_into().unwrap() });
                if c.rtc.is_alive() {
                    c.rtc.handle_input(input).unwrap();
                }
            }
            for i in 0..self.clients.len() {
                loop {
                    let c = &mut self.clients[i];
                    if !c.rtc.is_alive() {
                        break;
                    }
                    match c.rtc.poll_output().unwrap() {
                        Output::Timeout(_) => break,
                        Output::Event(e) => c.on_event(e),
                        Output::Transmit(t) => {
                            moved = true;
                            let from = c.addr;
                            let ip = t.destination.ip();
                            self.engine.handle_datagram(self.now, from, Some(ip), &t.contents);
                        }
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }

    fn on_bridge_event(&mut self, ev: EndpointEvent) {
        let target = ev.target().clone();
        let c = self.clients.iter_mut().find(|c| c.target() == target).expect("event for a known client");
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
            EndpointEvent::Connected { .. } => c.connected_events += 1,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Run `ms` milliseconds of virtual time, each client sending a frame every 20 ms.
    fn run(&mut self, ms: u64) {
        for step in 0..ms {
            self.now += Duration::from_millis(1);
            if step % 20 == 0 {
                for c in &mut self.clients {
                    c.send_media(self.now);
                }
            }
            for c in &mut self.clients {
                if c.rtc.is_alive() {
                    c.rtc.handle_input(Input::Timeout(self.now)).unwrap();
                }
            }
            self.engine.handle_timeout(self.now);
            self.pump();
        }
    }

    fn metric(&self, name: &str) -> f64 {
        self.registry.gather().iter().filter(|f| f.name() == name).flat_map(|f| f.get_metric().iter().map(|m| m.get_counter().get_value() + m.get_gauge().get_value())).sum()
    }
}

/// Every seq a receiver got from one publisher: contiguous, ending near the publisher's last.
fn assert_stream(c: &Client, publisher: &str, video: bool, sent: u32) {
    let seqs = c.got.get(&(publisher.to_owned(), video)).unwrap_or_else(|| panic!("{} got no {} from {publisher}", c.name, if video { "video" } else { "audio" }));
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{}: gap in {publisher} video={video}: {seqs:?}", c.name);
    let last = *seqs.last().unwrap();
    assert!(last + 2 >= sent, "{}: last seq {last} from {publisher}, sent {sent}", c.name);
    assert!(seqs.len() >= 10, "{}: only {} frames from {publisher}", c.name, seqs.len());
}

#[test]
fn three_participants_receive_each_other_and_nothing_crosses_rooms() {
    let mut net = Net::new();
    net.join("alpha");
    net.join("alpha");
    net.join("beta");
    net.join("alpha");
    net.join("beta");
    net.run(2000);
    for i in [0usize, 1, 3] {
        let c = &net.clients[i];
        for other in [0usize, 1, 3].into_iter().filter(|o| *o != i) {
            let sent = net.clients[other].seq;
            assert_stream(c, &format!("p{other}"), true, sent);
            assert_stream(c, &format!("p{other}"), false, sent);
        }
        assert_eq!(c.got.len(), 4, "{} receives exactly two publishers' audio+video: {:?}", c.name, c.got.keys());
    }
    for (i, other) in [(2usize, "p4"), (4, "p2")] {
        let c = &net.clients[i];
        assert_eq!(c.got.len(), 2, "beta member sees only beta: {:?}", c.got.keys());
        assert_stream(c, other, true, net.clients[if i == 2 { 4 } else { 2 }].seq);
    }
    assert!(net.metric("bridge_keyframe_requests_total") >= 1.0);
    assert_eq!(net.metric("bridge_endpoints"), 5.0);
    assert_eq!(net.metric("bridge_conferences"), 2.0);
    assert!(net.clients.iter().all(|c| c.connected_events == 1), "the bridge reports each endpoint connected once");
}

#[test]
fn late_joiner_gets_existing_tracks_and_leaver_disappears() {
    let mut net = Net::new();
    net.join("r");
    net.join("r");
    net.run(1000);
    let seq_at_join = net.clients[0].seq;
    net.join("r");
    net.run(1500);
    let late = &net.clients[2];
    assert_stream(late, "p0", true, net.clients[0].seq);
    assert_stream(late, "p1", false, net.clients[1].seq);
    assert_stream(&net.clients[0], "p2", true, net.clients[2].seq);
    // A late joiner starts video at a key frame the bridge asked for (PLI), not at the
    // publisher's next periodic one (every 30 frames).
    let first = net.clients[2].got[&("p0".to_owned(), true)][0];
    assert!(first <= seq_at_join + 3, "first video frame #{first}, joined at #{seq_at_join}");

    net.leave(1);
    let before: usize = net.clients[0].got.values().map(Vec::len).sum();
    net.run(1000);
    let c0 = &net.clients[0];
    assert!(c0.tracks.values().all(|p| p != "p1"), "p1's tracks are gone from p0's session: {:?}", c0.tracks);
    assert!(c0.got.values().map(Vec::len).sum::<usize>() > before, "p0 still receives p2");
    assert_eq!(net.metric("bridge_endpoints"), 2.0);
}

#[test]
fn garbage_datagrams_are_dropped_and_counted() {
    let mut net = Net::new();
    net.join("r");
    net.join("r");
    net.run(500);
    let stranger: SocketAddr = "127.0.0.99:4000".parse().unwrap();
    let ip = Some(stranger.ip());
    net.engine.handle_datagram(net.now, stranger, ip, &[0xff, 1, 2, 3]);
    net.engine.handle_datagram(net.now, stranger, ip, &[]);
    net.engine.handle_datagram(net.now, stranger, ip, &[0x80; 40]);
    net.engine.handle_datagram(net.now, stranger, ip, &[0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    let known = net.clients[0].addr;
    net.engine.handle_datagram(net.now, known, ip, &[0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 9, 9, 9]);
    net.engine.handle_datagram(net.now, known, ip, &[23, 254, 253, 0, 0]);
    assert!(net.metric("bridge_packets_dropped_total") >= 5.0, "{}", net.metric("bridge_packets_dropped_total"));
    let before = net.clients[1].got.values().map(Vec::len).sum::<usize>();
    net.run(500);
    assert!(net.clients[1].got.values().map(Vec::len).sum::<usize>() > before + 10, "meeting goes on");
}

#[test]
fn a_panic_in_one_endpoint_ends_only_that_endpoint() {
    let mut net = Net::new();
    net.join("r");
    net.join("r");
    net.join("r");
    net.run(600);
    let victim = net.clients[1].target();
    let now = net.now;
    net.engine.inject_panic(now, &victim);
    let mut expired = Vec::new();
    while let Some(ev) = net.engine.poll_event() {
        match ev {
            EndpointEvent::Expired { target, reason } => expired.push((target, reason)),
            other => net.on_bridge_event(other),
        }
    }
    assert_eq!(expired.len(), 1, "the panicking endpoint is ended with an event: {expired:?}");
    assert_eq!(expired[0].0, victim);
    assert!(expired[0].1.contains("internal error"), "{}", expired[0].1);
    net.clients[1].rtc.disconnect();
    let before = net.clients[0].got.get(&("p2".to_owned(), true)).map_or(0, Vec::len);
    net.run(1000);
    assert!(net.clients[0].got[&("p2".to_owned(), true)].len() > before + 20, "the others go on");
    assert_eq!(net.metric("bridge_endpoints"), 2.0);
    assert_eq!(net.metric("bridge_endpoint_failures_total"), 1.0);
}
