//! The web app, embedded at build time from `web/` (see `build.rs`): every file at its path,
//! `/` and `/ROOM` serve `index.html` (the page reads the room from the URL), `/admin` serves
//! `admin.html` (so no room can be called `admin`); the old `/dashboard.html` redirects there.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::extract::RawQuery;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{extract::Path, Router};

use ponte_proto::RoomName;

mod assets {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

/// Routes for every embedded file, `/` and `/{room}`. Files whose path is in `reserved`
/// (the service's own routes) are left out.
pub fn routes<S: Clone + Send + Sync + 'static>(reserved: &[&str]) -> Router<S> {
    let mut router = Router::new()
        .route("/", get(|headers: HeaderMap| async move { index(&headers) }))
        .route("/{room}", get(room_page))
        .route(ADMIN, get(|headers: HeaderMap| async move { page("admin.html", &headers) }))
        .route("/dashboard.html", get(|RawQuery(query): RawQuery| async move { to_admin(query) }));
    for &(path, body, etag) in assets::FILES {
        if reserved.iter().any(|r| r.trim_start_matches('/') == path) {
            tracing::warn!("web/{path} is hidden by a service route of the same name");
            continue;
        }
        router = router.route(&format!("/{path}"), get(move |headers: HeaderMap| async move { serve(path, body, etag, &headers) }));
    }
    router
}

fn find(path: &str) -> Option<(&'static str, &'static [u8], &'static str)> {
    assets::FILES.iter().copied().find(|(p, _, _)| *p == path)
}

/// The operator page.
pub const ADMIN: &str = "/admin";

fn index(headers: &HeaderMap) -> Response {
    page("index.html", headers)
}

fn page(name: &str, headers: &HeaderMap) -> Response {
    match find(name) {
        Some((path, body, etag)) => serve(path, body, etag, headers),
        None => (StatusCode::NOT_FOUND, format!("this build has no web/{name}")).into_response(),
    }
}

/// The page was `dashboard.html` before it became `/admin`; bookmarks keep their `?api=`.
fn to_admin(query: Option<String>) -> Redirect {
    match query {
        Some(q) if !q.is_empty() => Redirect::permanent(&format!("{ADMIN}?{q}")),
        _ => Redirect::permanent(ADMIN),
    }
}

async fn room_page(Path(room): Path<String>, headers: HeaderMap) -> Response {
    if room.starts_with('.') || RoomName::parse(&room).is_err() {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    index(&headers)
}

fn serve(path: &str, body: &'static [u8], etag: &'static str, headers: &HeaderMap) -> Response {
    let cache = [
        (header::ETAG, HeaderValue::from_static(etag)),
        // Revalidate every time: file names carry no hash, and the ETag makes it cheap.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    let fresh = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if fresh {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (cache, [(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)))], body).into_response()
}

/// The media type for a file name's extension.
pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" | "md" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "wasm" => "application/wasm",
        "mp3" => "audio/mpeg",
        "ogg" | "opus" => "audio/ogg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("js/app.JS"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("icon.svg"), "image/svg+xml");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }

    #[test]
    fn index_is_embedded() {
        assert!(find("index.html").is_some(), "web/index.html must be embedded");
        assert!(find("admin.html").is_some(), "web/admin.html must be embedded");
    }

    #[test]
    fn the_old_dashboard_redirects_to_admin() {
        let r = to_admin(Some("api=http://f:8888".into())).into_response();
        assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(r.headers()[header::LOCATION], "/admin?api=http://f:8888");
        assert_eq!(to_admin(None).into_response().headers()[header::LOCATION], ADMIN);
        assert_eq!(page("admin.html", &HeaderMap::new()).status(), StatusCode::OK);
    }
}
