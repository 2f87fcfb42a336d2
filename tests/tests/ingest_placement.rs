//! Ingest placement across bridges: a stream into a room that has no bridge yet takes the room
//! to the ingesting bridge (through the focus), so viewers who join later land there; a stream
//! into a room that lives on another bridge is refused with a message naming that bridge's
//! ingest address.

use std::time::Duration;

use ponte::Stack;
use ponte_bridge::{Bridge, LinkEnds};
use ponte_tests::ingest::{self, check_video};
use ponte_tests::stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unplaced_rooms_follow_the_stream_and_placed_rooms_name_their_bridge() {
    ponte_tests::init_tracing();
    let keys = [("stage", "stage-key-1", None), ("fresh", "fresh-key-1", None)];
    let mut cfg = ingest::config_with_keys(&keys);
    cfg.bridge.bridge_id = "bridge-a".into();
    cfg.bridge.region = Some("a".into());
    let a_rtmp_cfg = cfg.clone();
    let stack = Stack::bind(cfg).await.expect("stack binds");
    let focus = stack.focus().clone();
    let a_rtmp = stack.addrs().rtmp.expect("bridge A takes streams");
    let running = stack.spawn();

    // Bridge B, in this process, on the same focus.
    let mut b = a_rtmp_cfg.bridge;
    b.bridge_id = "bridge-b".into();
    b.region = None;
    let bridge_b = Bridge::bind(b, prometheus::Registry::new()).await.expect("bridge B binds");
    let b_rtmp = bridge_b.rtmp_addr().expect("bridge B takes streams");
    let (to_focus, from_focus) = focus.connect_local();
    let (stop_b, stopped_b) = tokio::sync::oneshot::channel::<()>();
    let b_task = tokio::spawn(bridge_b.run(LinkEnds { to_focus, from_focus }, async move {
        let _ = stopped_b.await;
    }));
    for _ in 0..200 {
        if focus.bridges().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(focus.bridges().len(), 2, "both bridges registered");

    // "stage" lives on bridge A; bridge B must refuse it and say where to push.
    assert_eq!(focus.place("stage", Some("a")).unwrap(), "bridge-a");
    let push = ingest::ffmpeg(2, "flv", &format!("rtmp://{b_rtmp}/live/stage?key=stage-key-1"));
    let (ok, err) = ingest::finish(push, Duration::from_secs(15)).await;
    assert!(!ok, "bridge B must not take a room hosted by bridge A");
    let a_addr = format!("rtmp://{a_rtmp}/live");
    assert!(err.contains("bridge-a") && err.contains(&a_addr), "the refusal names bridge A's ingest address {a_addr}: {err}");

    // "fresh" has no bridge: the stream into B takes it there, and a viewer follows.
    let push = ingest::ffmpeg(4, "flv", &format!("rtmp://{b_rtmp}/live/fresh?key=fresh-key-1"));
    let mut placed = None;
    for _ in 0..100 {
        placed = focus.bridge_of("fresh");
        if placed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(placed.as_deref(), Some("bridge-b"), "the stream placed its room on its bridge");
    let viewer = stack::join_with(&running, "fresh", "viewer", ingest::viewer_options("fresh")).await;
    let (ok, err) = ingest::finish(push, Duration::from_secs(20)).await;
    assert!(ok, "{err}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let v = check_video(&viewer.snapshot().kept);
    assert!(v.idr >= 1 && v.access_units >= 25 && v.before_first_idr == 0, "the viewer on bridge B sees the stream: {v:?}");

    let _ = stop_b.send(());
    let _ = b_task.await;
    running.shutdown().await.unwrap();
}
