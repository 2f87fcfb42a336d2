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

use crate::ingest::config::validate_room_key;
use crate::ingest::keys::{KeyRing, RoomKey};
use crate::ingest::IngestInfo;

/// What the HTTP handlers read; the engine loop writes it.
#[derive(Clone)]
pub struct HttpState {
    pub registry: Registry,
    /// True once the media socket is bound and the focus link is up.
    pub ready: Arc<AtomicBool>,
    /// Draining: `/ready` answers 503 so that load balancers send nobody new.
    pub draining: Arc<AtomicBool>,
    pub stats: Arc<Mutex<BridgeStats>>,
    /// Live ingest streams, as their sessions last reported them.
    pub ingests: Arc<Mutex<Vec<IngestInfo>>>,
    /// Stream keys, for the operator API; None when the ingest listeners are closed.
    pub ingest_keys: Option<KeyRing>,
    /// The bridge's shared secret: the key API needs it as a bearer token.
    pub secret: Option<String>,
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/v1/stats", get(stats))
        .route("/v1/ingests", get(ingests))
        .route("/v1/ingest/keys", get(list_keys))
        .route("/v1/ingest/keys/{room}", axum::routing::put(put_key).delete(delete_key))
        .with_state(state)
}

async fn ready(State(s): State<HttpState>) -> impl IntoResponse {
    if s.draining.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: draining")
    } else if s.ready.load(Ordering::Relaxed) {
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

/// The key API's gate: the bridge's secret as a bearer token, and open listeners.
fn key_api(s: &HttpState, headers: &axum::http::HeaderMap) -> Result<KeyRing, (StatusCode, String)> {
    use subtle::ConstantTimeEq;
    let Some(secret) = &s.secret else {
        return Err((StatusCode::FORBIDDEN, "the key API needs the bridge's shared secret to be set".into()));
    };
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if !given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(secret.as_bytes()))) {
        return Err((StatusCode::UNAUTHORIZED, "Authorization: Bearer <secret> required".into()));
    }
    s.ingest_keys.clone().ok_or((StatusCode::NOT_FOUND, "ingest is off on this bridge (no room has a key in its config)".into()))
}

async fn list_keys(State(s): State<HttpState>, headers: axum::http::HeaderMap) -> axum::response::Response {
    match key_api(&s, &headers) {
        Ok(keys) => {
            let rooms: Vec<_> = keys
                .rooms()
                .into_iter()
                .map(|(room, enabled, live)| serde_json::json!({ "room": room, "enabled": enabled, "live": live }))
                .collect();
            Json(rooms).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn put_key(
    State(s): State<HttpState>,
    axum::extract::Path(room): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let keys = match key_api(&s, &headers) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let key: RoomKey = match serde_json::from_slice(&body) {
        Ok(k) => k,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("body: {e}")).into_response(),
    };
    if let Err((field, reason)) = validate_room_key(&room, &key) {
        return (StatusCode::BAD_REQUEST, format!("{field}: {reason}")).into_response();
    }
    keys.set(&room, key);
    tracing::info!(room, "ingest key set through the API");
    StatusCode::NO_CONTENT.into_response()
}

async fn delete_key(
    State(s): State<HttpState>,
    axum::extract::Path(room): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    match key_api(&s, &headers) {
        Ok(keys) if keys.remove(&room) => StatusCode::NO_CONTENT.into_response(),
        Ok(_) => (StatusCode::NOT_FOUND, format!("room {room} has no key")).into_response(),
        Err(e) => e.into_response(),
    }
}
