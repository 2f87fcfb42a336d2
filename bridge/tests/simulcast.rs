//! Simulcast in virtual time: a publisher sends three layers (q/h/f, each with its own RTP
//! clock base); receivers get one layer each, chosen by their constraints (max height over the
//! data channel) and their bandwidth (a rate-capped downlink, str0m's TWCC estimate), and
//! whatever the switches, each receiver sees one continuous stream: one SSRC, consecutive
//! sequence numbers, RTP time moving forward by about the wall-clock time.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::{Client, Net, Opts, RxPacket};
use ponte_bridge::forwarding::config::QualityConfig;
use ponte_proto::channel::ClientChannelMessage;

fn publisher() -> Opts {
    Opts { audio: true, video: true, simulcast: true, ..Default::default() }
}

fn receiver() -> Opts {
    Opts { rtp_mode: true, channel: true, ..Default::default() }
}

fn max_height(h: u32) -> ClientChannelMessage {
    ClientChannelMessage::Constraints { on_stage: None, max_height: HashMap::from([("p0".into(), h)]), default_max_height: None, last_n: None }
}

/// Layers of the frames that started in `packets` after index `from`, in order, deduplicated.
fn layers(packets: &[RxPacket], from: usize) -> Vec<u8> {
    let mut v: Vec<u8> = packets[from..].iter().filter_map(|p| p.frame.map(|f| f.1)).collect();
    v.dedup();
    v
}

/// One SSRC; sequence numbers without gaps other than `lost` packets the link dropped (and
/// RTX did not repair) or padding took; RTP time never backwards and following the wall clock.
fn assert_continuous(c: &Client, from: usize, lost: u64) {
    let packets = &c.packets[from..];
    assert!(packets.len() > 50, "only {} packets", packets.len());
    assert!(packets.iter().all(|p| p.ssrc == packets[0].ssrc), "one SSRC for the whole stream");
    let padding: HashSet<u16> = c.padding.iter().filter(|p| p.0 == packets[0].ssrc).map(|p| p.1).collect();
    let mut sorted = packets.to_vec();
    sorted.sort_by_key(|p| p.seq);
    sorted.dedup_by_key(|p| p.seq);
    let missing = sorted
        .windows(2)
        .flat_map(|w| w[0].seq + 1..w[1].seq)
        .filter(|s| !padding.contains(&(*s as u16)))
        .count() as u64;
    assert!(missing <= lost, "{missing} sequence numbers never arrived, the link dropped {lost}");
    for w in sorted.windows(2) {
        let dt = w[1].timestamp.wrapping_sub(w[0].timestamp);
        assert!(dt < 90_000 / 2, "RTP time jumps by {dt} between seq {} and {}", w[0].seq, w[1].seq);
    }
    // Against the wall clock: over the whole stream, RTP time advanced as much as real time.
    let (first, last) = (&sorted[0], &sorted[sorted.len() - 1]);
    let rtp = u64::from(last.timestamp.wrapping_sub(first.timestamp));
    let wall = last.at.saturating_duration_since(first.at).as_millis() as u64 * 90;
    assert!(rtp.abs_diff(wall) < 90_000 / 2, "RTP time {rtp} vs wall clock {wall} ticks");
}

/// Layers went from `first` to `last` in one direction only.
fn assert_moved(got: &[u8], first: u8, last: u8) {
    assert_eq!((got.first(), got.last()), (Some(&first), Some(&last)), "layers {got:?}");
    assert!(got.windows(2).all(|w| (w[1] > w[0]) == (last > first)), "one direction: {got:?}");
}

#[test]
fn constraints_pick_the_layer_and_switches_keep_the_stream_continuous() {
    let mut net = Net::new(QualityConfig { bandwidth_estimation: false, ..Default::default() });
    net.join("r", &publisher());
    let rx = net.join("r", &receiver());
    net.clients[rx].constraints = Some(max_height(180));
    net.run(3000);
    assert!(net.clients[rx].channel.is_some(), "the bridge accepted the data channel");
    assert_eq!(layers(&net.clients[rx].packets, 0), vec![0], "asked for 180p: the q layer only");

    let mark = net.clients[rx].packets.len();
    net.clients[rx].set_constraints(max_height(720));
    net.run(2000);
    assert_moved(&layers(&net.clients[rx].packets, mark), 0, 2);

    let mark = net.clients[rx].packets.len();
    net.clients[rx].set_constraints(max_height(360));
    net.run(2000);
    assert_moved(&layers(&net.clients[rx].packets, mark), 2, 1);
    assert_continuous(&net.clients[rx], 0, 0);
    assert!(net.metric("bridge_layer_switches_total") >= 2.0);
}

#[test]
fn a_capped_receiver_gets_a_low_layer_and_climbs_back_when_the_cap_lifts() {
    let mut net = Net::new(QualityConfig::default());
    net.join("r", &publisher());
    let capped = net.join("r", &receiver());
    let free = net.join("r", &receiver());
    net.clients[capped].link.delay = Duration::from_millis(20);
    net.clients[free].link.delay = Duration::from_millis(20);
    net.clients[capped].link.cap_bps = Some(450_000);
    net.run(15_000);
    let tail = net.clients[capped].packets.len() * 3 / 4;
    let got = layers(&net.clients[capped].packets, tail);
    assert!(got.iter().all(|l| *l < 2), "behind a 450 kbit/s cap: below the f layer, got {got:?}");
    assert_eq!(layers(&net.clients[free].packets, net.clients[free].packets.len() / 2), vec![2], "no cap: f");

    let mark = net.clients[capped].packets.len();
    net.clients[capped].link.cap_bps = None;
    net.run(10_000);
    let got = layers(&net.clients[capped].packets, mark);
    assert_eq!(got.last(), Some(&2), "cap lifted: back to f, got {got:?}");
    let settled = net.clients[capped].packets.len();
    net.run(5_000);
    assert_eq!(layers(&net.clients[capped].packets, settled), vec![2], "and it stays there");
    let lost = net.clients[capped].link.dropped;
    assert_continuous(&net.clients[capped], 0, lost);
    assert!(net.metric("bridge_bandwidth_estimate_bps") > 0.0);
}
