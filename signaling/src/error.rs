//! The signaling crate's error type. Client mistakes are not errors of the service: they
//! become `error` messages on the client's connection (see [`ponte_proto::signal::SignalError`]).

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignalingError {
    #[error("cannot bind the signaling listener on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("configuration: `{key}` {reason}")]
    Config { key: String, reason: String },
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("serving HTTP: {0}")]
    Io(#[from] std::io::Error),
}
