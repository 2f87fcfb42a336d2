//! `loadtest soak`: participants join and leave rooms in a loop for minutes against a running
//! Ponte, while the bridge process is sampled: resident memory and open file descriptors
//! (from `/proc/PID`, and `process_*` on the bridge's `/metrics`), threads, and the bridge's
//! endpoint and conference gauges. At the end everyone leaves and the figures are compared:
//! memory against where it stabilised, descriptors and threads against the baseline. The log
//! of the process (if given) is searched for ERROR lines.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rand::Rng;

use ponte_loadtest::{Participant, ParticipantOptions};

#[derive(clap::Args, Debug)]
pub struct SoakArgs {
    /// Signaling WebSocket URL.
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    signaling: String,
    /// PID of the process that runs the bridge (`ponte` or `bridge`), sampled via /proc.
    #[arg(long)]
    pid: u32,
    /// The bridge's HTTP address, for its gauges on /metrics.
    #[arg(long, default_value = "127.0.0.1:8081")]
    bridge_http: SocketAddr,
    /// That process's log, searched for ERROR lines at the end.
    #[arg(long)]
    log: Option<PathBuf>,
    #[arg(long, default_value_t = 10)]
    minutes: u64,
    #[arg(long, default_value_t = 4)]
    rooms: u32,
    /// Participants in all rooms together (spread evenly).
    #[arg(long, default_value_t = 20)]
    participants: u32,
    /// Shortest and longest stay in a room, seconds; each stay is random in between.
    #[arg(long, default_value_t = 5)]
    min_stay: u64,
    #[arg(long, default_value_t = 30)]
    max_stay: u64,
    /// Seconds between samples.
    #[arg(long, default_value_t = 10)]
    sample_every: u64,
}

/// One look at the bridge process.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    at_secs: u64,
    rss_kib: u64,
    fds: u64,
    threads: u64,
    endpoints: f64,
    conferences: f64,
}

#[derive(Default)]
struct Counters {
    joins: AtomicU64,
    join_failures: AtomicU64,
    leaves: AtomicU64,
    mismatches: AtomicU64,
    frames: AtomicU64,
}

pub async fn run(args: SoakArgs) -> anyhow::Result<()> {
    if args.min_stay == 0 || args.max_stay < args.min_stay {
        bail!("--min-stay must be at least 1 and at most --max-stay");
    }
    let start = Instant::now();
    let baseline = sample(&args, start).await?;
    println!("baseline: {}", line(&baseline));
    let deadline = start + Duration::from_secs(args.minutes * 60);
    let counters = Arc::new(Counters::default());
    let mut slots = Vec::new();
    for i in 0..args.participants {
        let room = format!("soak-{}", i % args.rooms);
        let signaling = args.signaling.clone();
        let (min, max) = (args.min_stay, args.max_stay);
        slots.push(tokio::spawn(slot(signaling, room, i, deadline, (min, max), counters.clone())));
    }
    let mut samples = vec![baseline];
    let mut tick = tokio::time::interval(Duration::from_secs(args.sample_every));
    tick.tick().await;
    while Instant::now() < deadline {
        tick.tick().await;
        let s = sample(&args, start).await?;
        println!("{} | joins {} (failed {}) | mismatches {}", line(&s), counters.joins.load(Ordering::Relaxed), counters.join_failures.load(Ordering::Relaxed), counters.mismatches.load(Ordering::Relaxed));
        samples.push(s);
    }
    for s in slots {
        let _ = s.await;
    }
    // Let the bridge notice the last departures and free what they held.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let end = sample(&args, start).await?;
    println!("after everyone left: {}", line(&end));
    report(&args, &samples, &end, &counters)
}

/// One participant place: join, stay a while, leave, rest, again, until the deadline.
async fn slot(signaling: String, room: String, index: u32, deadline: Instant, stay: (u64, u64), counters: Arc<Counters>) {
    let mut round = 0u32;
    while Instant::now() < deadline {
        let name = format!("{room}-p{index}-{round}");
        round += 1;
        let opts = ParticipantOptions::default();
        match Participant::join(&signaling, &room, &name, opts).await {
            Ok(p) => {
                counters.joins.fetch_add(1, Ordering::Relaxed);
                let secs = rand::rng().random_range(stay.0..=stay.1);
                let until = deadline.min(Instant::now() + Duration::from_secs(secs));
                tokio::time::sleep_until(until.into()).await;
                let snap = p.snapshot();
                counters.mismatches.fetch_add(snap.mismatches(), Ordering::Relaxed);
                counters.frames.fetch_add(snap.frames(), Ordering::Relaxed);
                if let Err(e) = p.leave().await {
                    eprintln!("{name} did not leave cleanly: {e}");
                }
                counters.leaves.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                counters.join_failures.fetch_add(1, Ordering::Relaxed);
                eprintln!("{name} could not join: {e}");
            }
        }
        let rest = rand::rng().random_range(200..2000);
        tokio::time::sleep(Duration::from_millis(rest)).await;
    }
}

async fn sample(args: &SoakArgs, start: Instant) -> anyhow::Result<Sample> {
    let proc = PathBuf::from(format!("/proc/{}", args.pid));
    let status = std::fs::read_to_string(proc.join("status")).with_context(|| format!("is PID {} running?", args.pid))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(proc.join("fd")).map(|d| d.count() as u64).unwrap_or(0);
    let metrics = get_metrics(args.bridge_http).await.unwrap_or_default();
    Ok(Sample {
        at_secs: start.elapsed().as_secs(),
        rss_kib: field("VmRSS:"),
        fds,
        threads: field("Threads:"),
        endpoints: metric(&metrics, "bridge_endpoints"),
        conferences: metric(&metrics, "bridge_conferences"),
    })
}

fn line(s: &Sample) -> String {
    format!(
        "[{:>4}s] rss {:.1} MiB | fds {} | threads {} | endpoints {} | conferences {}",
        s.at_secs,
        s.rss_kib as f64 / 1024.0,
        s.fds,
        s.threads,
        s.endpoints,
        s.conferences
    )
}

fn report(args: &SoakArgs, samples: &[Sample], end: &Sample, counters: &Counters) -> anyhow::Result<()> {
    let baseline = samples[0];
    // Where memory stabilised: the median of the samples in the second half of the run,
    // after allocator pools and caches have grown to their working size.
    let mut late: Vec<u64> = samples[samples.len() / 2..].iter().map(|s| s.rss_kib).collect();
    late.sort_unstable();
    let stabilised = late.get(late.len() / 2).copied().unwrap_or(end.rss_kib);
    let peak = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let drift = (end.rss_kib as f64 - stabilised as f64) / stabilised.max(1) as f64 * 100.0;
    let errors = match &args.log {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let errors: Vec<&str> = text.lines().filter(|l| l.contains(" ERROR ")).collect();
            for e in errors.iter().take(10) {
                println!("log error: {e}");
            }
            Some(errors.len())
        }
        None => None,
    };
    println!("--- soak summary ---");
    println!(
        "{} min, {} participants in {} rooms: {} joins ({} failed), {} leaves, {} frames verified, {} mismatches",
        args.minutes,
        args.participants,
        args.rooms,
        counters.joins.load(Ordering::Relaxed),
        counters.join_failures.load(Ordering::Relaxed),
        counters.leaves.load(Ordering::Relaxed),
        counters.frames.load(Ordering::Relaxed),
        counters.mismatches.load(Ordering::Relaxed)
    );
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "rss: baseline {:.1} MiB, peak {:.1} MiB, stabilised {:.1} MiB, end {:.1} MiB ({drift:+.1} % vs stabilised)",
        mib(baseline.rss_kib),
        mib(peak),
        mib(stabilised),
        mib(end.rss_kib)
    );
    println!("fds: baseline {}, end {} | threads: baseline {}, end {}", baseline.fds, end.fds, baseline.threads, end.threads);
    println!("bridge at the end: {} endpoints, {} conferences", end.endpoints, end.conferences);
    if let Some(n) = errors {
        println!("ERROR lines in the log: {n}");
    }
    let mut failed = Vec::new();
    if drift.abs() > 5.0 {
        failed.push(format!("memory ended {drift:+.1} % from where it stabilised"));
    }
    if end.fds > baseline.fds {
        failed.push(format!("{} file descriptors more than at the start", end.fds - baseline.fds));
    }
    if end.endpoints > 0.0 || end.conferences > 0.0 {
        failed.push("the bridge still holds endpoints or conferences".into());
    }
    if errors.is_some_and(|n| n > 0) {
        failed.push("ERROR lines in the log".into());
    }
    if counters.mismatches.load(Ordering::Relaxed) > 0 {
        failed.push("received frames differed from what was sent".into());
    }
    if failed.is_empty() {
        println!("soak passed");
        Ok(())
    } else {
        bail!("soak failed: {}", failed.join("; "))
    }
}

async fn get_metrics(addr: SocketAddr) -> Result<String, ponte_loadtest::probe::ProbeError> {
    ponte_loadtest::probe::get_metrics(addr).await
}

fn metric(text: &str, name: &str) -> f64 {
    ponte_loadtest::probe::metric(text, name).unwrap_or(0.0)
}
