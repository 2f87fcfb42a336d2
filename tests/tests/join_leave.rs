//! A late joiner receives the tracks already there and the others receive its tracks, with
//! nobody reconnecting; one who leaves disappears from the others' sessions and roster.

use std::time::Duration;

use ponte_loadtest::participant::RosterEvent;
use ponte_proto::MediaKind;
use ponte_tests::stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_joiner_and_leaver() {
    let stack = stack::start().await;
    let a = stack::join(&stack, "design", "Ann").await;
    let b = stack::join(&stack, "design", "Ben").await;
    assert!(a.wait_until(Duration::from_secs(10), |a| a.snapshot().tracks.len() == 2).await, "Ann gets Ben's tracks");
    tokio::time::sleep(Duration::from_secs(1)).await;

    let c = stack::join(&stack, "design", "Cat").await;
    let late_ok = c
        .wait_until(Duration::from_secs(10), |c| {
            let s = c.snapshot();
            [a.id(), b.id()].iter().all(|p| {
                [MediaKind::Audio, MediaKind::Video].iter().all(|k| s.track(p, *k).is_some_and(|t| t.frames >= 10))
            })
        })
        .await;
    assert!(late_ok, "the late joiner receives both existing publishers: {:?}", c.snapshot());
    let others_ok = a
        .wait_until(Duration::from_secs(10), |_| {
            [&a, &b].iter().all(|p| p.snapshot().track(c.id(), MediaKind::Video).is_some_and(|t| t.frames >= 10))
        })
        .await;
    assert!(others_ok, "the others receive the late joiner");
    // The late joiner's video starts at a key frame the bridge asked for, not at the
    // publisher's next periodic one (every 30 frames at 15 fps = 2 s).
    assert!(a.stats().keyframe_requests + b.stats().keyframe_requests >= 1, "publishers were asked for key frames");
    for p in [&a, &b] {
        let t = c.snapshot().track(p.id(), MediaKind::Video).cloned().unwrap();
        assert_eq!((t.gaps, t.mismatches), (0, 0), "clean start: {t:?}");
    }
    assert!(c.roster().iter().any(|r| r.display_name == "Ann") && c.roster().iter().any(|r| r.display_name == "Ben"));

    let b_id = b.id().to_owned();
    b.leave().await.expect("Ben leaves");
    let gone = a
        .wait_until(Duration::from_secs(5), |a| {
            !a.roster().iter().any(|r| r.id == b_id)
                && a.events().iter().any(|e| matches!(e, RosterEvent::Left { participant_id } if *participant_id == b_id))
                && a.snapshot().track(&b_id, MediaKind::Video).is_some_and(|t| t.ended)
                && a.snapshot().track(&b_id, MediaKind::Audio).is_some_and(|t| t.ended)
        })
        .await;
    assert!(gone, "Ben is gone from Ann's roster and session: {:?} {:?}", a.roster(), a.snapshot());
    assert!(c.wait_until(Duration::from_secs(5), |c| c.snapshot().track(&b_id, MediaKind::Video).is_some_and(|t| t.ended)).await);

    // Ann and Cat keep receiving each other.
    let before = a.snapshot().track(c.id(), MediaKind::Video).unwrap().frames;
    assert!(a.wait_until(Duration::from_secs(5), |a| a.snapshot().track(c.id(), MediaKind::Video).unwrap().frames > before + 10).await);
    let m = ponte_tests::scrape::metrics(stack.addrs.bridge_http).await;
    assert_eq!(m.sum("bridge_endpoints", &[]), 2.0);
    stack.shutdown().await.expect("clean stop");
}
