//! Datagrams that panic srt-tokio 0.4.4's listener task (found by `fuzz/`, kept in
//! `fuzz/corpus/srt/regress-*`) arrive on the bridge's SRT port: the bridge notices the listener
//! died, counts it, starts a new one on the same port, and an encoder then streams in as usual.

use std::time::Duration;

use ponte_tests::ingest::{self, check_video};
use ponte_tests::{scrape, stack};
use tokio::net::UdpSocket;

const KEY: &str = "stage-key-1";

/// The datagrams of a corpus entry of the `srt` fuzz target (each `u16` length-prefixed).
fn datagrams(mut entry: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while entry.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([entry[0], entry[1]])).min(entry.len() - 2);
        out.push(&entry[2..2 + len]);
        entry = &entry[2 + len..];
    }
    out
}

async fn restarts(stack: &ponte::RunningStack) -> f64 {
    scrape::metrics(stack.addrs.bridge_http).await.sum("bridge_ingest_srt_listener_restarts_total", &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_srt_listener_comes_back_after_datagrams_that_panic_srt_tokio() {
    let stack = stack::start_with(ingest::config_with_keys(&[("stage", KEY, None)])).await;
    let srt = stack.addrs.srt.expect("SRT listens");
    let attacker = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let entries: [&[u8]; 2] = [
        include_bytes!("../../fuzz/corpus/srt/regress-congestion-extension"),
        include_bytes!("../../fuzz/corpus/srt/regress-advance-out-of-bounds"),
    ];
    for (i, entry) in entries.iter().enumerate() {
        for d in datagrams(entry) {
            attacker.send_to(d, srt).await.unwrap();
        }
        let mut n = 0.0;
        for _ in 0..100 {
            n = restarts(&stack).await;
            if n > i as f64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(n, (i + 1) as f64, "corpus entry {i} ended the listener task once, and it was restarted");
    }

    let viewer = stack::join_with(&stack, "stage", "viewer", ingest::viewer_options("stage")).await;
    let url = format!("srt://{srt}?mode=caller&streamid=stage/{KEY}&latency=200000");
    let (ok, err) = ingest::finish(ingest::ffmpeg(2, "mpegts", &url), Duration::from_secs(20)).await;
    assert!(ok, "an encoder streams in after the restarts: {err}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let v = check_video(&viewer.snapshot().kept);
    assert!(v.idr >= 1 && v.access_units >= 30, "{v:?}");
    stack.shutdown().await.unwrap();
}
