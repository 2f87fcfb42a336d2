//! The bridge's WebSocket link client (`bridge/src/focus_link/ws.rs`, compiled here by path
//! so that it is tested against the real focus): it registers, carries messages both ways,
//! and after the focus drops it, redials and registers again.

mod common;

#[path = "../../bridge/src/focus_link/ws.rs"]
#[allow(dead_code)]
mod ws_client;

use std::time::Duration;

use common::*;
use ponte_focus::{Focus, FocusConfig, FocusService};
use ponte_proto::link::{BridgeToFocus, FocusToBridge};
use tokio::sync::mpsc;

async fn recv(rx: &mut mpsc::Receiver<FocusToBridge>) -> FocusToBridge {
    tokio::time::timeout(WAIT, rx.recv()).await.expect("in time").expect("open")
}

#[tokio::test]
async fn client_registers_pumps_and_reconnects() {
    // A short heartbeat: the fake engine below goes quiet to make the focus drop it.
    let config = FocusConfig {
        secret: Some("s3cret".into()),
        heartbeat_timeout: Duration::from_millis(500),
        ..config()
    };
    let (focus, mut events) = Focus::new(config.clone(), prometheus::Registry::new());
    let service = FocusService::bind(&config, focus.clone()).await.unwrap();
    let url = format!("ws://{}/v1/bridge-link", service.addr());
    tokio::spawn(service.run(std::future::pending()));

    let mut options = ws_client::WsLinkOptions::new(url.clone(), Some("s3cret".into()));
    options.backoff_min = Duration::from_millis(100);
    let mut link = ws_client::spawn_with(options);
    link.to_focus.send(BridgeToFocus::Register(registration("wsb", None))).await.unwrap();
    assert!(matches!(recv(&mut link.from_focus).await, FocusToBridge::Registered { .. }));

    focus.send(offer("room", "a")).await.unwrap();
    assert!(matches!(recv(&mut link.from_focus).await, FocusToBridge::Offer { .. }));
    link.to_focus.send(BridgeToFocus::Endpoint(answer("room", "a"))).await.unwrap();
    assert_eq!(next_event(&mut events).await, answer("room", "a"));

    // Silence: the focus drops the bridge; the client redials and re-registers by itself.
    assert!(matches!(recv(&mut link.from_focus).await, FocusToBridge::Registered { .. }));
    eventually(|| focus.bridges().iter().any(|b| b.id == "wsb")).await;

    // The engine going away ends the link task.
    drop(link.to_focus);
    tokio::time::timeout(WAIT, link.task).await.expect("task ended").unwrap();
}

#[tokio::test]
async fn wrong_secret_keeps_retrying_without_ending() {
    let config = FocusConfig { secret: Some("s3cret".into()), ..config() };
    let (focus, _events) = Focus::new(config.clone(), prometheus::Registry::new());
    let service = FocusService::bind(&config, focus.clone()).await.unwrap();
    let url = format!("ws://{}/v1/bridge-link", service.addr());
    tokio::spawn(service.run(std::future::pending()));

    let mut options = ws_client::WsLinkOptions::new(url, Some("wrong".into()));
    options.backoff_min = Duration::from_millis(50);
    let link = ws_client::spawn_with(options);
    link.to_focus.send(BridgeToFocus::Register(registration("wsb", None))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(focus.bridges().is_empty());
    assert!(!link.task.is_finished());
    drop(link.from_focus);
    tokio::time::timeout(WAIT, link.task).await.expect("task ended").unwrap();
}
