//! The events pump: routes what bridges say about endpoints (answers, renegotiation offers,
//! failures) to the participant whose endpoint it is. The room is the conference and the
//! participant id is the endpoint id, so no lookup table is needed.

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc};

use ponte_focus::ConferenceMoved;

use ponte_proto::link::EndpointEvent;
use ponte_proto::signal::{ErrorCode, Participant, ServerMessage};

use crate::room::Delivery;
use crate::service::Shared;

/// Run until the focus closes the event stream.
pub async fn pump(mut events: mpsc::Receiver<EndpointEvent>, shared: Arc<Shared>) {
    while let Some(event) = events.recv().await {
        route(&shared, event);
    }
    tracing::debug!("the focus closed its endpoint event stream");
}

/// Tell every participant of a conference whose bridge died to renegotiate with its new
/// bridge. Runs until the focus is gone.
pub async fn moves(mut moves: broadcast::Receiver<ConferenceMoved>, shared: Arc<Shared>) {
    loop {
        let moved = match moves.recv().await {
            Ok(moved) => moved,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::error!(missed = n, "missed conference moves; those participants must reconnect by themselves");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let reason = match &moved.to {
            Some(_) => format!("the media bridge {} failed; the room moved to another bridge", moved.from),
            None => format!("the media bridge {} failed; no other bridge is free yet", moved.from),
        };
        tracing::info!(room = %moved.conference, from = %moved.from, to = ?moved.to, "telling the room to renegotiate");
        shared.metrics.renegotiations.inc();
        shared.rooms.broadcast(&moved.conference, ServerMessage::Renegotiate { reason }, None);
    }
}

fn route(shared: &Shared, event: EndpointEvent) {
    let target = event.target().clone();
    let msg = match event {
        // A live stream is not a client: it goes into the room's roster, for everyone.
        EndpointEvent::IngestStarted { display_name, .. } => {
            let participant = Participant { id: target.endpoint, display_name, audio_muted: false, video_muted: false };
            return shared.rooms.live_started(&target.conference, participant);
        }
        EndpointEvent::IngestStopped { .. } => return shared.rooms.live_stopped(&target.conference, &target.endpoint),
        // The focus keeps these (failover timing); nothing for the client.
        EndpointEvent::Connected { .. } => return,
        EndpointEvent::Answer { sdp, .. } => ServerMessage::Answer { sdp },
        EndpointEvent::Offer { sdp, tracks, .. } => ServerMessage::Offer { sdp, tracks },
        EndpointEvent::Failed { reason, .. } => {
            negotiation_failed(shared, format!("the media bridge refused the request: {reason}"))
        }
        EndpointEvent::Expired { reason, .. } => {
            tracing::info!(room = %target.conference, participant = %target.endpoint, "bridge expired the endpoint: {reason}");
            negotiation_failed(shared, format!("the media session ended ({reason}); send a new offer to reconnect"))
        }
    };
    if shared.rooms.send_to(&target.conference, &target.endpoint, msg) == Delivery::Unknown {
        shared.metrics.events_dropped.inc();
        tracing::debug!(room = %target.conference, participant = %target.endpoint, "bridge event for a participant that is gone; dropped");
    }
}

fn negotiation_failed(shared: &Shared, message: String) -> ServerMessage {
    shared.metrics.errors.with_label_values(&[ErrorCode::NegotiationFailed.as_str()]).inc();
    ServerMessage::Error { code: ErrorCode::NegotiationFailed, message, field: None }
}
