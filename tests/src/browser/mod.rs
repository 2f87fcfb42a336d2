//! Real browsers for tests: Debian's Chromium over the DevTools protocol and Firefox ESR over
//! WebDriver BiDi, both spoken by one small JSON-over-WebSocket client ([`rpc`]), no driver
//! binary in between. Each [`Browser`] is a headless process with a fresh profile, fake camera
//! and microphone, loopback ICE allowed and autoplay on; it is killed (with its child
//! processes) when dropped, and its profile removed.
//!
//! ```no_run
//! # async fn f() -> Result<(), ponte_tests::browser::BrowserError> {
//! use ponte_tests::browser::{Browser, Engine};
//! let browser = Browser::launch(Engine::Chromium).await?;
//! let page = browser.open("http://127.0.0.1:8080/standup?name=Ada").await?;
//! page.wait_for("window.ponte.state().connected", std::time::Duration::from_secs(20)).await?;
//! page.screenshot("target/screenshots/standup.png").await?;
//! browser.close().await;
//! # Ok(()) }
//! ```
//!
//! Scripts passed to [`Page::eval`] are JavaScript *expressions*; a promise is awaited, and the
//! value comes back as JSON (through `JSON.stringify`, so it must be plain data).

mod chromium;
mod firefox;
mod profile;
mod rpc;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;
use tokio::process::{Child, Command};

use profile::Profile;
use rpc::Rpc;

/// How long a browser may take to open its remote-control port.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How often `wait_for` asks the page again.
const POLL_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("{0} is not installed; scripts/test.sh installs it from Debian")]
    Missing(String),
    #[error("{browser} did not start: {reason}\n--- its output ---\n{log}")]
    Start { browser: &'static str, reason: String, log: String },
    #[error("browser protocol: {0}")]
    Protocol(String),
    #[error("{method} failed: {error}")]
    Command { method: String, error: String },
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("the page's script threw: {0}")]
    Script(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Which browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Chromium,
    Firefox,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Chromium => "chromium",
            Engine::Firefox => "firefox-esr",
        }
    }

    /// The executable: `PONTE_CHROMIUM` / `PONTE_FIREFOX`, else Debian's.
    fn executable(self) -> PathBuf {
        let (var, default) = match self {
            Engine::Chromium => ("PONTE_CHROMIUM", "/usr/bin/chromium"),
            Engine::Firefox => ("PONTE_FIREFOX", "/usr/bin/firefox-esr"),
        };
        std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| default.into())
    }
}

/// Launch options beyond the defaults every test needs.
#[derive(Debug, Clone)]
pub struct BrowserOptions {
    /// Size of each new page's viewport, in CSS pixels.
    pub window: (u32, u32),
    /// More command-line flags (Chromium) or arguments (Firefox).
    pub extra_args: Vec<String>,
    /// More Firefox preferences, as `user.js` values (`"true"`, `"1"`, `"\"text\""`).
    pub extra_prefs: Vec<(String, String)>,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        Self { window: (1280, 720), extra_args: Vec::new(), extra_prefs: Vec::new() }
    }
}

/// A headless browser process under remote control.
pub struct Browser {
    engine: Engine,
    options: BrowserOptions,
    rpc: Rpc,
    child: Child,
    profile: Profile,
}

impl Browser {
    pub async fn launch(engine: Engine) -> Result<Self, BrowserError> {
        Self::launch_with(engine, BrowserOptions::default()).await
    }

    pub async fn launch_with(engine: Engine, options: BrowserOptions) -> Result<Self, BrowserError> {
        let exe = engine.executable();
        if !exe.exists() {
            return Err(BrowserError::Missing(exe.display().to_string()));
        }
        let profile = Profile::create(engine.name())?;
        let args = match engine {
            Engine::Chromium => chromium::args(&profile, &options),
            Engine::Firefox => firefox::prepare(&profile, &options)?,
        };
        let log = std::fs::File::create(profile.log_path())?;
        let mut child = Command::new(&exe)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Its own process group, so dropping it can kill the renderers and helpers too.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()?;
        let url = match wait_for_endpoint(engine, &profile, &mut child).await {
            Ok(url) => url,
            Err(reason) => {
                kill_group(&child);
                return Err(BrowserError::Start { browser: engine.name(), reason, log: profile.log_tail() });
            }
        };
        let rpc = Rpc::connect(&url).await?;
        let browser = Self { engine, options, rpc, child, profile };
        if engine == Engine::Firefox {
            firefox::start_session(&browser.rpc).await?;
        }
        Ok(browser)
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// A new page (its own window) showing `url`, once its document has loaded.
    pub async fn open(&self, url: &str) -> Result<Page, BrowserError> {
        let page = match self.engine {
            Engine::Chromium => chromium::open(&self.rpc, self.options.window).await?,
            Engine::Firefox => firefox::open(&self.rpc, self.options.window).await?,
        };
        let page = Page { engine: self.engine, rpc: self.rpc.clone(), id: page };
        page.goto(url).await?;
        Ok(page)
    }

    /// The browser's own output (stdout and stderr), last lines.
    pub fn log_tail(&self) -> String {
        self.profile.log_tail()
    }

    /// Ask the browser to quit; kill it if it does not within a few seconds.
    pub async fn close(mut self) {
        let method = match self.engine {
            Engine::Chromium => "Browser.close",
            Engine::Firefox => "browser.close",
        };
        let _ = tokio::time::timeout(Duration::from_secs(3), self.rpc.call(method, serde_json::json!({}), None)).await;
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await.is_err() {
            tracing::warn!("{} did not quit; killing it", self.engine.name());
        }
        kill_group(&self.child);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&self.child);
    }
}

/// SIGKILL to the browser's process group (a no-op once it has exited and been reaped).
fn kill_group(child: &Child) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
    }
}

/// Poll for the file in which the browser names its remote-control port.
async fn wait_for_endpoint(engine: Engine, profile: &Profile, child: &mut Child) -> Result<String, String> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let found = match engine {
            Engine::Chromium => chromium::endpoint(profile),
            Engine::Firefox => firefox::endpoint(profile),
        };
        if let Some(url) = found {
            return Ok(url);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("it exited with {status}"));
        }
        if Instant::now() > deadline {
            return Err(format!("no remote-control port within {START_TIMEOUT:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One page (tab or window) of a [`Browser`].
#[derive(Clone)]
pub struct Page {
    engine: Engine,
    rpc: Rpc,
    /// CDP session id (Chromium) or browsing context id (Firefox).
    id: String,
}

impl Page {
    /// Load `url` and wait until its document is complete (`about:blank` is never "loaded").
    pub async fn goto(&self, url: &str) -> Result<(), BrowserError> {
        match self.engine {
            Engine::Chromium => chromium::navigate(&self.rpc, &self.id, url).await?,
            Engine::Firefox => firefox::navigate(&self.rpc, &self.id, url).await?,
        }
        self.wait_for("location.href !== 'about:blank' && document.readyState === 'complete'", Duration::from_secs(20))
            .await
            .map(drop)
    }

    /// Evaluate a JavaScript expression in the page; promises are awaited; the value comes
    /// back as JSON (`undefined` as null).
    pub async fn eval(&self, expression: &str) -> Result<Value, BrowserError> {
        let wrapped =
            format!("Promise.resolve().then(() => ({expression})).then((v) => JSON.stringify(v === undefined ? null : v))");
        let json = match self.engine {
            Engine::Chromium => chromium::evaluate(&self.rpc, &self.id, &wrapped).await?,
            Engine::Firefox => firefox::evaluate(&self.rpc, &self.id, &wrapped).await?,
        };
        serde_json::from_str(&json).map_err(|e| BrowserError::Protocol(format!("result is not JSON ({e}): {json}")))
    }

    /// Evaluate `expression` until it is truthy (not null, false, 0 or ""); returns that value.
    /// A script that throws counts as "not yet" (the page may still be loading).
    pub async fn wait_for(&self, expression: &str, timeout: Duration) -> Result<Value, BrowserError> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.eval(expression).await {
                Ok(v) if truthy(&v) => return Ok(v),
                Ok(v) => v.to_string(),
                Err(BrowserError::Script(e)) => format!("threw {e}"),
                Err(e) => return Err(e),
            };
            if Instant::now() > deadline {
                return Err(BrowserError::Timeout(format!("`{expression}` still {last} after {timeout:?}")));
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Resize the viewport to `width` × `height` CSS pixels, as a user resizing the window.
    pub async fn resize(&self, width: u32, height: u32) -> Result<(), BrowserError> {
        match self.engine {
            Engine::Chromium => chromium::resize(&self.rpc, &self.id, (width, height)).await,
            Engine::Firefox => firefox::resize(&self.rpc, &self.id, (width, height)).await,
        }
    }

    /// Write a PNG of the viewport to `path` (folders are created).
    pub async fn screenshot(&self, path: impl AsRef<Path>) -> Result<(), BrowserError> {
        let data = match self.engine {
            Engine::Chromium => chromium::screenshot(&self.rpc, &self.id).await?,
            Engine::Firefox => firefox::screenshot(&self.rpc, &self.id).await?,
        };
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| BrowserError::Protocol(format!("screenshot is not base64: {e}")))?;
        if let Some(dir) = path.as_ref().parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png)?;
        Ok(())
    }

    /// What the page logged to its console so far (and uncaught exceptions).
    pub fn console(&self) -> Vec<String> {
        self.rpc.console(&self.id)
    }

    /// Close this page.
    pub async fn close(&self) -> Result<(), BrowserError> {
        match self.engine {
            Engine::Chromium => chromium::close(&self.rpc, &self.id).await,
            Engine::Firefox => firefox::close(&self.rpc, &self.id).await,
        }
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `target/screenshots/`, next to the build output of these tests.
pub fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/
    let target = exe.ancestors().nth(3).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("target"));
    target.join("screenshots")
}
