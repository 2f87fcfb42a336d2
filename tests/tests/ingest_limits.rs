//! The bridge's ingest limits. `[ingest] max_streams`: with one stream live and a limit of one,
//! the next encoder is refused over SRT (reject code 2402, overload) and over RTMP (an error
//! status naming the limit), and each refusal is counted; the live stream goes on.
//! `[ingest] srt_max_callers`: with one caller streaming and a limit of one, a second address's
//! datagrams are dropped at the port and counted, and its encoder gives up; the stream goes on.

use std::time::Duration;

use ponte_tests::ingest::{self, check_video};
use ponte_tests::{scrape, stack};

/// Wait until a stream is live on the stack's bridge.
async fn wait_live(stack: &ponte::RunningStack) {
    for _ in 0..100 {
        if scrape::metrics(stack.addrs.bridge_http).await.sum("bridge_ingest_active", &[]) >= 1.0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the first stream went live");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_over_the_limit_is_refused_over_srt_and_rtmp() {
    let mut cfg = ingest::config_with_keys(&[("first", "first-key-1", None), ("second", "second-key-1", None)]);
    cfg.bridge.ingest.max_streams = 1;
    let stack = stack::start_with(cfg).await;
    let (srt, rtmp) = (stack.addrs.srt.expect("SRT listens"), stack.addrs.rtmp.expect("RTMP listens"));
    let viewer = stack::join_with(&stack, "first", "viewer", ingest::viewer_options("first")).await;

    let live = ingest::ffmpeg(5, "mpegts", &format!("srt://{srt}?mode=caller&streamid=first/first-key-1&latency=200000"));
    wait_live(&stack).await;

    let over_srt = ingest::ffmpeg(2, "mpegts", &format!("srt://{srt}?mode=caller&streamid=second/second-key-1&latency=200000"));
    let over_rtmp = ingest::ffmpeg(2, "flv", &format!("rtmp://{rtmp}/live/second?key=second-key-1"));
    let (s, r) = tokio::join!(ingest::finish(over_srt, Duration::from_secs(15)), ingest::finish(over_rtmp, Duration::from_secs(15)));
    assert!(!s.0, "SRT over the limit must be refused: {}", s.1);
    assert!(!r.0, "RTMP over the limit must be refused: {}", r.1);
    println!("ffmpeg over SRT: {}\nffmpeg over RTMP: {}", s.1.trim(), r.1.trim());
    // ffmpeg reports an application reject without its code; the code (2402) is checked in
    // `ingest::srt`'s unit test.
    assert!(s.1.contains("REJECT"), "SRT rejected the caller: {}", s.1);
    assert!(r.1.contains("at most 1 live streams"), "RTMP error status names the limit: {}", r.1);

    let m = scrape::metrics(stack.addrs.bridge_http).await;
    assert_eq!(m.sum("bridge_ingest_refusals_total", &[("reason", "stream_limit"), ("protocol", "srt")]), 1.0);
    assert_eq!(m.sum("bridge_ingest_refusals_total", &[("reason", "stream_limit"), ("protocol", "rtmp")]), 1.0);
    assert_eq!(m.sum("bridge_ingest_active", &[]), 1.0, "the refusals left the live stream alone");

    let (ok, err) = ingest::finish(live, Duration::from_secs(20)).await;
    assert!(ok, "the first stream ran to its end: {err}");
    let v = check_video(&viewer.snapshot().kept);
    assert!(v.idr >= 2 && v.access_units >= 80, "the first stream reached its room: {v:?}");
    stack.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srt_callers_over_the_limit_are_dropped_at_the_port() {
    let mut cfg = ingest::config_with_keys(&[("first", "first-key-1", None), ("second", "second-key-1", None)]);
    cfg.bridge.ingest.srt_max_callers = 1;
    let stack = stack::start_with(cfg).await;
    let srt = stack.addrs.srt.expect("SRT listens");
    let live = ingest::ffmpeg(6, "mpegts", &format!("srt://{srt}?mode=caller&streamid=first/first-key-1&latency=200000"));
    wait_live(&stack).await;

    // libsrt gives up connecting after its connect timeout (3 s) when nothing answers.
    let over = ingest::ffmpeg(2, "mpegts", &format!("srt://{srt}?mode=caller&streamid=second/second-key-1&latency=200000"));
    let (ok, err) = ingest::finish(over, Duration::from_secs(20)).await;
    assert!(!ok, "a second caller gets nowhere while the one allowed streams: {err}");
    let m = scrape::metrics(stack.addrs.bridge_http).await;
    let dropped = m.sum("bridge_ingest_srt_dropped_total", &[("reason", "too_many_callers")]);
    println!("second SRT caller: {} datagrams dropped at the port; ffmpeg: {}", dropped, err.trim());
    assert!(dropped >= 1.0, "its datagrams were counted: {dropped}");
    assert_eq!(m.sum("bridge_ingest_active", &[]), 1.0, "the live stream goes on");
    let (ok, err) = ingest::finish(live, Duration::from_secs(20)).await;
    assert!(ok, "the first stream ran to its end: {err}");
    stack.shutdown().await.unwrap();
}
