//! One WebSocket to Janus: numbered transactions, replies matched to requests, and whatever
//! arrives while a request waits kept for later in arrival order.

use std::collections::VecDeque;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::api::{self, Incoming};
use crate::error::ParticipantError;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Connection {
    ws: Ws,
    next_transaction: u64,
    backlog: VecDeque<Incoming>,
}

impl Connection {
    /// Open `ws://host:8188` with Janus's subprotocol.
    pub async fn connect(url: &str) -> Result<Self, ParticipantError> {
        let mut request = url.into_client_request()?;
        request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(api::SUBPROTOCOL));
        let (ws, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Self { ws, next_transaction: 0, backlog: VecDeque::new() })
    }

    /// A fresh transaction id.
    pub fn transaction(&mut self) -> String {
        self.next_transaction += 1;
        format!("t{}", self.next_transaction)
    }

    pub async fn send(&mut self, msg: Value) -> Result<(), ParticipantError> {
        self.ws.send(Message::text(msg.to_string())).await?;
        Ok(())
    }

    /// Send the request `make(transaction)` and wait for its reply: `success`, `error`, or
    /// for asynchronous plugin requests the `event` after the `ack`. A Janus `error` comes
    /// back as [`ParticipantError::JanusRefused`].
    pub async fn request(&mut self, make: impl FnOnce(&str) -> Value) -> Result<Incoming, ParticipantError> {
        let transaction = self.transaction();
        self.send(make(&transaction)).await?;
        loop {
            let msg = self.read().await?;
            if msg.transaction() != Some(transaction.as_str()) {
                self.backlog.push_back(msg);
                continue;
            }
            match msg {
                Incoming::Ack { .. } => continue,
                Incoming::Error { code, reason, .. } => return Err(ParticipantError::JanusRefused { code, reason }),
                reply => return Ok(reply),
            }
        }
    }

    /// The next message: kept ones first, then from the socket. Cancel-safe.
    pub async fn next(&mut self) -> Result<Incoming, ParticipantError> {
        match self.backlog.pop_front() {
            Some(msg) => Ok(msg),
            None => self.read().await,
        }
    }

    pub async fn close(&mut self) {
        let _ = self.ws.close(None).await;
    }

    async fn read(&mut self) -> Result<Incoming, ParticipantError> {
        loop {
            let Some(frame) = self.ws.next().await else { return Err(ParticipantError::Closed("Janus closed the WebSocket".into())) };
            match frame? {
                Message::Text(text) => match api::parse(&text) {
                    Some(msg) => return Ok(msg),
                    None => tracing::warn!("Janus sent something that is not JSON"),
                },
                Message::Close(frame) => {
                    return Err(ParticipantError::Closed(frame.map_or_else(|| "close".into(), |f| f.reason.to_string())))
                }
                _ => {}
            }
        }
    }
}
