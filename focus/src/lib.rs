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
//!    first ([`placement::pick`], a pure function: least stress corrected for joins since
//!    the bridge's last report, then fewest conferences, then id; healthy, non-draining and
//!    under the participant limit only; under the stress ceiling first, region-preferring).
//! 4. A link that closes, or a bridge silent for `heartbeat_timeout`, removes the bridge;
//!    each of its conferences is placed on another bridge at once and announced on
//!    [`Focus::subscribe_moves`] ([`ConferenceMoved`]) so that signaling tells every
//!    participant to renegotiate there. A bridge that comes back still running a moved
//!    conference is told to expire it.
//! 5. Drain: an operator (`POST /v1/bridges/{id}/drain`) or the bridge itself (SIGTERM,
//!    `Draining`) takes a bridge out of placement; its conferences go on. At its drain
//!    deadline the bridge sends `Evacuate` with what is left, and the focus takes those
//!    conferences off it. The last participant out of a conference ends its placement.
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
pub mod participants;
pub mod placement;
pub mod registry;
mod service;

pub use config::{ConfigError, FocusArgs, FocusConfig};
pub use error::FocusError;
pub use focus::{BridgeInfo, ConferenceInfo, ConferenceMoved, Focus, EVENT_QUEUE};
pub use link::ws::PING_INTERVAL;
pub use service::FocusService;
