//! A draining bridge opens no new room for a live stream either: an RTMP push into a room
//! that has no bridge yet is refused while the bridge drains (a running meeting keeps it
//! alive), and taken once the drain is lifted.

use std::time::Duration;

use ponte::Stack;
use ponte_tests::ingest;
use ponte_tests::stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_bridge_refuses_a_stream_into_a_new_room() {
    tokio::time::timeout(Duration::from_secs(90), run()).await.expect("the scenario finishes within 90 s");
}

async fn run() {
    ponte_tests::init_tracing();
    let stack = Stack::bind(ingest::config_with_keys(&[("stage", "stage-key-1", None)])).await.expect("stack binds");
    let focus = stack.focus().clone();
    let rtmp = stack.addrs().rtmp.expect("the bridge takes streams");
    let running = stack.spawn();
    for _ in 0..200 {
        if !focus.bridges().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bridge = focus.bridges().first().expect("the bridge registered").id.clone();
    // Without a conference a drained bridge exits at once (and takes this stack with it).
    let keeper = stack::join(&running, "meeting", "Kim").await;

    focus.drain(&bridge, true).await.expect("drain");
    let push = ingest::ffmpeg(2, "flv", &format!("rtmp://{rtmp}/live/stage?key=stage-key-1"));
    let (ok, err) = ingest::finish(push, Duration::from_secs(20)).await;
    assert!(!ok, "a draining bridge must not open a room for a stream; ffmpeg said:\n{err}");
    assert_eq!(focus.bridge_of("stage"), None, "the room was not placed");

    focus.drain(&bridge, false).await.expect("undrain");
    let push = ingest::ffmpeg(2, "flv", &format!("rtmp://{rtmp}/live/stage?key=stage-key-1"));
    let (ok, err) = ingest::finish(push, Duration::from_secs(20)).await;
    assert!(ok, "undrained, the bridge takes the stream; ffmpeg said:\n{err}");

    keeper.leave().await.expect("leave");
    running.shutdown().await.expect("clean shutdown");
}
