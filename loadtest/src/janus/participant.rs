//! A simulated participant in a Janus videoroom: one WebSocket, a publisher PeerConnection
//! (when it publishes) and one multistream subscriber PeerConnection for every other feed,
//! each a [`Session`] on its own UDP socket, driven by one tokio task behind a handle.
//!
//! [`JanusParticipant::join`] does the handshake in the caller's task (session, handle, room,
//! join, publish and its answer) so that refusals come back as errors. The task then follows
//! the room: new publishers are subscribed to (one subscribe request in flight at a time;
//! Janus answers each with an offer on the subscriber handle, which we answer with `start`),
//! and the session is kept alive.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::api::{self, Feed, Incoming, Jsep, RoomEvent};
use super::ws::Connection;
use crate::error::ParticipantError;
use crate::participant::PUBLISH_EVERY;
use crate::recorder::Snapshot;
use crate::session::{Session, SessionConfig, Stats};
use crate::target::{BoxFuture, JoinSpec, Role, SimParticipant};

/// Janus ends a session after 60 s without a request.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(25);
const LEAVE_TIMEOUT: Duration = Duration::from_secs(3);
/// Refused subscribe requests retried per participant.
const MAX_RETRIES: u32 = 5;

/// What the task publishes for the handle.
#[derive(Debug, Default)]
struct Shared {
    snapshot: Snapshot,
    stats: Stats,
    ended: Option<String>,
}

/// A joined Janus participant. Dropping it ends its task.
pub struct JanusParticipant {
    /// Our feed id in the room (as the recorders of others name us).
    id: String,
    shared: Arc<Mutex<Shared>>,
    leave: Option<mpsc::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl JanusParticipant {
    /// Join `spec.room` (created if missing, for up to `room_publishers` publishers) through
    /// Janus's WebSocket API at `ws_url`. Returns once we are in the room and, for a
    /// publisher, Janus answered our offer; media may still be connecting.
    pub async fn join(ws_url: &str, spec: &JoinSpec, path: &MediaPath, room_publishers: u32) -> Result<Self, ParticipantError> {
        let sub = Leg::bind(path, session_config(spec, false))?;
        let publishing = spec.role == Role::Publisher && (spec.media.audio || spec.media.video);
        let mut publisher = match publishing {
            true => Some(Leg::bind(path, session_config(spec, true))?),
            false => None,
        };
        let handshake = handshake(ws_url, spec, room_publishers, publisher.as_mut());
        let (conn, joined) =
            tokio::time::timeout(spec.join_timeout, handshake).await.map_err(|_| ParticipantError::Timeout("Janus join"))??;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (leave, leave_rx) = mpsc::channel(1);
        let mut driver = Driver {
            conn,
            session_id: joined.session_id,
            publisher_handle: joined.handle,
            room: joined.room,
            own_feed: joined.feed,
            private_id: joined.private_id,
            publisher,
            sub,
            sub_handle: None,
            attaching: None,
            in_flight: false,
            sub_joined: false,
            wanted: BTreeSet::new(),
            requested: Vec::new(),
            present: BTreeSet::new(),
            retries: 0,
            shared: shared.clone(),
            leave: leave_rx,
        };
        driver.want(&joined.publishers);
        tracing::debug!(feed = joined.feed, room = %spec.room, "joined Janus");
        let task = tokio::spawn(driver.run());
        Ok(Self { id: joined.feed.to_string(), shared, leave: Some(leave), task: Some(task) })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn snapshot(&self) -> Snapshot {
        self.lock().snapshot.clone()
    }

    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    pub fn ended(&self) -> Option<String> {
        self.lock().ended.clone()
    }

    /// Destroy the Janus session (which hangs up both PeerConnections) and end the task.
    pub async fn leave(mut self) -> Result<(), ParticipantError> {
        let Some(mut task) = self.task.take() else { return Ok(()) };
        if let Some(leave) = self.leave.take() {
            let _ = leave.send(()).await;
        }
        if tokio::time::timeout(LEAVE_TIMEOUT, &mut task).await.is_err() {
            task.abort();
            return Err(ParticipantError::Timeout("Janus destroy"));
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }
}

impl Drop for JanusParticipant {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl SimParticipant for JanusParticipant {
    fn id(&self) -> &str {
        JanusParticipant::id(self)
    }

    fn snapshot(&self) -> Snapshot {
        JanusParticipant::snapshot(self)
    }

    fn stats(&self) -> Stats {
        JanusParticipant::stats(self)
    }

    fn ended(&self) -> Option<String> {
        JanusParticipant::ended(self)
    }

    fn leave(self: Box<Self>) -> BoxFuture<'static, Result<(), ParticipantError>> {
        Box::pin(JanusParticipant::leave(*self))
    }
}

/// A panicking holder cannot leave `Shared` half-written in a way that matters here.
fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// The same media a Ponte participant of this spec sends; the subscriber leg sends nothing.
fn session_config(spec: &JoinSpec, publishing: bool) -> SessionConfig {
    let media = &spec.media;
    SessionConfig {
        label: spec.display_name.clone(),
        sender_tag: rand::random(),
        send_audio: publishing && media.audio,
        send_video: publishing && media.video,
        video_fps: media.video_fps,
        video_kbps: Some(media.video_kbps),
        simulcast: publishing && media.simulcast,
        ..SessionConfig::default()
    }
}

/// One PeerConnection: its session and its socket.
struct Leg {
    session: Session,
    socket: UdpSocket,
    local: SocketAddr,
    buf: Vec<u8>,
}

impl Leg {
    fn bind(path: &MediaPath, config: SessionConfig) -> Result<Self, ParticipantError> {
        let socket = path.socket()?;
        let local = socket.local_addr()?;
        let session = Session::new(Instant::now(), config, local)?;
        Ok(Self { session, socket, local, buf: vec![0; 2048] })
    }

    async fn recv(&mut self) {
        match self.socket.recv_from(&mut self.buf).await {
            Ok((n, from)) => {
                let data = self.buf.get(..n).unwrap_or_default();
                self.session.handle_receive(Instant::now(), from, self.local, data);
            }
            // ICMP errors surface here on some systems; the next datagram may be fine.
            Err(e) => tracing::debug!("UDP receive failed: {e}"),
        }
    }

    async fn flush(&mut self) {
        while let Some(t) = self.session.poll_transmit() {
            if let Err(e) = self.socket.send_to(&t.contents, t.destination).await {
                tracing::debug!(to = %t.destination, "UDP send failed: {e}");
            }
        }
    }
}

/// Where a participant's UDP sockets live, so that Janus can answer them.
///
/// Janus pins its media sockets to the interface it gathered on (IP_UNICAST_IF), so a
/// participant on `lo` never hears back; `loadtest/janus/start.sh` gives Janus one end of a
/// veth pair and the participants the other, and `device` is that other end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPath {
    /// Our sockets' address (port 0): our ICE host candidate.
    pub ip: IpAddr,
    /// Bind every socket to this device (SO_BINDTODEVICE); `None`: any.
    pub device: Option<String>,
}

impl MediaPath {
    fn socket(&self) -> Result<UdpSocket, ParticipantError> {
        let socket = Socket::new(Domain::for_address(SocketAddr::new(self.ip, 0)), Type::DGRAM, Some(Protocol::UDP))?;
        if let Some(device) = &self.device {
            socket.bind_device(Some(device.as_bytes()))?;
        }
        socket.set_nonblocking(true)?;
        socket.bind(&SocketAddr::new(self.ip, 0).into())?;
        Ok(UdpSocket::from_std(socket.into())?)
    }
}

/// Where the handshake left us.
struct Joined {
    session_id: u64,
    handle: u64,
    room: u64,
    feed: u64,
    private_id: Option<u64>,
    publishers: Vec<Feed>,
}

async fn handshake(
    ws_url: &str,
    spec: &JoinSpec,
    room_publishers: u32,
    publisher: Option<&mut Leg>,
) -> Result<(Connection, Joined), ParticipantError> {
    let mut conn = Connection::connect(ws_url).await?;
    let session_id = success_id(conn.request(api::create_session).await?, "create")?;
    let handle = success_id(conn.request(|t| api::attach(session_id, t)).await?, "attach")?;
    let room = api::room_number(&spec.room);
    // Whoever comes first creates the room; the others are told it exists.
    let created = conn.request(|t| api::message(session_id, handle, t, api::create_room(room, room_publishers), None)).await?;
    if let Incoming::Success { plugin: Some(data), .. } = &created {
        match api::room_event(data) {
            RoomEvent::Error { code, message } if code != api::ROOM_EXISTS => {
                return Err(ParticipantError::JanusRefused { code, reason: message })
            }
            _ => {}
        }
    }
    let join = api::join_publisher(room, &spec.display_name);
    let (data, _) = plugin_event(conn.request(|t| api::message(session_id, handle, t, join, None)).await?)?;
    let RoomEvent::Joined { id: feed, private_id, publishers } = api::room_event(&data) else {
        return Err(ParticipantError::Protocol(format!("Janus answered join with {data}")));
    };
    if let Some(leg) = publisher {
        let offer = leg
            .session
            .make_offer(Instant::now())?
            .ok_or_else(|| ParticipantError::Protocol("a new session had nothing to offer".into()))?;
        let publish = api::message(session_id, handle, "", api::publish(), Some(&Jsep::Offer(offer)));
        let reply = conn.request(|t| with_transaction(publish, t)).await?;
        let (data, jsep) = plugin_event(reply)?;
        let Some(Jsep::Answer(answer)) = jsep else {
            return Err(ParticipantError::Protocol(format!("Janus answered publish without an answer: {data}")));
        };
        leg.session.accept_answer(Instant::now(), &answer)?;
        // Janus only acks a trickle; nothing to wait for.
        let t = conn.transaction();
        conn.send(api::trickle_completed(session_id, handle, &t)).await?;
    }
    Ok((conn, Joined { session_id, handle, room, feed, private_id, publishers }))
}

fn with_transaction(mut msg: serde_json::Value, transaction: &str) -> serde_json::Value {
    if let Some(obj) = msg.as_object_mut() {
        obj.insert("transaction".into(), transaction.into());
    }
    msg
}

fn success_id(reply: Incoming, what: &str) -> Result<u64, ParticipantError> {
    match reply {
        Incoming::Success { id: Some(id), .. } => Ok(id),
        other => Err(ParticipantError::Protocol(format!("Janus answered {what} with {other:?}"))),
    }
}

/// The plugin data and SDP of an event reply; a plugin error becomes a refusal.
fn plugin_event(reply: Incoming) -> Result<(serde_json::Value, Option<Jsep>), ParticipantError> {
    let (data, jsep) = match reply {
        Incoming::Event { data, jsep, .. } => (data, jsep),
        Incoming::Success { plugin: Some(data), .. } => (data, None),
        other => return Err(ParticipantError::Protocol(format!("expected a videoroom event, got {other:?}"))),
    };
    if let RoomEvent::Error { code, message } = api::room_event(&data) {
        return Err(ParticipantError::JanusRefused { code, reason: message });
    }
    Ok((data, jsep))
}

/// The participant's task: owns the WebSocket and both legs.
struct Driver {
    conn: Connection,
    session_id: u64,
    publisher_handle: u64,
    room: u64,
    own_feed: u64,
    private_id: Option<u64>,
    publisher: Option<Leg>,
    sub: Leg,
    sub_handle: Option<u64>,
    /// The transaction of our attach for the subscriber handle, while it is outstanding.
    attaching: Option<String>,
    /// A join/subscribe is out and its offer not yet answered.
    in_flight: bool,
    /// Janus took our subscriber `join` (its first offer came); later feeds use `subscribe`.
    sub_joined: bool,
    /// Feeds to subscribe to next.
    wanted: BTreeSet<u64>,
    /// The feeds of the request in flight, and every feed publishing in the room now.
    requested: Vec<u64>,
    present: BTreeSet<u64>,
    /// Refused subscriptions retried so far (bounded: a refusal that repeats is not transient).
    retries: u32,
    shared: Arc<Mutex<Shared>>,
    leave: mpsc::Receiver<()>,
}

impl Driver {
    async fn run(mut self) {
        let reason = match self.serve().await {
            Ok(reason) => reason,
            Err(e) => e.to_string(),
        };
        tracing::debug!(%reason, feed = self.own_feed, "Janus participant task ends");
        if let Some(p) = &mut self.publisher {
            p.session.disconnect();
        }
        self.sub.session.disconnect();
        self.publish();
        lock(&self.shared).ended = Some(reason);
    }

    async fn serve(&mut self) -> Result<String, ParticipantError> {
        let mut publish = tokio::time::interval(PUBLISH_EVERY);
        let mut keepalive = tokio::time::interval(KEEPALIVE_EVERY);
        keepalive.tick().await;
        // str0m's ICE agent has no clock (and so no timer) until its first timeout.
        self.handle_timeout();
        self.subscribe_wanted().await?;
        loop {
            if let Some(p) = &mut self.publisher {
                p.flush().await;
            }
            self.sub.flush().await;
            let pub_due = self.publisher.as_ref().map(|p| p.session.poll_timeout());
            let due = pub_due.map_or(self.sub.session.poll_timeout(), |t| t.min(self.sub.session.poll_timeout()));
            tokio::select! {
                _ = recv(&mut self.publisher) => {}
                _ = self.sub.recv() => {}
                msg = self.conn.next() => {
                    if let Some(reason) = self.on_janus(msg?).await? {
                        return Ok(reason);
                    }
                }
                _ = self.leave.recv() => {
                    // `None` too: the handle is gone, so leave as well.
                    // Within the handle's own wait for this task.
                    let destroy = self.conn.request(|t| api::destroy(self.session_id, t));
                    let _ = tokio::time::timeout(LEAVE_TIMEOUT / 2, destroy).await;
                    self.conn.close().await;
                    return Ok("left".into());
                }
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(due)) => self.handle_timeout(),
                _ = publish.tick() => self.publish(),
                _ = keepalive.tick() => {
                    let t = self.conn.transaction();
                    self.conn.send(api::keepalive(self.session_id, &t)).await?;
                }
            }
        }
    }

    fn handle_timeout(&mut self) {
        let now = Instant::now();
        if let Some(p) = &mut self.publisher {
            p.session.handle_timeout(now);
        }
        self.sub.session.handle_timeout(now);
    }

    /// One message from Janus; `Some(reason)` ends the task.
    async fn on_janus(&mut self, msg: Incoming) -> Result<Option<String>, ParticipantError> {
        match msg {
            Incoming::Success { transaction, id: Some(id), .. } if self.attaching.as_deref() == Some(transaction.as_str()) => {
                self.attaching = None;
                self.sub_handle = Some(id);
                self.subscribe_wanted().await?;
            }
            Incoming::Error { transaction, code, reason } => {
                if transaction.is_some() && transaction == self.attaching {
                    return Err(ParticipantError::JanusRefused { code, reason });
                }
                tracing::warn!(code, "Janus error: {reason}");
            }
            Incoming::Event { sender, data, jsep, .. } => return self.on_event(sender, data, jsep).await,
            Incoming::Hangup { sender, reason } if sender == self.publisher_handle && self.publisher.is_some() => {
                return Ok(Some(format!("Janus hung up our publisher: {reason}")));
            }
            Incoming::Hangup { sender, reason } => tracing::debug!(sender, "Janus hung up: {reason}"),
            Incoming::Timeout => return Ok(Some("Janus timed our session out".into())),
            Incoming::Detached { sender } if sender == self.publisher_handle => {
                return Ok(Some("Janus detached our handle".into()));
            }
            _ => {}
        }
        Ok(None)
    }

    async fn on_event(
        &mut self,
        sender: u64,
        data: serde_json::Value,
        jsep: Option<Jsep>,
    ) -> Result<Option<String>, ParticipantError> {
        let event = api::room_event(&data);
        if Some(sender) == self.sub_handle {
            match (event, jsep) {
                (RoomEvent::Streams(tracks), Some(Jsep::Offer(offer))) => {
                    let answer = self.sub.session.accept_offer(Instant::now(), &offer, &tracks)?;
                    let (session, handle) = (self.session_id, sender);
                    let start = api::message(session, handle, "", api::start(), Some(&Jsep::Answer(answer)));
                    let t = self.conn.transaction();
                    self.conn.send(with_transaction(start, &t)).await?;
                    let t = self.conn.transaction();
                    self.conn.send(api::trickle_completed(session, handle, &t)).await?;
                    self.in_flight = false;
                    self.sub_joined = true;
                    self.subscribe_wanted().await?;
                }
                (RoomEvent::Error { code, message }, _) => {
                    // Typically a feed that left before our request reached it: ask again for
                    // the ones still there.
                    tracing::debug!(code, "Janus refused a subscription: {message}");
                    self.in_flight = false;
                    if self.retries < MAX_RETRIES {
                        self.retries += 1;
                        let again = self.requested.iter().filter(|f| self.present.contains(f));
                        self.wanted.extend(again);
                    }
                    self.subscribe_wanted().await?;
                }
                _ => {}
            }
            return Ok(None);
        }
        match event {
            RoomEvent::Publishers(feeds) => {
                self.want(&feeds);
                self.subscribe_wanted().await?;
            }
            RoomEvent::Gone(feed) => {
                self.wanted.remove(&feed);
                self.present.remove(&feed);
            }
            RoomEvent::Error { code, message } => tracing::warn!(code, "Janus videoroom error: {message}"),
            _ => {}
        }
        Ok(None)
    }

    fn want(&mut self, feeds: &[Feed]) {
        let others: Vec<u64> = feeds.iter().map(|f| f.id).filter(|&id| id != self.own_feed).collect();
        self.present.extend(&others);
        self.wanted.extend(others);
    }

    /// Ask for the wanted feeds, unless a request is already out: the subscriber handle
    /// first, then `join` (first time) or `subscribe`.
    async fn subscribe_wanted(&mut self) -> Result<(), ParticipantError> {
        if self.wanted.is_empty() || self.in_flight || self.attaching.is_some() {
            return Ok(());
        }
        let Some(handle) = self.sub_handle else {
            let t = self.conn.transaction();
            self.conn.send(api::attach(self.session_id, &t)).await?;
            self.attaching = Some(t);
            return Ok(());
        };
        let feeds: Vec<u64> = std::mem::take(&mut self.wanted).into_iter().collect();
        self.requested.clone_from(&feeds);
        let body = match self.sub_joined {
            false => api::join_subscriber(self.room, self.private_id, &feeds),
            true => api::subscribe(&feeds),
        };
        let t = self.conn.transaction();
        self.conn.send(api::message(self.session_id, handle, &t, body, None)).await?;
        self.in_flight = true;
        Ok(())
    }

    fn publish(&self) {
        let snapshot = self.sub.session.snapshot();
        let sub = self.sub.session.stats();
        let stats = match &self.publisher {
            Some(p) => {
                let mut s = p.session.stats();
                s.rtp_packets_received += sub.rtp_packets_received;
                s.write_errors += sub.write_errors;
                s.dropped_datagrams += sub.dropped_datagrams;
                s
            }
            None => sub,
        };
        let mut shared = lock(&self.shared);
        shared.snapshot = snapshot;
        shared.stats = stats;
    }
}

/// Receive on the publisher leg, if there is one (else never).
async fn recv(leg: &mut Option<Leg>) {
    match leg {
        Some(leg) => leg.recv().await,
        None => std::future::pending().await,
    }
}
