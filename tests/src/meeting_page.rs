//! The web app's meeting page in a real browser, read through its test hook
//! (`window.ponte.state()`, `window.ponte.pc`) and driven through its stable DOM ids.
//! Panics with the page's console output when something does not happen in time.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::browser::{Browser, BrowserError, Page};

/// One incoming RTP stream as the page's `getStats()` reports it, mapped to its publisher
/// through the app's `remote` list (by mid, else by track id).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Inbound {
    pub participant_id: Option<String>,
    pub kind: String,
    pub mid: Option<String>,
    pub packets: u64,
    pub bytes: u64,
    pub frames_decoded: u64,
    pub frame_width: u64,
    /// Sum of squared audio samples decoded: above zero only when something audible arrived.
    pub audio_energy: f64,
}

/// `getStats()` → one entry per inbound-rtp, in the shape of [`Inbound`].
const INBOUND_JS: &str = r#"(async () => {
  const pc = window.ponte.pc;
  if (!pc) return [];
  const remote = window.ponte.state().remote;
  const byMid = new Map(remote.map((t) => [t.mid, t]));
  const byTrack = new Map(remote.map((t) => [t.track_id, t]));
  const out = [];
  (await pc.getStats()).forEach((r) => {
    if (r.type !== 'inbound-rtp') return;
    const t = byMid.get(r.mid) || byTrack.get(r.trackIdentifier);
    out.push({
      participant_id: t ? t.participant_id : null,
      kind: r.kind || r.mediaType,
      mid: r.mid ?? (t ? t.mid : null),
      packets: r.packetsReceived || 0,
      bytes: r.bytesReceived || 0,
      frames_decoded: r.framesDecoded || 0,
      frame_width: r.frameWidth || 0,
      audio_energy: r.totalAudioEnergy || 0,
    });
  });
  return out;
})()"#;

/// Installs `window.__ponteFlow`: per inbound stream (by SSRC), when it last made progress.
const WATCH_FLOW_JS: &str = r#"(() => {
  if (window.__ponteFlow) return true;
  const streams = new Map();
  let longest = 0;
  setInterval(async () => {
    const pc = window.ponte.pc;
    if (!pc) return;
    const now = performance.now();
    (await pc.getStats()).forEach((r) => {
      if (r.type !== 'inbound-rtp') return;
      const progress = r.kind === 'video' ? r.framesDecoded || 0 : r.packetsReceived || 0;
      const s = streams.get(r.ssrc);
      if (!s) {
        if (progress > 0) streams.set(r.ssrc, { progress, at: now });
      } else if (progress > s.progress) {
        longest = Math.max(longest, now - s.at);
        Object.assign(s, { progress, at: now });
      }
    });
  }, 100);
  window.__ponteFlow = {
    /** The longest stall since the last report. */
    report() {
      const now = performance.now();
      let l = longest;
      streams.forEach((s) => { l = Math.max(l, now - s.at); });
      longest = 0;
      return { longest_ms: l, streams: streams.size };
    },
  };
  return true;
})()"#;

/// A participant in a browser page.
pub struct MeetingPage {
    pub page: Page,
    pub name: String,
}

impl MeetingPage {
    /// Open `{base}/{room}?name={name}` (a direct join) and wait until media is connected.
    pub async fn join(browser: &Browser, base_url: &str, room: &str, name: &str) -> Self {
        let url = format!("{base_url}/{room}?name={name}");
        let page = browser.open(&url).await.unwrap_or_else(|e| panic!("{name}: open {url}: {e}"));
        let me = Self { page, name: name.to_owned() };
        me.wait_connected(Duration::from_secs(20)).await;
        me
    }

    pub async fn wait_connected(&self, timeout: Duration) {
        self.wait("window.ponte.state().connected", timeout, "joined with media connected").await;
    }

    /// `window.ponte.state()`.
    pub async fn state(&self) -> Value {
        self.eval("window.ponte.state()").await
    }

    pub async fn participant_id(&self) -> String {
        let v = self.eval("window.ponte.state().participantId").await;
        v.as_str().unwrap_or_else(|| panic!("{}: no participant id: {v}", self.name)).to_owned()
    }

    /// The participant id of whoever this page lists as `display_name`, once it does (for
    /// publishers that did not join through a test handle, such as an ingest stream).
    pub async fn id_of(&self, display_name: &str, timeout: Duration) -> String {
        let js = format!(
            "window.ponte.state().roster.find((p) => p.display_name === {})?.id",
            js_string(display_name)
        );
        let v = self.wait(&js, timeout, &format!("{display_name:?} is in the room")).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    pub async fn inbound(&self) -> Vec<Inbound> {
        let v = self.eval(INBOUND_JS).await;
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{}: inbound stats {v}: {e}", self.name))
    }

    /// Wait until, over one second, video frames are decoded and audio packets arrive from
    /// every one of `publishers` (participant ids); returns the later of the two samples.
    pub async fn wait_media_from(&self, publishers: &[String], timeout: Duration) -> Vec<Inbound> {
        self.wait_flowing(publishers, timeout, true).await
    }

    /// Like [`Self::wait_media_from`], but video only needs packets, not decoded frames (for
    /// publishers whose video is not decodable, such as the synthetic test participant).
    pub async fn wait_packets_from(&self, publishers: &[String], timeout: Duration) -> Vec<Inbound> {
        self.wait_flowing(publishers, timeout, false).await
    }

    async fn wait_flowing(&self, publishers: &[String], timeout: Duration, decoded: bool) -> Vec<Inbound> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut before = totals(&self.inbound().await);
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = self.inbound().await;
            let after = totals(&now);
            let flowing = |id: &String| {
                let (b, a) = (before.get(id).copied().unwrap_or_default(), after.get(id).copied().unwrap_or_default());
                let video = if decoded { a.video_frames > b.video_frames + 3 } else { a.video_packets > b.video_packets + 3 };
                video && a.audio_packets > b.audio_packets + 10
            };
            if publishers.iter().all(flowing) {
                return now;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "{}: media from {publishers:?} not flowing within {timeout:?}\nbefore {before:?}\nafter {after:?}\nstate {}\nconsole:\n{}",
                    self.name,
                    self.state().await,
                    self.page.console().join("\n")
                );
            }
            before = after;
        }
    }

    /// Start watching every incoming stream in the page (every 100 ms, from `getStats()`):
    /// see [`Self::longest_stall`]. The watch runs in the page, so it goes on while the
    /// server is away.
    pub async fn watch_flow(&self) {
        self.eval(WATCH_FLOW_JS).await;
    }

    /// The longest time any watched stream went without progress (video: frames decoded,
    /// audio: packets) since the last call, counting a stall still going on, and how many
    /// streams were watched.
    pub async fn longest_stall(&self) -> (Duration, u64) {
        let v = self.eval("window.__ponteFlow.report()").await;
        let ms = v["longest_ms"].as_f64().unwrap_or_else(|| panic!("{}: no flow watch: {v}", self.name));
        (Duration::from_secs_f64(ms / 1000.0), v["streams"].as_u64().unwrap_or(0))
    }

    /// Click the element with this CSS selector.
    pub async fn click(&self, selector: &str) {
        let js = format!("(() => {{ const el = document.querySelector({}); if (!el) return false; el.click(); return true; }})()", js_string(selector));
        let clicked = self.eval(&js).await;
        assert_eq!(clicked, Value::Bool(true), "{}: nothing to click at {selector}", self.name);
    }

    /// Open the chat panel (as a person would), type `text` and press Send.
    pub async fn send_chat(&self, text: &str) {
        if self.eval("document.querySelector('#panel-chat').hidden").await == Value::Bool(true) {
            self.click("#toggle-chat").await;
        }
        let js = format!("(() => {{ document.querySelector('#chat-input').value = {}; return true; }})()", js_string(text));
        self.eval(&js).await;
        self.click("#chat-send").await;
    }

    /// Evaluate until truthy, or panic saying `what` did not happen.
    pub async fn wait(&self, expression: &str, timeout: Duration, what: &str) -> Value {
        match self.page.wait_for(expression, timeout).await {
            Ok(v) => v,
            Err(e) => self.fail(what, e).await,
        }
    }

    pub async fn eval(&self, expression: &str) -> Value {
        match self.page.eval(expression).await {
            Ok(v) => v,
            Err(e) => self.fail(expression, e).await,
        }
    }

    async fn fail(&self, what: &str, e: BrowserError) -> ! {
        let state = self.page.eval("window.ponte && window.ponte.state()").await.unwrap_or_default();
        panic!("{}: {what}: {e}\nstate {state}\nconsole:\n{}", self.name, self.page.console().join("\n"))
    }
}

/// Per publisher: video frames decoded, video packets, audio packets (summed over streams).
#[derive(Debug, Clone, Copy, Default)]
pub struct Flow {
    pub video_frames: u64,
    pub video_packets: u64,
    pub audio_packets: u64,
}

pub fn totals(inbound: &[Inbound]) -> HashMap<String, Flow> {
    let mut by = HashMap::<String, Flow>::new();
    for s in inbound {
        let Some(id) = &s.participant_id else { continue };
        let f = by.entry(id.clone()).or_default();
        if s.kind == "video" {
            f.video_frames += s.frames_decoded;
            f.video_packets += s.packets;
        } else {
            f.audio_packets += s.packets;
        }
    }
    by
}

/// A JavaScript string literal holding `s` (JSON's escaping is valid JavaScript).
pub fn js_string(s: &str) -> String {
    Value::from(s).to_string()
}
