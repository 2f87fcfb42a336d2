//! One bridge's link session, whatever carries it: the first message must be `Register`,
//! then stats and endpoint events until the link closes, the bridge falls silent for the
//! heartbeat timeout, or the focus shuts down.
//!
//! Messages to the bridge go into an `mpsc::Sender<FocusToBridge>` (the registry keeps it);
//! messages from the bridge come from a [`LinkSource`]. [`local`] is the in-process pair of
//! channels, [`ws`] the WebSocket edge.

pub(crate) mod local;
pub(crate) mod ws;

use std::future::Future;

use ponte_proto::link::{BridgeToFocus, Registration};
use tokio::time::{sleep_until, timeout, Instant};

use crate::focus::{Focus, LinkTx, Session};

/// Messages the focus queues for one bridge before `Focus::send` waits.
pub(crate) const LINK_QUEUE: usize = 256;

/// Why a message from a bridge could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LinkError {
    /// Not a link message; dropped (or, before registration, the link is refused).
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The transport broke; the link is over.
    #[error("transport: {0}")]
    Transport(String),
}

/// Where a bridge's messages come from.
pub(crate) trait LinkSource: Send {
    /// The next message, or `None` once the bridge closed the link.
    fn recv(&mut self) -> impl Future<Output = Option<Result<BridgeToFocus, LinkError>>> + Send;
}

/// Serve one link until it ends. `peer` names the other side in logs.
pub(crate) async fn run<S: LinkSource>(focus: Focus, mut source: S, to_bridge: LinkTx, peer: &str) {
    let mut stop = focus.stop_signal();
    let registration = tokio::select! {
        r = expect_register(&focus, &mut source, peer) => r,
        _ = stop.wait_for(|s| *s) => None,
    };
    let Some(registration) = registration else { return };
    let Some(session) = focus.register(registration, to_bridge, peer) else { return };
    let reason = tokio::select! {
        reason = serve(&focus, &mut source, &session) => reason,
        _ = stop.wait_for(|s| *s) => "focus shutting down",
    };
    focus.unregister(&session, reason);
}

/// The first message, which must be a registration within the heartbeat timeout.
async fn expect_register<S: LinkSource>(focus: &Focus, source: &mut S, peer: &str) -> Option<Registration> {
    let refuse = |reason: &str, detail: String| {
        tracing::warn!(peer, reason, detail, "bridge link refused");
        focus.metrics().link_failure(reason);
        None
    };
    match timeout(focus.config().heartbeat_timeout, source.recv()).await {
        Ok(Some(Ok(BridgeToFocus::Register(r)))) => Some(r),
        Ok(Some(Ok(other))) => refuse("no_register", format!("first message was {}", kind(&other))),
        Ok(Some(Err(e))) => refuse("no_register", e.to_string()),
        Ok(None) => refuse("no_register", "closed before registering".into()),
        Err(_) => refuse("register_timeout", "no register within the heartbeat timeout".into()),
    }
}

/// Registered: take stats and events until the link ends; returns why it ended.
async fn serve<S: LinkSource>(focus: &Focus, source: &mut S, session: &Session) -> &'static str {
    let heartbeat = focus.config().heartbeat_timeout;
    let mut deadline = Instant::now() + heartbeat;
    loop {
        let msg = tokio::select! {
            msg = source.recv() => msg,
            _ = sleep_until(deadline) => {
                focus.metrics().link_failure("heartbeat");
                return "heartbeat timeout";
            }
        };
        let current = match msg {
            None => return "link closed",
            Some(Err(LinkError::Transport(e))) => {
                tracing::debug!(bridge = %session.bridge_id, error = %e, "bridge link broke");
                focus.metrics().link_failure("transport");
                return "link broke";
            }
            Some(Err(e @ LinkError::Malformed(_))) => {
                tracing::warn!(bridge = %session.bridge_id, error = %e, "dropped a bridge message");
                focus.metrics().dropped("malformed");
                continue;
            }
            Some(Ok(msg)) => handle(focus, session, msg).await,
        };
        if !current {
            return "superseded by a newer link";
        }
        // After handling: a slow event consumer must not make a live bridge look dead.
        deadline = Instant::now() + heartbeat;
    }
}

/// Act on one message; false when this link has been superseded.
async fn handle(focus: &Focus, session: &Session, msg: BridgeToFocus) -> bool {
    match msg {
        BridgeToFocus::Stats(stats) => focus.record_stats(session, stats),
        BridgeToFocus::Endpoint(event) => {
            if !focus.touch(session) {
                return false;
            }
            // A bridge that hung and woke up reports its old rooms' endpoints expiring; a room
            // that moved elsewhere meanwhile must not lose its placement or roster to that.
            let conference = &event.target().conference;
            match focus.bridge_of(conference) {
                Some(host) if host != session.bridge_id => {
                    tracing::debug!(bridge = %session.bridge_id, %conference, %host, "event from a bridge the room has left; dropped");
                    focus.metrics().dropped("room_moved");
                }
                _ => focus.forward_event(event).await,
            }
            true
        }
        BridgeToFocus::Claim { conference } => focus.claim(session, conference).await,
        BridgeToFocus::Draining { draining } => focus.bridge_draining(session, draining),
        BridgeToFocus::Evacuate { conferences } => focus.evacuate(session, conferences),
        BridgeToFocus::Register(r) if r.bridge_id == session.bridge_id => focus.reregister(session, r),
        BridgeToFocus::Register(r) => {
            tracing::warn!(bridge = %session.bridge_id, other = %r.bridge_id, "ignored a register for another bridge id");
            focus.metrics().dropped("foreign_register");
            focus.touch(session)
        }
    }
}

fn kind(msg: &BridgeToFocus) -> &'static str {
    match msg {
        BridgeToFocus::Register(_) => "register",
        BridgeToFocus::Stats(_) => "stats",
        BridgeToFocus::Endpoint(_) => "endpoint",
        BridgeToFocus::Claim { .. } => "claim",
        BridgeToFocus::Draining { .. } => "draining",
        BridgeToFocus::Evacuate { .. } => "evacuate",
    }
}
