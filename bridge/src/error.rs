//! The bridge's error type: one enum for the crate, built from the failures of its parts.

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    #[error("cannot bind {what} on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
    #[error("configuration: `{key}` {reason}")]
    Config { key: String, reason: String },
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("the focus link closed")]
    LinkClosed,
}
