//! JSON commands over one WebSocket, matched to their replies by `id`: the shape shared by
//! the Chrome DevTools protocol and WebDriver BiDi. Events (messages without an `id`) go to
//! the console log when they are console output; everything else is ignored.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::BrowserError;

/// No command of ours takes longer than this; a browser that does not answer is stuck.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Console lines kept per browser; older ones drop off.
const MAX_CONSOLE: usize = 2000;

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

/// One console line: which page it came from (CDP session id or BiDi context id) and text.
#[derive(Debug, Clone)]
pub struct ConsoleLine {
    pub page: String,
    pub text: String,
}

#[derive(Clone)]
pub struct Rpc {
    sink: Arc<tokio::sync::Mutex<Sink>>,
    pending: Pending,
    next_id: Arc<AtomicU64>,
    console: Arc<Mutex<Vec<ConsoleLine>>>,
}

impl Rpc {
    pub async fn connect(url: &str) -> Result<Self, BrowserError> {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| BrowserError::Protocol(format!("connect {url}: {e}")))?;
        let (sink, mut stream) = ws.split();
        let rpc = Self {
            sink: Arc::new(tokio::sync::Mutex::new(sink)),
            pending: Pending::default(),
            next_id: Arc::new(AtomicU64::new(1)),
            console: Arc::default(),
        };
        let (pending, console) = (rpc.pending.clone(), rpc.console.clone());
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                if let Message::Text(text) = msg {
                    if let Ok(v) = serde_json::from_str::<Value>(&text) {
                        dispatch(&pending, &console, v);
                    }
                }
            }
            // The browser is gone: every waiting command fails now, not at its timeout.
            pending.lock().unwrap().clear();
        });
        Ok(rpc)
    }

    /// Send `method` with `params` (and the CDP `sessionId`, if any); wait for its result.
    pub async fn call(&self, method: &str, params: Value, session: Option<&str>) -> Result<Value, BrowserError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        let sent = self.sink.lock().await.send(Message::text(msg.to_string())).await;
        if let Err(e) = sent {
            self.pending.lock().unwrap().remove(&id);
            return Err(BrowserError::Protocol(format!("{method}: send: {e}")));
        }
        match tokio::time::timeout(COMMAND_TIMEOUT, rx).await {
            Ok(Ok(Ok(result))) => Ok(result),
            Ok(Ok(Err(error))) => Err(BrowserError::Command { method: method.into(), error }),
            Ok(Err(_)) => Err(BrowserError::Protocol(format!("{method}: the browser closed the connection"))),
            Err(_) => {
                self.pending.lock().unwrap().remove(&id);
                Err(BrowserError::Timeout(format!("{method} got no reply within {COMMAND_TIMEOUT:?}")))
            }
        }
    }

    /// Console lines logged by the page `page` so far.
    pub fn console(&self, page: &str) -> Vec<String> {
        self.console.lock().unwrap().iter().filter(|l| l.page == page).map(|l| l.text.clone()).collect()
    }
}

fn dispatch(pending: &Pending, console: &Mutex<Vec<ConsoleLine>>, v: Value) {
    if let Some(id) = v.get("id").and_then(Value::as_u64) {
        let Some(tx) = pending.lock().unwrap().remove(&id) else { return };
        // CDP: {id, result} | {id, error: {code, message}}; BiDi: {type: "success"|"error", id, result | error, message}.
        let reply = match v.get("error") {
            Some(e) => Err(match v.get("message") {
                Some(m) => format!("{e}: {m}"),
                None => e.to_string(),
            }),
            None => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
        };
        let _ = tx.send(reply);
        return;
    }
    if let Some(line) = console_line(&v) {
        let mut lines = console.lock().unwrap();
        if lines.len() >= MAX_CONSOLE {
            lines.remove(0);
        }
        lines.push(line);
    }
}

/// A console message or uncaught exception event, from either protocol.
fn console_line(v: &Value) -> Option<ConsoleLine> {
    let params = v.get("params")?;
    let str_of = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    match v.get("method")?.as_str()? {
        "Runtime.consoleAPICalled" => {
            let args = params["args"].as_array()?.iter().map(|a| match a.get("value") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => str_of(&a["description"]),
            });
            let text = format!("{}: {}", str_of(&params["type"]), args.collect::<Vec<_>>().join(" "));
            Some(ConsoleLine { page: str_of(&v["sessionId"]), text })
        }
        "Runtime.exceptionThrown" => {
            let d = &params["exceptionDetails"];
            let text = format!("uncaught: {} {}", str_of(&d["text"]), str_of(&d["exception"]["description"]));
            Some(ConsoleLine { page: str_of(&v["sessionId"]), text })
        }
        "log.entryAdded" => {
            let text = format!("{}: {}", str_of(&params["level"]), str_of(&params["text"]));
            Some(ConsoleLine { page: str_of(&params["source"]["context"]), text })
        }
        _ => None,
    }
}
