//! VP8 picture ids across simulcast layer switches, in virtual time.
//!
//! Browsers put a 15-bit picture id and a TL0PICIDX in every VP8 payload descriptor, and each
//! simulcast encoding counts its own from an unrelated start. A receiver that saw the ids of
//! one layer and then those of another would take the jump for lost pictures (and wait for a
//! key frame that already came). The bridge forwards in str0m's frame mode: str0m reassembles
//! each frame without its descriptor and packetizes it again for every receiver with a
//! descriptor of its own (str0m 0.25's `Vp8Packetizer`: no picture id, no TL0PICIDX). So the
//! receiver never sees the publisher's ids, and can rely on sequence numbers alone. This test
//! holds that: a publisher that writes browser-like descriptors (per-layer picture id and
//! TL0PICIDX bases, temporal layers 0-2-1-2), a receiver switched q → f → h, and in what it
//! receives either no picture ids at all, or ids that move by exactly one per picture and a
//! TL0PICIDX that never jumps — whatever str0m does, a jump at a switch fails.

mod common;

use std::collections::HashMap;

use common::{Net, Opts, RxPacket};
use ponte_bridge::forwarding::config::QualityConfig;
use ponte_proto::channel::ClientChannelMessage;

fn max_height(h: u32) -> ClientChannelMessage {
    ClientChannelMessage::Constraints { on_stage: None, max_height: HashMap::from([("p0".into(), h)]), default_max_height: None, last_n: None }
}

/// The first packet of each picture, in sequence order.
fn pictures(packets: &[RxPacket]) -> Vec<&RxPacket> {
    let mut v: Vec<&RxPacket> = packets.iter().filter(|p| p.frame.is_some()).collect();
    v.sort_by_key(|p| p.seq);
    v.dedup_by_key(|p| p.seq);
    v
}

#[test]
fn picture_ids_never_jump_across_layer_switches() {
    let mut net = Net::new(QualityConfig { bandwidth_estimation: false, ..Default::default() });
    let publisher = Opts { video: true, simulcast: true, picture_ids: true, ..Default::default() };
    net.join("r", &publisher);
    let rx = net.join("r", &Opts { rtp_mode: true, channel: true, ..Default::default() });
    net.clients[rx].constraints = Some(max_height(180));
    net.run(3000);
    for h in [720, 360] {
        net.clients[rx].set_constraints(max_height(h));
        net.run(2500);
    }

    let pics = pictures(&net.clients[rx].packets);
    let mut layers: Vec<u8> = pics.iter().map(|p| p.frame.expect("filtered").1).collect();
    layers.dedup();
    // Before its constraints arrive the receiver may start on another layer.
    assert!(layers.ends_with(&[0, 2, 1]), "the receiver was switched q → f → h: {layers:?}");
    assert!(pics.len() > 150, "{} pictures", pics.len());

    let with_ids = net.clients[rx].packets.iter().filter(|p| p.picture_id.is_some()).count();
    if with_ids == 0 {
        println!("{} pictures over 2 layer switches, no VP8 picture id or TL0PICIDX reaches the receiver", pics.len());
        return;
    }
    assert_eq!(with_ids, net.clients[rx].packets.len(), "picture ids on some packets only");
    for w in pics.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (pa, pb) = (a.picture_id.expect("all have one"), b.picture_id.expect("all have one"));
        assert_eq!(pb, (pa + 1) & 0x7fff, "picture id jumps at seq {} ({:?} → {:?})", b.seq, a.frame, b.frame);
        let (ta, tb) = (a.tl0_pic_idx.unwrap_or(0), b.tl0_pic_idx.unwrap_or(0));
        assert!(tb.wrapping_sub(ta) <= 1, "TL0PICIDX jumps {ta} → {tb} at seq {}", b.seq);
    }
    println!("{} pictures over 2 layer switches, picture ids continuous", pics.len());
}
