//! A bridge over a real WebSocket on loopback: secret refusal, registration, an offer and
//! its answer, and the link closing on shutdown.

mod common;

use std::net::SocketAddr;

use common::*;
use futures_util::{SinkExt, StreamExt};
use ponte_focus::{Focus, FocusConfig, FocusService};
use ponte_proto::link::{BridgeToFocus, FocusToBridge};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn start(config: FocusConfig) -> (Focus, tokio::sync::mpsc::Receiver<ponte_proto::link::EndpointEvent>, SocketAddr, oneshot::Sender<()>) {
    let (focus, events) = Focus::new(config.clone(), prometheus::Registry::new());
    let service = FocusService::bind(&config, focus.clone()).await.unwrap();
    let addr = service.addr();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(service.run(async move {
        let _ = stopped.await;
    }));
    (focus, events, addr, stop)
}

async fn dial(addr: SocketAddr, secret: Option<&str>) -> Result<Ws, WsError> {
    let mut request = format!("ws://{addr}/v1/bridge-link").into_client_request().unwrap();
    if let Some(secret) = secret {
        request.headers_mut().insert("authorization", format!("Bearer {secret}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await.map(|(ws, _)| ws)
}

async fn send(ws: &mut Ws, msg: &BridgeToFocus) {
    ws.send(Message::text(serde_json::to_string(msg).unwrap())).await.unwrap();
}

/// The next link message, skipping pings.
async fn recv(ws: &mut Ws) -> Option<FocusToBridge> {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next()).await.expect("focus spoke in time");
        match frame {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return None,
            Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(text.as_str()).unwrap()),
            Some(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn bridge_over_websocket() {
    let config = FocusConfig { secret: Some("s3cret".into()), ..config() };
    let (focus, mut events, addr, stop) = start(config).await;

    for secret in [None, Some("wrong")] {
        match dial(addr, secret).await {
            Err(WsError::Http(response)) => assert_eq!(response.status(), 401),
            other => panic!("expected a 401 refusal, got {:?}", other.map(|_| ())),
        }
    }

    let mut ws = dial(addr, Some("s3cret")).await.unwrap();
    send(&mut ws, &BridgeToFocus::Register(registration("ws-1", None))).await;
    assert!(matches!(recv(&mut ws).await, Some(FocusToBridge::Registered { .. })));
    send(&mut ws, &stats(0.3)).await;
    eventually(|| focus.bridges().iter().any(|b| b.id == "ws-1" && b.stats.stress == 0.3)).await;

    // Garbage after registration is dropped, not fatal.
    ws.send(Message::text("{not json")).await.unwrap();

    focus.send(offer("room", "alice")).await.unwrap();
    match recv(&mut ws).await {
        Some(FocusToBridge::Offer { target: t, .. }) => assert_eq!(t, target("room", "alice")),
        other => panic!("expected the offer, got {other:?}"),
    }
    send(&mut ws, &BridgeToFocus::Endpoint(answer("room", "alice"))).await;
    assert_eq!(next_event(&mut events).await, answer("room", "alice"));

    // Shutdown closes the link; the bridge is forgotten.
    stop.send(()).unwrap();
    assert_eq!(recv(&mut ws).await, None);
    eventually(|| focus.bridges().is_empty()).await;
}

#[tokio::test]
async fn link_without_register_is_closed() {
    let (focus, _events, addr, _stop) = start(config()).await;
    let mut ws = dial(addr, None).await.unwrap();
    send(&mut ws, &stats(0.1)).await;
    assert_eq!(recv(&mut ws).await, None);
    assert!(focus.bridges().is_empty());
}
