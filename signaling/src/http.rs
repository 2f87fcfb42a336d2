//! The HTTP edge: `/ws` (client WebSocket), `/health`, `/ready`, `/metrics`, and the web app.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{State, WebSocketUpgrade};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::StreamExt;
use prometheus::{Encoder, TextEncoder};

use crate::service::Shared;
use crate::{session, web};

/// Frames up to this many times the message limit are read and answered with `too_large`;
/// larger ones close the connection (WebSocket close code 1009) before they are buffered.
const HARD_LIMIT_FACTOR: usize = 4;

const ROUTES: &[&str] = &["/ws", "/health", "/ready", "/metrics"];

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(ROUTES[0], get(ws))
        .route(ROUTES[1], get(|| async { "ok" }))
        .route(ROUTES[2], get(ready))
        .route(ROUTES[3], get(metrics))
        .merge(web::routes(ROUTES))
        .with_state(shared)
}

async fn ws(State(shared): State<Arc<Shared>>, upgrade: WebSocketUpgrade) -> Response {
    let hard_limit = shared.config.max_message_bytes.saturating_mul(HARD_LIMIT_FACTOR);
    upgrade
        .max_message_size(hard_limit)
        .max_frame_size(hard_limit)
        .on_upgrade(move |socket| {
            let (write, read) = socket.split();
            session::run(write, read, shared)
        })
}

async fn ready(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    if shared.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: starting or shutting down")
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let mut buf = Vec::new();
    let encoder = TextEncoder::new();
    match encoder.encode(&shared.registry.gather(), &mut buf) {
        Ok(()) => ([(header::CONTENT_TYPE, encoder.format_type().to_owned())], buf).into_response(),
        Err(e) => {
            tracing::warn!("metrics encoding failed: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "metrics unavailable").into_response()
        }
    }
}
