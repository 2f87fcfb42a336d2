//! The WebSocket edge of the link: bridges dial `/v1/bridge-link` and speak JSON text
//! frames. A writer half drains the session's queue into the socket and pings every
//! [`PING_INTERVAL`] so that a bridge can tell a dead focus from a quiet one.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use ponte_proto::link::{BridgeToFocus, FocusToBridge};
use tokio::sync::mpsc;

use super::{LinkError, LinkSource, LINK_QUEUE};
use crate::focus::Focus;

/// How often the focus pings a bridge; bridges treat a long silence as a dead link.
pub const PING_INTERVAL: Duration = Duration::from_secs(5);

/// Largest link message accepted; an SDP with many tracks stays well below.
pub(crate) const MAX_MESSAGE: usize = 1 << 20;

struct WsSource(SplitStream<WebSocket>);

impl LinkSource for WsSource {
    async fn recv(&mut self) -> Option<Result<BridgeToFocus, LinkError>> {
        loop {
            let frame = match self.0.next().await? {
                Ok(frame) => frame,
                Err(e) => return Some(Err(LinkError::Transport(e.to_string()))),
            };
            return Some(match frame {
                Message::Text(text) => {
                    serde_json::from_str(text.as_str()).map_err(|e| LinkError::Malformed(e.to_string()))
                }
                Message::Binary(_) => Err(LinkError::Malformed("binary frame".into())),
                Message::Close(_) => return None,
                // Pongs answer our pings: the socket lives, which says nothing of the bridge.
                Message::Ping(_) | Message::Pong(_) => continue,
            });
        }
    }
}

/// Serve one upgraded bridge connection until the session ends.
pub(crate) async fn serve(focus: Focus, socket: WebSocket, peer: String) {
    let (sink, stream) = socket.split();
    let (to_bridge, from_focus) = mpsc::channel(LINK_QUEUE);
    // The writer ends when the session drops every sender (it then closes the socket).
    tokio::join!(
        super::run(focus, WsSource(stream), to_bridge, &peer),
        write(sink, from_focus),
    );
}

async fn write(mut sink: SplitSink<WebSocket, Message>, mut from_focus: mpsc::Receiver<FocusToBridge>) {
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_INTERVAL, PING_INTERVAL);
    loop {
        let frame = tokio::select! {
            msg = from_focus.recv() => match msg {
                Some(msg) => match serde_json::to_string(&msg) {
                    Ok(text) => Message::Text(text.into()),
                    Err(e) => {
                        tracing::error!(error = %e, "link message not serializable");
                        continue;
                    }
                },
                None => break,
            },
            _ = ping.tick() => Message::Ping(Default::default()),
        };
        if sink.send(frame).await.is_err() {
            // The reader sees the same broken socket and ends the session.
            return;
        }
    }
    let _ = sink.send(Message::Close(None)).await;
}
