//! The `signaling` process (the focus runs inside it) restarts in the middle of a meeting:
//! the bridges keep forwarding while their link is down, redial and re-register with the
//! conferences and endpoints they host; the participants reconnect their WebSockets and
//! resume their media sessions (no new offer). Packets never stop: the longest gap any
//! receiver sees in any stream stays under 2 s.

use std::time::Duration;

use futures_util::future::join_all;
use ponte_loadtest::{Participant, ParticipantOptions, RosterEvent};
use ponte_tests::cluster::Cluster;

const MAX_GAP: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_keeps_flowing_while_the_focus_restarts() {
    tokio::time::timeout(Duration::from_secs(60), run()).await.expect("the scenario finishes within 60 s");
}

async fn run() {
    let mut c = Cluster::start(&["b1", "b2"]).await;
    let mut all = Vec::new();
    for room in ["east", "west"] {
        for name in ["A", "B"] {
            let p = Participant::join(&c.ws_url(), room, name, ParticipantOptions::default())
                .await
                .unwrap_or_else(|e| panic!("{name} joins {room}: {e}"));
            all.push(p);
        }
    }
    for p in &all {
        p.wait_connected(Duration::from_secs(15)).await.expect("media connects");
    }
    let flowing = all[0]
        .wait_until(Duration::from_secs(15), |_| all.iter().all(|p| p.snapshot().tracks.iter().filter(|t| t.stats.frames >= 10).count() == 2))
        .await;
    assert!(flowing, "media flows before the restart");
    let before = c.conferences().await;
    assert_eq!(before.len(), 2, "{before:?}");
    let frames_before: Vec<u64> = all.iter().map(|p| p.snapshot().frames()).collect();

    c.stop_signaling().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    c.start_signaling().await;

    // Bridges re-register (with what they host); participants resume.
    c.wait_registered(&["b1", "b2"], Duration::from_secs(15)).await;
    let resumed = all[0].wait_until(Duration::from_secs(20), |_| all.iter().all(|p| p.resumes() >= 1)).await;
    if !resumed {
        let refusal = c.signaling().wait_for_line("resume refused", Duration::from_secs(1)).await;
        panic!("every participant resumed: {:?}; {refusal}", all.iter().map(|p| (p.id().to_owned(), p.resumes(), p.ended())).collect::<Vec<_>>());
    }
    let after = c.conferences().await;
    assert_eq!(after, before, "the rebuilt map puts each conference on the bridge that runs it");
    // A little more media after the resume, then look at every stream's longest silence.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (p, before) in all.iter().zip(frames_before) {
        assert_eq!(p.renegotiations().0, 0, "{}: the media session was resumed, not replaced", p.id());
        let left: Vec<_> = p.events().into_iter().filter(|e| matches!(e, RosterEvent::Left { .. })).collect();
        assert!(left.is_empty(), "{}: nobody left; the server going away is not a participant leaving: {left:?}", p.id());
        let snap = p.snapshot();
        assert!(snap.frames() > before + 50, "{}: media kept coming: {before} → {}", p.id(), snap.frames());
        for t in &snap.tracks {
            eprintln!("focus restart: {} ← {} {:?}: longest gap {:?}", p.id(), t.publisher, t.kind, t.stats.max_interval);
            assert!(t.stats.max_interval < MAX_GAP, "{} ← {} {:?}: gap {:?}", p.id(), t.publisher, t.kind, t.stats.max_interval);
            assert_eq!(t.stats.mismatches, 0);
        }
    }
    // The resumed sessions are live: a leave ends them cleanly on the new signaling.
    join_all(all.into_iter().map(Participant::leave)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !c.conferences().await.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(c.conferences().await, Default::default(), "the rooms ended");

    // Another restart: the bridges register what they host now (nothing), not what they
    // hosted at the last one.
    c.stop_signaling().await;
    c.start_signaling().await;
    c.wait_registered(&["b1", "b2"], Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(c.conferences().await, Default::default(), "no ended room comes back");
}
