//! `loadtest`: join simulated participants to rooms, let them exchange verified media for a
//! while, print progress every second and a summary at the end.
//!
//! Exits non-zero if a join failed or any received frame did not verify.

mod soak;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use ponte_loadtest::{Participant, ParticipantOptions};

#[derive(Parser, Debug)]
#[command(name = "loadtest", version, about = "Simulated Ponte participants sending and verifying media")]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,
    /// Signaling WebSocket URL.
    #[arg(long, env = "PONTE_LOADTEST_SIGNALING", default_value = "ws://127.0.0.1:8080/ws")]
    signaling: String,
    #[arg(long, env = "PONTE_LOADTEST_ROOMS", default_value_t = 1)]
    rooms: u32,
    #[arg(long, env = "PONTE_LOADTEST_PARTICIPANTS_PER_ROOM", default_value_t = 2)]
    participants_per_room: u32,
    /// How long to run, in seconds, joins included.
    #[arg(long, env = "PONTE_LOADTEST_DURATION", default_value_t = 10)]
    duration: u64,
    /// Rooms are named PREFIX-0, PREFIX-1, ...
    #[arg(long, env = "PONTE_LOADTEST_ROOM_PREFIX", default_value = "load")]
    room_prefix: String,
    /// Local IP for the participants' UDP sockets; the bridge must reach it.
    #[arg(long, env = "PONTE_LOADTEST_BIND_IP", default_value = "127.0.0.1")]
    bind_ip: IpAddr,
    #[arg(long, env = "PONTE_LOADTEST_FPS", default_value_t = 15)]
    fps: u32,
    /// Token sent with every join (when signaling requires a JWT).
    #[arg(long, env = "PONTE_LOADTEST_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Publish video as three simulcast layers (rids q/h/f), as browsers with sendEncodings do.
    #[arg(long, env = "PONTE_LOADTEST_SIMULCAST")]
    simulcast: bool,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Join and leave in a loop for minutes against a running Ponte, sampling the bridge
    /// process's memory, descriptors and threads (a benchmark, not a test).
    Soak(soak::SoakArgs),
}

#[derive(Debug, Default)]
struct Totals {
    participants: usize,
    connected: usize,
    frames_received: u64,
    bytes_received: u64,
    mismatches: u64,
    gaps: u64,
    frames_sent: u64,
    bytes_sent: u64,
    keyframe_requests: u64,
}

impl Totals {
    fn collect(participants: &[Participant]) -> Self {
        let mut t = Totals { participants: participants.len(), ..Totals::default() };
        for p in participants {
            let (snap, stats) = (p.snapshot(), p.stats());
            t.connected += usize::from(stats.connected);
            t.frames_received += snap.frames();
            t.bytes_received += snap.bytes();
            t.mismatches += snap.mismatches();
            t.gaps += snap.gaps();
            t.frames_sent += stats.audio.frames + stats.video.frames;
            t.bytes_sent += stats.audio.bytes + stats.video.bytes;
            t.keyframe_requests += stats.keyframe_requests;
        }
        t
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")))
        .init();
    let mut args = Args::parse();
    if let Some(Mode::Soak(soak)) = args.mode.take() {
        return soak::run(soak).await;
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.duration);
    let (participants, join_failures) = join_all(&args).await;

    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    while Instant::now() < deadline {
        tokio::select! {
            _ = tick.tick() => {}
            _ = tokio::time::sleep_until(deadline.into()) => break,
        }
        let t = Totals::collect(&participants);
        println!(
            "[{:>4}s] {}/{} connected | received {} frames, {} (mismatches {}, gaps {}) | sent {} frames, {}",
            start.elapsed().as_secs(),
            t.connected,
            t.participants,
            t.frames_received,
            megabytes(t.bytes_received),
            t.mismatches,
            t.gaps,
            t.frames_sent,
            megabytes(t.bytes_sent),
        );
    }

    let t = Totals::collect(&participants);
    for p in participants {
        let id = p.id().to_owned();
        if let Err(e) = p.leave().await {
            eprintln!("{id} did not leave cleanly: {e}");
        }
    }
    summary(&args, &t, join_failures, start.elapsed());
    if join_failures > 0 {
        bail!("{join_failures} participants failed to join");
    }
    if t.mismatches > 0 {
        bail!("{} received frames differ from what was sent", t.mismatches);
    }
    Ok(())
}

async fn join_all(args: &Args) -> (Vec<Participant>, u32) {
    let opts = ParticipantOptions {
        video_fps: args.fps,
        token: args.token.clone(),
        bind: (args.bind_ip, 0).into(),
        simulcast: args.simulcast,
        ..ParticipantOptions::default()
    };
    let mut participants = Vec::new();
    let mut failures = 0;
    for r in 0..args.rooms {
        let room = format!("{}-{r}", args.room_prefix);
        for n in 0..args.participants_per_room {
            let name = format!("{room}-p{n}");
            match Participant::join(&args.signaling, &room, &name, opts.clone()).await {
                Ok(p) => participants.push(p),
                Err(e) => {
                    eprintln!("{name} could not join {room}: {e}");
                    failures += 1;
                }
            }
        }
    }
    (participants, failures)
}

fn summary(args: &Args, t: &Totals, join_failures: u32, elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(0.001);
    println!("--- summary after {secs:.1} s ---");
    println!(
        "rooms {} x {} participants: {} joined, {} failed to join, {} connected at the end",
        args.rooms, args.participants_per_room, t.participants, join_failures, t.connected
    );
    println!(
        "received {} frames, {} ({:.1} Mbit/s); mismatches {}, seq gaps {}",
        t.frames_received,
        megabytes(t.bytes_received),
        t.bytes_received as f64 * 8.0 / secs / 1e6,
        t.mismatches,
        t.gaps
    );
    println!(
        "sent {} frames, {}; key-frame requests received {}",
        t.frames_sent,
        megabytes(t.bytes_sent),
        t.keyframe_requests
    );
}

fn megabytes(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}
