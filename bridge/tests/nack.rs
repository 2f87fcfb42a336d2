//! Loss repair in virtual time: a video packet the bridge sends is dropped on the receiver's
//! downlink; the receiver NACKs it and str0m answers from the bridge's send buffer
//! (retransmitted on RTX, which str0m negotiates by default), within about one round trip.

mod common;

use std::time::Duration;

use common::{Net, Opts};
use ponte_bridge::forwarding::config::QualityConfig;

#[test]
fn a_dropped_packet_is_recovered_within_a_round_trip() {
    let mut net = Net::new(QualityConfig::default());
    net.join("r", &Opts { audio: true, video: true, ..Default::default() });
    let rx = net.join("r", &Opts { rtp_mode: true, channel: true, ..Default::default() });
    let one_way = Duration::from_millis(25);
    net.clients[rx].link.delay = one_way;
    net.run(2000);
    let mut dropped = false;
    net.clients[rx].link.drop = Some(Box::new(move |t| {
        let hit = !dropped && t.contents.len() > 250;
        dropped |= hit;
        hit
    }));
    net.run(2000);
    assert_eq!(net.clients[rx].link.dropped, 1);

    let packets = &net.clients[rx].packets;
    let mut seqs: Vec<u64> = packets.iter().map(|p| p.seq).collect();
    // The recovered packet is the one that arrived after its successor.
    let late = packets.windows(2).find(|w| w[1].seq < w[0].seq).map(|w| w[1].clone()).expect("a packet arrived late");
    let successor = packets.iter().find(|p| p.seq == late.seq + 1).unwrap();
    let repair = late.at.saturating_duration_since(successor.at);
    seqs.sort_unstable();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "no hole left in the stream");
    // Loss is noticed when the next packet arrives; a round trip later the repair is in.
    let rtt = one_way * 2;
    assert!(repair <= rtt + Duration::from_millis(15), "repaired after {repair:?}, round trip {rtt:?}");
    assert!(net.metric("bridge_nacks_received_total") >= 1.0, "the NACK was counted");
    // The repair came on its own SSRC: RTX (RFC 4588), not a plain resend.
    let c = &net.clients[rx];
    let media = [Some(late.ssrc), c.audio_ssrc];
    let rtx = c.raw.iter().filter(|(ssrc, len)| *len > 2 && !media.contains(&Some(*ssrc))).count();
    assert!(rtx >= 1, "a retransmission on the RTX stream");
    eprintln!("repaired after {repair:?} (one-way delay {one_way:?}, so a round trip of {rtt:?})");
}
