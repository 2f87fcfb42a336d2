//! The HTTP edge: probes, metrics, the embedded web app, and shutdown.

mod common;

use common::{http_get, Stack};
use serde_json::json;

use ponte_signaling::SignalingConfig;

#[tokio::test]
async fn probes_and_metrics() {
    let stack = Stack::start(SignalingConfig::default()).await;
    let (status, _, body) = stack.get("/health").await;
    assert_eq!((status, body.as_slice()), (200, &b"ok"[..]));
    assert_eq!(stack.get("/ready").await.0, 200);

    let (mut c, _, _) = stack.join("r", "Ann").await;
    c.send(json!({"type": "chat", "text": "hi"})).await;
    c.recv().await;
    c.send_text("{oops").await;
    c.recv().await;
    let (status, head, body) = stack.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/plain"), "{head}");
    let text = String::from_utf8(body).unwrap();
    for line in [
        "signaling_connections 1",
        "signaling_rooms 1",
        "signaling_participants 1",
        "signaling_messages_total{type=\"chat\"} 1",
        "signaling_messages_total{type=\"join\"} 1",
        "signaling_errors_total{code=\"bad_message\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    stack.stop().await;
}

#[tokio::test]
async fn serves_the_embedded_web_app() {
    let stack = Stack::start(SignalingConfig::default()).await;
    let index = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../web/index.html")).unwrap();
    for path in ["/", "/team-sync_2.0", "/index.html"] {
        let (status, head, body) = stack.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(head.contains("content-type: text/html; charset=utf-8"), "{path}: {head}");
        assert_eq!(body, index, "{path}");
    }
    for path in ["/.env", "/a%20b", "/nope/x.js", "/ws/x"] {
        assert_eq!(stack.get(path).await.0, 404, "{path}");
    }
    // Every file under web/ is served at its path with its type, and revalidates by ETag.
    let js = walk(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../web")))
        .into_iter()
        .find(|p| p.ends_with(".js"));
    if let Some(rel) = js {
        let (status, head, _) = stack.get(&format!("/{rel}")).await;
        assert_eq!(status, 200, "{rel}");
        assert!(head.contains("content-type: text/javascript"), "{head}");
        let etag = head.lines().find_map(|l| l.strip_prefix("etag: ")).unwrap().trim().to_string();
        let (status, _, body) = http_get(stack.addr, &format!("/{rel}"), &format!("If-None-Match: {etag}\r\n")).await;
        assert_eq!((status, body.len()), (304, 0));
    }
    stack.stop().await;
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            let name = e.file_name().to_string_lossy().into_owned();
            out.extend(walk(&p).into_iter().map(|r| format!("{name}/{r}")));
        } else {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out
}

/// A restart must not end meetings: no `bye` (clients reconnect and resume), just a close.
#[tokio::test]
async fn shutdown_closes_without_bye_so_clients_resume() {
    let stack = Stack::start(SignalingConfig::default()).await;
    let (mut c, _, _) = stack.join("r", "Ann").await;
    let stopping = tokio::spawn(stack.stop());
    assert_eq!(c.try_recv(common::WAIT).await, None, "a close, not a bye");
    stopping.await.unwrap();
}
