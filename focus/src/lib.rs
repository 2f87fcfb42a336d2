//! The Ponte focus: it knows every bridge, places each conference on one, and routes
//! signaling's requests to that bridge and the bridges' endpoint events back.
//!
//! How it runs:
//! 1. [`Focus::new`] makes the shared handle and the receiver of every [`EndpointEvent`]
//!    (signaling consumes it).
//! 2. Bridges connect: over the WebSocket at `/v1/bridge-link` ([`Focus::router`], served by
//!    [`FocusService`]), or in-process with [`Focus::connect_local`]. Each link is one task
//!    (`link`): the first message must be `Register`; then the bridge reports stats and endpoint
//!    events. Events are queued for signaling in per-bridge order, never dropped. A later
//!    `Register` on the same link updates the registration; conferences a (re-)registering
//!    bridge lists as hosted are placed on it again if they have no bridge.
//! 3. [`Focus::send`] routes a request: an `Offer` for a conference with no bridge places it
//!    first ([`placement::pick`], a pure function: least stress, then fewest conferences,
//!    then id; healthy and non-draining only; region-preferring).
//! 4. A link that closes, or a bridge silent for `heartbeat_timeout`, removes the bridge and
//!    forgets its placements (re-placing them is future work; they are logged and counted).
//!
//! Ownership: the registry ([`registry::Registry`], sans-IO, time passed in) sits behind one
//! mutex in [`Focus`] that is never held across an `.await`. The HTTP edge lives in `http`
//! with one `AppError`; metrics go to the `prometheus::Registry` the owner hands in.
//!
//! [`EndpointEvent`]: ponte_proto::link::EndpointEvent

pub mod config;
mod error;
mod focus;
mod http;
mod link;
mod metrics;
pub mod placement;
pub mod registry;
mod service;

pub use config::{ConfigError, FocusArgs, FocusConfig};
pub use error::FocusError;
pub use focus::{BridgeInfo, Focus, EVENT_QUEUE};
pub use link::ws::PING_INTERVAL;
pub use service::FocusService;
