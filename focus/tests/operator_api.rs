//! The operator API and probes, called through the router without a server.

mod common;

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use ponte_focus::{Focus, FocusConfig, FocusError};
use ponte_proto::link::FocusToBridge;
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
    assert_eq!(b["draining"], false);
    assert_eq!(b["healthy"], true);
    assert_eq!(b["conferences"], serde_json::json!(["room"]));

    let (_, body) = call(&focus, Method::GET, "/v1/conferences", None).await;
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap(), serde_json::json!({"room": "b1"}));
}

#[tokio::test]
async fn drain_tells_the_bridge_and_stops_placement() {
    let (focus, _events) = Focus::new(config(), prometheus::Registry::new());
    let mut b1 = LocalBridge::register(&focus, "b1", None).await;
    let mut b2 = LocalBridge::register(&focus, "b2", None).await;
    b2.send(stats(0.5)).await;
    eventually(|| focus.bridges().iter().any(|b| b.stats.stress == 0.5)).await;

    let (status, _) = call(&focus, Method::POST, "/v1/bridges/b1/drain", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(b1.recv().await, FocusToBridge::Drain { draining: true });
    focus.send(offer("room", "a")).await.unwrap();
    b2.answer_next_offer().await;
    assert!(focus.bridges().iter().any(|b| b.id == "b1" && b.draining));

    let (status, _) = call(&focus, Method::POST, "/v1/bridges/nope/drain", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Draining the last bridge leaves nowhere to go.
    call(&focus, Method::POST, "/v1/bridges/b2/drain", None).await;
    assert!(matches!(focus.place("other", None), Err(FocusError::NoBridge)));
    let (status, _) = call(&focus, Method::DELETE, "/v1/bridges/b2/drain", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(focus.place("other", None).unwrap(), "b2");
}
