//! A signaling service on 127.0.0.1:0 with a real focus, an optional fake bridge attached
//! in-process, and a WebSocket test client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use ponte_focus::{Focus, FocusConfig};
use ponte_proto::link::{BridgeStats, BridgeToFocus, EndpointEvent, FocusToBridge, Registration, LINK_VERSION};
use ponte_proto::signal::{ErrorCode, Participant, ServerMessage};
use ponte_signaling::{Signaling, SignalingConfig};

pub const WAIT: Duration = Duration::from_secs(5);
pub const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";

pub struct Stack {
    pub addr: SocketAddr,
    pub focus: Focus,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Stack {
    pub async fn start(config: SignalingConfig) -> Stack {
        let config = SignalingConfig { listen: "127.0.0.1:0".parse().unwrap(), ..config };
        let (focus, events) = Focus::new(FocusConfig::default(), prometheus::Registry::new());
        let signaling = Signaling::bind(config, focus.clone(), events).await.expect("bind");
        let addr = signaling.addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            signaling
                .run(async move {
                    let _ = stopped.await;
                })
                .await
                .expect("signaling run");
        });
        Stack { addr, focus, stop: Some(stop), task: Some(task) }
    }

    pub async fn client(&self) -> Client {
        Client::connect(self.addr).await
    }

    /// Connect and join `room` as `name`; returns the client, its id and the roster.
    pub async fn join(&self, room: &str, name: &str) -> (Client, String, Vec<Participant>) {
        let mut c = self.client().await;
        c.send(json!({"type": "join", "room": room, "display_name": name})).await;
        match c.recv().await {
            ServerMessage::Welcome { participant_id, roster, .. } => (c, participant_id, roster),
            other => panic!("expected welcome, got {other:?}"),
        }
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.task.take().unwrap())
            .await
            .expect("signaling stops within 10 s")
            .unwrap();
    }

    /// GET a path; returns (status, headers as lowercase text, body).
    pub async fn get(&self, path: &str) -> (u16, String, Vec<u8>) {
        http_get(self.addr, path, "").await
    }
}

pub async fn http_get(addr: SocketAddr, path: &str, extra_headers: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra_headers}\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut buf)).await.unwrap().unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response") + 4;
    let head = String::from_utf8_lossy(&buf[..split]).to_lowercase();
    let status = head[9..12].parse().unwrap();
    (status, head, buf[split..].to_vec())
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.expect("ws connect");
        Client { ws }
    }

    pub async fn send(&mut self, v: Value) {
        self.send_text(&v.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("ws send");
    }

    pub async fn send_frame(&mut self, m: Message) {
        self.ws.send(m).await.expect("ws send");
    }

    /// The next server message (control frames skipped).
    pub async fn recv(&mut self) -> ServerMessage {
        self.try_recv(WAIT).await.expect("a server message within 5 s")
    }

    /// The next server message, or None on close or timeout.
    pub async fn try_recv(&mut self, within: Duration) -> Option<ServerMessage> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next()).await.ok()??;
            match frame.ok()? {
                Message::Text(t) => return Some(serde_json::from_str(t.as_str()).expect("server sends valid JSON")),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Expect an `error`; returns its code and field.
    pub async fn error(&mut self) -> (ErrorCode, Option<String>) {
        match self.recv().await {
            ServerMessage::Error { code, field, .. } => (code, field),
            other => panic!("expected error, got {other:?}"),
        }
    }

    /// The connection still answers.
    pub async fn assert_alive(&mut self) {
        self.send(json!({"type": "ping", "id": 77})).await;
        loop {
            match self.recv().await {
                ServerMessage::Pong { id } => {
                    assert_eq!(id, Some(77));
                    return;
                }
                ServerMessage::Error { code: ErrorCode::NotJoined, .. } => return,
                _ => continue,
            }
        }
    }

    /// True if the server closes the connection within `within`.
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return false,
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}

/// A bridge stand-in on the focus's in-process link: records every command and answers
/// each offer with an answer event.
pub struct FakeBridge {
    pub commands: Arc<Mutex<Vec<FocusToBridge>>>,
    to_focus: mpsc::Sender<BridgeToFocus>,
}

pub const ANSWER_SDP: &str = "v=0\r\ns=bridge-answer\r\n";

impl FakeBridge {
    pub async fn attach(focus: &Focus) -> FakeBridge {
        let (to_focus, mut from_focus) = focus.connect_local();
        let registration = Registration {
            bridge_id: "fake-bridge".into(),
            region: None,
            version: "test".into(),
            link_version: LINK_VERSION,
            media_addr: "127.0.0.1:10000".into(),
            ingest_addrs: Vec::new(),
            conferences: Vec::new(),
            endpoints: vec![],
            drain_requested: false,
        };
        to_focus.send(BridgeToFocus::Register(registration)).await.unwrap();
        to_focus.send(BridgeToFocus::Stats(BridgeStats::default())).await.unwrap();
        match tokio::time::timeout(WAIT, from_focus.recv()).await {
            Ok(Some(FocusToBridge::Registered { .. })) => {}
            other => panic!("expected registered, got {other:?}"),
        }
        let commands = Arc::new(Mutex::new(Vec::new()));
        let seen = commands.clone();
        let reply = to_focus.clone();
        tokio::spawn(async move {
            while let Some(cmd) = from_focus.recv().await {
                if let FocusToBridge::Offer { target, .. } = &cmd {
                    let answer = EndpointEvent::Answer { target: target.clone(), sdp: ANSWER_SDP.into() };
                    let _ = reply.send(BridgeToFocus::Endpoint(answer)).await;
                }
                seen.lock().unwrap().push(cmd);
            }
        });
        let heartbeat = to_focus.clone();
        tokio::spawn(async move {
            while heartbeat.send(BridgeToFocus::Stats(BridgeStats::default())).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        FakeBridge { commands, to_focus }
    }

    /// Say something about an endpoint, as a bridge would.
    pub async fn event(&self, e: EndpointEvent) {
        self.to_focus.send(BridgeToFocus::Endpoint(e)).await.unwrap();
    }

    /// Wait until a recorded command satisfies `f`.
    pub async fn wait_for(&self, f: impl Fn(&FocusToBridge) -> bool) -> FocusToBridge {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(c) = self.commands.lock().unwrap().iter().find(|c| f(c)) {
                return c.clone();
            }
            assert!(tokio::time::Instant::now() < deadline, "the bridge never got the expected command");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
