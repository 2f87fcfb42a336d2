//! Simulcast end to end over loopback UDP: a test participant publishes three layers (rids
//! q/h/f: 180p, 360p, 720p in its key frames; about 0.12, 0.36 and 1 Mbit/s). A receiver that
//! asks for 180p over the data channel gets the small layer and, after asking for 720p, the
//! large one, without a missing frame across the switch; a receiver behind a 500 kbit/s relay
//! (TWCC estimate) gets less than the top layer while an unconstrained one gets the top.
//! (Climbing back when a cap lifts is checked in virtual time: bridge/tests/simulcast.rs.)

use std::collections::HashMap;
use std::time::Duration;

use ponte_loadtest::{Participant, ParticipantOptions};
use ponte_proto::channel::ClientChannelMessage;
use ponte_proto::MediaKind;
use ponte_tests::relay::{Impairment, Relay};
use ponte_tests::{scrape, stack};

fn max_height(publisher: &str, h: u32) -> ClientChannelMessage {
    ClientChannelMessage::Constraints {
        on_stage: None,
        max_height: HashMap::from([(publisher.to_owned(), h)]),
        default_max_height: None,
        last_n: None,
    }
}

fn video_bytes(r: &Participant, publisher: &Participant) -> u64 {
    r.snapshot().track(publisher.id(), MediaKind::Video).map_or(0, |t| t.bytes)
}

/// Video bit rate each receiver gets from `publisher` over `window`.
async fn rates(receivers: &[&Participant], publisher: &Participant, window: Duration) -> Vec<u64> {
    let before: Vec<u64> = receivers.iter().map(|r| video_bytes(r, publisher)).collect();
    tokio::time::sleep(window).await;
    receivers.iter().zip(before).map(|(r, b)| (video_bytes(r, publisher) - b) * 8 / window.as_secs()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_get_the_layer_their_constraints_and_bandwidth_allow() {
    let mut config = ponte::StackConfig::loopback();
    config.bridge.quality.bandwidth_estimation = true;
    let stack = stack::start_with(config).await;
    let publisher = stack::join_with(&stack, "sim", "Pub", ParticipantOptions { simulcast: true, ..Default::default() }).await;
    let small = stack::join_with(&stack, "sim", "Small", ParticipantOptions { data_channel: true, send_video: false, ..Default::default() }).await;
    small.send_constraints(max_height(publisher.id(), 180)).unwrap();
    let relay = Relay::start(stack.addrs.media, Impairment { rate_bps: Some(500_000), ..Default::default() }).await.unwrap();
    let capped_opts = ParticipantOptions { media_via: Some(relay.addr()), send_video: false, ..Default::default() };
    let capped = stack::join_with(&stack, "sim", "Capped", capped_opts).await;
    let free = stack::join_with(&stack, "sim", "Free", ParticipantOptions { send_video: false, ..Default::default() }).await;

    let flowing = small.wait_until(Duration::from_secs(15), |_| {
        [&small, &capped, &free].iter().all(|r| r.snapshot().track(publisher.id(), MediaKind::Video).is_some_and(|t| t.frames > 30))
    });
    assert!(flowing.await, "video reaches every receiver");
    // Let the estimates settle (the capped one starts from 1 Mbit/s).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let r = rates(&[&small, &capped, &free], &publisher, Duration::from_secs(4)).await;
    let [small_bps, capped_bps, free_bps] = [r[0], r[1], r[2]];
    assert!(small_bps < 250_000, "180p asked: the q layer, got {small_bps} bit/s");
    assert!(free_bps > 600_000, "no constraint, no cap: the f layer, got {free_bps} bit/s");
    assert!(capped_bps > 50_000 && capped_bps < 600_000, "behind 500 kbit/s: below f, got {capped_bps} bit/s");

    let before = small.snapshot().track(publisher.id(), MediaKind::Video).unwrap().clone();
    small.send_constraints(max_height(publisher.id(), 720)).unwrap();
    // The receiver's estimate grew only as far as q needed: the bridge probes upward (str0m's
    // BWE) and the layers follow, h then f, within seconds.
    let mut seen = Vec::new();
    for _ in 0..8 {
        let r = rates(&[&small], &publisher, Duration::from_secs(2)).await;
        seen.push(r[0]);
        if r[0] > 600_000 {
            break;
        }
    }
    assert!(seen.last().is_some_and(|r| *r > 600_000), "720p asked: the f layer; bit/s per 2 s: {seen:?}");
    let after = small.snapshot().track(publisher.id(), MediaKind::Video).unwrap().clone();
    // At a switch the new layer's key frame can carry the same capture as the old layer's
    // last frame (a repeat); nothing may be skipped.
    assert_eq!(after.missing, before.missing, "no frame missing across the switch");
    assert_eq!(after.mismatches, 0, "every frame arrived intact");

    let metrics = scrape::metrics(stack.addrs.bridge_http).await;
    assert!(metrics.sum("bridge_layer_switches_total", &[]) >= 1.0);
    assert!(metrics.has("bridge_bandwidth_estimate_bps_count"));
    let _ = stack.shutdown().await;
}
