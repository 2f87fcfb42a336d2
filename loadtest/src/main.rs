//! `loadtest`: simulated participants against an SFU.
//!
//! - `loadtest run` (also what plain `loadtest` does): rooms of publishers and subscribers
//!   joined at a ramp rate, a progress line while ramping and running, a summary table and a
//!   JSON report at the end. Bounded by `--duration`. Exits non-zero if a join failed or a
//!   received frame did not verify.
//! - `loadtest bench`: steps the load up until quality breaks, on Ponte and on a raw UDP relay
//!   (the machine's ceiling); a table, a JSON report and an SVG plot.
//! - `loadtest soak`: join and leave for minutes, watching the bridge's memory and descriptors.

mod bench;
mod progress;
mod run;
mod soak;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

use ponte_loadtest::janus::{JanusTarget, MediaPath};
use ponte_loadtest::raw_relay::RawRelay;
use ponte_loadtest::{MediaSpec, PonteTarget, Sfu};

#[derive(Parser, Debug)]
#[command(name = "loadtest", version, about = "Simulated participants sending and verifying media through an SFU")]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,
    #[command(flatten)]
    run: run::RunArgs,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Join rooms of publishers and subscribers, run for --duration, report (the default).
    Run(run::RunArgs),
    /// Step the load up until quality breaks, on Ponte and on a raw UDP relay (the machine's
    /// ceiling); a table, JSON and an SVG plot.
    Bench(bench::BenchArgs),
    /// Join and leave in a loop for minutes against a running Ponte, sampling the bridge
    /// process's memory, descriptors and threads (a benchmark, not a test).
    Soak(soak::SoakArgs),
}

/// Which SFU to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    /// Ponte, through its signaling WebSocket.
    Ponte,
    /// A raw UDP fan-out relay in this process (no WebRTC): the machine's ceiling.
    Raw,
    /// Janus's videoroom (a running Janus, e.g. from loadtest/janus/start.sh).
    Janus,
}

/// Publishers a Janus room is created for by `loadtest run` (a limit, nothing is reserved).
const JANUS_ROOM_PUBLISHERS: u32 = 256;

/// Where the target is.
#[derive(clap::Args, Debug, Clone)]
pub struct TargetArgs {
    #[arg(long, value_enum, default_value = "ponte")]
    target: TargetKind,
    /// Signaling WebSocket URL.
    #[arg(long, env = "PONTE_LOADTEST_SIGNALING", default_value = "ws://127.0.0.1:8080/ws")]
    signaling: String,
    /// The bridge's HTTP address, for process_cpu_seconds_total and
    /// process_resident_memory_bytes on its /metrics; without it no server figures.
    #[arg(long, env = "PONTE_LOADTEST_BRIDGE_METRICS")]
    bridge_metrics: Option<SocketAddr>,
    /// PID of the process running the bridge, if on this machine: CPU and memory from /proc
    /// (10 ms resolution; /metrics has whole CPU seconds only).
    #[arg(long, env = "PONTE_LOADTEST_BRIDGE_PID")]
    bridge_pid: Option<u32>,
    /// Token sent with every join (when signaling requires a JWT).
    #[arg(long, env = "PONTE_LOADTEST_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Local IP for the participants' UDP sockets; the SFU must reach it.
    #[arg(long, env = "PONTE_LOADTEST_BIND_IP", default_value = "127.0.0.1")]
    bind_ip: IpAddr,
    /// Janus's WebSocket API (--target janus).
    #[arg(long, env = "PONTE_LOADTEST_JANUS_WS", default_value = "ws://127.0.0.1:8188")]
    janus_ws: String,
    /// Janus's PID, for its CPU and memory from /proc (JANUS_PID from start.sh).
    #[arg(long, env = "PONTE_LOADTEST_JANUS_PID")]
    janus_pid: Option<u32>,
    /// The participants' IP towards Janus (JANUS_CLIENT_IP from start.sh; not --bind-ip).
    #[arg(long, env = "PONTE_LOADTEST_JANUS_CLIENT_IP", default_value = "127.0.0.89")]
    janus_client_ip: IpAddr,
    /// The device the participants' sockets bind to (JANUS_CLIENT_IFACE; "" for none).
    #[arg(long, env = "PONTE_LOADTEST_JANUS_CLIENT_IFACE", default_value = "pjanus1")]
    janus_client_iface: String,
}

impl TargetArgs {
    /// The SFU these arguments name. Another SFU plugs in here as one more `TargetKind`.
    pub fn make(&self) -> anyhow::Result<Arc<dyn Sfu>> {
        Ok(match self.target {
            TargetKind::Ponte => Arc::new(PonteTarget {
                signaling: self.signaling.clone(),
                metrics: self.bridge_metrics,
                token: self.token.clone(),
                pid: self.bridge_pid,
            }),
            TargetKind::Raw => Arc::new(RawRelay::start(self.bind_ip)?),
            TargetKind::Janus => Arc::new(JanusTarget {
                ws_url: self.janus_ws.clone(),
                pid: self.janus_pid,
                media: MediaPath {
                    ip: self.janus_client_ip,
                    device: Some(self.janus_client_iface.clone()).filter(|d| !d.is_empty()),
                },
                room_publishers: JANUS_ROOM_PUBLISHERS,
            }),
        })
    }
}

/// What every publisher sends and how rooms are made up.
#[derive(clap::Args, Debug, Clone)]
pub struct ShapeArgs {
    /// Publishers per room (send audio and video, receive the others).
    #[arg(long, visible_alias = "participants-per-room", env = "PONTE_LOADTEST_PUBLISHERS", default_value_t = 2)]
    publishers: u32,
    /// Receive-only participants per room.
    #[arg(long, env = "PONTE_LOADTEST_SUBSCRIBERS", default_value_t = 0)]
    subscribers: u32,
    /// Video payload bitrate per publisher, all simulcast layers together (kbit/s).
    #[arg(long, env = "PONTE_LOADTEST_VIDEO_KBPS", default_value_t = 300)]
    video_kbps: u32,
    #[arg(long, env = "PONTE_LOADTEST_FPS", default_value_t = 15)]
    fps: u32,
    /// Publish video as three simulcast layers (rids q/h/f), as browsers with sendEncodings do.
    #[arg(long, env = "PONTE_LOADTEST_SIMULCAST")]
    simulcast: bool,
    /// Publishers send audio (20 ms Opus-sized packets).
    #[arg(long, env = "PONTE_LOADTEST_AUDIO", default_value_t = true, action = clap::ArgAction::Set)]
    audio: bool,
    /// Publishers send video.
    #[arg(long, env = "PONTE_LOADTEST_VIDEO", default_value_t = true, action = clap::ArgAction::Set)]
    video: bool,
}

impl ShapeArgs {
    pub fn shape(&self) -> ponte_loadtest::load::RoomShape {
        ponte_loadtest::load::RoomShape {
            publishers: self.publishers,
            subscribers: self.subscribers,
            media: MediaSpec {
                audio: self.audio,
                video: self.video,
                video_fps: self.fps,
                video_kbps: self.video_kbps,
                simulcast: self.simulcast,
            },
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match args.mode {
        Some(Mode::Soak(soak)) => soak::run(soak).await,
        Some(Mode::Bench(bench)) => bench::run(bench).await,
        Some(Mode::Run(run)) => run::run(run).await,
        None => run::run(args.run).await,
    }
}
