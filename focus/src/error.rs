//! The focus crate's error, rolled up from its parts.

use std::net::SocketAddr;

use crate::config::ConfigError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FocusError {
    /// No healthy, non-draining bridge can take a new conference.
    #[error("no healthy, non-draining bridge can take the conference")]
    NoBridge,
    /// A request about a conference that is on no bridge (never offered, ended, or its
    /// bridge died).
    #[error("conference {0:?} is not placed on any bridge")]
    UnknownConference(String),
    /// The named bridge is not registered.
    #[error("bridge {0:?} is not registered")]
    UnknownBridge(String),
    /// The bridge's link closed while a message was on its way.
    #[error("the link to bridge {0:?} is closed")]
    LinkClosed(String),
    /// `Registered` and `Drain` are link messages the focus sends itself, not requests.
    #[error("{0} is not a conference request")]
    NotARequest(&'static str),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
}
