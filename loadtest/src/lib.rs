//! Simulated Ponte participants: the reusable test client of the cross-service tests, and
//! the engine of the `loadtest` binary.
//!
//! A participant joins a room over the signaling WebSocket, opens a WebRTC session (str0m,
//! a full ICE agent) on its own UDP socket, sends synthetic but well-formed VP8 and Opus,
//! and records every frame it receives after proving it byte for byte.
//!
//! - [`media`]: frame generation ([`media::vp8`], [`media::opus`]), pacing
//!   ([`media::source`]) and verification ([`media::check`]). Pure functions.
//! - [`recorder`]: what was received, per publisher and kind.
//! - [`session`]: the sans-IO core around one `Rtc`: SDP, pacing, events → recorder.
//! - [`participant`]: the I/O edge: WebSocket, UDP socket, one tokio task, a handle.
//! - [`target`]: what a load runs against ([`target::Sfu`]: Ponte, or a peer SFU) and the
//!   participants it gives back ([`target::SimParticipant`]).
//! - [`histogram`]: latency histograms; [`probe`]: a server's CPU and memory.
//! - [`local`]: a `ponte` started beside the load (bench, CI smoke run).

pub mod error;
pub mod histogram;
pub mod load;
pub mod local;
pub mod janus;
pub mod media;
pub mod participant;
pub mod plot;
pub mod probe;
pub mod raw_relay;
pub mod recorder;
pub mod session;
pub mod target;

pub use error::ParticipantError;
pub use participant::{Participant, ParticipantOptions, RosterEvent};
pub use recorder::{KeptFrame, Recorder, Snapshot, TrackSnapshot, TrackStats};
pub use session::{SentStats, Session, SessionConfig, SessionError, Stats};
pub use target::{JoinSpec, MediaSpec, PonteTarget, Role, ServerSample, Sfu, SimParticipant};

/// Install str0m's crypto provider once per process; every `Session` calls this.
pub fn init_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| str0m::crypto::from_feature_flags().install_process_default());
}
