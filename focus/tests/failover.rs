//! A bridge that dies — its link closes, or it stops reporting for the heartbeat timeout —
//! has its conferences placed on the other bridges at once, and the move is announced for
//! signaling; a moved participant's media connecting on the new bridge is timed in the
//! failover histogram.

mod common;

use std::time::Duration;

use common::{config, eventually, offer, stats, LocalBridge};
use ponte_focus::{ConferenceMoved, Focus, FocusConfig};
use ponte_proto::link::{BridgeToFocus, EndpointEvent, FocusToBridge};

async fn three_bridges(config: FocusConfig) -> (Focus, tokio::sync::mpsc::Receiver<EndpointEvent>, [LocalBridge; 3]) {
    let (focus, events) = Focus::new(config, prometheus::Registry::new());
    let a = LocalBridge::register(&focus, "a", None).await;
    let b = LocalBridge::register(&focus, "b", None).await;
    let c = LocalBridge::register(&focus, "c", None).await;
    (focus, events, [a, b, c])
}

#[tokio::test]
async fn a_closed_link_moves_every_conference_and_announces_it() {
    let (focus, _events, [mut a, mut b, mut c]) = three_bridges(config()).await;
    let mut moves = focus.subscribe_moves();
    a.send(stats(0.0)).await;
    b.send(stats(0.3)).await;
    c.send(stats(0.3)).await;
    eventually(|| focus.bridges().iter().all(|x| x.stats.stress > 0.0 || x.id == "a")).await;
    for room in ["one", "two"] {
        focus.send(offer(room, "ann")).await.unwrap();
        a.answer_next_offer().await;
    }
    assert_eq!(focus.bridge_of("one").as_deref(), Some("a"));
    assert_eq!(focus.bridge_of("two").as_deref(), Some("a"));

    drop(a); // the link closes: the bridge died
    let mut got = Vec::new();
    for _ in 0..2 {
        let m: ConferenceMoved = tokio::time::timeout(common::WAIT, moves.recv()).await.expect("a move in time").unwrap();
        assert_eq!(m.from, "a");
        got.push((m.conference, m.to));
    }
    got.sort();
    let to: Vec<_> = got.iter().map(|(_, to)| to.clone().expect("placed")).collect();
    assert_eq!(got.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>(), ["one", "two"]);
    assert_ne!(to[0], to[1], "the two moved conferences spread over b and c: {got:?}");
    assert_eq!(focus.bridge_of("one"), Some(to[0].clone()));

    // The participant's offer now goes to the new bridge; its media connecting there
    // completes a failover (an answer alone does not).
    focus.send(offer("one", "ann")).await.unwrap();
    let new = if to[0] == "b" { &mut b } else { &mut c };
    new.answer_next_offer().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(metrics_text(&focus).contains("ponte_focus_failover_seconds_count 0"), "{}", metrics_text(&focus));
    new.send(BridgeToFocus::Endpoint(EndpointEvent::Connected { target: common::target("one", "ann") })).await;
    eventually(|| metrics_text(&focus).contains("ponte_focus_failover_seconds_count 1")).await;
    assert!(metrics_text(&focus).contains("ponte_focus_failovers_total 2"), "{}", metrics_text(&focus));
}

fn metrics_text(focus: &Focus) -> String {
    let mut buf = Vec::new();
    prometheus::Encoder::encode(&prometheus::TextEncoder::new(), &focus.prometheus().gather(), &mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_silent_bridge_is_dead_after_the_heartbeat_timeout() {
    let cfg = FocusConfig { heartbeat_timeout: Duration::from_secs(3), ..config() };
    let (focus, _events, [mut a, b, c]) = three_bridges(cfg).await;
    let mut moves = focus.subscribe_moves();
    focus.send(offer("room", "ann")).await.unwrap();
    let placed = focus.bridge_of("room").unwrap();
    assert_eq!(placed, "a");
    assert!(matches!(a.recv().await, FocusToBridge::Offer { .. }));
    // b and c keep reporting every second; a falls silent but keeps its link open.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        b.send(stats(0.1)).await;
        c.send(stats(0.2)).await;
    }
    let m = tokio::time::timeout(Duration::from_secs(1), moves.recv()).await.expect("moved by now").unwrap();
    assert_eq!((m.conference.as_str(), m.from.as_str(), m.to.as_deref()), ("room", "a", Some("b")));
    assert!(focus.bridges().iter().all(|x| x.id != "a"), "a is gone");
    // a comes back still running the room: the focus tells it to end it there.
    drop(a);
    let (tx, mut rx) = focus.connect_local();
    let mut reg = common::registration("a", None);
    reg.conferences = vec!["room".into()];
    tx.send(BridgeToFocus::Register(reg)).await.unwrap();
    assert!(matches!(rx.recv().await, Some(FocusToBridge::Registered { .. })));
    assert_eq!(rx.recv().await, Some(FocusToBridge::ExpireConference { conference: "room".into() }));
    assert_eq!(focus.bridge_of("room").as_deref(), Some("b"), "the room stays where it moved");
}

/// A focus that shuts down closes every link; that is not the bridges dying, so nothing moves
/// (the bridges keep their conferences and report them to the next focus).
#[tokio::test]
async fn shutting_down_moves_nothing() {
    let (focus, _events, [mut a, _b, _c]) = three_bridges(config()).await;
    let mut moves = focus.subscribe_moves();
    focus.send(offer("room", "ann")).await.unwrap();
    a.answer_next_offer().await;
    focus.close_links();
    eventually(|| focus.bridges().is_empty()).await;
    assert!(moves.try_recv().is_err(), "no conference moved at shutdown");
}
