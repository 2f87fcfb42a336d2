//! Janus (1.1, its videoroom plugin) as a second [`Sfu`] for `loadtest`, so that one run
//! measures Ponte and Janus with the same publishers, subscribers, bitrates and recorder.
//!
//! - [`api`]: the WebSocket API's JSON, in and out, no I/O.
//! - [`ws`]: one WebSocket with transactions.
//! - [`participant`]: a participant in a videoroom (publisher and subscriber
//!   PeerConnections, each a [`crate::Session`]) behind a handle.
//! - [`server`]: a local Janus started and stopped through `loadtest/janus/start.sh`.
//!
//! Janus exports no packet counters, so [`JanusTarget::sample`] reads only CPU and memory
//! from `/proc/PID` and the bench counts forwarded packets as the RTP packets its subscribers
//! received. `loadtest/janus/start.sh` starts a Janus this module can talk to.

pub mod api;
pub mod participant;
pub mod server;
pub mod ws;

pub use participant::{JanusParticipant, MediaPath};
pub use server::JanusServer;

use crate::error::ParticipantError;
use crate::probe::{self, ProbeError};
use crate::target::{BoxFuture, JoinSpec, ServerSample, Sfu, SimParticipant};

/// A running Janus: its WebSocket API and, for CPU and memory, its process id.
#[derive(Debug, Clone)]
pub struct JanusTarget {
    /// `ws://127.0.0.1:8188`
    pub ws_url: String,
    pub pid: Option<u32>,
    /// Where participants' media sockets live (not [`JoinSpec::bind`]; see [`MediaPath`]).
    pub media: MediaPath,
    /// Publishers a room is created for (Janus's default is 3).
    pub room_publishers: u32,
}

impl Sfu for JanusTarget {
    fn name(&self) -> &str {
        "janus"
    }

    fn join(&self, spec: JoinSpec) -> BoxFuture<'_, Result<Box<dyn SimParticipant>, ParticipantError>> {
        Box::pin(async move {
            let p = JanusParticipant::join(&self.ws_url, &spec, &self.media, self.room_publishers).await?;
            Ok(Box::new(p) as Box<dyn SimParticipant>)
        })
    }

    fn sample(&self) -> BoxFuture<'_, Option<Result<ServerSample, ProbeError>>> {
        Box::pin(async move { self.pid.map(probe::proc_sample) })
    }
}
