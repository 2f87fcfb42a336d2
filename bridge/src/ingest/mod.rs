//! Ingest: SRT and RTMP encoders (ffmpeg, OBS, hardware) push live streams into meetings.
//!
//! The path of a stream: a listener at the edge ([`srt`], [`rtmp`]) checks the stream key
//! ([`keys`]) → the container is demuxed sans-IO ([`mpegts`] for SRT, [`flv`] for RTMP) →
//! [`publisher::Publisher`] turns elementary streams into room frames (H.264 passed through as
//! access units, [`h264`]; AAC decoded and re-encoded to Opus, [`aac_opus`]) → the frames go
//! to the engine's loop as [`IngestCommand`]s, where the stream is a participant `live: NAME`
//! whose two tracks feed the ordinary fan-out.

pub mod aac_opus;
pub mod config;
pub mod flv;
pub mod h264;
pub mod keys;
pub mod metrics;
pub mod mpegts;
pub mod publisher;
pub mod rtmp;
pub mod srt;
pub mod srt_guard;
pub mod srt_relay;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

pub use config::IngestConfig;
use keys::{KeyRing, Refusal};
use metrics::IngestMetrics;
use publisher::{Figures, Media, Notice};

/// What ingest sessions ask of the engine loop.
#[derive(Debug)]
pub enum IngestCommand {
    /// Add the room's live participant; the reply says whether the room can take it.
    /// `serial` tells one session of a room from the next (an encoder that reconnects).
    Start { room: String, serial: u64, display_name: String, reply: oneshot::Sender<Result<(), Refusal>> },
    Media { room: String, media: Media, at: Instant },
    /// Ends the live participant if `serial` is still the room's current session.
    Stop { room: String, serial: u64 },
}

/// One live ingest as the operator API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct IngestInfo {
    pub room: String,
    pub participant_id: String,
    pub protocol: &'static str,
    pub remote: String,
    pub uptime_s: f64,
    pub bitrate_bps: u64,
    pub frame_rate: f64,
    pub keyframe_interval_s: Option<f64>,
    pub b_frames: u64,
    pub video_frames: u64,
    pub audio_frames: u64,
    /// SRT only: packets lost and retransmitted as the receiver counted them.
    pub srt_loss: Option<u64>,
    pub srt_retransmits: Option<u64>,
    /// SRT only: round-trip time measured at the handshake, in milliseconds.
    pub srt_rtt_ms: Option<f64>,
    pub notices: Vec<String>,
}

/// Everything an ingest session needs from the bridge; cheap to clone.
#[derive(Clone)]
pub struct IngestContext {
    pub keys: KeyRing,
    pub commands: mpsc::Sender<IngestCommand>,
    pub metrics: IngestMetrics,
    pub live: Arc<Mutex<Vec<IngestInfo>>>,
    /// How long a disconnected stream's participant waits for its encoder to come back.
    pub reconnect_grace: std::time::Duration,
}

pub fn participant_id(room: &str) -> String {
    format!("live-{room}")
}

/// The life of one accepted stream, shared by SRT and RTMP: claim the room, join it, forward
/// media, report figures, leave.
pub struct Session {
    ctx: IngestContext,
    room: String,
    serial: u64,
    protocol: &'static str,
    remote: SocketAddr,
    started: Instant,
    last_tick: Instant,
    last_figures: Figures,
    pub publisher: publisher::Publisher,
    notices: Vec<String>,
    out: Vec<Media>,
    notes: Vec<Notice>,
    _guard: keys::LiveGuard,
}

impl Session {
    /// Join the claimed room as its live participant.
    pub async fn start(ctx: &IngestContext, guard: keys::LiveGuard, protocol: &'static str, remote: SocketAddr) -> Result<Self, Refusal> {
        let room = guard.room().to_owned();
        let room = room.as_str();
        let (reply, answer) = oneshot::channel();
        let display_name = ctx.keys.display_name(room);
        static SERIAL: AtomicU64 = AtomicU64::new(1);
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        let cmd = IngestCommand::Start { room: room.to_owned(), serial, display_name, reply };
        let closed = || Refusal::Unsupported("bridge is shutting down".into());
        ctx.commands.send(cmd).await.map_err(|_| closed())?;
        // A focus that never answers a placement claim must not hold the encoder forever.
        let answered = tokio::time::timeout(std::time::Duration::from_secs(10), answer).await;
        answered.map_err(|_| Refusal::Unsupported("the focus did not place the room in time".into()))?.map_err(|_| closed())??;
        ctx.metrics.active.inc();
        tracing::info!(room, protocol, %remote, "ingest started");
        let now = Instant::now();
        Ok(Self {
            ctx: ctx.clone(),
            room: room.to_owned(),
            serial,
            protocol,
            remote,
            started: now,
            last_tick: now,
            last_figures: Figures::default(),
            publisher: publisher::Publisher::new(),
            notices: Vec::new(),
            out: Vec::new(),
            notes: Vec::new(),
            _guard: guard,
        })
    }

    /// Feed the publisher through `f`, then send what came out to the engine.
    pub async fn feed(&mut self, f: impl FnOnce(&mut publisher::Publisher, &mut Vec<Media>, &mut Vec<Notice>)) -> bool {
        f(&mut self.publisher, &mut self.out, &mut self.notes);
        for n in self.notes.drain(..) {
            let text = match &n {
                Notice::BFrames => {
                    self.ctx.metrics.b_frame_streams.inc();
                    "B-frames in the video: browsers may stutter; set the encoder to no B-frames (-bf 0)".to_owned()
                }
                Notice::Unsupported(what) => format!("unsupported: {what}"),
                Notice::AudioError(e) => format!("audio: {e}"),
            };
            if !self.notices.contains(&text) {
                tracing::warn!(room = %self.room, "{text}");
                if self.notices.len() < 8 {
                    self.notices.push(text);
                }
            }
        }
        let at = Instant::now();
        for media in self.out.drain(..) {
            let cmd = IngestCommand::Media { room: self.room.clone(), media, at };
            if self.ctx.commands.send(cmd).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Update stats (call about once a second); `srt` when the stream comes over SRT.
    pub fn tick(&mut self, srt: Option<srt::LinkStats>) {
        let now = Instant::now();
        let secs = now.duration_since(self.last_tick).as_secs_f64().max(0.001);
        let f = &self.publisher.figures;
        let m = &self.ctx.metrics;
        let l = [self.room.as_str(), self.protocol];
        m.bytes.with_label_values(&l).inc_by(f.bytes_in - self.last_figures.bytes_in);
        m.video_frames.with_label_values(&l).inc_by(f.video_frames - self.last_figures.video_frames);
        m.audio_frames.with_label_values(&l).inc_by(f.audio_frames - self.last_figures.audio_frames);
        m.keyframes.with_label_values(&l).inc_by(f.keyframes - self.last_figures.keyframes);
        m.b_frames.with_label_values(&l).inc_by(f.b_frames - self.last_figures.b_frames);
        if let Some(iv) = f.keyframe_interval {
            m.keyframe_interval.with_label_values(&l).set(iv.as_secs_f64());
        }
        if let Some(link) = srt {
            m.srt_loss.with_label_values(&[&self.room]).set(link.lost as i64);
            m.srt_retransmits.with_label_values(&[&self.room]).set(link.retransmitted as i64);
            m.srt_rtt.with_label_values(&[&self.room]).set(link.rtt.as_secs_f64());
        }
        let info = IngestInfo {
            room: self.room.clone(),
            participant_id: participant_id(&self.room),
            protocol: self.protocol,
            remote: self.remote.to_string(),
            uptime_s: now.duration_since(self.started).as_secs_f64(),
            bitrate_bps: ((f.bytes_in - self.last_figures.bytes_in) as f64 * 8.0 / secs) as u64,
            frame_rate: (f.video_frames - self.last_figures.video_frames) as f64 / secs,
            keyframe_interval_s: f.keyframe_interval.map(|d| d.as_secs_f64()),
            b_frames: f.b_frames,
            video_frames: f.video_frames,
            audio_frames: f.audio_frames,
            srt_loss: srt.map(|s| s.lost),
            srt_retransmits: srt.map(|s| s.retransmitted),
            srt_rtt_ms: srt.map(|s| s.rtt.as_secs_f64() * 1000.0),
            notices: self.notices.clone(),
        };
        self.last_figures = f.clone();
        self.last_tick = now;
        let mut live = self.ctx.live.lock().expect("the ingest list lock is never held across a panic");
        live.retain(|i| i.room != self.room);
        live.push(info);
    }

    pub fn room(&self) -> &str {
        &self.room
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        tracing::info!(room = %self.room, protocol = self.protocol, "ingest ended");
        // Count what arrived since the last tick.
        self.tick(None);
        self.ctx.metrics.active.dec();
        if let Ok(mut live) = self.ctx.live.lock() {
            live.retain(|i| i.room != self.room);
        }
        // The participant stays for the grace period: an encoder that reconnects in time takes
        // it over (a newer serial), and viewers keep their tracks without renegotiating.
        let stop = IngestCommand::Stop { room: self.room.clone(), serial: self.serial };
        let tx = self.ctx.commands.clone();
        let grace = self.ctx.reconnect_grace;
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let _ = tx.send(stop).await;
        });
    }
}

/// Count and log a refused encoder.
pub fn refused(ctx: &IngestContext, protocol: &'static str, remote: SocketAddr, why: &Refusal) {
    ctx.metrics.refusals.with_label_values(&[why.label(), protocol]).inc();
    tracing::warn!(protocol, %remote, "ingest refused: {why}");
}
