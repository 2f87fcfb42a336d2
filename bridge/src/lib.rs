//! `ponte-bridge`: the Selective Forwarding Unit. It forwards WebRTC media between the
//! endpoints of each conference over ONE UDP port, without decoding it.
//!
//! # The run loop
//! One task owns the media socket and the [`engine::Engine`]; nothing on the packet path
//! takes a lock.
//! 1. Wait for the first of: a datagram batch, a focus command, the engine's next timeout,
//!    the stats tick, shutdown.
//! 2. Datagrams (read with `recvmmsg`) go to [`engine::Engine::handle_datagram`]: classified
//!    by first byte ([`socket::demux`]), routed to an endpoint by ICE ufrag (STUN) or source
//!    address (DTLS, RTP, RTCP).
//! 3. The endpoint's str0m `Rtc` decrypts and depacketizes; each media frame fans out through
//!    the [`conference::Conference`] (producer → consumers) to the subscribers' tracks. Video
//!    passes each subscriber's forwarder on the way ([`forwarding`]: simulcast layer, last-N,
//!    bandwidth plan, RTP time rebased); audio levels feed the dominant-speaker detector.
//! 4. Focus commands (client offers/answers, expiry) go to
//!    [`engine::Engine::handle_command`]; the engine answers with endpoint events (SDP
//!    answers, renegotiation offers) that the loop forwards to the focus in order.
//! 5. Everything the endpoints want to send is flushed with GSO per receiver.
//! 6. While draining (SIGTERM, or an operator's drain through the focus) the loop asks
//!    [`drain::Drain`] what to do: exit once no conference is left, or at the drain deadline
//!    have the focus move what is left, then exit.
//!
//! # Who owns what
//! The engine owns endpoints and conferences. An endpoint ([`endpoint::Endpoint`]) owns its
//! `Rtc`, its SDP negotiation and its tracks. The conference only holds ids; children report
//! upward by returning values, never by calling their parents.

pub mod conference;
pub mod config;
pub mod drain;
pub mod endpoint;
pub mod engine;
pub mod error;
pub mod focus_link;
pub mod forwarding;
pub mod ingest;
pub mod http;
pub mod metrics;
pub mod rtcp;
pub mod service;
pub mod socket;

pub use config::{BridgeArgs, BridgeConfig};
pub use error::BridgeError;
pub use focus_link::LinkEnds;
pub use service::Bridge;

/// Install str0m's crypto provider once per process; every entry point calls this.
pub fn init_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| str0m::crypto::from_feature_flags().install_process_default());
}
