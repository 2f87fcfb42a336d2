//! The focus's HTTP edge: the bridge link upgrade, the operator API and the probes.
//! `router(focus)` is all of it, so tests call it without a server.

mod auth;
mod error;

use std::net::SocketAddr;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use prometheus::Encoder;

use crate::focus::Focus;
use crate::link;
use error::AppError;

pub(crate) const BRIDGE_LINK_PATH: &str = "/v1/bridge-link";

pub(crate) fn router(focus: Focus) -> Router {
    let guarded = Router::new()
        .route(BRIDGE_LINK_PATH, get(bridge_link))
        .route("/v1/bridges", get(list_bridges))
        .route("/v1/bridges/{id}/drain", post(drain).delete(undrain))
        .route("/v1/bridges/{id}/undrain", post(undrain))
        .route("/v1/conferences", get(list_conferences))
        .route_layer(middleware::from_fn_with_state(focus.clone(), auth::require_secret));
    Router::new()
        .merge(guarded)
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(focus)
}

async fn bridge_link(State(focus): State<Focus>, extensions: Extensions, upgrade: WebSocketUpgrade) -> Response {
    // Peer addresses exist only when served with connect info; logs say "unknown" otherwise.
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |ConnectInfo(addr)| addr.to_string());
    upgrade
        .max_message_size(link::ws::MAX_MESSAGE)
        .max_frame_size(link::ws::MAX_MESSAGE)
        .on_upgrade(move |socket| link::ws::serve(focus, socket, peer))
}

async fn list_bridges(State(focus): State<Focus>) -> impl IntoResponse {
    Json(focus.bridges())
}

async fn list_conferences(State(focus): State<Focus>) -> impl IntoResponse {
    Json(focus.conference_list())
}

async fn drain(State(focus): State<Focus>, Path(id): Path<String>) -> Result<impl IntoResponse, AppError> {
    Ok(Json(focus.drain(&id, true).await?))
}

async fn undrain(State(focus): State<Focus>, Path(id): Path<String>) -> Result<impl IntoResponse, AppError> {
    Ok(Json(focus.drain(&id, false).await?))
}

async fn ready(State(focus): State<Focus>) -> impl IntoResponse {
    if focus.is_ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

async fn metrics(State(focus): State<Focus>) -> Response {
    focus.update_state_gauges();
    let encoder = prometheus::TextEncoder::new();
    let mut body = Vec::new();
    if let Err(e) = encoder.encode(&focus.prometheus().gather(), &mut body) {
        tracing::error!(error = %e, "metrics encoding failed");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    ([(header::CONTENT_TYPE, encoder.format_type().to_string())], body).into_response()
}
