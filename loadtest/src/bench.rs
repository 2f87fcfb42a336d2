//! `loadtest bench`: add rooms step by step until quality breaks (frame loss above
//! `--max-loss` or p99 one-way latency above `--max-p99-ms`), on Ponte and then on the raw
//! UDP relay that shows the machine's packet-rate ceiling. Per step: CPU, memory, packets
//! forwarded, loss, latency. At the end: the largest passing step of each, Ponte's CPU µs per
//! forwarded packet and memory per endpoint, what fraction of the ceiling Ponte reaches; a
//! table, a JSON report and an SVG plot.
//!
//! When Janus is installed (and we are root), the same steps run against its videoroom too
//! (started through `loadtest/janus/start.sh`), and the summary gives Ponte/Janus for CPU per
//! forwarded packet and for the largest passing step. Both are divided by the same count, the
//! RTP packets the participants received, since Janus counts none itself.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use serde::Serialize;
use tokio::process::Child;

use ponte_loadtest::janus::JanusServer;
use ponte_loadtest::load::{Load, RoomShape, Window};
use ponte_loadtest::plot::{self, Series};
use ponte_loadtest::raw_relay::RawRelay;
use ponte_loadtest::{probe, PonteTarget, ServerSample, Sfu};

use crate::run::sample;
use crate::ShapeArgs;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// A running Ponte's signaling URL; without it the bench starts the `ponte` binary that
    /// sits beside this one (loopback, ephemeral ports) and stops it at the end.
    #[arg(long)]
    signaling: Option<String>,
    /// That Ponte's bridge HTTP address (/metrics); needed with --signaling.
    #[arg(long)]
    bridge_metrics: Option<SocketAddr>,
    /// That Ponte's PID, for CPU time from /proc (finer than /metrics' whole seconds).
    #[arg(long)]
    bridge_pid: Option<u32>,
    /// The `ponte` binary to start.
    #[arg(long)]
    ponte_bin: Option<PathBuf>,
    /// An argument for the started `ponte` (repeat it), e.g. `--ponte-arg=--bridge-config=FILE`.
    #[arg(long, allow_hyphen_values = true)]
    ponte_arg: Vec<String>,
    #[command(flatten)]
    shape: ShapeArgs,
    /// Rooms added per step.
    #[arg(long, default_value_t = 2)]
    step_rooms: u32,
    /// Give up after this many steps even if quality holds.
    #[arg(long, default_value_t = 12)]
    max_steps: u32,
    /// Joins started per second.
    #[arg(long, default_value_t = 20.0)]
    ramp: f64,
    /// Seconds after a step's joins before measuring.
    #[arg(long, default_value_t = 3)]
    settle: u64,
    /// Seconds measured per step.
    #[arg(long, default_value_t = 8)]
    measure: u64,
    /// A step fails above this frame loss (0.01 = 1 %).
    #[arg(long, default_value_t = 0.01)]
    max_loss: f64,
    /// A step fails above this p99 one-way latency.
    #[arg(long, default_value_t = 100.0)]
    max_p99_ms: f64,
    /// Skip the raw UDP relay (the machine's ceiling).
    #[arg(long)]
    no_ceiling: bool,
    /// Skip Janus (run by default when `janus` is installed and we are root).
    #[arg(long)]
    no_janus: bool,
    /// The script that starts and stops Janus (default: loadtest/janus/start.sh of the source
    /// tree this binary was built from).
    #[arg(long)]
    janus_script: Option<PathBuf>,
    #[arg(long, default_value = "127.0.0.1")]
    bind_ip: std::net::IpAddr,
    /// Write the plot here.
    #[arg(long, default_value = "bench.svg")]
    svg: PathBuf,
    /// Write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Step {
    rooms: u32,
    participants: usize,
    pass: bool,
    /// Server memory growth since before the first join, per endpoint (bytes).
    rss_per_endpoint: Option<f64>,
    window: Window,
}

#[derive(Debug, Serialize)]
struct TargetResult {
    target: String,
    baseline: Option<ServerSample>,
    steps: Vec<Step>,
    /// Index into `steps` of the largest step that passed.
    largest_pass: Option<usize>,
}

impl TargetResult {
    fn best(&self) -> Option<&Step> {
        self.largest_pass.and_then(|i| self.steps.get(i))
    }

    /// At the largest passing step; at the first step when none passed.
    fn us_per_packet(&self) -> Option<f64> {
        self.best().or(self.steps.first())?.window.server.as_ref()?.cpu_us_per_packet
    }

    /// CPU µs per RTP packet the participants received, at the same step as
    /// [`TargetResult::us_per_packet`]: a denominator every target has.
    fn us_per_received_packet(&self) -> Option<f64> {
        let w = &self.best().or(self.steps.first())?.window;
        let cpu = w.server.as_ref()?.cpu_percent / 100.0;
        (w.rtp_packets_received_per_sec > 0.0).then(|| cpu * 1e6 / w.rtp_packets_received_per_sec)
    }
}

#[derive(Debug, Serialize)]
struct Machine {
    cores: usize,
    cpu: String,
    kernel: String,
}

#[derive(Debug, Serialize)]
struct BenchReport {
    started_at: u64,
    machine: Machine,
    shape: RoomShape,
    step_rooms: u32,
    max_loss: f64,
    max_p99_ms: f64,
    results: Vec<TargetResult>,
    /// Raw relay CPU per packet / Ponte CPU per packet: the share of the machine's packet
    /// rate Ponte reaches.
    ponte_share_of_ceiling: Option<f64>,
    /// Ponte against Janus, when Janus ran.
    janus: Option<JanusComparison>,
    /// Why Janus did not run.
    janus_skipped: Option<String>,
}

/// Ponte/Janus, each at its largest passing step (its first step when none passed).
#[derive(Debug, Serialize)]
struct JanusComparison {
    /// Server CPU µs per RTP packet the participants received (the same count for both).
    ponte_cpu_us_per_packet: f64,
    janus_cpu_us_per_packet: f64,
    /// Ponte's µs per packet / Janus's: below 1, Ponte forwards a packet for less CPU.
    cpu_per_packet_ratio: f64,
    ponte_largest_pass_participants: usize,
    janus_largest_pass_participants: usize,
    /// Ponte's largest passing step / Janus's (participants): above 1, Ponte holds more.
    largest_pass_ratio: Option<f64>,
}

impl JanusComparison {
    fn of(ponte: &TargetResult, janus: &TargetResult) -> Option<Self> {
        let (p, j) = (ponte.us_per_received_packet()?, janus.us_per_received_packet()?);
        let (pp, jp) = (ponte.best().map_or(0, |s| s.participants), janus.best().map_or(0, |s| s.participants));
        Some(Self {
            ponte_cpu_us_per_packet: p,
            janus_cpu_us_per_packet: j,
            cpu_per_packet_ratio: p / j,
            ponte_largest_pass_participants: pp,
            janus_largest_pass_participants: jp,
            largest_pass_ratio: (jp > 0).then(|| pp as f64 / jp as f64),
        })
    }
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let started_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let machine = machine();
    println!("machine: {} cores, {}, Linux {}", machine.cores, machine.cpu, machine.kernel);
    let shape = args.shape.shape();
    let mut results = Vec::new();

    let (ponte, _child): (Arc<dyn Sfu>, Option<Child>) = match &args.signaling {
        Some(url) => {
            let t = PonteTarget { signaling: url.clone(), metrics: args.bridge_metrics, token: None, pid: args.bridge_pid };
            (Arc::new(t), None)
        }
        None => {
            let (t, child) = start_ponte(args.ponte_bin.clone(), &args.ponte_arg).await?;
            (Arc::new(t), Some(child))
        }
    };
    results.push(series(ponte, &args, &shape, "ponte").await);
    if !args.no_ceiling {
        let relay: Arc<dyn Sfu> = Arc::new(RawRelay::start(args.bind_ip)?);
        results.push(series(relay, &args, &shape, "raw").await);
    }
    let janus_skipped = match janus_series(&args, &shape).await {
        Ok(r) => {
            results.push(r);
            None
        }
        Err(why) => {
            println!();
            println!("--- janus: skipped: {why} ---");
            Some(why)
        }
    };
    let janus = results.first().zip(results.iter().find(|r| r.target == "janus")).and_then(|(p, j)| JanusComparison::of(p, j));

    let ponte_us = results.first().and_then(TargetResult::us_per_packet);
    let raw_us = results.iter().find(|r| r.target == "raw-udp-relay").and_then(TargetResult::us_per_packet);
    let share = ponte_us.zip(raw_us).map(|(p, r)| r / p);
    println!();
    println!("=== bench summary (loss ≤ {:.1} %, p99 ≤ {} ms) ===", args.max_loss * 100.0, args.max_p99_ms);
    for r in &results {
        match r.best() {
            Some(s) => {
                let srv = s.window.server.as_ref();
                println!(
                    "{:<14} largest passing step: {} participants in {} rooms | {:.0} packets/s out | CPU {} µs/packet | RSS {} per endpoint",
                    r.target,
                    s.participants,
                    s.rooms,
                    srv.map_or(0.0, |v| v.packets_per_sec),
                    srv.and_then(|v| v.cpu_us_per_packet).map_or("-".into(), |v| format!("{v:.1}")),
                    s.rss_per_endpoint.map_or("-".into(), |b| format!("{:.0} KiB", b / 1024.0)),
                );
            }
            None => println!("{:<14} no step passed", r.target),
        }
    }
    if let (Some(p), Some(r), Some(share)) = (ponte_us, raw_us, share) {
        let cores = machine.cores as f64;
        println!(
            "machine ceiling (raw relay): {r:.2} µs/packet ≈ {:.0} packets/s on {cores} cores; Ponte {p:.1} µs/packet ≈ {:.0} packets/s: {:.1} % of the ceiling",
            cores * 1e6 / r,
            cores * 1e6 / p,
            share * 100.0
        );
    }
    if let Some(c) = &janus {
        println!(
            "Ponte/Janus: CPU per forwarded packet {:.2} ({:.1} / {:.1} µs per received RTP packet); largest passing step {} ({} / {} participants)",
            c.cpu_per_packet_ratio,
            c.ponte_cpu_us_per_packet,
            c.janus_cpu_us_per_packet,
            c.largest_pass_ratio.map_or("-".into(), |r| format!("{r:.2}")),
            c.ponte_largest_pass_participants,
            c.janus_largest_pass_participants,
        );
    }
    let series: Vec<Series> = results
        .iter()
        .map(|r| Series {
            name: r.target.clone(),
            points: r
                .steps
                .iter()
                .map(|s| (s.participants as f64, s.window.server.as_ref().map_or(0.0, |v| v.cpu_percent), s.window.latency_ms.p99))
                .collect(),
        })
        .collect();
    let title = format!(
        "{} publishers + {} subscribers per room, {} kbit/s video{}, {} cores",
        shape.publishers,
        shape.subscribers,
        shape.media.video_kbps,
        if shape.media.simulcast { " simulcast" } else { "" },
        machine.cores
    );
    std::fs::write(&args.svg, plot::svg(&title, &series, args.max_p99_ms)).with_context(|| format!("writing {}", args.svg.display()))?;
    println!("plot: {}", args.svg.display());
    let report = BenchReport {
        started_at,
        machine,
        shape,
        step_rooms: args.step_rooms,
        max_loss: args.max_loss,
        max_p99_ms: args.max_p99_ms,
        results,
        ponte_share_of_ceiling: share,
        janus,
        janus_skipped,
    };
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?).with_context(|| format!("writing {}", path.display()))?;
        println!("JSON report: {}", path.display());
    }
    // Quality breaking is a result; a target that could not be measured at all is a failure.
    if let Some(r) = report.results.iter().find(|r| r.steps.is_empty() || r.steps.iter().all(|s| s.window.server.is_none())) {
        bail!("{}: no step was measured (no server figures)", r.target);
    }
    Ok(())
}

/// Step one target up until a step fails or `max_steps`.
async fn series(sfu: Arc<dyn Sfu>, args: &BenchArgs, shape: &RoomShape, prefix: &str) -> TargetResult {
    println!();
    println!("--- {} ---", sfu.name());
    println!(
        "{:>5} {:>6} {:>8} {:>9} {:>7} {:>8} {:>9} {:>7} {:>7} {:>7} {:>7} {:>8} {:>5}",
        "rooms", "people", "cpu %", "pkts/s", "µs/pkt", "rss MiB", "KiB/endp", "loss %", "p50 ms", "p95 ms", "p99 ms", "lt cpu%", "ok"
    );
    let baseline = sample(&*sfu).await;
    let mut load = Load::new(sfu.clone(), shape.clone(), format!("bench-{prefix}-{}", std::process::id()), args.bind_ip);
    let mut steps = Vec::new();
    let mut largest_pass = None;
    for _ in 0..args.max_steps {
        let failed_before = load.failures.len();
        let far = Instant::now() + Duration::from_secs(600);
        load.add_rooms(args.step_rooms, args.ramp, far, |_, _| {}).await;
        let all_connected = load.wait_connected(Duration::from_secs(15)).await;
        tokio::time::sleep(Duration::from_secs(args.settle)).await;
        let (t0, s0, c0) = (load.tally(), sample(&*sfu).await, probe::own_cpu_seconds());
        tokio::time::sleep(Duration::from_secs(args.measure)).await;
        let (t1, s1, c1) = (load.tally(), sample(&*sfu).await, probe::own_cpu_seconds());
        let window = Window::between(&t0, &t1, s0.as_ref(), s1.as_ref(), c0.zip(c1));
        let pass = all_connected && load.failures.len() == failed_before && window.passes(args.max_loss, args.max_p99_ms);
        let endpoints = window.server.as_ref().and_then(|s| s.endpoints).unwrap_or(t1.participants as u64);
        let rss_per_endpoint = match (&baseline, &window.server) {
            (Some(b), Some(s)) if endpoints > 0 && s.rss_bytes > 0 => Some((s.rss_bytes.saturating_sub(b.rss_bytes)) as f64 / endpoints as f64),
            _ => None,
        };
        let srv = window.server.as_ref();
        println!(
            "{:>5} {:>6} {:>8.1} {:>9.0} {:>7} {:>8.1} {:>9} {:>7.2} {:>7.1} {:>7.1} {:>7.1} {:>8.1} {:>5}",
            load.rooms,
            t1.participants,
            srv.map_or(0.0, |s| s.cpu_percent),
            srv.map_or(window.rtp_packets_received_per_sec, |s| s.packets_per_sec),
            srv.and_then(|s| s.cpu_us_per_packet).map_or("-".into(), |v| format!("{v:.1}")),
            srv.map_or(0.0, |s| s.rss_bytes as f64 / 1048576.0),
            rss_per_endpoint.map_or("-".into(), |b| format!("{:.0}", b / 1024.0)),
            window.loss * 100.0,
            window.latency_ms.p50,
            window.latency_ms.p95,
            window.latency_ms.p99,
            window.loadtest_cpu_percent.unwrap_or(0.0),
            if pass { "yes" } else { "NO" }
        );
        for f in load.failures.iter().skip(failed_before).take(3) {
            println!("      join failed: {f}");
        }
        steps.push(Step { rooms: load.rooms, participants: t1.participants, pass, rss_per_endpoint, window });
        if !pass {
            break;
        }
        largest_pass = Some(steps.len() - 1);
    }
    let _ = tokio::time::timeout(Duration::from_secs(20), load.leave_all()).await;
    TargetResult { target: sfu.name().to_owned(), baseline, steps, largest_pass }
}

/// The same steps against a Janus started for them; `Err` says why Janus cannot run here.
async fn janus_series(args: &BenchArgs, shape: &RoomShape) -> Result<TargetResult, String> {
    if args.no_janus {
        return Err("--no-janus".into());
    }
    let script = args.janus_script.clone().unwrap_or_else(JanusServer::default_script);
    if let Some(why) = JanusServer::unavailable(&script) {
        return Err(why);
    }
    // Janus outlives nothing: its lifetime is bounded by the longest this series can take.
    let members = shape.publishers + shape.subscribers;
    let joins = f64::from(args.step_rooms * members) / args.ramp.max(0.1);
    let per_step = 15 + args.settle + args.measure + joins.ceil() as u64;
    let max_seconds = u64::from(args.max_steps) * per_step + 120;
    let mut server = JanusServer::start(&script, max_seconds, members.max(1)).map_err(|e| e.to_string())?;
    println!("started Janus (pid {}): {}", server.target.pid.unwrap_or(0), server.target.ws_url);
    let result = series(Arc::new(server.target.clone()), args, shape, "janus").await;
    server.stop();
    Ok(result)
}

/// Start `ponte` beside the load (the release binary next to this one unless given).
async fn start_ponte(bin: Option<PathBuf>, extra: &[String]) -> anyhow::Result<(PonteTarget, Child)> {
    let bin = match bin {
        Some(b) => b,
        None => std::env::current_exe()?.with_file_name("ponte"),
    };
    let (target, child) = ponte_loadtest::local::start_ponte(&bin, extra)
        .await
        .with_context(|| format!("starting {} (build it: cargo build --release -p ponte)", bin.display()))?;
    let metrics = target.metrics.map(|m| m.to_string()).unwrap_or_default();
    println!("started {} (pid {}): signaling {}, bridge metrics {metrics}", bin.display(), child.id().unwrap_or(0), target.signaling);
    Ok((target, child))
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split(':').nth(1)))
        .map_or_else(|| "unknown CPU".into(), |s| s.trim().to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned();
    Machine { cores: std::thread::available_parallelism().map_or(1, |n| n.get()), cpu, kernel }
}
