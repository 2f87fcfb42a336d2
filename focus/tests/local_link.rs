//! Bridges on the in-process link: registration, placement, request routing, events,
//! heartbeat loss.

mod common;

use std::time::Duration;

use common::*;
use ponte_focus::{Focus, FocusConfig, FocusError};
use ponte_proto::link::{BridgeToFocus, FocusToBridge};

#[tokio::test]
async fn offer_is_placed_forwarded_and_answered() {
    let (focus, mut events) = Focus::new(config(), prometheus::Registry::new());
    assert!(matches!(focus.send(offer("room", "alice")).await, Err(FocusError::NoBridge)));

    let mut bridge = LocalBridge::register(&focus, "b1", None).await;
    bridge.send(stats(0.1)).await;
    focus.send(offer("room", "alice")).await.unwrap();
    assert_eq!(bridge.answer_next_offer().await, target("room", "alice"));
    assert_eq!(next_event(&mut events).await, answer("room", "alice"));
    assert_eq!(focus.bridge_of("room").as_deref(), Some("b1"));

    let reply = FocusToBridge::Answer { target: target("room", "alice"), sdp: "v=0".into() };
    focus.send(reply.clone()).await.unwrap();
    assert_eq!(bridge.recv().await, reply);

    let stray = FocusToBridge::ExpireEndpoint { target: target("elsewhere", "bob") };
    assert!(matches!(focus.send(stray).await, Err(FocusError::UnknownConference(c)) if c == "elsewhere"));

    focus.send(FocusToBridge::ExpireConference { conference: "room".into() }).await.unwrap();
    assert_eq!(bridge.recv().await, FocusToBridge::ExpireConference { conference: "room".into() });
    assert!(focus.conferences().is_empty());
}

#[tokio::test]
async fn conferences_go_to_the_least_stressed_bridge() {
    let (focus, _events) = Focus::new(config(), prometheus::Registry::new());
    let mut busy = LocalBridge::register(&focus, "busy", None).await;
    let mut idle = LocalBridge::register(&focus, "idle", None).await;
    busy.send(stats(0.8)).await;
    idle.send(stats(0.2)).await;
    eventually(|| focus.bridges().iter().all(|b| b.stats.stress > 0.0)).await;

    focus.send(offer("one", "a")).await.unwrap();
    idle.answer_next_offer().await;
    // Placement sticks with the conference even when load changes.
    idle.send(stats(0.9)).await;
    eventually(|| focus.bridges().iter().any(|b| b.id == "idle" && b.stats.stress == 0.9)).await;
    focus.send(offer("one", "b")).await.unwrap();
    idle.answer_next_offer().await;
    focus.send(offer("two", "c")).await.unwrap();
    busy.answer_next_offer().await;
    assert_eq!(focus.conferences().get("two").map(String::as_str), Some("busy"));
}

#[tokio::test]
async fn region_hint_prefers_matching_bridges() {
    let config = FocusConfig { prefer_region: Some("eu".into()), ..config() };
    let (focus, _events) = Focus::new(config, prometheus::Registry::new());
    let _us = LocalBridge::register(&focus, "us-1", Some("us")).await;
    let mut eu = LocalBridge::register(&focus, "eu-1", Some("eu")).await;
    eu.send(stats(0.7)).await;
    eventually(|| focus.bridges().iter().any(|b| b.id == "eu-1" && b.stats.stress == 0.7)).await;
    focus.send(offer("room", "a")).await.unwrap();
    eu.answer_next_offer().await;
    assert_eq!(focus.place("other", Some("us")).unwrap(), "us-1");
}

#[tokio::test]
async fn first_message_must_be_register() {
    let registry = prometheus::Registry::new();
    let (focus, _events) = Focus::new(config(), registry.clone());
    let (tx, mut rx) = focus.connect_local();
    tx.send(stats(0.1)).await.unwrap();
    assert_eq!(tokio::time::timeout(WAIT, rx.recv()).await.unwrap(), None, "link closed");
    assert!(focus.bridges().is_empty());
    assert!(metric(&registry, "ponte_focus_bridge_link_failures_total", "no_register") >= 1.0);

    let (tx, mut rx) = focus.connect_local();
    let bad = registration("has space", None);
    tx.send(BridgeToFocus::Register(bad)).await.unwrap();
    assert_eq!(tokio::time::timeout(WAIT, rx.recv()).await.unwrap(), None, "bad id refused");
}

#[tokio::test(start_paused = true)]
async fn silent_bridge_is_removed_with_its_conferences() {
    let registry = prometheus::Registry::new();
    let config = FocusConfig { heartbeat_timeout: Duration::from_secs(10), ..config() };
    let (focus, _events) = Focus::new(config, registry.clone());
    let mut bridge = LocalBridge::register(&focus, "b1", None).await;
    focus.send(offer("room", "a")).await.unwrap();
    bridge.answer_next_offer().await;

    // Stats keep it alive past one timeout.
    tokio::time::sleep(Duration::from_secs(6)).await;
    bridge.send(stats(0.1)).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(focus.bridges().len(), 1);

    // Then it falls silent (its sender stays open: a hung bridge, not a closed one).
    assert_eq!(tokio::time::timeout(Duration::from_secs(30), bridge.rx.recv()).await.unwrap(), None);
    assert!(focus.bridges().is_empty());
    assert!(focus.conferences().is_empty());
    assert!(matches!(focus.send(offer("room", "b")).await, Err(FocusError::NoBridge)));
    assert_eq!(metric(&registry, "ponte_focus_bridge_link_failures_total", "heartbeat"), 1.0);
    assert_eq!(metric(&registry, "ponte_focus_orphaned_conferences_total", ""), 1.0);
}

#[tokio::test]
async fn closed_link_removes_bridge_and_reregistration_restores_conferences() {
    let (focus, _events) = Focus::new(config(), prometheus::Registry::new());
    let mut bridge = LocalBridge::register(&focus, "b1", None).await;
    focus.send(offer("room", "a")).await.unwrap();
    bridge.answer_next_offer().await;
    drop(bridge);
    eventually(|| focus.bridges().is_empty()).await;
    assert!(focus.conferences().is_empty());

    // The bridge comes back and reports the conference it still hosts.
    let (tx, mut rx) = focus.connect_local();
    let mut reg = registration("b1", None);
    reg.conferences = vec!["room".into()];
    tx.send(BridgeToFocus::Register(reg)).await.unwrap();
    assert!(matches!(rx.recv().await, Some(FocusToBridge::Registered { .. })));
    assert_eq!(focus.bridge_of("room").as_deref(), Some("b1"));
}

#[tokio::test]
async fn events_are_never_dropped_and_keep_their_order() {
    let (focus, mut events) = Focus::new(config(), prometheus::Registry::new());
    let bridge = LocalBridge::register(&focus, "b1", None).await;
    let total = ponte_focus::EVENT_QUEUE + 500;
    let sender = tokio::spawn(async move {
        for n in 0..total {
            bridge.send(BridgeToFocus::Endpoint(answer("room", &n.to_string()))).await;
        }
        bridge
    });
    // Let the queue fill up before reading.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for n in 0..total {
        assert_eq!(next_event(&mut events).await, answer("room", &n.to_string()));
    }
    sender.await.unwrap();
}

/// A counter's value by its one label value ("" for unlabelled counters).
pub fn metric(registry: &prometheus::Registry, name: &str, label: &str) -> f64 {
    registry
        .gather()
        .iter()
        .filter(|f| f.name() == name)
        .flat_map(|f| f.get_metric().iter())
        .filter(|m| label.is_empty() || m.get_label().iter().any(|l| l.value() == label))
        .map(|m| m.get_counter().get_value())
        .sum()
}
