//! `ponte-signaling`: the service browsers talk to. It speaks the client protocol of
//! [`ponte_proto::signal`] (JSON over a WebSocket at `/ws`, documented in
//! `docs/protocol.md`), keeps rooms and their rosters, checks join tokens, relays SDP between
//! clients and the focus, and serves the embedded web app.
//!
//! # How a message travels
//! 1. Each WebSocket connection is one `session` task. It parses and validates each text
//!    frame; a bad one is answered with an `error` (code, message, field) and the connection
//!    stays up.
//! 2. `join` puts the participant in a `room`; the participant id doubles as its endpoint id
//!    on the bridge, and the room name as the conference id.
//! 3. `offer`/`answer` go to the [`ponte_focus::Focus`], which places the room on a bridge and
//!    forwards them.
//! 4. What bridges say about endpoints comes back as one ordered stream of
//!    [`ponte_proto::link::EndpointEvent`]s; the `events` pump routes each to its
//!    participant's queue.
//! 5. Roster changes, mute state and chat fan out to the room's queues; each session drains
//!    its queue onto its socket. A client that stops reading is dropped, never waited for.
//!
//! # Composition
//! [`Signaling::bind`] binds (port 0 works), [`Signaling::addr`] tells where, and
//! [`Signaling::run`] serves until a shutdown future resolves. The `signaling` binary runs it
//! with an embedded focus in the same process: the focus's router (`/v1/bridge-link` for
//! bridges, its `/v1/...` operator API) answers every request that matches no signaling
//! route, on the same listener, so bridges dial `ws://HOST:8080/v1/bridge-link`.

mod auth;
pub mod config;
pub mod error;
mod events;
mod http;
mod metrics;
mod rate_limit;
mod room;
mod service;
mod session;
mod tls;
mod web;

pub use auth::{mint_token, Claims, ANY_ROOM};
pub use config::{SignalingArgs, SignalingConfig};
pub use error::SignalingError;
pub use service::Signaling;
