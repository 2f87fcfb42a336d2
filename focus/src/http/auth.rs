//! The shared secret: `Authorization: Bearer <secret>` on the bridge link and the operator
//! API, when a secret is configured.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;

use super::error::AppError;
use crate::focus::Focus;

/// Middleware: refuse requests without the configured secret.
pub(crate) async fn require_secret(State(focus): State<Focus>, request: Request, next: Next) -> Result<Response, AppError> {
    if authorized(request.headers(), focus.config().secret.as_deref()) {
        Ok(next.run(request).await)
    } else {
        tracing::warn!(path = %request.uri().path(), "request refused: bad or missing secret");
        if request.uri().path() == super::BRIDGE_LINK_PATH {
            focus.metrics().link_failure("unauthorized");
        }
        Err(AppError::Unauthorized)
    }
}

fn authorized(headers: &HeaderMap, secret: Option<&str>) -> bool {
    let Some(secret) = secret else { return true };
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    value
        .strip_prefix("Bearer ")
        .is_some_and(|given| constant_time_eq(given.trim().as_bytes(), secret.as_bytes()))
}

/// Compare in time that depends only on the lengths, so response timing does not reveal how
/// much of a guess matched (`subtle` keeps the optimiser from adding an early exit).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn secret_checks() {
        assert!(authorized(&HeaderMap::new(), None));
        assert!(!authorized(&HeaderMap::new(), Some("s3")));
        assert!(authorized(&headers("Bearer s3"), Some("s3")));
        assert!(!authorized(&headers("Bearer s4"), Some("s3")));
        assert!(!authorized(&headers("Bearer s3x"), Some("s3")));
        assert!(!authorized(&headers("Basic s3"), Some("s3")));
    }
}
