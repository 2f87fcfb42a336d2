//! Datagrams that panic srt-protocol 0.4.4 (found by `fuzz/`, kept in `fuzz/corpus/srt/regress-*`;
//! before the bridge's SRT guard, each one ended srt-tokio's listener task and every stream on
//! it) arrive on the bridge's SRT port while an encoder streams through it: the guard drops and
//! counts them, srt-tokio never sees them, the listener is never restarted, and the live stream
//! goes on to its last frame.

use std::time::Duration;

use ponte_bridge::ingest::srt_guard::datagrams;
use ponte_proto::MediaKind;
use ponte_tests::ingest::{self, check_video};
use ponte_tests::{scrape, stack};
use tokio::net::UdpSocket;

const KEY: &str = "stage-key-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagrams_that_panic_srt_tokio_are_dropped_and_a_live_stream_goes_on() {
    let stack = stack::start_with(ingest::config_with_keys(&[("stage", KEY, None)])).await;
    let srt = stack.addrs.srt.expect("SRT listens");
    let viewer = stack::join_with(&stack, "stage", "viewer", ingest::viewer_options("stage")).await;
    let seconds = 6;
    let url = format!("srt://{srt}?mode=caller&streamid=stage/{KEY}&latency=200000");
    let encoder = tokio::spawn(ingest::finish(ingest::ffmpeg(seconds, "mpegts", &url), Duration::from_secs(30)));
    let video = || viewer.snapshot().kept.iter().filter(|f| f.kind == MediaKind::Video).count();
    let live = viewer.wait_until(Duration::from_secs(15), |_| video() >= 25).await;
    assert!(live, "the stream is live before the attack: {} video frames", video());

    // From several addresses, as an attacker would (srt-tokio keyed its state by address).
    let entries: [&[u8]; 2] = [
        include_bytes!("../../fuzz/corpus/srt/regress-congestion-extension"),
        include_bytes!("../../fuzz/corpus/srt/regress-advance-out-of-bounds"),
    ];
    for entry in entries {
        let attacker = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for d in datagrams(entry) {
            attacker.send_to(d, srt).await.unwrap();
        }
    }
    let metrics = || async { scrape::metrics(stack.addrs.bridge_http).await };
    let mut dropped = 0.0;
    for _ in 0..100 {
        dropped = metrics().await.sum("bridge_ingest_srt_dropped_total", &[("reason", "malformed")]);
        if dropped >= 2.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dropped >= 2.0, "each hostile entry had a datagram dropped as malformed: {dropped}");

    let (ok, err) = encoder.await.unwrap();
    assert!(ok, "the encoder streamed to its end through the attack: {err}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let v = check_video(&viewer.snapshot().kept);
    let expected = (seconds * ingest::FPS) as usize;
    println!("hostile SRT datagrams: {dropped} dropped as malformed; the live stream delivered {} of {expected} frames", v.access_units);
    assert!(v.access_units + 2 >= expected, "the stream was not cut: {v:?}");
    assert_eq!(metrics().await.sum("bridge_ingest_srt_listener_restarts_total", &[]), 0.0, "srt-tokio's listener never died");
    stack.shutdown().await.unwrap();
}
