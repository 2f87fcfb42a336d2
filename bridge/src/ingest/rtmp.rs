//! The RTMP listener (TCP): handshake, connect, publish (rml_rtmp's sans-IO server session),
//! then FLV audio and video tags into a live session.
//!
//! `rtmp://HOST/live/ROOM?key=KEY`, or server `rtmp://HOST/live` with stream key `ROOM/KEY`
//! (OBS). A refused publish gets an error status naming the reason, then the connection closes.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::keys::{parse_rtmp, Refusal};
use crate::endpoint::{contain, Panicked};
use super::{refused, IngestConfig, IngestContext, Session};

/// Handshake and connect must finish within this, so idle sockets do not pile up.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// A publisher silent for this long is gone.
const IDLE_TIMEOUT: Duration = Duration::from_secs(15);

pub struct RtmpIngest {
    listener: TcpListener,
}

impl RtmpIngest {
    pub async fn bind(config: &IngestConfig) -> io::Result<Self> {
        Ok(Self { listener: TcpListener::bind(config.rtmp_listen).await? })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub async fn run(self, ctx: IngestContext) {
        loop {
            match self.listener.accept().await {
                Ok((stream, remote)) => {
                    let ctx = ctx.clone();
                    tokio::spawn(async move {
                        if let Err(e) = connection(ctx, stream, remote).await {
                            tracing::debug!(%remote, "RTMP connection ended: {e}");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!("RTMP accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

fn other(e: impl std::fmt::Debug) -> io::Error {
    io::Error::other(format!("{e:?}"))
}

async fn connection(ctx: IngestContext, mut stream: TcpStream, remote: SocketAddr) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let leftover = tokio::time::timeout(SETUP_TIMEOUT, handshake(&mut stream))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "RTMP handshake timed out"))??;
    let (rtmp, results) = ServerSession::new(ServerSessionConfig::new()).map_err(other)?;
    let mut conn = Conn { stream, rtmp, session: None, ctx, remote };
    conn.apply(results).await?;
    let results = conn.rtmp_input(&leftover)?;
    conn.apply(results).await?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            n = tokio::time::timeout(IDLE_TIMEOUT, conn.stream.read(&mut buf)) => {
                let n = n.map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "publisher idle"))??;
                if n == 0 {
                    return Ok(());
                }
                if let Some(s) = conn.session.as_mut() {
                    s.publisher.bytes_in(n);
                }
                let results = conn.rtmp_input(&buf[..n])?;
                if !conn.apply(results).await? {
                    return Ok(());
                }
            }
            _ = tick.tick() => if let Some(s) = conn.session.as_mut() { s.tick(None) },
        }
    }
}

async fn handshake(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut hs = Handshake::new(PeerType::Server);
    let mut buf = vec![0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let step = contain(|| hs.process_bytes(&buf[..n])).map_err(|Panicked(msg)| io::Error::new(io::ErrorKind::InvalidData, msg))?;
        match step.map_err(other)? {
            HandshakeProcessResult::InProgress { response_bytes } => stream.write_all(&response_bytes).await?,
            HandshakeProcessResult::Completed { response_bytes, remaining_bytes } => {
                stream.write_all(&response_bytes).await?;
                return Ok(remaining_bytes);
            }
        }
    }
}

struct Conn {
    stream: TcpStream,
    rtmp: ServerSession,
    session: Option<Session>,
    ctx: IngestContext,
    remote: SocketAddr,
}

impl Conn {
    fn rtmp_input(&mut self, bytes: &[u8]) -> io::Result<Vec<ServerSessionResult>> {
        if bytes.is_empty() {
            return Ok(Vec::new());
        }
        // rml_rtmp 0.8 panics on some malformed messages (an AMF0 command of fewer than three
        // values: `fuzz/corpus/rtmp/regress-*`); that ends this connection with an error.
        match contain(|| self.rtmp.handle_input(bytes)) {
            Ok(results) => results.map_err(other),
            Err(Panicked(msg)) => Err(io::Error::new(io::ErrorKind::InvalidData, format!("malformed RTMP input (rml_rtmp panicked: {msg})"))),
        }
    }

    /// Act on the session's results; false when the connection should close.
    async fn apply(&mut self, results: Vec<ServerSessionResult>) -> io::Result<bool> {
        let mut queue = std::collections::VecDeque::from(results);
        while let Some(r) = queue.pop_front() {
            match r {
                ServerSessionResult::OutboundResponse(p) => self.stream.write_all(&p.bytes).await?,
                ServerSessionResult::RaisedEvent(e) => match self.event(e).await? {
                    Some(more) => queue.extend(more),
                    None => return Ok(false),
                },
                ServerSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
        Ok(true)
    }

    /// Returns further results to apply, or None to close.
    async fn event(&mut self, e: ServerSessionEvent) -> io::Result<Option<Vec<ServerSessionResult>>> {
        let now = Instant::now();
        Ok(Some(match e {
            ServerSessionEvent::ConnectionRequested { request_id, .. } => self.rtmp.accept_request(request_id).map_err(other)?,
            ServerSessionEvent::PublishStreamRequested { request_id, app_name, stream_key, .. } => {
                if self.session.is_some() {
                    return Ok(None);
                }
                match self.publish(&app_name, &stream_key).await {
                    Ok(session) => {
                        self.session = Some(session);
                        self.rtmp.accept_request(request_id).map_err(other)?
                    }
                    Err(why) => {
                        refused(&self.ctx, "rtmp", self.remote, &why);
                        let code = match why {
                            Refusal::InUse(_) => "NetStream.Publish.BadName",
                            _ => "NetStream.Publish.Denied",
                        };
                        let packets = self.rtmp.reject_request(request_id, code, &why.to_string()).map_err(other)?;
                        for r in packets {
                            if let ServerSessionResult::OutboundResponse(p) = r {
                                self.stream.write_all(&p.bytes).await?;
                            }
                        }
                        self.stream.flush().await?;
                        return Ok(None);
                    }
                }
            }
            ServerSessionEvent::VideoDataReceived { data, timestamp, .. } => {
                if let Some(s) = self.session.as_mut() {
                    if !s.feed(|p, out, notes| p.flv_video(&data, timestamp.value, now, out, notes)).await {
                        return Ok(None);
                    }
                }
                Vec::new()
            }
            ServerSessionEvent::AudioDataReceived { data, timestamp, .. } => {
                if let Some(s) = self.session.as_mut() {
                    if !s.feed(|p, out, notes| p.flv_audio(&data, timestamp.value, out, notes)).await {
                        return Ok(None);
                    }
                }
                Vec::new()
            }
            ServerSessionEvent::PublishStreamFinished { .. } => return Ok(None),
            _ => Vec::new(),
        }))
    }

    async fn publish(&mut self, app: &str, stream_key: &str) -> Result<Session, Refusal> {
        let target = parse_rtmp(app, stream_key).ok_or(Refusal::BadStreamId)?;
        self.ctx.keys.check(&target)?;
        let guard = self.ctx.keys.claim(&target.room)?;
        Session::start(&self.ctx, guard, "rtmp", self.remote).await
    }
}
