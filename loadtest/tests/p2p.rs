//! Two sessions talk directly over loopback UDP, without a bridge: A offers its m-lines,
//! B answers with str0m's `accept_offer` (a plain agent, not ICE-lite) and then offers its
//! own, which A accepts the way it accepts a bridge's renegotiation. Media flows both ways for
//! about two seconds and both recorders must verify every frame.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ponte_loadtest::{Session, SessionConfig, TrackStats};
use ponte_proto::MediaKind;
use tokio::net::UdpSocket;

struct Peer {
    session: Session,
    socket: UdpSocket,
    addr: SocketAddr,
    buf: Vec<u8>,
}

impl Peer {
    async fn new(label: &str, sender_tag: u32) -> Peer {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let config = SessionConfig { label: label.into(), sender_tag, ..SessionConfig::default() };
        let session = Session::new(Instant::now(), config, addr).unwrap();
        Peer { session, socket, addr, buf: vec![0; 2048] }
    }

    async fn flush(&mut self) {
        while let Some(t) = self.session.poll_transmit() {
            self.socket.send_to(&t.contents, t.destination).await.unwrap();
        }
    }
}

/// Drive both peers in real time until `until`.
async fn run(a: &mut Peer, b: &mut Peer, until: Instant) {
    loop {
        a.flush().await;
        b.flush().await;
        let now = Instant::now();
        if now >= until {
            return;
        }
        let deadline = a.session.poll_timeout().min(b.session.poll_timeout()).min(until);
        tokio::select! {
            r = a.socket.recv_from(&mut a.buf) => {
                let (n, from) = r.unwrap();
                a.session.handle_receive(Instant::now(), from, a.addr, &a.buf[..n]);
            }
            r = b.socket.recv_from(&mut b.buf) => {
                let (n, from) = r.unwrap();
                b.session.handle_receive(Instant::now(), from, b.addr, &b.buf[..n]);
            }
            _ = tokio::time::sleep_until(deadline.into()) => {
                let now = Instant::now();
                a.session.handle_timeout(now);
                b.session.handle_timeout(now);
            }
        }
    }
}

fn assert_clean(receiver: &str, t: &TrackStats, tag: u32, min_frames: u64) {
    assert_eq!(t.mismatches, 0, "{receiver}: {t:?}");
    assert_eq!(t.gaps, 0, "{receiver}: seqs must be contiguous: {t:?}");
    assert_eq!(t.sender_tag, Some(tag), "{receiver}: {t:?}");
    assert!(t.frames >= min_frames, "{receiver}: only {} frames: {t:?}", t.frames);
    assert_eq!(t.first_seq, Some(0), "{receiver}: {t:?}");
}

#[tokio::test]
async fn two_sessions_exchange_verified_media() {
    let mut a = Peer::new("alice", 0xA11CE).await;
    let mut b = Peer::new("bob", 0xB0B).await;
    let now = Instant::now();

    let offer = a.session.make_offer(now).unwrap().expect("first offer");
    let answer = b.session.accept_offer(now, &offer, &a.session.local_tracks("A")).unwrap();
    a.session.accept_answer(now, &answer).unwrap();

    let offer = b.session.make_offer(now).unwrap().expect("B's m-lines");
    let answer = a.session.accept_offer(now, &offer, &b.session.local_tracks("B")).unwrap();
    b.session.accept_answer(now, &answer).unwrap();
    assert_eq!(a.session.make_offer(now).unwrap(), None, "nothing left to negotiate");

    run(&mut a, &mut b, Instant::now() + Duration::from_millis(2500)).await;

    for (name, p) in [("A", &a), ("B", &b)] {
        let stats = p.session.stats();
        assert!(stats.connected, "{name} connected: {stats:?}");
        assert_eq!(stats.write_errors, 0, "{name}: {stats:?}");
        assert!(stats.video.keyframes >= 1, "{name}: {stats:?}");
    }
    for (receiver, p, sender, tag) in [("A", &a, "B", 0xB0B), ("B", &b, "A", 0xA11CE)] {
        let snap = p.session.snapshot();
        assert_eq!(snap.unmapped_frames, 0, "{receiver}: {snap:?}");
        let video = snap.track(sender, MediaKind::Video).expect("video received");
        let audio = snap.track(sender, MediaKind::Audio).expect("audio received");
        // 15 fps and 50 packets/s for roughly two seconds once connected.
        assert_clean(receiver, video, tag, 20);
        assert_clean(receiver, audio, tag, 60);
        assert!(video.keyframes >= 1);
        assert!(video.bytes > 20 * 300);
        let sent = if sender == "A" { a.session.stats() } else { b.session.stats() };
        // Everything sent up to the last 100 ms or so has arrived.
        assert!(video.frames + 3 >= sent.video.frames, "{receiver}: {video:?} vs {sent:?}");
        assert!(audio.frames + 8 >= sent.audio.frames, "{receiver}: {audio:?} vs {sent:?}");
    }
}

#[tokio::test]
async fn a_stopped_track_is_marked_ended() {
    let mut a = Peer::new("alice", 1).await;
    let mut b = Peer::new("bob", 2).await;
    let now = Instant::now();
    let offer = a.session.make_offer(now).unwrap().unwrap();
    let tracks = a.session.local_tracks("A");
    let answer = b.session.accept_offer(now, &offer, &tracks).unwrap();
    a.session.accept_answer(now, &answer).unwrap();
    run(&mut a, &mut b, Instant::now() + Duration::from_millis(800)).await;
    assert!(b.session.snapshot().frames() > 0);

    // A stops its video m-line. The stale tracks list still names it, so only the
    // m-line's new direction can tell B that the track ended.
    a.session.unpublish(MediaKind::Video);
    assert_eq!(a.session.local_tracks("A").len(), 1);
    let offer = a.session.make_offer(Instant::now()).unwrap().expect("a stop needs an offer");
    let answer = b.session.accept_offer(Instant::now(), &offer, &tracks).unwrap();
    a.session.accept_answer(Instant::now(), &answer).unwrap();
    let audio_before = b.session.snapshot().track("A", MediaKind::Audio).unwrap().frames;
    run(&mut a, &mut b, Instant::now() + Duration::from_millis(300)).await;

    let snap = b.session.snapshot();
    let video = snap.track("A", MediaKind::Video).unwrap();
    let audio = snap.track("A", MediaKind::Audio).unwrap();
    assert!(video.ended, "{snap:?}");
    assert!(!audio.ended, "{snap:?}");
    assert!(audio.frames > audio_before, "audio keeps flowing: {snap:?}");
    assert_eq!(snap.mismatches(), 0);
}
