//! Errors of the participant's I/O edge.

use ponte_proto::signal::ErrorCode;

use crate::session::SessionError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParticipantError {
    #[error("WebSocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("UDP socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server refused: {code:?}: {message}")]
    Refused { code: ErrorCode, message: String },
    #[error("the server closed the connection ({0})")]
    Closed(String),
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    #[error("unexpected message from the server: {0}")]
    Protocol(String),
    #[error("session: {0}")]
    Session(#[from] SessionError),
    #[error("the participant's task has ended")]
    Gone,
    /// A Janus API or videoroom error (`loadtest` against Janus, see [`crate::janus`]).
    #[error("Janus refused: {code}: {reason}")]
    JanusRefused { code: i64, reason: String },
}
