//! One task per client WebSocket: reads JSON messages, answers, relays SDP to the focus and
//! drains the participant's queue (roster changes, chat, bridge offers) onto the socket.
//!
//! Generic over the socket's `Sink`/`Stream` halves so that it runs on anything that moves
//! WebSocket messages. A client's mistake is answered with an `error` message and the
//! connection stays up; only a closed or stuck socket, `leave`, a full queue, idleness or
//! shutdown end the session.

use std::fmt::Display;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::time::{interval_at, sleep_until, timeout, Instant};

use ponte_focus::FocusError;
use ponte_proto::link::{EndpointRef, FocusToBridge};
use ponte_proto::signal::{ClientMessage, ErrorCode, Resume, ServerMessage, SignalError, PROTOCOL_VERSION};
use ponte_proto::DisplayName;

use crate::rate_limit::TokenBucket;
use crate::room::{Arrival, RoomError};
use crate::service::Shared;

/// The server pings this often; browsers answer pings by themselves.
const PING_INTERVAL: Duration = Duration::from_secs(20);
/// A connection that sends nothing, not even a pong, for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A write that takes longer than this means the client is gone or stuck.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a resuming `join` waits for the participant's bridge to re-register (bridges
/// redial a restarted focus with backoff).
const RESUME_WAIT: Duration = Duration::from_secs(10);
/// WebSocket close code 1012, "service restart": the client should reconnect and resume.
const CLOSE_RESTART: u16 = 1012;

/// Why a session ended.
#[derive(Debug)]
enum End {
    /// The client sent `leave`.
    Left,
    /// The socket closed or failed.
    Closed,
    /// The room dropped this client for not reading its queue.
    Dropped,
    Idle,
    Shutdown,
}

/// What a handled message asks the session to do.
enum Reply {
    Nothing,
    Send(ServerMessage),
    Leave,
}

/// The participant this connection joined as.
struct Member {
    room: String,
    id: String,
    display_name: String,
    /// The client's region hint, for placing the room when its first offer arrives.
    region: Option<String>,
    rx: mpsc::Receiver<ServerMessage>,
}

impl Member {
    fn endpoint(&self) -> EndpointRef {
        EndpointRef { conference: self.room.clone(), endpoint: self.id.clone() }
    }
}

struct Session<W> {
    shared: Arc<Shared>,
    write: W,
    bucket: TokenBucket,
    member: Option<Member>,
    /// Whether the bridge may hold an endpoint for us (expired when we go).
    offered: bool,
}

/// Serve one connection until it ends, then leave the room and free the bridge endpoint.
pub async fn run<W, R>(write: W, mut read: R, shared: Arc<Shared>)
where
    W: Sink<Message> + Unpin,
    W::Error: Display,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let _count = shared.session_started();
    let config = &shared.config;
    let bucket = TokenBucket::new(config.messages_per_second, config.message_burst, std::time::Instant::now());
    let mut session = Session { shared: shared.clone(), write, bucket, member: None, offered: false };
    let end = session.serve(&mut read).await;
    session.finish(end).await;
}

impl<W> Session<W>
where
    W: Sink<Message> + Unpin,
    W::Error: Display,
{
    async fn serve<R>(&mut self, read: &mut R) -> End
    where
        R: Stream<Item = Result<Message, axum::Error>> + Unpin,
    {
        let mut stop = self.shared.stop.subscribe();
        let mut ping = interval_at(Instant::now() + PING_INTERVAL, PING_INTERVAL);
        let mut last_heard = Instant::now();
        loop {
            let step = tokio::select! {
                frame = read.next() => {
                    last_heard = Instant::now();
                    self.on_frame(frame).await
                }
                out = next_queued(&mut self.member) => match out {
                    Some(msg) => self.send(&msg).await,
                    None => Err(End::Dropped),
                },
                _ = ping.tick() => self.write(Message::Ping(Bytes::new())).await,
                _ = sleep_until(last_heard + IDLE_TIMEOUT) => Err(End::Idle),
                () = stopping(&mut stop) => Err(End::Shutdown),
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    async fn on_frame(&mut self, frame: Option<Result<Message, axum::Error>>) -> Result<(), End> {
        match frame {
            Some(Ok(Message::Text(text))) => self.on_text(text.as_str()).await,
            Some(Ok(Message::Binary(_))) => {
                let binary = SignalError::new(ErrorCode::BadMessage, "binary frames are not part of the protocol: send JSON text frames");
                let e = self.limit().err().unwrap_or(binary);
                self.refuse(e).await
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
            Some(Ok(Message::Close(_))) | None => Err(End::Closed),
            Some(Err(e)) => {
                tracing::debug!("client socket failed: {e}");
                Err(End::Closed)
            }
        }
    }

    async fn on_text(&mut self, text: &str) -> Result<(), End> {
        if let Err(e) = self.limit() {
            return self.refuse(e).await;
        }
        let parsed = ClientMessage::parse(text, self.shared.config.max_message_bytes).and_then(|m| m.validate().map(|()| m));
        let msg = match parsed {
            Ok(msg) => msg,
            Err(e) => return self.refuse(e).await,
        };
        self.shared.metrics.messages.with_label_values(&[msg.type_name()]).inc();
        match self.handle(msg).await {
            Ok(Reply::Nothing) => Ok(()),
            Ok(Reply::Send(reply)) => self.send(&reply).await,
            Ok(Reply::Leave) => Err(End::Left),
            Err(e) => self.refuse(e).await,
        }
    }

    /// Take a token from the rate limiter.
    fn limit(&mut self) -> Result<(), SignalError> {
        if self.bucket.try_take(std::time::Instant::now()) {
            return Ok(());
        }
        let c = &self.shared.config;
        Err(SignalError::new(
            ErrorCode::RateLimited,
            format!(
                "too many messages: at most {} per second ({} in a burst); this one was dropped",
                c.messages_per_second, c.message_burst
            ),
        ))
    }

    async fn handle(&mut self, msg: ClientMessage) -> Result<Reply, SignalError> {
        match msg {
            ClientMessage::Join { room, display_name, token, audio_muted, video_muted, region, resume, .. } if self.member.is_none() => {
                let arrival = JoinRequest { display_name: &display_name, token: token.as_deref(), audio_muted, video_muted, region, resume };
                self.join(room, arrival).await.map(Reply::Send)
            }
            msg => self.handle_member(msg).await,
        }
    }

    /// Messages that need a joined participant.
    async fn handle_member(&mut self, msg: ClientMessage) -> Result<Reply, SignalError> {
        let Some(member) = &self.member else {
            return Err(SignalError::new(ErrorCode::NotJoined, "send `join` first"));
        };
        let rooms = &self.shared.rooms;
        match msg {
            ClientMessage::Join { .. } => {
                return Err(SignalError::new(ErrorCode::AlreadyJoined, "this connection already joined a room"));
            }
            ClientMessage::Offer { sdp } => {
                let cmd = FocusToBridge::Offer { target: member.endpoint(), sdp, display_name: member.display_name.clone() };
                self.offered = true;
                self.shared.focus.send_in_region(cmd, member.region.as_deref()).await.map_err(refusal)?;
            }
            ClientMessage::Answer { sdp } => {
                self.shared.focus.send(FocusToBridge::Answer { target: member.endpoint(), sdp }).await.map_err(refusal)?;
            }
            ClientMessage::Mute { kind, muted } => {
                rooms.set_mute(&member.room, &member.id, kind, muted);
            }
            ClientMessage::Chat { text } => {
                let msg = ServerMessage::Chat {
                    from: member.id.clone(),
                    display_name: member.display_name.clone(),
                    text,
                    ts_ms: now_ms(),
                };
                rooms.broadcast(&member.room, msg, None);
            }
            ClientMessage::Ping { id } => return Ok(Reply::Send(ServerMessage::Pong { id })),
            ClientMessage::Leave {} => return Ok(Reply::Leave),
        }
        Ok(Reply::Nothing)
    }

    async fn join(&mut self, room: String, request: JoinRequest<'_>) -> Result<ServerMessage, SignalError> {
        let JoinRequest { display_name, token, audio_muted, video_muted, region, resume } = request;
        let claims = match &self.shared.tokens {
            Some(verifier) => Some(verifier.verify(token, &room)?),
            None => None,
        };
        let resumed_id = match &resume {
            Some(resume) => Some(self.check_resume(&room, resume).await?),
            None => None,
        };
        // A token that names its bearer decides the display name.
        let display_name = claims.as_ref().and_then(|c| c.name.as_deref()).unwrap_or(display_name);
        let display_name = DisplayName::parse(display_name)
            .map_err(|e| SignalError::field(ErrorCode::InvalidField, "display_name", format!("`display_name` {e}")))?
            .as_str()
            .to_owned();
        let (tx, rx) = mpsc::channel(self.shared.config.client_queue);
        let resuming = resumed_id.is_some();
        let arrival = Arrival { id: resumed_id, display_name: display_name.clone(), audio_muted, video_muted, tx };
        let joined = self.shared.rooms.join(&room, arrival).map_err(|e| match e {
            RoomError::Full { max } => {
                SignalError::field(ErrorCode::RoomFull, "room", format!("room {room:?} is full ({max} participants)"))
            }
            RoomError::Taken => SignalError::field(
                ErrorCode::ResumeFailed,
                "resume.participant_id",
                "that participant is still connected; join afresh",
            ),
        })?;
        let moderator = claims.is_some_and(|c| c.moderator);
        if resuming {
            // The endpoint lives on: expire it when this session ends, as if we had offered.
            self.offered = true;
            self.shared.metrics.resumes.inc();
        }
        tracing::info!(room = %room, participant = %joined.participant_id, moderator, resumed = resuming, "joined");
        let welcome = ServerMessage::Welcome {
            version: PROTOCOL_VERSION,
            participant_id: joined.participant_id.clone(),
            room: room.clone(),
            roster: joined.roster,
        };
        let member = Member { room, id: joined.participant_id, display_name, region, rx };
        if resuming {
            // An offer the bridge made while we were away never reached the client; the answer
            // to it would be the bridge's next step. It arrives after the `welcome` (queued).
            if let Err(e) = self.shared.focus.send(FocusToBridge::Resumed { target: member.endpoint() }).await {
                tracing::debug!(room = %member.room, participant = %member.id, "bridge not told of the resume: {e}");
            }
        }
        self.member = Some(member);
        Ok(welcome)
    }

    /// The participant id a `resume` may take over: its bridge (re-)registered the endpoint
    /// with the hash of the proof. Waits a little for bridges that are still redialling.
    async fn check_resume(&self, room: &str, resume: &Resume) -> Result<String, SignalError> {
        let failed = |why: &str| SignalError::field(ErrorCode::ResumeFailed, "resume", format!("cannot resume: {why}; join afresh"));
        let deadline = Instant::now() + RESUME_WAIT;
        let hosted = loop {
            if let Some(hosted) = self.shared.focus.hosted_endpoint(room, &resume.participant_id) {
                break hosted;
            }
            if Instant::now() >= deadline {
                return Err(failed("no bridge reports that media session"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let proof = ponte_proto::resume::proof_hash(room, &resume.participant_id, &resume.proof);
        match &hosted.resume_hash {
            Some(hash) if subtle_eq(hash.as_bytes(), proof.as_bytes()) => Ok(resume.participant_id.clone()),
            reported => {
                // Hash prefixes only: enough to tell a stale report from a wrong proof.
                let reported = reported.as_deref().map(|h| h.get(..8).unwrap_or(h));
                tracing::warn!(room, participant = %resume.participant_id, ?reported, given = proof.get(..8).unwrap_or(""), "resume refused: the proof does not match");
                Err(failed("the proof does not match"))
            }
        }
    }

    /// Leave the room, free the bridge endpoint and say goodbye where the client listens.
    async fn finish(mut self, end: End) {
        let bye = match end {
            End::Left => Some("left"),
            End::Dropped => Some("dropped: the client did not read its messages in time"),
            End::Idle => Some("idle: nothing received for 60 s"),
            End::Shutdown | End::Closed => None,
        };
        if let Some(reason) = bye {
            let _ = self.send(&ServerMessage::Bye { reason: reason.into() }).await;
            let _ = self.write(Message::Close(None)).await;
        }
        if matches!(end, End::Shutdown) {
            // No `bye`: the media session goes on on its bridge, and the client reconnects
            // and resumes it (`join` with `resume`) once this server is back.
            let frame = CloseFrame { code: CLOSE_RESTART, reason: "the server is restarting: reconnect and resume".into() };
            let _ = self.write(Message::Close(Some(frame))).await;
        }
        let Some(member) = self.member.take() else { return };
        if matches!(end, End::Shutdown) {
            self.shared.rooms.forget(&member.room, &member.id);
        } else {
            self.shared.rooms.leave(&member.room, &member.id);
        }
        tracing::info!(room = %member.room, participant = %member.id, why = ?end, "left");
        if self.offered && !matches!(end, End::Shutdown) {
            if let Err(e) = self.shared.focus.send(FocusToBridge::ExpireEndpoint { target: member.endpoint() }).await {
                tracing::debug!(room = %member.room, participant = %member.id, "endpoint not expired: {e}");
            }
        }
    }

    async fn refuse(&mut self, e: SignalError) -> Result<(), End> {
        self.shared.metrics.errors.with_label_values(&[e.code.as_str()]).inc();
        tracing::debug!(code = e.code.as_str(), field = ?e.field, "refused a client message: {}", e.message);
        self.send(&e.to_message()).await
    }

    async fn send(&mut self, msg: &ServerMessage) -> Result<(), End> {
        let json = serde_json::to_string(msg).expect("server messages are plain data and always serialize");
        self.write(Message::Text(json.into())).await
    }

    async fn write(&mut self, frame: Message) -> Result<(), End> {
        match timeout(WRITE_TIMEOUT, self.write.send(frame)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::debug!("client socket write failed: {e}");
                Err(End::Closed)
            }
            Err(_) => {
                tracing::info!("client socket stuck for {WRITE_TIMEOUT:?}; closing");
                Err(End::Closed)
            }
        }
    }
}

/// What a `join` asks for, besides the room.
struct JoinRequest<'a> {
    display_name: &'a str,
    token: Option<&'a str>,
    audio_muted: bool,
    video_muted: bool,
    region: Option<String>,
    resume: Option<Resume>,
}

/// Hashes compared without an early exit.
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The next message queued for this participant; pending forever before the join.
async fn next_queued(member: &mut Option<Member>) -> Option<ServerMessage> {
    match member {
        Some(m) => m.rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Resolves once shutdown begins (or the service is gone).
async fn stopping(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here.
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// A focus refusal, as the client should see it. Internals are logged, not sent.
fn refusal(e: FocusError) -> SignalError {
    match e {
        FocusError::NoBridge => {
            SignalError::new(ErrorCode::Unavailable, "no media bridge can take this room right now; try again shortly")
        }
        FocusError::UnknownConference { .. } => {
            SignalError::new(ErrorCode::NegotiationFailed, "the room has no media session yet: send an `offer` first")
        }
        other => {
            tracing::warn!("the focus refused a request: {other}");
            SignalError::new(ErrorCode::Internal, "the request could not be passed to the media bridge")
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{sink, stream};
    use ponte_focus::{Focus, FocusConfig};
    use prometheus::Registry;

    use crate::config::SignalingConfig;

    /// A session over in-memory channels: (to the session, from the session, the task).
    fn start() -> (mpsc::Sender<Message>, mpsc::Receiver<Message>, Arc<Shared>, tokio::task::JoinHandle<()>) {
        let (focus, _events) = Focus::new(FocusConfig::default(), Registry::new());
        let shared = Shared::new(SignalingConfig::default(), focus, Registry::new()).unwrap();
        let (to_session, inbox) = mpsc::channel::<Message>(16);
        let (outbox, from_session) = mpsc::channel::<Message>(16);
        let write = Box::pin(sink::unfold(outbox, |tx, m: Message| async move { tx.send(m).await.map(|()| tx) }));
        let read = Box::pin(stream::unfold(inbox, |mut rx| async move { rx.recv().await.map(|m| (Ok(m), rx)) }));
        let task = tokio::spawn(run(write, read, shared.clone()));
        (to_session, from_session, shared, task)
    }

    fn text(m: &Message) -> ServerMessage {
        match m {
            Message::Text(t) => serde_json::from_str(t.as_str()).unwrap(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    async fn join(to: &mpsc::Sender<Message>, from: &mut mpsc::Receiver<Message>) {
        to.send(Message::Text(r#"{"type":"join","room":"r","display_name":"Ann"}"#.into())).await.unwrap();
        assert!(matches!(text(&from.recv().await.unwrap()), ServerMessage::Welcome { .. }));
    }

    #[tokio::test(start_paused = true)]
    async fn pings_then_closes_an_idle_connection() {
        let (to, mut from, shared, task) = start();
        join(&to, &mut from).await;
        // Pings every 20 s; nothing comes back, so at 60 s the session says bye and ends.
        let mut pings = 0;
        let bye = loop {
            match from.recv().await.unwrap() {
                Message::Ping(_) => pings += 1,
                m => break text(&m),
            }
        };
        assert!(pings >= 2, "{pings} pings");
        assert!(matches!(bye, ServerMessage::Bye { reason } if reason.starts_with("idle")));
        task.await.unwrap();
        assert!(shared.rooms.roster("r").is_empty());
        assert_eq!(shared.metrics.connections.get(), 0);
        drop(to);
    }

    #[tokio::test(start_paused = true)]
    async fn pongs_keep_a_connection_alive() {
        let (to, mut from, shared, task) = start();
        join(&to, &mut from).await;
        for _ in 0..5 {
            assert!(matches!(from.recv().await.unwrap(), Message::Ping(_)));
            to.send(Message::Pong(Bytes::new())).await.unwrap();
        }
        assert_eq!(shared.rooms.roster("r").len(), 1);
        to.send(Message::Close(None)).await.unwrap();
        task.await.unwrap();
        assert!(shared.rooms.roster("r").is_empty());
    }
}
