//! The I/O edge of a simulated participant: the signaling WebSocket, one UDP socket and one
//! tokio task driving a [`Session`], behind a cheap handle.
//!
//! [`Participant::join`] does the handshake in the caller's task (connect, `join`, wait for
//! `welcome`, send our offer) so that refusals come back as errors; everything after runs in
//! the spawned task. The handle reads state the task publishes (roster and events at once,
//! media counters every [`PUBLISH_EVERY`]) and sends it commands.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use ponte_proto::channel::{BridgeChannelMessage, ClientChannelMessage};
use ponte_proto::signal::{ClientMessage, ErrorCode, Resume, ServerMessage, PROTOCOL_VERSION};
use ponte_proto::MediaKind;

use crate::error::ParticipantError;
use crate::recorder::Snapshot;
use crate::session::{Session, SessionConfig, Stats};

pub use ponte_proto::signal::Participant as RosterEntry;

/// How often the task copies media counters to the handle.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(100);
const KEEPALIVE_EVERY: Duration = Duration::from_secs(15);
const LEAVE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a participant whose signaling connection dropped keeps trying to resume.
const RESUME_FOR: Duration = Duration::from_secs(30);
/// Waits before offering again when no bridge could take the room (`unavailable`), say after
/// the only bridge died; the last step repeats until an operator brings one up.
const OFFER_RETRY: [Duration; 5] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(15),
];

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How a participant behaves.
#[derive(Debug, Clone)]
pub struct ParticipantOptions {
    pub send_audio: bool,
    pub send_video: bool,
    pub video_fps: u32,
    /// A key frame every this many video frames (0: only when asked for one).
    pub keyframe_interval: u32,
    /// Sent with `join` (a JWT when signaling requires one).
    pub token: Option<String>,
    /// Where the UDP socket binds. Must be a concrete IP: it is our ICE host candidate.
    pub bind: SocketAddr,
    /// Marker tag in every frame we send; random when `None`.
    pub sender_tag: Option<u32>,
    /// Limit for connect + `welcome`.
    pub join_timeout: Duration,
    /// Send every datagram here instead of to the bridge's candidate (a test relay that
    /// forwards to the bridge); what comes back from it is taken as the bridge's.
    pub media_via: Option<SocketAddr>,
    /// Also accept H.264 (ingest streams arrive as H.264).
    pub receive_h264: bool,
    /// Keep the raw received payloads of this publisher in [`Snapshot::kept`].
    pub keep_payloads_of: Option<String>,
    /// Publish video as three simulcast layers (rids `q`, `h`, `f`); see [`SessionConfig::simulcast`].
    pub simulcast: bool,
    /// RFC 6464 audio level sent with our audio (dBov); change it with [`Participant::set_audio_level`].
    pub audio_level: Option<i8>,
    /// Open a data channel to the bridge: [`Participant::send_constraints`],
    /// [`Participant::channel_messages`].
    pub data_channel: bool,
    /// Region hint sent with `join` (placement prefers a bridge there).
    pub region: Option<String>,
    /// Video payload bitrate, all simulcast layers together; see [`SessionConfig::video_kbps`].
    pub video_kbps: Option<u32>,
}

impl Default for ParticipantOptions {
    fn default() -> Self {
        Self {
            send_audio: true,
            send_video: true,
            video_fps: 15,
            keyframe_interval: 30,
            token: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            sender_tag: None,
            join_timeout: Duration::from_secs(10),
            media_via: None,
            receive_h264: false,
            keep_payloads_of: None,
            simulcast: false,
            audio_level: None,
            data_channel: false,
            region: None,
            video_kbps: None,
        }
    }
}

/// Something signaling told us, in arrival order.
#[derive(Debug, Clone, PartialEq)]
pub enum RosterEvent {
    Joined(RosterEntry),
    Left { participant_id: String },
    Mute { participant_id: String, kind: MediaKind, muted: bool },
    Chat { from: String, display_name: String, text: String },
    /// An `error` after the join (the connection stays open).
    Error { code: ErrorCode, message: String },
    Bye { reason: String },
}

/// State the task writes and the handle reads.
#[derive(Debug, Default)]
struct Shared {
    roster: Vec<RosterEntry>,
    events: Vec<RosterEvent>,
    snapshot: Snapshot,
    stats: Stats,
    /// What the bridge said on the data channel.
    channel: Vec<BridgeChannelMessage>,
    /// Why the task ended, once it has.
    ended: Option<String>,
    /// Media sessions started on `renegotiate` (the bridge died), and when the last began.
    renegotiations: u32,
    renegotiated_at: Option<Instant>,
    /// Signaling connections resumed after a drop (the media session went on).
    resumes: u32,
    /// Offers sent again because no bridge could take the room.
    offer_retries: u32,
}

#[derive(Debug)]
enum Command {
    Chat(String),
    Mute(MediaKind, bool),
    Leave,
    AudioLevel(Option<i8>),
    Channel(ClientChannelMessage),
}

/// A joined participant. Dropping it ends its task (which says `leave` on the way out).
pub struct Participant {
    id: String,
    room: String,
    sender_tag: u32,
    local_addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    commands: mpsc::UnboundedSender<Command>,
    task: Option<JoinHandle<()>>,
}

impl Participant {
    /// Join `room` through the signaling WebSocket at `ws_url` (`ws://host:port/ws`) and
    /// start media. Returns once the server welcomed us and our offer is sent; use
    /// [`Participant::wait_connected`] to wait for the media path.
    pub async fn join(
        ws_url: &str,
        room: &str,
        display_name: &str,
        opts: ParticipantOptions,
    ) -> Result<Participant, ParticipantError> {
        let (ws, welcome) = tokio::time::timeout(opts.join_timeout, handshake(ws_url, room, display_name, &opts))
            .await
            .map_err(|_| ParticipantError::Timeout("welcome"))??;
        let socket = UdpSocket::bind(opts.bind).await?;
        let local_addr = socket.local_addr()?;
        let config = SessionConfig {
            label: display_name.to_owned(),
            sender_tag: opts.sender_tag.unwrap_or_else(rand::random),
            send_audio: opts.send_audio,
            send_video: opts.send_video,
            video_fps: opts.video_fps,
            keyframe_interval: opts.keyframe_interval,
            receive_h264: opts.receive_h264,
            keep_payloads_of: opts.keep_payloads_of.clone(),
            simulcast: opts.simulcast,
            audio_level: opts.audio_level,
            data_channel: opts.data_channel,
            video_kbps: opts.video_kbps,
        };
        let sender_tag = config.sender_tag;
        let (session, offer) = new_session(config.clone(), local_addr)?;
        let proof = ponte_proto::resume::ice_pwd(&offer).map(str::to_owned);
        let (mut ws_tx, ws_rx) = ws.split();
        send(&mut ws_tx, &ClientMessage::Offer { sdp: offer.clone() }).await?;

        let shared = Arc::new(Mutex::new(Shared { roster: welcome.roster, ..Shared::default() }));
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let driver = Driver {
            session,
            session_config: config,
            socket,
            local_addr,
            ws_tx: Some(ws_tx),
            ws_rx: Some(ws_rx),
            rejoin: Rejoin {
                ws_url: ws_url.to_owned(),
                room: room.to_owned(),
                display_name: display_name.to_owned(),
                opts: opts.clone(),
                participant_id: welcome.participant_id.clone(),
                proof,
            },
            reconnect: None,
            commands: commands_rx,
            shared: shared.clone(),
            media_via: opts.media_via,
            remote: None,
            unanswered: Some(Unanswered::new(offer)),
        };
        let task = tokio::spawn(driver.run());
        tracing::debug!(participant = %welcome.participant_id, %room, %local_addr, "joined");
        Ok(Participant {
            id: welcome.participant_id,
            room: room.to_owned(),
            sender_tag,
            local_addr,
            shared,
            commands,
            task: Some(task),
        })
    }

    /// The participant id the server assigned.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn room(&self) -> &str {
        &self.room
    }

    /// The tag in the marker of every frame we send.
    pub fn sender_tag(&self) -> u32 {
        self.sender_tag
    }

    /// Our UDP socket's address (our ICE candidate).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Everyone else in the room, as signaling last told us.
    pub fn roster(&self) -> Vec<RosterEntry> {
        self.lock().roster.clone()
    }

    /// Every roster event so far, oldest first.
    pub fn events(&self) -> Vec<RosterEvent> {
        self.lock().events.clone()
    }

    /// Received-media counters (at most [`PUBLISH_EVERY`] old).
    pub fn snapshot(&self) -> Snapshot {
        self.lock().snapshot.clone()
    }

    /// Sent-media counters and connection state (at most [`PUBLISH_EVERY`] old).
    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    pub fn is_connected(&self) -> bool {
        self.lock().stats.connected
    }

    /// How many times the server told us to renegotiate (our bridge died) and we started a
    /// new media session, and when the last one started.
    pub fn renegotiations(&self) -> (u32, Option<Instant>) {
        let s = self.lock();
        (s.renegotiations, s.renegotiated_at)
    }

    /// How many times we offered again because no bridge could take the room (`unavailable`).
    pub fn offer_retries(&self) -> u32 {
        self.lock().offer_retries
    }

    /// How many times the signaling connection dropped and we resumed our media session
    /// through a new one.
    pub fn resumes(&self) -> u32 {
        self.lock().resumes
    }

    /// Why the participant's task ended (`bye`, socket closed, ...), if it has.
    pub fn ended(&self) -> Option<String> {
        self.lock().ended.clone()
    }

    pub fn send_chat(&self, text: impl Into<String>) -> Result<(), ParticipantError> {
        self.command(Command::Chat(text.into()))
    }

    /// Stop (or resume) sending one kind of media, and tell the room.
    pub fn set_muted(&self, kind: MediaKind, muted: bool) -> Result<(), ParticipantError> {
        self.command(Command::Mute(kind, muted))
    }

    /// The RFC 6464 level sent with our audio from now on (e.g. -20 to speak, -127 silent).
    pub fn set_audio_level(&self, level: Option<i8>) -> Result<(), ParticipantError> {
        self.command(Command::AudioLevel(level))
    }

    /// Send receiver constraints to the bridge over the data channel (needs
    /// [`ParticipantOptions::data_channel`]; queued until the channel opens).
    pub fn send_constraints(&self, msg: ClientChannelMessage) -> Result<(), ParticipantError> {
        self.command(Command::Channel(msg))
    }

    /// Everything the bridge said on the data channel, oldest first (at most
    /// [`PUBLISH_EVERY`] old).
    pub fn channel_messages(&self) -> Vec<BridgeChannelMessage> {
        self.lock().channel.clone()
    }

    /// The dominant speaker the bridge last announced.
    pub fn dominant_speaker(&self) -> Option<String> {
        self.lock().channel.iter().rev().find_map(|m| match m {
            BridgeChannelMessage::DominantSpeaker { participant_id } => Some(participant_id.clone()),
            _ => None,
        })
    }

    /// The participants whose video the bridge last said it sends us.
    pub fn last_n(&self) -> Option<Vec<String>> {
        self.lock().channel.iter().rev().find_map(|m| match m {
            BridgeChannelMessage::LastN { participant_ids } => Some(participant_ids.clone()),
            _ => None,
        })
    }

    /// Say `leave`, wait for `bye` (a few seconds at most), and end the task.
    pub async fn leave(mut self) -> Result<(), ParticipantError> {
        let Some(mut task) = self.task.take() else { return Ok(()) };
        // A task that already ended has nothing to say goodbye with.
        let _ = self.commands.send(Command::Leave);
        if tokio::time::timeout(LEAVE_TIMEOUT, &mut task).await.is_err() {
            task.abort();
            return Err(ParticipantError::Timeout("bye"));
        }
        Ok(())
    }

    /// Poll `cond` until it holds or `timeout` passes; returns whether it held.
    pub async fn wait_until(&self, timeout: Duration, cond: impl Fn(&Participant) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Wait until ICE and DTLS are up.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<(), ParticipantError> {
        if self.wait_until(timeout, |p| p.is_connected() || p.ended().is_some()).await && self.is_connected() {
            return Ok(());
        }
        match self.ended() {
            Some(reason) => Err(ParticipantError::Closed(reason)),
            None => Err(ParticipantError::Timeout("media connection")),
        }
    }

    fn command(&self, c: Command) -> Result<(), ParticipantError> {
        self.commands.send(c).map_err(|_| ParticipantError::Gone)
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }
}

impl std::fmt::Debug for Participant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Participant").field("id", &self.id).field("room", &self.room).finish_non_exhaustive()
    }
}

/// A panicking holder cannot leave `Shared` half-written in a way that matters here.
fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

struct Welcome {
    participant_id: String,
    roster: Vec<RosterEntry>,
}

async fn handshake(
    ws_url: &str,
    room: &str,
    display_name: &str,
    opts: &ParticipantOptions,
) -> Result<(Ws, Welcome), ParticipantError> {
    handshake_with(ws_url, room, display_name, opts, None).await
}

async fn handshake_with(
    ws_url: &str,
    room: &str,
    display_name: &str,
    opts: &ParticipantOptions,
    resume: Option<Resume>,
) -> Result<(Ws, Welcome), ParticipantError> {
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await?;
    let join = ClientMessage::Join {
        room: room.to_owned(),
        display_name: display_name.to_owned(),
        token: opts.token.clone(),
        version: PROTOCOL_VERSION,
        audio_muted: false,
        video_muted: false,
        region: opts.region.clone(),
        resume,
    };
    send(&mut ws, &join).await?;
    loop {
        let Some(msg) = ws.next().await else { return Err(ParticipantError::Closed("before welcome".into())) };
        let Some(msg) = parse(msg?)? else { continue };
        match msg {
            ServerMessage::Welcome { participant_id, roster, .. } => return Ok((ws, Welcome { participant_id, roster })),
            ServerMessage::Error { code, message, .. } => return Err(ParticipantError::Refused { code, message }),
            ServerMessage::Bye { reason } => return Err(ParticipantError::Closed(reason)),
            _ => {}
        }
    }
}

/// The next frame of the signaling connection; pending while it is down.
async fn next_frame(rx: &mut Option<SplitStream<Ws>>) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
    match rx {
        Some(rx) => rx.next().await,
        None => std::future::pending().await,
    }
}

/// The resume in progress; pending when there is none.
async fn reconnecting(reconnect: &mut Option<Reconnect>) -> Result<(Ws, Welcome), ParticipantError> {
    match reconnect {
        Some(r) => r.as_mut().await,
        None => std::future::pending().await,
    }
}

/// A server text frame as a message; `None` for frames that carry none (ping, pong, binary).
fn parse(msg: Message) -> Result<Option<ServerMessage>, ParticipantError> {
    match msg {
        Message::Text(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ParticipantError::Protocol(format!("{e}: {}", truncate(&text, 200)))),
        Message::Close(frame) => Err(ParticipantError::Closed(frame.map_or_else(|| "close".into(), |f| f.reason.to_string()))),
        _ => Ok(None),
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

async fn send<S>(ws: &mut S, msg: &ClientMessage) -> Result<(), ParticipantError>
where
    S: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
{
    let text = serde_json::to_string(msg).map_err(|e| ParticipantError::Protocol(e.to_string()))?;
    ws.send(Message::text(text)).await?;
    Ok(())
}

/// A new media session and its first offer.
fn new_session(config: SessionConfig, local_addr: SocketAddr) -> Result<(Session, String), ParticipantError> {
    let mut session = Session::new(Instant::now(), config, local_addr)?;
    let offer = session
        .make_offer(Instant::now())?
        .ok_or_else(|| ParticipantError::Protocol("a new session had nothing to offer".into()))?;
    Ok((session, offer))
}

/// What it takes to come back through a new signaling connection.
struct Rejoin {
    ws_url: String,
    room: String,
    display_name: String,
    opts: ParticipantOptions,
    participant_id: String,
    /// The ICE password of our current media session's offer.
    proof: Option<String>,
}

type Reconnect = Pin<Box<dyn Future<Output = Result<(Ws, Welcome), ParticipantError>> + Send>>;

impl Rejoin {
    /// Keep trying to resume for [`RESUME_FOR`], backing off from 200 ms to 2 s.
    fn start(&self) -> Reconnect {
        let (url, room, name, opts) = (self.ws_url.clone(), self.room.clone(), self.display_name.clone(), self.opts.clone());
        let resume = self.proof.clone().map(|proof| Resume { participant_id: self.participant_id.clone(), proof });
        Box::pin(async move {
            let Some(resume) = resume else {
                return Err(ParticipantError::Closed("signaling connection lost and our offer had no ICE password to resume with".into()));
            };
            let deadline = tokio::time::Instant::now() + RESUME_FOR;
            let mut wait = Duration::from_millis(200);
            loop {
                let attempt = tokio::time::timeout(opts.join_timeout, handshake_with(&url, &room, &name, &opts, Some(resume.clone()))).await;
                match attempt {
                    Ok(Ok(done)) => return Ok(done),
                    // Refused for good (wrong proof, taken): resuming will not work.
                    Ok(Err(e @ ParticipantError::Refused { .. })) => return Err(e),
                    Ok(Err(e)) => tracing::debug!("resume attempt failed: {e}"),
                    Err(_) => tracing::debug!("resume attempt timed out"),
                }
                if tokio::time::Instant::now() + wait > deadline {
                    return Err(ParticipantError::Timeout("resume"));
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
        })
    }
}

/// The participant's task: owns the session and both connections.
struct Driver {
    session: Session,
    /// For a new session when the bridge dies.
    session_config: SessionConfig,
    socket: UdpSocket,
    local_addr: SocketAddr,
    /// None while the signaling connection is down and `reconnect` runs.
    ws_tx: Option<SplitSink<Ws, Message>>,
    ws_rx: Option<SplitStream<Ws>>,
    rejoin: Rejoin,
    reconnect: Option<Reconnect>,
    commands: mpsc::UnboundedReceiver<Command>,
    shared: Arc<Mutex<Shared>>,
    /// See [`ParticipantOptions::media_via`].
    media_via: Option<SocketAddr>,
    /// The bridge address the session last sent to, which the relay stands in for.
    remote: Option<SocketAddr>,
    /// Our offer until a bridge answers it.
    unanswered: Option<Unanswered>,
}

/// An offer no bridge has answered yet, and when to send it again if none could take it.
struct Unanswered {
    sdp: String,
    refusals: usize,
    retry_at: Option<tokio::time::Instant>,
}

impl Unanswered {
    fn new(sdp: String) -> Self {
        Self { sdp, refusals: 0, retry_at: None }
    }

    /// No bridge could take the room: offer again after a backoff.
    fn refused(&mut self) -> Duration {
        let wait = OFFER_RETRY[self.refusals.min(OFFER_RETRY.len() - 1)];
        self.refusals += 1;
        self.retry_at = Some(tokio::time::Instant::now() + wait);
        wait
    }
}

/// Resolves when an unanswered offer is due again; pending otherwise.
async fn offer_due(unanswered: &Option<Unanswered>) {
    match unanswered.as_ref().and_then(|u| u.retry_at) {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Driver {
    async fn run(mut self) {
        let reason = match self.serve().await {
            Ok(reason) => reason,
            Err(e) => e.to_string(),
        };
        tracing::debug!(%reason, "participant task ends");
        self.session.disconnect();
        self.publish();
        lock(&self.shared).ended = Some(reason);
    }

    /// Run until the server says `bye`, a connection fails or the handle goes away.
    async fn serve(&mut self) -> Result<String, ParticipantError> {
        let mut buf = vec![0u8; 2048];
        let mut publish = tokio::time::interval(PUBLISH_EVERY);
        let mut keepalive = tokio::time::interval(KEEPALIVE_EVERY);
        keepalive.tick().await;
        loop {
            self.flush().await;
            let deadline = tokio::time::Instant::from_std(self.session.poll_timeout());
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok((n, from)) => {
                        let from = if Some(from) == self.media_via { self.remote.unwrap_or(from) } else { from };
                        self.session.handle_receive(Instant::now(), from, self.local_addr, &buf[..n])
                    }
                    // ICMP errors surface here on some systems; the next datagram may be fine.
                    Err(e) => tracing::debug!("UDP receive failed: {e}"),
                },
                msg = next_frame(&mut self.ws_rx) => {
                    match msg {
                        // The server went away without `bye` (a restart): resume.
                        None | Some(Err(_)) => self.lost_signaling("the server closed the WebSocket"),
                        Some(Ok(msg)) => {
                            if let Some(reason) = self.on_ws(msg).await? {
                                return Ok(reason);
                            }
                        }
                    }
                    self.publish();
                }
                done = reconnecting(&mut self.reconnect) => {
                    self.reconnect = None;
                    let (ws, welcome) = done?;
                    let (tx, rx) = ws.split();
                    (self.ws_tx, self.ws_rx) = (Some(tx), Some(rx));
                    let mut shared = lock(&self.shared);
                    shared.roster = welcome.roster;
                    shared.resumes += 1;
                    tracing::info!(participant = %welcome.participant_id, "resumed through a new signaling connection");
                }
                cmd = self.commands.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd).await?,
                    None => {
                        if let Some(tx) = &mut self.ws_tx {
                            let _ = send(tx, &ClientMessage::Leave {}).await;
                        }
                        return Ok("the handle was dropped".into());
                    }
                },
                _ = tokio::time::sleep_until(deadline) => self.session.handle_timeout(Instant::now()),
                _ = offer_due(&self.unanswered) => self.offer_again().await,
                _ = publish.tick() => self.publish(),
                _ = keepalive.tick() => self.send_ws(&ClientMessage::Ping { id: None }).await,
            }
        }
    }

    /// The signaling connection dropped: keep media going and resume in the background.
    fn lost_signaling(&mut self, why: &str) {
        if self.reconnect.is_none() {
            tracing::info!(participant = %self.rejoin.participant_id, "{why}; resuming");
            (self.ws_tx, self.ws_rx) = (None, None);
            self.reconnect = Some(self.rejoin.start());
        }
    }

    /// Send on the signaling connection if it is up; a failure starts a resume.
    async fn send_ws(&mut self, msg: &ClientMessage) {
        let Some(tx) = &mut self.ws_tx else { return };
        if let Err(e) = send(tx, msg).await {
            self.lost_signaling(&format!("signaling send failed: {e}"));
        }
    }

    /// Our bridge died: a new media session (same socket, same tags) offered afresh.
    async fn renegotiate(&mut self, reason: &str) -> Result<(), ParticipantError> {
        tracing::info!(participant = %self.rejoin.participant_id, reason, "renegotiating with a new bridge");
        let (session, offer) = new_session(self.session_config.clone(), self.local_addr)?;
        self.session.disconnect();
        self.session = session;
        self.remote = None;
        self.rejoin.proof = ponte_proto::resume::ice_pwd(&offer).map(str::to_owned);
        {
            let mut shared = lock(&self.shared);
            shared.renegotiations += 1;
            shared.renegotiated_at = Some(Instant::now());
        }
        self.unanswered = Some(Unanswered::new(offer.clone()));
        self.send_ws(&ClientMessage::Offer { sdp: offer }).await;
        Ok(())
    }

    async fn offer_again(&mut self) {
        let Some(unanswered) = &mut self.unanswered else { return };
        unanswered.retry_at = None;
        let sdp = unanswered.sdp.clone();
        tracing::info!(participant = %self.rejoin.participant_id, "offering again");
        lock(&self.shared).offer_retries += 1;
        self.send_ws(&ClientMessage::Offer { sdp }).await;
    }

    async fn flush(&mut self) {
        while let Some(t) = self.session.poll_transmit() {
            self.remote = Some(t.destination);
            let to = self.media_via.unwrap_or(t.destination);
            if let Err(e) = self.socket.send_to(&t.contents, to).await {
                tracing::debug!(to = %t.destination, "UDP send failed: {e}");
            }
        }
    }

    /// One WebSocket frame; `Some(reason)` ends the task.
    async fn on_ws(&mut self, msg: Message) -> Result<Option<String>, ParticipantError> {
        let msg = match parse(msg) {
            Ok(Some(msg)) => msg,
            Ok(None) => return Ok(None),
            // A close without `bye` first (a server restart): the media session goes on.
            Err(ParticipantError::Closed(reason)) => {
                self.lost_signaling(&format!("the server closed the WebSocket ({reason})"));
                return Ok(None);
            }
            Err(e) => {
                tracing::warn!("ignoring server message: {e}");
                return Ok(None);
            }
        };
        let now = Instant::now();
        match msg {
            ServerMessage::Answer { sdp } => {
                self.unanswered = None;
                if let Err(e) = self.session.accept_answer(now, &sdp) {
                    tracing::warn!("bridge answer refused: {e}");
                }
            }
            ServerMessage::Error { code: ErrorCode::Unavailable, ref message, .. } if self.unanswered.as_ref().is_some_and(|u| u.retry_at.is_none()) => {
                if let Some(u) = &mut self.unanswered {
                    let wait = u.refused();
                    tracing::info!(participant = %self.rejoin.participant_id, ?wait, "no bridge can take the room yet ({message}); offering again later");
                }
                self.on_roster(msg);
            }
            ServerMessage::Offer { sdp, tracks } => match self.session.accept_offer(now, &sdp, &tracks) {
                Ok(answer) => self.send_ws(&ClientMessage::Answer { sdp: answer }).await,
                Err(e) => tracing::warn!("bridge offer refused: {e}"),
            },
            ServerMessage::Renegotiate { reason } => self.renegotiate(&reason).await?,
            ServerMessage::Bye { reason } => {
                self.event(RosterEvent::Bye { reason: reason.clone() });
                return Ok(Some(reason));
            }
            other => self.on_roster(other),
        }
        Ok(None)
    }

    fn on_roster(&mut self, msg: ServerMessage) {
        let mut shared = lock(&self.shared);
        let event = match msg {
            ServerMessage::ParticipantJoined { participant } => {
                shared.roster.retain(|p| p.id != participant.id);
                shared.roster.push(participant.clone());
                RosterEvent::Joined(participant)
            }
            ServerMessage::ParticipantLeft { participant_id } => {
                shared.roster.retain(|p| p.id != participant_id);
                RosterEvent::Left { participant_id }
            }
            ServerMessage::MuteChanged { participant_id, kind, muted } => {
                if let Some(p) = shared.roster.iter_mut().find(|p| p.id == participant_id) {
                    match kind {
                        MediaKind::Audio => p.audio_muted = muted,
                        MediaKind::Video => p.video_muted = muted,
                    }
                }
                RosterEvent::Mute { participant_id, kind, muted }
            }
            ServerMessage::Chat { from, display_name, text, .. } => RosterEvent::Chat { from, display_name, text },
            ServerMessage::Error { code, message, .. } => {
                tracing::warn!(?code, "server error: {message}");
                RosterEvent::Error { code, message }
            }
            _ => return,
        };
        shared.events.push(event);
    }

    async fn on_command(&mut self, cmd: Command) -> Result<(), ParticipantError> {
        let msg = match cmd {
            Command::Chat(text) => ClientMessage::Chat { text },
            Command::Mute(kind, muted) => {
                self.session.set_muted(kind, muted);
                ClientMessage::Mute { kind, muted }
            }
            Command::Leave => ClientMessage::Leave {},
            Command::AudioLevel(level) => {
                self.session.set_audio_level(level);
                return Ok(());
            }
            Command::Channel(msg) => {
                self.session.send_channel(Instant::now(), msg);
                return Ok(());
            }
        };
        self.send_ws(&msg).await;
        Ok(())
    }

    fn event(&self, e: RosterEvent) {
        lock(&self.shared).events.push(e);
    }

    fn publish(&self) {
        let (snapshot, stats) = (self.session.snapshot(), self.session.stats());
        let mut shared = lock(&self.shared);
        shared.snapshot = snapshot;
        shared.stats = stats;
        let said = self.session.channel_messages();
        if said.len() != shared.channel.len() {
            shared.channel = said.to_vec();
        }
    }
}
