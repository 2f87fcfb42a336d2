//! The bridge's HTTP edge: `/health`, `/ready`, `/metrics`, `/v1/stats`, `/v1/ingests`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use prometheus::{Encoder, Registry, TextEncoder};

use ponte_proto::link::BridgeStats;

use crate::ingest::IngestInfo;

/// What the HTTP handlers read; the engine loop writes it.
#[derive(Clone)]
pub struct HttpState {
    pub registry: Registry,
    /// True once the media socket is bound and the focus link is up.
    pub ready: Arc<AtomicBool>,
    pub stats: Arc<Mutex<BridgeStats>>,
    /// Live ingest streams, as their sessions last reported them.
    pub ingests: Arc<Mutex<Vec<IngestInfo>>>,
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/v1/stats", get(stats))
        .route("/v1/ingests", get(ingests))
        .with_state(state)
}

async fn ready(State(s): State<HttpState>) -> impl IntoResponse {
    if s.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: focus link down")
    }
}

async fn metrics(State(s): State<HttpState>) -> impl IntoResponse {
    let mut buf = Vec::new();
    match TextEncoder::new().encode(&s.registry.gather(), &mut buf) {
        Ok(()) => ([(header::CONTENT_TYPE, TextEncoder::new().format_type().to_owned())], buf).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn stats(State(s): State<HttpState>) -> Json<BridgeStats> {
    Json(s.stats.lock().map(|g| g.clone()).unwrap_or_default())
}

async fn ingests(State(s): State<HttpState>) -> Json<Vec<IngestInfo>> {
    Json(s.ingests.lock().map(|g| g.clone()).unwrap_or_default())
}
