//! The operator API and probes, called through the router without a server.

mod common;

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use ponte_focus::{Focus, FocusConfig, FocusError};
use ponte_proto::link::{BridgeToFocus, EndpointEvent, FocusToBridge};
use tower::ServiceExt;

async fn call(focus: &Focus, method: Method, uri: &str, secret: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(secret) = secret {
        request = request.header(header::AUTHORIZATION, format!("Bearer {secret}"));
    }
    let response = focus.router().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn secured() -> FocusConfig {
    FocusConfig { secret: Some("s3cret".into()), ..config() }
}

#[tokio::test]
async fn probes_and_metrics() {
    let (focus, _events) = Focus::new(secured(), prometheus::Registry::new());
    assert_eq!(call(&focus, Method::GET, "/health", None).await, (StatusCode::OK, "ok".into()));
    assert_eq!(call(&focus, Method::GET, "/ready", None).await.0, StatusCode::SERVICE_UNAVAILABLE);
    focus.set_ready(true);
    assert_eq!(call(&focus, Method::GET, "/ready", None).await.0, StatusCode::OK);

    let _bridge = LocalBridge::register(&focus, "b1", None).await;
    focus.place("room", None).unwrap();
    let (status, text) = call(&focus, Method::GET, "/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        "ponte_focus_bridges 1",
        "ponte_focus_conferences 1",
        "ponte_focus_placements_total 1",
        "ponte_focus_endpoint_events_total{type=\"answer\"} 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[tokio::test]
async fn api_needs_the_secret() {
    let (focus, _events) = Focus::new(secured(), prometheus::Registry::new());
    for uri in ["/v1/bridges", "/v1/conferences"] {
        assert_eq!(call(&focus, Method::GET, uri, None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(call(&focus, Method::GET, uri, Some("wrong")).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(call(&focus, Method::GET, uri, Some("s3cret")).await.0, StatusCode::OK);
    }
    let (status, _) = call(&focus, Method::POST, "/v1/bridges/b1/drain", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(&focus, Method::GET, "/v1/bridge-link", Some("wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn lists_bridges_and_conferences() {
    let (focus, _events) = Focus::new(config(), prometheus::Registry::new());
    let bridge = LocalBridge::register(&focus, "b1", Some("eu")).await;
    bridge.send(stats(0.25)).await;
    eventually(|| focus.bridges().iter().any(|b| b.stats.stress == 0.25)).await;
    focus.place("room", None).unwrap();

    let (status, body) = call(&focus, Method::GET, "/v1/bridges", None).await;
    assert_eq!(status, StatusCode::OK);
    let bridges: serde_json::Value = serde_json::from_str(&body).unwrap();
    let b = &bridges[0];
    assert_eq!(b["id"], "b1");
    assert_eq!(b["region"], "eu");
    assert_eq!(b["stats"]["stress"], 0.25);
    assert_eq!(b["stress"], 0.25);
    assert_eq!(b["state"], "healthy");
    assert_eq!(b["draining"], false);
    assert_eq!(b["healthy"], true);
    assert_eq!(b["version"], "test");
    assert!(b["last_seen_ms_ago"].as_u64().is_some(), "{b}");
    assert_eq!(b["conferences"], serde_json::json!(["room"]));

    let (_, body) = call(&focus, Method::GET, "/v1/conferences", None).await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!([{"room": "room", "bridge": "b1", "participants": []}])
    );
}

#[tokio::test]
async fn conferences_list_their_participants_until_the_last_leaves() {
    let (focus, mut events) = Focus::new(config(), prometheus::Registry::new());
    let mut bridge = LocalBridge::register(&focus, "b1", None).await;
    for who in ["ann", "bob"] {
        focus.send(offer("room", who)).await.unwrap();
        bridge.answer_next_offer().await;
        next_event(&mut events).await;
    }
    let (_, body) = call(&focus, Method::GET, "/v1/conferences", None).await;
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list[0]["room"], "room");
    assert_eq!(list[0]["bridge"], "b1");
    assert_eq!(
        list[0]["participants"],
        serde_json::json!([{"endpoint": "ann", "display_name": "ann"}, {"endpoint": "bob", "display_name": "bob"}])
    );

    // One leaves through signaling, the other expires on the bridge: the conference ended.
    focus.send(FocusToBridge::ExpireEndpoint { target: target("room", "ann") }).await.unwrap();
    assert!(matches!(bridge.recv().await, FocusToBridge::ExpireEndpoint { .. }));
    assert_eq!(focus.bridge_of("room").as_deref(), Some("b1"), "bob is still there");
    let expired = EndpointEvent::Expired { target: target("room", "bob"), reason: "ice timeout".into() };
    bridge.send(BridgeToFocus::Endpoint(expired)).await;
    next_event(&mut events).await;
    assert_eq!(focus.bridge_of("room"), None, "the last one out ends the placement");
    let (_, body) = call(&focus, Method::GET, "/v1/conferences", None).await;
    assert_eq!(body, "[]");
}

#[tokio::test]
async fn drain_tells_the_bridge_and_stops_placement() {
    let (focus, _events) = Focus::new(config(), prometheus::Registry::new());
    let mut b1 = LocalBridge::register(&focus, "b1", None).await;
    let mut b2 = LocalBridge::register(&focus, "b2", None).await;
    b2.send(stats(0.5)).await;
    eventually(|| focus.bridges().iter().any(|b| b.stats.stress == 0.5)).await;

    let (status, body) = call(&focus, Method::POST, "/v1/bridges/b1/drain", None).await;
    assert_eq!(status, StatusCode::OK);
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((info["id"].as_str(), info["state"].as_str()), (Some("b1"), Some("draining")));
    assert_eq!(b1.recv().await, FocusToBridge::Drain { draining: true });
    focus.send(offer("room", "a")).await.unwrap();
    b2.answer_next_offer().await;
    assert!(focus.bridges().iter().any(|b| b.id == "b1" && b.draining));

    let (status, body) = call(&focus, Method::POST, "/v1/bridges/nope/drain", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"], "bridge \"nope\" is not registered");

    // Draining the last bridge leaves nowhere to go.
    call(&focus, Method::POST, "/v1/bridges/b2/drain", None).await;
    assert!(matches!(focus.place("other", None), Err(FocusError::NoBridge)));
    let (status, _) = call(&focus, Method::DELETE, "/v1/bridges/b2/drain", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(focus.place("other", None).unwrap(), "b2");
    call(&focus, Method::POST, "/v1/bridges/b2/drain", None).await;
    let (status, body) = call(&focus, Method::POST, "/v1/bridges/b2/undrain", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["state"], "healthy");
    assert_eq!(focus.place("third", None).unwrap(), "b2");
}

#[tokio::test]
async fn a_bridge_that_drains_itself_gets_nothing_new_and_cannot_be_undrained() {
    let (focus, _events) = Focus::new(config(), prometheus::Registry::new());
    let b1 = LocalBridge::register(&focus, "b1", None).await;
    let _b2 = LocalBridge::register(&focus, "b2", None).await;
    b1.send(BridgeToFocus::Draining { draining: true }).await;
    eventually(|| focus.bridges().iter().any(|b| b.id == "b1" && b.draining)).await;
    for room in ["r1", "r2", "r3"] {
        assert_eq!(focus.place(room, None).unwrap(), "b2");
    }
    let (status, body) = call(&focus, Method::POST, "/v1/bridges/b1/undrain", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["state"], "draining", "SIGTERM is for good");

    let (_, text) = call(&focus, Method::GET, "/metrics", None).await;
    for line in ["ponte_focus_bridges_by_state{state=\"draining\"} 1", "ponte_focus_bridges_by_state{state=\"healthy\"} 1"] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[tokio::test]
async fn evacuation_takes_only_what_is_still_on_the_bridge() {
    let (focus, _events) = Focus::new(config(), prometheus::Registry::new());
    let b1 = LocalBridge::register(&focus, "b1", None).await;
    focus.place("stays", None).unwrap();
    let b2 = LocalBridge::register(&focus, "b2", None).await;
    b1.send(stats(0.9)).await;
    eventually(|| focus.bridges().iter().any(|b| b.stats.stress == 0.9)).await;
    focus.place("elsewhere", None).unwrap();
    assert_eq!(focus.bridge_of("elsewhere").as_deref(), Some("b2"));

    let mut moves = focus.subscribe_moves();
    b1.send(BridgeToFocus::Draining { draining: true }).await;
    b1.send(BridgeToFocus::Evacuate { conferences: vec!["stays".into(), "elsewhere".into()] }).await;
    let moved = tokio::time::timeout(WAIT, moves.recv()).await.expect("a move in time").unwrap();
    assert_eq!((moved.conference.as_str(), moved.from.as_str(), moved.to.as_deref()), ("stays", "b1", Some("b2")));
    assert_eq!(focus.bridge_of("stays").as_deref(), Some("b2"));
    assert_eq!(focus.bridge_of("elsewhere").as_deref(), Some("b2"), "not b1's to give away");
    assert!(moves.try_recv().is_err(), "one move only");
    let (_, text) = call(&focus, Method::GET, "/metrics", None).await;
    assert!(text.contains("ponte_focus_evacuated_conferences_total 1"), "{text}");
    drop(b2);
}

#[tokio::test]
async fn an_operators_drain_is_sent_again_to_a_bridge_that_reconnects() {
    let (focus, _events) = Focus::new(config(), prometheus::Registry::new());
    let mut old = LocalBridge::register(&focus, "b1", None).await;
    call(&focus, Method::POST, "/v1/bridges/b1/drain", None).await;
    assert_eq!(old.recv().await, FocusToBridge::Drain { draining: true });
    // The same bridge over a new link (its old one not yet noticed as dead).
    let mut new = LocalBridge::register(&focus, "b1", None).await;
    assert_eq!(new.recv().await, FocusToBridge::Drain { draining: true }, "the bridge forgets drains on Registered");
    assert!(matches!(focus.place("room", None), Err(FocusError::NoBridge)));
}
