//! Firefox ESR over WebDriver BiDi, which Firefox serves itself on `--remote-debugging-port`
//! (no geckodriver): `session.new`, one browsing context per page, `script.evaluate`,
//! `browsingContext.captureScreenshot`.

use serde_json::{json, Value};

use super::profile::Profile;
use super::rpc::Rpc;
use super::{BrowserError, BrowserOptions};

/// Preferences for a meeting test: fake devices without a prompt, loopback ICE with plain
/// addresses, autoplay, and no traffic of Firefox's own to the internet.
const PREFS: &[(&str, &str)] = &[
    ("media.navigator.streams.fake", "true"),
    ("media.navigator.permission.disabled", "true"),
    ("media.peerconnection.ice.loopback", "true"),
    ("media.peerconnection.ice.obfuscate_host_addresses", "false"),
    ("permissions.default.camera", "1"),
    ("permissions.default.microphone", "1"),
    ("media.autoplay.default", "0"),
    ("media.autoplay.blocking_policy", "0"),
    ("browser.shell.checkDefaultBrowser", "false"),
    ("browser.startup.homepage_override.mstone", "\"ignore\""),
    ("browser.aboutwelcome.enabled", "false"),
    ("datareporting.policy.dataSubmissionEnabled", "false"),
    ("datareporting.healthreport.uploadEnabled", "false"),
    ("toolkit.telemetry.enabled", "false"),
    ("app.update.disabledForTesting", "true"),
    ("app.normandy.enabled", "false"),
    ("extensions.update.enabled", "false"),
    ("browser.safebrowsing.malware.enabled", "false"),
    ("browser.safebrowsing.phishing.enabled", "false"),
    ("browser.safebrowsing.downloads.enabled", "false"),
    ("network.captive-portal-service.enabled", "false"),
    ("network.connectivity-service.enabled", "false"),
    ("services.settings.server", "\"http://127.0.0.1:9/\""),
    ("browser.newtabpage.enabled", "false"),
    ("dom.min_background_timeout_value", "4"),
];

/// Write `user.js` into the profile; returns the command line.
pub fn prepare(profile: &Profile, options: &BrowserOptions) -> Result<Vec<String>, BrowserError> {
    let prefs = PREFS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain(options.extra_prefs.iter().cloned())
        .map(|(k, v)| format!("user_pref(\"{k}\", {v});\n"))
        .collect::<String>();
    std::fs::write(profile.file("user.js"), prefs)?;
    let (w, h) = options.window;
    let mut args: Vec<String> = ["--headless", "--no-remote", "--remote-debugging-port=0"].map(String::from).to_vec();
    args.push(format!("--window-size={w},{h}"));
    args.push("--profile".into());
    args.push(profile.path().display().to_string());
    args.extend(options.extra_args.iter().cloned());
    Ok(args)
}

/// `WebDriverBiDiServer.json` names the port once Firefox listens.
pub fn endpoint(profile: &Profile) -> Option<String> {
    let text = std::fs::read_to_string(profile.file("WebDriverBiDiServer.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let port = v.get("ws_port")?.as_u64()?;
    Some(format!("ws://127.0.0.1:{port}/session"))
}

/// A BiDi session, subscribed to console output.
pub async fn start_session(rpc: &Rpc) -> Result<(), BrowserError> {
    rpc.call("session.new", json!({ "capabilities": {} }), None).await?;
    rpc.call("session.subscribe", json!({ "events": ["log.entryAdded"] }), None).await?;
    Ok(())
}

/// A new window; returns its browsing context id.
pub async fn open(rpc: &Rpc, (width, height): (u32, u32)) -> Result<String, BrowserError> {
    let created = rpc.call("browsingContext.create", json!({ "type": "window" }), None).await?;
    let context = created
        .get("context")
        .and_then(Value::as_str)
        .ok_or_else(|| BrowserError::Protocol(format!("no context in {created}")))?
        .to_owned();
    resize(rpc, &context, (width, height)).await?;
    Ok(context)
}

pub async fn resize(rpc: &Rpc, context: &str, (width, height): (u32, u32)) -> Result<(), BrowserError> {
    let viewport = json!({ "context": context, "viewport": { "width": width, "height": height } });
    rpc.call("browsingContext.setViewport", viewport, None).await.map(drop)
}

pub async fn navigate(rpc: &Rpc, context: &str, url: &str) -> Result<(), BrowserError> {
    rpc.call("browsingContext.navigate", json!({ "context": context, "url": url, "wait": "complete" }), None)
        .await
        .map(drop)
}

/// Evaluate an expression that yields a string (the JSON of the caller's value).
pub async fn evaluate(rpc: &Rpc, context: &str, expression: &str) -> Result<String, BrowserError> {
    let params = json!({
        "expression": expression,
        "target": { "context": context },
        "awaitPromise": true,
        "resultOwnership": "none",
    });
    let r = rpc.call("script.evaluate", params, None).await?;
    if r["type"] == "exception" {
        let d = &r["exceptionDetails"];
        let what = d["text"].as_str().unwrap_or("an exception");
        return Err(BrowserError::Script(what.to_owned()));
    }
    r["result"]["value"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| BrowserError::Protocol(format!("script.evaluate returned no string: {r}")))
}

pub async fn screenshot(rpc: &Rpc, context: &str) -> Result<String, BrowserError> {
    let r = rpc.call("browsingContext.captureScreenshot", json!({ "context": context }), None).await?;
    r.get("data")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| BrowserError::Protocol(format!("no data in {r}")))
}

pub async fn close(rpc: &Rpc, context: &str) -> Result<(), BrowserError> {
    rpc.call("browsingContext.close", json!({ "context": context }), None).await.map(drop)
}
