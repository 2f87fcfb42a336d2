//! A live stream from ingest is a participant like the others for last-N, in virtual time:
//! the bridge names it in a receiver's `last_n` (so a client showing only the participants
//! named there shows its video), and forgets it when the stream ends.

mod common;


use common::{Net, Opts};
use ponte_bridge::forwarding::config::QualityConfig;
use ponte_bridge::ingest::participant_id;
use ponte_bridge::ingest::publisher::Media;

/// A tiny Annex-B H.264 access unit: an IDR slice or a non-IDR one.
fn access_unit(key: bool, n: u8) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 1, if key { 0x65 } else { 0x41 }, 0x88, n];
    v.extend(std::iter::repeat_n(n, 200));
    v
}

#[test]
fn a_live_stream_is_named_in_last_n_and_forgotten_when_it_ends() {
    let mut net = Net::new(QualityConfig::default());
    let rx = net.join("r", &Opts { rtp_mode: true, channel: true, ..Default::default() });
    net.run(500);
    let now = net.now;
    net.engine.ingest_start(now, "r", 1, "live: camera").expect("the stream joins");
    for n in 0..50u8 {
        let media = Media::Video { time: u64::from(n) * 3600, data: access_unit(n % 25 == 0, n), keyframe: n % 25 == 0, profile_level_id: 0x42e01f };
        let now = net.now;
        net.engine.ingest_media(now, "r", media, now);
        net.run(40);
    }
    let live = participant_id("r");
    assert_eq!(net.clients[rx].last_n(), Some(vec![live.clone()]), "the live stream is named in last_n");
    assert!(net.clients[rx].packets.len() > 20, "and its video is sent: {} packets", net.clients[rx].packets.len());

    let now = net.now;
    net.engine.ingest_stop(now, "r", 1);
    net.run(500);
    assert_eq!(net.clients[rx].last_n(), Some(vec![]), "gone when the stream ends");
}
