//! Chromium over the Chrome DevTools protocol: flat sessions (one `sessionId` per page),
//! `Runtime.evaluate`, `Page.captureScreenshot`.

use serde_json::{json, Value};

use super::profile::Profile;
use super::rpc::Rpc;
use super::{BrowserError, BrowserOptions};

pub fn args(profile: &Profile, options: &BrowserOptions) -> Vec<String> {
    let (w, h) = options.window;
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--no-first-run",
        "--no-default-browser-check",
        "--mute-audio",
        // Pages in windows that are not in front must keep their timers and media running.
        "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        // Without it Chromium gathers no 127.0.0.1 candidate and cannot reach a loopback bridge.
        "--allow-loopback-in-peer-connection",
        "--autoplay-policy=no-user-gesture-required",
        "--remote-debugging-port=0",
        "--remote-allow-origins=*",
    ]
    .map(String::from)
    .to_vec();
    args.push(format!("--window-size={w},{h}"));
    args.push(format!("--user-data-dir={}", profile.path().display()));
    args.extend(options.extra_args.iter().cloned());
    args.push("about:blank".into());
    args
}

/// `DevToolsActivePort` holds the port and the browser's WebSocket path, once listening.
pub fn endpoint(profile: &Profile) -> Option<String> {
    let text = std::fs::read_to_string(profile.file("DevToolsActivePort")).ok()?;
    let mut lines = text.lines();
    let (port, path) = (lines.next()?.trim(), lines.next()?.trim());
    (!port.is_empty() && path.starts_with('/')).then(|| format!("ws://127.0.0.1:{port}{path}"))
}

/// A new window, attached; returns its session id.
pub async fn open(rpc: &Rpc, (width, height): (u32, u32)) -> Result<String, BrowserError> {
    let target = rpc
        .call("Target.createTarget", json!({ "url": "about:blank", "newWindow": true, "width": width, "height": height }), None)
        .await?;
    let target_id = str_field(&target, "targetId")?;
    let attached = rpc.call("Target.attachToTarget", json!({ "targetId": target_id, "flatten": true }), None).await?;
    let session = str_field(&attached, "sessionId")?;
    for method in ["Runtime.enable", "Page.enable"] {
        rpc.call(method, json!({}), Some(&session)).await?;
    }
    resize(rpc, &session, (width, height)).await?;
    Ok(session)
}

/// Set the page's viewport (CSS pixels, device scale 1).
pub async fn resize(rpc: &Rpc, session: &str, (width, height): (u32, u32)) -> Result<(), BrowserError> {
    let metrics = json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false });
    rpc.call("Emulation.setDeviceMetricsOverride", metrics, Some(session)).await.map(drop)
}

pub async fn navigate(rpc: &Rpc, session: &str, url: &str) -> Result<(), BrowserError> {
    let nav = rpc.call("Page.navigate", json!({ "url": url }), Some(session)).await?;
    match nav.get("errorText").and_then(Value::as_str) {
        Some(e) if !e.is_empty() => Err(BrowserError::Command { method: format!("Page.navigate {url}"), error: e.into() }),
        _ => Ok(()),
    }
}

/// Evaluate an expression that yields a string (the JSON of the caller's value).
pub async fn evaluate(rpc: &Rpc, session: &str, expression: &str) -> Result<String, BrowserError> {
    // As if the user had just clicked: APIs such as getDisplayMedia need that.
    let params = json!({ "expression": expression, "awaitPromise": true, "returnByValue": true, "userGesture": true });
    let r = rpc.call("Runtime.evaluate", params, Some(session)).await?;
    if let Some(ex) = r.get("exceptionDetails") {
        let what = ex["exception"]["description"].as_str().or(ex["text"].as_str()).unwrap_or("an exception");
        return Err(BrowserError::Script(what.to_owned()));
    }
    r["result"]["value"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| BrowserError::Protocol(format!("Runtime.evaluate returned no string: {r}")))
}

pub async fn screenshot(rpc: &Rpc, session: &str) -> Result<String, BrowserError> {
    let r = rpc.call("Page.captureScreenshot", json!({ "format": "png" }), Some(session)).await?;
    str_field(&r, "data")
}

pub async fn close(rpc: &Rpc, session: &str) -> Result<(), BrowserError> {
    rpc.call("Page.close", json!({}), Some(session)).await.map(drop)
}

fn str_field(v: &Value, key: &str) -> Result<String, BrowserError> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| BrowserError::Protocol(format!("no {key} in {v}")))
}
