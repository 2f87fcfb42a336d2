//! The bridge's WebSocket link to a focus in another process.
//!
//! # Public API
//! - [`spawn`]`(url, secret) -> WsLink` starts the link task (on the current Tokio runtime)
//!   and returns the engine's two channel ends plus the task's handle.
//! - [`spawn_with`]`(WsLinkOptions) -> WsLink` is the same with tunable timings.
//! - [`WsLink`] `{ to_focus, from_focus, task }`: the engine writes [`BridgeToFocus`] into
//!   `to_focus` and reads [`FocusToBridge`] from `from_focus`, exactly as with the focus's
//!   in-process link (`LinkEnds::new(link.to_focus, link.from_focus)`).
//!
//! # Behaviour
//! 1. The task waits for the engine's first `Register`, then dials `url` (e.g.
//!    `ws://focus:8888/v1/bridge-link`) with `Authorization: Bearer <secret>` when a secret
//!    is given. Messages travel as JSON text frames, one message per frame.
//! 2. While connected it pumps both directions. The engine's first `Register` (who the bridge
//!    is, hosting nothing yet) is remembered; later ones list what it hosts at that moment and
//!    would be stale on a later connection, so they are not.
//! 3. When the link drops (closed, broken, refused, or the focus silent for
//!    [`WsLinkOptions::idle_timeout`] — the focus pings every 5 s) it redials with backoff
//!    from [`WsLinkOptions::backoff_min`] doubling to [`WsLinkOptions::backoff_max`]
//!    (1 s .. 10 s), and on every new connection sends the remembered `Register` first.
//!    While disconnected, stats are dropped (the next report supersedes them) and endpoint
//!    events are held (up to [`HELD_EVENTS`], oldest dropped first) and sent after the
//!    `Register`. A message caught mid-send when the link breaks may be lost.
//! 4. The task ends when the engine drops `to_focus` or `from_focus`; it then closes the
//!    socket. It never ends on its own otherwise: a focus that is down is waited for.
//!
//! The focus forgets a bridge's conferences when its link drops. To have them adopted
//! again, the engine sends a fresh `Register` (listing its conferences, endpoints and an
//! operator's drain) when it receives `Registered`, which the focus sends on every new
//! connection.
//!
//! Only `ws://` URLs work unless tokio-tungstenite is built with a TLS feature.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use ponte_proto::link::{BridgeToFocus, FocusToBridge};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, timeout, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::{header, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Endpoint events kept while the link is down.
pub const HELD_EVENTS: usize = 1024;

/// Messages the engine can queue toward the focus before its sends wait.
const TO_FOCUS_QUEUE: usize = 1024;
/// Messages from the focus queued for the engine.
const FROM_FOCUS_QUEUE: usize = 256;
/// Largest message accepted from the focus.
const MAX_MESSAGE: usize = 1 << 20;

/// Timings of the link. `new` gives the production values.
#[derive(Debug, Clone)]
pub struct WsLinkOptions {
    pub url: String,
    pub secret: Option<String>,
    /// First wait before redialling; doubles after each failed attempt.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Give up on a dial (TCP + upgrade) after this long.
    pub connect_timeout: Duration,
    /// A focus that sends nothing (not even a ping) for this long is treated as gone.
    pub idle_timeout: Duration,
    /// Counts failed dials and lost links by reason ([`FAILURE_REASONS`]), e.g. the
    /// bridge's `bridge_focus_link_failures_total`.
    pub failures: Option<prometheus::IntCounterVec>,
}

/// Labels of [`WsLinkOptions::failures`]: the focus refused the secret, refused otherwise,
/// could not be reached, or a working link was lost.
pub const FAILURE_REASONS: [&str; 4] = ["unauthorized", "refused", "unreachable", "lost"];

impl WsLinkOptions {
    pub fn new(url: String, secret: Option<String>) -> Self {
        Self {
            url,
            secret,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(20),
            failures: None,
        }
    }
}

/// The engine's ends of the link, and the task that carries it.
pub struct WsLink {
    pub to_focus: mpsc::Sender<BridgeToFocus>,
    pub from_focus: mpsc::Receiver<FocusToBridge>,
    pub task: JoinHandle<()>,
}

/// Start a link to the focus at `url` with production timings.
pub fn spawn(url: String, secret: Option<String>) -> WsLink {
    spawn_with(WsLinkOptions::new(url, secret))
}

/// Start a link with the given options.
pub fn spawn_with(options: WsLinkOptions) -> WsLink {
    let (to_focus, engine_rx) = mpsc::channel(TO_FOCUS_QUEUE);
    let (focus_tx, from_focus) = mpsc::channel(FROM_FOCUS_QUEUE);
    let task = tokio::spawn(run(options, engine_rx, focus_tx));
    WsLink { to_focus, from_focus, task }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How a connection ended.
enum End {
    /// The engine dropped its end: stop for good.
    EngineGone,
    Disconnected(String),
}

async fn run(options: WsLinkOptions, mut engine_rx: mpsc::Receiver<BridgeToFocus>, focus_tx: mpsc::Sender<FocusToBridge>) {
    let mut outbox = Outbox::default();
    let mut backoff = Backoff::new(options.backoff_min, options.backoff_max);
    // Dial only once there is a registration to send: a link without one is refused.
    while !outbox.has_register() {
        match engine_rx.recv().await {
            Some(msg) => outbox.hold(msg),
            None => return,
        }
    }
    loop {
        match dial(&options).await {
            Ok(socket) => {
                tracing::info!(url = %options.url, "connected to focus");
                let mut registered = false;
                match pump(socket, &mut engine_rx, &focus_tx, &mut outbox, &options, &mut registered).await {
                    End::EngineGone => return,
                    End::Disconnected(reason) => {
                        tracing::warn!(url = %options.url, %reason, "focus link lost");
                        count(&options, "lost");
                    }
                }
                if registered {
                    backoff.reset();
                }
            }
            Err((kind, reason)) => {
                tracing::warn!(url = %options.url, %reason, "cannot reach focus");
                count(&options, kind);
            }
        }
        let wait = backoff.next_delay();
        tracing::info!(url = %options.url, ?wait, "redialling focus");
        if !hold_while_waiting(wait, &mut engine_rx, &focus_tx, &mut outbox).await {
            return;
        }
    }
}

/// Keep taking the engine's messages during the backoff; false once the engine is gone.
async fn hold_while_waiting(
    wait: Duration,
    engine_rx: &mut mpsc::Receiver<BridgeToFocus>,
    focus_tx: &mpsc::Sender<FocusToBridge>,
    outbox: &mut Outbox,
) -> bool {
    let until = Instant::now() + wait;
    loop {
        tokio::select! {
            _ = sleep_until(until) => return true,
            _ = focus_tx.closed() => return false,
            msg = engine_rx.recv() => match msg {
                Some(msg) => outbox.hold(msg),
                None => return false,
            },
        }
    }
}

fn count(options: &WsLinkOptions, reason: &str) {
    if let Some(failures) = &options.failures {
        failures.with_label_values(&[reason]).inc();
    }
}

/// A socket, or why not: (a [`FAILURE_REASONS`] label, the details).
async fn dial(options: &WsLinkOptions) -> Result<Socket, (&'static str, String)> {
    let request = request(&options.url, options.secret.as_deref()).map_err(|e| ("refused", e.to_string()))?;
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let connect = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
    match timeout(options.connect_timeout, connect).await {
        Err(_) => Err(("unreachable", format!("no answer within {:?}", options.connect_timeout))),
        Ok(Err(WsError::Http(response))) => {
            let kind = if response.status().as_u16() == 401 { "unauthorized" } else { "refused" };
            Err((kind, refusal(response.status())))
        }
        Ok(Err(e)) => Err(("unreachable", e.to_string())),
        Ok(Ok((socket, _))) => Ok(socket),
    }
}

fn refusal(status: tokio_tungstenite::tungstenite::http::StatusCode) -> String {
    if status.as_u16() == 401 {
        format!("refused with {status}: wrong or missing secret")
    } else {
        format!("refused with {status}")
    }
}

/// The upgrade request, with the bearer secret when there is one.
fn request(url: &str, secret: Option<&str>) -> Result<Request, WsError> {
    let mut request = url.into_client_request()?;
    if let Some(secret) = secret {
        let value = HeaderValue::from_str(&format!("Bearer {secret}"))
            .map_err(|e| WsError::HttpFormat(e.into()))?;
        request.headers_mut().insert(header::AUTHORIZATION, value);
    }
    Ok(request)
}

/// Carry one connection until it ends. Each direction runs on its own so that an engine
/// busy sending can never wait on a link busy delivering to it.
async fn pump(
    socket: Socket,
    engine_rx: &mut mpsc::Receiver<BridgeToFocus>,
    focus_tx: &mpsc::Sender<FocusToBridge>,
    outbox: &mut Outbox,
    options: &WsLinkOptions,
    registered: &mut bool,
) -> End {
    let (mut sink, stream) = socket.split();
    let end = tokio::select! {
        end = uplink(&mut sink, engine_rx, outbox) => end,
        end = downlink(stream, focus_tx, options.idle_timeout, registered) => end,
    };
    if matches!(end, End::EngineGone) {
        let _ = sink.send(Message::Close(None)).await;
    }
    end
}

/// Engine → focus: the replay first, then live messages.
async fn uplink(
    sink: &mut SplitSink<Socket, Message>,
    engine_rx: &mut mpsc::Receiver<BridgeToFocus>,
    outbox: &mut Outbox,
) -> End {
    outbox.start_replay();
    while let Some(msg) = outbox.next_replay() {
        if let Err(e) = send(sink, &msg).await {
            return End::Disconnected(e);
        }
        outbox.replayed();
    }
    loop {
        let Some(msg) = engine_rx.recv().await else { return End::EngineGone };
        outbox.note_sent(&msg);
        if let Err(e) = send(sink, &msg).await {
            outbox.hold(msg);
            return End::Disconnected(e);
        }
    }
}

async fn send(sink: &mut SplitSink<Socket, Message>, msg: &BridgeToFocus) -> Result<(), String> {
    let text = serde_json::to_string(msg).map_err(|e| format!("cannot encode: {e}"))?;
    sink.send(Message::text(text)).await.map_err(|e| e.to_string())
}

/// Focus → engine, watching for a silent focus.
async fn downlink(
    mut stream: SplitStream<Socket>,
    focus_tx: &mpsc::Sender<FocusToBridge>,
    idle_timeout: Duration,
    registered: &mut bool,
) -> End {
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = sleep(idle_timeout) => return End::Disconnected(format!("focus silent for {idle_timeout:?}")),
        };
        let text = match frame {
            None => return End::Disconnected("closed by focus".into()),
            Some(Err(e)) => return End::Disconnected(e.to_string()),
            Some(Ok(Message::Close(frame))) => {
                return End::Disconnected(format!("closed by focus ({:?})", frame.map(|f| f.code)))
            }
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
                tracing::warn!("dropped a binary frame from the focus");
                continue;
            }
            // Pings are answered by tungstenite itself; any frame shows the focus lives.
            Some(Ok(_)) => continue,
        };
        match decode(text.as_str()) {
            Ok(msg) => {
                *registered |= matches!(msg, FocusToBridge::Registered { .. });
                if focus_tx.send(msg).await.is_err() {
                    return End::EngineGone;
                }
            }
            Err(e) => tracing::warn!(error = %e, "dropped a malformed message from the focus"),
        }
    }
}

fn decode(text: &str) -> Result<FocusToBridge, serde_json::Error> {
    serde_json::from_str(text)
}

/// What the link keeps across connections: the last registration, and endpoint events
/// that arrived while the link was down. Sans-IO.
#[derive(Debug, Default)]
struct Outbox {
    register: Option<BridgeToFocus>,
    held: VecDeque<BridgeToFocus>,
    /// Whether the current connection's replay is past the registration.
    replay_sent_register: bool,
    dropped: u64,
}

impl Outbox {
    fn has_register(&self) -> bool {
        self.register.is_some()
    }

    /// A message passed straight through a live link.
    fn note_sent(&mut self, msg: &BridgeToFocus) {
        if matches!(msg, BridgeToFocus::Register(_)) && self.register.is_none() {
            self.register = Some(msg.clone());
        }
    }

    /// A message the link could not send now.
    fn hold(&mut self, msg: BridgeToFocus) {
        match msg {
            BridgeToFocus::Register(_) if self.register.is_none() => self.register = Some(msg),
            // Stale by the time the link is back: the engine sends what it hosts then, on
            // `Registered`, and the next report replaces a stats one.
            BridgeToFocus::Register(_) | BridgeToFocus::Stats(_) => {}
            // Held like an endpoint event: the claim is answered once the link is back.
            BridgeToFocus::Endpoint(_)
            | BridgeToFocus::Claim { .. }
            | BridgeToFocus::Draining { .. }
            | BridgeToFocus::Evacuate { .. } => {
                if self.held.len() == HELD_EVENTS {
                    self.held.pop_front();
                    self.dropped += 1;
                    tracing::warn!(dropped = self.dropped, "focus link down: dropped an endpoint event");
                }
                self.held.push_back(msg);
            }
        }
    }

    /// A new connection: replay from the registration again.
    fn start_replay(&mut self) {
        self.replay_sent_register = false;
    }

    /// The next message to replay on a new connection: the registration, then held events.
    /// Call [`Outbox::replayed`] once it is sent.
    fn next_replay(&self) -> Option<BridgeToFocus> {
        if !self.replay_sent_register {
            if let Some(register) = &self.register {
                return Some(register.clone());
            }
        }
        self.held.front().cloned()
    }

    fn replayed(&mut self) {
        if !self.replay_sent_register && self.register.is_some() {
            self.replay_sent_register = true;
        } else {
            self.held.pop_front();
        }
    }
}

/// Redial delays: `min`, doubling up to `max`, back to `min` after a good connection.
#[derive(Debug)]
struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Self {
        Self { min, max, next: min }
    }

    fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ponte_proto::link::{BridgeStats, EndpointEvent, EndpointRef, Registration, LINK_VERSION};

    fn register(id: &str) -> BridgeToFocus {
        BridgeToFocus::Register(Registration {
            bridge_id: id.into(),
            region: None,
            version: "test".into(),
            link_version: LINK_VERSION,
            media_addr: "127.0.0.1:10000".into(),
            ingest_addrs: vec![],
            conferences: vec![],
            endpoints: vec![],
            drain_requested: false,
        })
    }

    fn event(n: usize) -> BridgeToFocus {
        BridgeToFocus::Endpoint(EndpointEvent::Failed {
            target: EndpointRef { conference: "c".into(), endpoint: format!("e{n}") },
            reason: "test".into(),
        })
    }

    fn drain(outbox: &mut Outbox) -> Vec<BridgeToFocus> {
        outbox.start_replay();
        let mut out = Vec::new();
        while let Some(msg) = outbox.next_replay() {
            out.push(msg);
            outbox.replayed();
        }
        out
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(10));
        let delays: Vec<_> = (0..6).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }

    #[test]
    fn replay_sends_the_first_register_then_held_events() {
        let mut outbox = Outbox::default();
        outbox.hold(register("first"));
        outbox.hold(BridgeToFocus::Stats(BridgeStats::default()));
        outbox.hold(event(1));
        outbox.hold(register("hosting-then"));
        outbox.hold(event(2));
        assert_eq!(drain(&mut outbox), vec![register("first"), event(1), event(2)]);
    }

    #[test]
    fn the_first_register_is_replayed_on_every_connection() {
        let mut outbox = Outbox::default();
        outbox.note_sent(&register("a"));
        outbox.note_sent(&BridgeToFocus::Stats(BridgeStats::default()));
        outbox.note_sent(&register("hosting-then"));
        assert_eq!(drain(&mut outbox), vec![register("a")]);
        assert_eq!(drain(&mut outbox), vec![register("a")]);
    }

    #[test]
    fn held_events_are_capped_oldest_first() {
        let mut outbox = Outbox::default();
        for n in 0..HELD_EVENTS + 2 {
            outbox.hold(event(n));
        }
        assert_eq!(outbox.dropped, 2);
        let replay = drain(&mut outbox);
        assert_eq!(replay.len(), HELD_EVENTS);
        assert_eq!(replay[0], event(2));
    }

    #[test]
    fn request_carries_the_bearer_secret() {
        let r = request("ws://127.0.0.1:8888/v1/bridge-link", Some("s3")).unwrap();
        assert_eq!(r.headers()[header::AUTHORIZATION], "Bearer s3");
        let r = request("ws://127.0.0.1:8888/v1/bridge-link", None).unwrap();
        assert!(!r.headers().contains_key(header::AUTHORIZATION));
        assert!(request("not a url", None).is_err());
        assert!(request("ws://h/x", Some("bad\nsecret")).is_err());
    }

    #[test]
    fn focus_messages_decode() {
        assert_eq!(
            decode(r#"{"type":"drain","draining":true}"#).unwrap(),
            FocusToBridge::Drain { draining: true }
        );
        assert!(decode(r#"{"type":"nope"}"#).is_err());
    }
}
