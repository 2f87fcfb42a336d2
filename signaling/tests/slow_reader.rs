//! A client that stops reading cannot make signaling buffer without bound: once its queue
//! (`client_queue` messages) is full behind a stuck socket, it is dropped from the room,
//! counted, and its connection closed — while the room goes on.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use common::Stack;
use ponte_proto::signal::ServerMessage;
use ponte_signaling::SignalingConfig;

/// Chat messages of almost the largest size, so kernel socket buffers fill quickly.
const TEXT_LEN: usize = 1900;
/// More than the loopback socket buffers plus the queue can hold; the drop must come first.
const MAX_MESSAGES: usize = 20_000;

fn metric(body: &[u8], name: &str) -> f64 {
    String::from_utf8_lossy(body)
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped_not_buffered_for() {
    let config = SignalingConfig {
        client_queue: 16,
        messages_per_second: 1_000_000,
        message_burst: 1_000_000,
        ..Default::default()
    };
    let stack = Stack::start(config).await;
    // Joins and then never reads again.
    let (_stalled, stalled_id, _) = stack.join("r", "Stalled").await;

    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", stack.addr)).await.unwrap();
    let (mut tx, mut rx) = ws.split();
    tx.send(Message::text(json!({"type": "join", "room": "r", "display_name": "Talker"}).to_string())).await.unwrap();
    // The talker reads everything (its own chat comes back) and watches for the drop.
    let echoes = Arc::new(AtomicUsize::new(0));
    let seen = echoes.clone();
    let watcher = tokio::spawn(async move {
        while let Some(Ok(frame)) = rx.next().await {
            let Message::Text(t) = frame else { continue };
            match serde_json::from_str(t.as_str()) {
                Ok(ServerMessage::ParticipantLeft { participant_id }) if participant_id == stalled_id => return true,
                Ok(ServerMessage::Chat { .. }) => _ = seen.fetch_add(1, Ordering::Relaxed),
                _ => {}
            }
        }
        false
    });
    let text = "x".repeat(TEXT_LEN);
    let mut sent = 0;
    while sent < MAX_MESSAGES && !watcher.is_finished() {
        tx.send(Message::text(json!({"type": "chat", "text": text}).to_string())).await.unwrap();
        sent += 1;
        // The talker itself keeps up with its echoes, so only the stalled client falls behind.
        while sent - echoes.load(Ordering::Relaxed) > 8 && !watcher.is_finished() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let dropped = tokio::time::timeout(Duration::from_secs(20), watcher).await;
    assert!(matches!(dropped, Ok(Ok(true))), "the stalled client leaves the room (after {sent} chat messages)");
    assert!(sent < MAX_MESSAGES, "dropped before {MAX_MESSAGES} messages queued up");

    let (_, _, body) = stack.get("/metrics").await;
    assert_eq!(metric(&body, "signaling_slow_clients_dropped_total"), 1.0);
    // Its session ends too (after at most the write timeout for the goodbye): nothing is
    // kept for it.
    let mut closed = false;
    for _ in 0..150 {
        let (_, _, body) = stack.get("/metrics").await;
        if metric(&body, "signaling_connections") <= 1.0 {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(closed, "the stalled client's connection is closed");
    stack.stop().await;
}
