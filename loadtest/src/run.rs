//! `loadtest run`: one load for a fixed time; summary table and JSON report.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use serde::Serialize;

use ponte_loadtest::load::{Load, Percentiles, RoomShape, Window};
use ponte_loadtest::probe;
use ponte_loadtest::ServerSample;

use crate::progress::Progress;
use crate::{ShapeArgs, TargetArgs};

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    shape: ShapeArgs,
    #[arg(long, env = "PONTE_LOADTEST_ROOMS", default_value_t = 1)]
    rooms: u32,
    /// Seconds from the first join to the end, ramp included; the run stops by itself then.
    #[arg(long, env = "PONTE_LOADTEST_DURATION", default_value_t = 10)]
    duration: u64,
    /// Joins started per second while ramping up.
    #[arg(long, env = "PONTE_LOADTEST_RAMP", default_value_t = 10.0)]
    ramp: f64,
    /// Rooms are named PREFIX-0, PREFIX-1, ...
    #[arg(long, env = "PONTE_LOADTEST_ROOM_PREFIX", default_value = "load")]
    room_prefix: String,
    /// Write the report as JSON here.
    #[arg(long, env = "PONTE_LOADTEST_JSON")]
    json: Option<PathBuf>,
}

/// The JSON report of a run.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub target: String,
    /// Unix seconds when the run started.
    pub started_at: u64,
    pub duration_s: u64,
    pub rooms: u32,
    pub shape: RoomShape,
    pub joined: usize,
    pub join_failures: Vec<String>,
    /// Join start → ICE and DTLS up.
    pub join_ms: Percentiles,
    /// Join start → first verified frame received.
    pub time_to_first_frame_ms: Percentiles,
    /// From everyone connected (plus a second to settle) to the end.
    pub window: Window,
    /// The server before anyone joined.
    pub server_before: Option<ServerSample>,
    pub left_uncleanly: usize,
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let sfu = args.target.make()?;
    let started_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.duration);
    let server_before = sample(&*sfu).await;
    let mut load = Load::new(sfu.clone(), args.shape.shape(), args.room_prefix.clone(), args.target.bind_ip);
    let mut progress = Progress::new();
    load.add_rooms(args.rooms, args.ramp, deadline, |done, total| {
        progress.show("ramp", done as f64, total as f64, &format!("{done}/{total} joined"), false)
    })
    .await;
    let left = deadline.saturating_duration_since(Instant::now());
    load.wait_connected(left.min(Duration::from_secs(10))).await;
    // A second for first frames and key frames to flow before measuring.
    let settle_until = (Instant::now() + Duration::from_secs(1)).min(deadline);
    tokio::time::sleep_until(settle_until.into()).await;
    let (t0, s0, c0) = (load.tally(), sample(&*sfu).await, probe::own_cpu_seconds());
    let window_len = deadline.saturating_duration_since(t0.at).as_secs_f64();
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        tokio::time::sleep((deadline - now).min(Duration::from_secs(1))).await;
        let t = load.tally();
        let secs = t.at.saturating_duration_since(t0.at).as_secs_f64().max(0.001);
        let detail = format!(
            "{}/{} connected | recv {:.0} kbit/s | frames {} missing {} bad {}",
            t.connected,
            t.participants,
            (t.bytes_received - t0.bytes_received) as f64 * 8.0 / secs / 1000.0,
            t.frames_received,
            t.missing,
            t.mismatches
        );
        progress.show("run", secs, window_len, &detail, false);
    }
    let (t1, s1, c1) = (load.tally(), sample(&*sfu).await, probe::own_cpu_seconds());
    progress.finish();
    let window = Window::between(&t0, &t1, s0.as_ref(), s1.as_ref(), c0.zip(c1));
    let report = RunReport {
        target: sfu.name().to_owned(),
        started_at,
        duration_s: args.duration,
        rooms: args.rooms,
        shape: load.shape.clone(),
        joined: load.members.len(),
        join_failures: load.failures.clone(),
        join_ms: Percentiles::of(&t1.join_ms),
        time_to_first_frame_ms: Percentiles::of(&t1.first_frame_ms),
        window,
        server_before,
        left_uncleanly: 0,
    };
    let failures = load.failures.len();
    let left_uncleanly = tokio::time::timeout(Duration::from_secs(10), load.leave_all()).await.unwrap_or(usize::MAX);
    let report = RunReport { left_uncleanly, ..report };
    print_summary(&report);
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        println!("JSON report: {}", path.display());
    }
    if failures > 0 {
        bail!("{failures} participants failed to join");
    }
    if report.window.mismatches > 0 {
        bail!("{} received frames differ from what was sent", report.window.mismatches);
    }
    Ok(())
}

/// The server's figures, if the target can read them; a failure is reported, not fatal.
pub async fn sample(sfu: &dyn ponte_loadtest::Sfu) -> Option<ServerSample> {
    match sfu.sample().await? {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("server figures unavailable: {e}");
            None
        }
    }
}

fn print_summary(r: &RunReport) {
    let w = &r.window;
    println!("--- {} run: {} rooms × ({} publishers + {} subscribers), {} s ---", r.target, r.rooms, r.shape.publishers, r.shape.subscribers, r.duration_s);
    println!(
        "joined {} ({} failed), {} connected at the end; measured over the last {:.1} s",
        r.joined,
        r.join_failures.len(),
        w.connected,
        w.seconds
    );
    for f in r.join_failures.iter().take(5) {
        println!("  join failed: {f}");
    }
    println!("{:<28} {:>9} {:>9} {:>9} {:>9} {:>8}", "", "p50", "p95", "p99", "max", "count");
    let row = |name: &str, p: &Percentiles| {
        println!("{name:<28} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>8}", p.p50, p.p95, p.p99, p.max, p.count);
    };
    row("join time (ms)", &r.join_ms);
    row("time to first frame (ms)", &r.time_to_first_frame_ms);
    row("one-way latency (ms)", &w.latency_ms);
    row("  audio (ms)", &w.audio_latency_ms);
    row("  video (ms)", &w.video_latency_ms);
    row("jitter per track (ms)", &w.jitter_ms);
    println!(
        "sent {:.0} kbit/s | received {:.0} kbit/s of {:.0} expected ({:.1} %) | frame loss {:.2} % | corrupted {}",
        w.sent_kbps,
        w.received_kbps,
        w.expected_kbps,
        if w.expected_kbps > 0.0 { w.received_kbps / w.expected_kbps * 100.0 } else { 0.0 },
        w.loss * 100.0,
        w.mismatches
    );
    match &w.server {
        Some(s) => println!(
            "server: CPU {:.1} % of a core | RSS {:.1} MiB | {:.0} packets/s out | {} µs CPU per packet | endpoints {}",
            s.cpu_percent,
            s.rss_bytes as f64 / 1048576.0,
            s.packets_per_sec,
            s.cpu_us_per_packet.map_or("-".into(), |v| format!("{v:.1}")),
            s.endpoints.map_or("-".into(), |e| e.to_string())
        ),
        None => println!("server: no figures (give --bridge-metrics HOST:PORT)"),
    }
    if let Some(c) = w.loadtest_cpu_percent {
        println!("loadtest itself: CPU {c:.1} % of a core");
    }
}
