//! What a load runs against: an SFU that simulated participants join, and the server process
//! whose CPU and memory the figures are divided by.
//!
//! `loadtest run` and `loadtest bench` only speak to [`Sfu`] and [`SimParticipant`], so one
//! run can drive Ponte ([`PonteTarget`], through its signaling) or another SFU (Janus's
//! videoroom) with the same publishers, subscribers and bitrates, and measure both with the
//! same recorder: every participant, whatever it joined, sends the marked media of
//! [`crate::media`] through a [`crate::Session`] and reports a [`Snapshot`] and [`Stats`].

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use serde::Serialize;

use crate::error::ParticipantError;
use crate::participant::{Participant, ParticipantOptions};
use crate::probe::{self, ProbeError};
use crate::recorder::Snapshot;
use crate::session::Stats;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a simulated participant does in its room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sends audio and/or video (and receives everyone else's).
    Publisher,
    /// Sends nothing, receives every publisher.
    Subscriber,
}

/// The media a publisher sends; the same for every target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaSpec {
    pub audio: bool,
    pub video: bool,
    pub video_fps: u32,
    /// What one publisher's video sends in total, all simulcast layers together (kbit/s).
    pub video_kbps: u32,
    /// Three simulcast layers (rids q/h/f, bodies 1×/3×/8×) instead of one stream.
    pub simulcast: bool,
}

impl Default for MediaSpec {
    fn default() -> Self {
        Self { audio: true, video: true, video_fps: 15, video_kbps: 300, simulcast: false }
    }
}

/// One participant to join.
#[derive(Debug, Clone)]
pub struct JoinSpec {
    pub room: String,
    pub display_name: String,
    pub role: Role,
    pub media: MediaSpec,
    /// Local IP (port 0) for the participant's UDP socket: its ICE host candidate.
    pub bind: SocketAddr,
    /// Limit for the signaling handshake.
    pub join_timeout: Duration,
}

/// A joined participant of any target.
pub trait SimParticipant: Send + Sync {
    /// The id the server gave it (or its display name when the server gives none).
    fn id(&self) -> &str;
    /// Received media, per publisher and kind (at most ~100 ms old).
    fn snapshot(&self) -> Snapshot;
    /// Sent media and connection state, with the time ICE + DTLS came up.
    fn stats(&self) -> Stats;
    /// Why its task ended, if it has.
    fn ended(&self) -> Option<String>;
    /// Leave politely (bounded in time).
    fn leave(self: Box<Self>) -> BoxFuture<'static, Result<(), ParticipantError>>;
}

/// The server process, read once: CPU time, resident memory, packets it sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ServerSample {
    /// User + system CPU time of the whole process since it started.
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    /// Datagrams the SFU sent, when it counts them (Ponte: `bridge_packets_sent_total`).
    /// Without it, the bench divides by the RTP packets its subscribers received.
    pub packets_sent: Option<u64>,
    /// Endpoints the SFU holds, when it says.
    pub endpoints: Option<u64>,
}

/// An SFU to load.
pub trait Sfu: Send + Sync {
    /// Short name for tables and JSON: `ponte`, `janus`.
    fn name(&self) -> &str;
    /// Join one participant; returns once it is admitted (media may still be connecting).
    fn join(&self, spec: JoinSpec) -> BoxFuture<'_, Result<Box<dyn SimParticipant>, ParticipantError>>;
    /// Read the server process; `None` when this target has no way to (no metrics address).
    fn sample(&self) -> BoxFuture<'_, Option<Result<ServerSample, ProbeError>>>;
}

/// Ponte through its signaling WebSocket; CPU and memory from the bridge's `/metrics`.
#[derive(Debug, Clone)]
pub struct PonteTarget {
    /// `ws://host:8080/ws`
    pub signaling: String,
    /// The bridge's HTTP address (`/metrics`), e.g. 127.0.0.1:8081.
    pub metrics: Option<SocketAddr>,
    /// Sent with every join when signaling wants a JWT.
    pub token: Option<String>,
    /// The PID of the process running the bridge, when it is on this machine: CPU time and
    /// memory are then read from `/proc` (10 ms ticks) instead of `/metrics`, whose
    /// `process_cpu_seconds_total` counts whole seconds only.
    pub pid: Option<u32>,
}

impl Sfu for PonteTarget {
    fn name(&self) -> &str {
        "ponte"
    }

    fn join(&self, spec: JoinSpec) -> BoxFuture<'_, Result<Box<dyn SimParticipant>, ParticipantError>> {
        Box::pin(async move {
            let opts = participant_options(&spec, self.token.clone());
            let p = Participant::join(&self.signaling, &spec.room, &spec.display_name, opts).await?;
            Ok(Box::new(p) as Box<dyn SimParticipant>)
        })
    }

    fn sample(&self) -> BoxFuture<'_, Option<Result<ServerSample, ProbeError>>> {
        Box::pin(async move {
            let addr = self.metrics?;
            let from_metrics = probe::bridge_metrics(addr).await;
            let Some(pid) = self.pid else { return Some(from_metrics) };
            Some(from_metrics.and_then(|m| {
                let p = probe::proc_sample(pid)?;
                Ok(ServerSample { cpu_seconds: p.cpu_seconds, rss_bytes: p.rss_bytes, ..m })
            }))
        })
    }
}

/// The participant options a [`JoinSpec`] means (any target built on [`Participant`]'s session).
pub fn participant_options(spec: &JoinSpec, token: Option<String>) -> ParticipantOptions {
    let publishing = spec.role == Role::Publisher;
    ParticipantOptions {
        send_audio: publishing && spec.media.audio,
        send_video: publishing && spec.media.video,
        video_fps: spec.media.video_fps,
        video_kbps: Some(spec.media.video_kbps),
        simulcast: spec.media.simulcast,
        bind: spec.bind,
        join_timeout: spec.join_timeout,
        token,
        ..ParticipantOptions::default()
    }
}

impl SimParticipant for Participant {
    fn id(&self) -> &str {
        Participant::id(self)
    }

    fn snapshot(&self) -> Snapshot {
        Participant::snapshot(self)
    }

    fn stats(&self) -> Stats {
        Participant::stats(self)
    }

    fn ended(&self) -> Option<String> {
        Participant::ended(self)
    }

    fn leave(self: Box<Self>) -> BoxFuture<'static, Result<(), ParticipantError>> {
        Box::pin(Participant::leave(*self))
    }
}
