//! The one error type of the HTTP edge. Clients get a status and a short JSON reason;
//! internals are logged, not shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::error::FocusError;

#[derive(Debug)]
pub(crate) enum AppError {
    Unauthorized,
    Focus(FocusError),
}

impl From<FocusError> for AppError {
    fn from(e: FocusError) -> Self {
        Self::Focus(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "missing or wrong bearer secret".to_string()),
            Self::Focus(e @ FocusError::UnknownBridge(_)) => (StatusCode::NOT_FOUND, e.to_string()),
            Self::Focus(e @ FocusError::LinkClosed(_)) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            Self::Focus(e) => {
                tracing::error!(error = %e, "operator API request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error".to_string())
            }
        };
        let body = Json(serde_json::json!({ "error": message }));
        let mut response = (status, body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, "Bearer".parse().expect("static header"));
        }
        response
    }
}
