//! The events pump: routes what bridges say about endpoints (answers, renegotiation offers,
//! failures) to the participant whose endpoint it is. The room is the conference and the
//! participant id is the endpoint id, so no lookup table is needed.

use std::sync::Arc;

use tokio::sync::mpsc;

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

fn route(shared: &Shared, event: EndpointEvent) {
    let target = event.target().clone();
    let msg = match event {
        // A live stream is not a client: it goes into the room's roster, for everyone.
        EndpointEvent::IngestStarted { display_name, .. } => {
            let participant = Participant { id: target.endpoint, display_name, audio_muted: false, video_muted: false };
            return shared.rooms.live_started(&target.conference, participant);
        }
        EndpointEvent::IngestStopped { .. } => return shared.rooms.live_stopped(&target.conference, &target.endpoint),
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
