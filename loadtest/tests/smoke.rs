//! CI smoke run of the `loadtest` binary: a few participants for a few seconds against a
//! child `ponte`, then the JSON report must hold sane, nonzero figures. The benchmark itself
//! (docs/performance.md) is not a test.
//!
//! Needs the `ponte` binary beside this test's target directory (`cargo build -p ponte`;
//! scripts/test.sh builds every binary first).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target/<profile>/deps/..");
    let path = dir.join(name);
    assert!(path.exists(), "{} is missing; run `cargo build -p ponte` first", path.display());
    path
}

/// A child `ponte` on ephemeral loopback ports; returns it with its signaling URL, bridge
/// HTTP address and PID.
async fn start_ponte() -> (Child, String, String, String) {
    let (target, child) = ponte_loadtest::local::start_ponte(&binary("ponte"), &[]).await.expect("start ponte");
    let http = target.metrics.expect("bridge http in the up line").to_string();
    let pid = target.pid.expect("running").to_string();
    (child, target.signaling, http, pid)
}

async fn loadtest(args: &[&str], timeout: Duration) -> std::process::Output {
    let run = Command::new(binary("loadtest")).args(args).stdin(Stdio::null()).kill_on_drop(true).output();
    tokio::time::timeout(timeout, run).await.expect("loadtest stops by itself").expect("run loadtest")
}

fn num(v: &Value, path: &str) -> f64 {
    path.split('.').fold(v, |v, k| &v[k]).as_f64().unwrap_or_else(|| panic!("{path} is no number in the report"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_against_ponte_reports_sane_figures() {
    let (_ponte, signaling, http, pid) = start_ponte().await;
    let dir = std::env::temp_dir().join(format!("loadtest-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("run.json");
    let started = std::time::Instant::now();
    let out = loadtest(
        &[
            "run", "--signaling", &signaling, "--bridge-metrics", &http, "--bridge-pid", &pid, "--rooms", "1", "--publishers", "2", "--subscribers", "1",
            "--video-kbps", "200", "--duration", "7", "--ramp", "20", "--json", json.to_str().unwrap(),
        ],
        Duration::from_secs(25),
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "loadtest failed: {:?}\n{stdout}\n{stderr}", out.status);
    assert!(started.elapsed() < Duration::from_secs(20), "a 7 s run took {:?}", started.elapsed());
    assert!(stdout.contains("one-way latency"), "a summary table:\n{stdout}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["joined"], 3, "{r:#}");
    assert_eq!(num(&r, "window.connected"), 3.0);
    // Two publishers reach two receivers each; the subscriber sends nothing.
    let (sent, received, expected) = (num(&r, "window.sent_kbps"), num(&r, "window.received_kbps"), num(&r, "window.expected_kbps"));
    assert!(sent > 2.0 * 150.0 && sent < 2.0 * 400.0, "sent {sent} kbit/s for two 200 kbit/s publishers (+ audio)");
    assert!(received > 0.7 * expected && received < 1.2 * expected, "received {received} of {expected} kbit/s");
    assert!(num(&r, "window.loss") < 0.05, "loss on loopback");
    let p50 = num(&r, "window.latency_ms.p50");
    assert!(p50 > 0.0 && p50 < 200.0, "p50 one-way latency {p50} ms");
    assert!(num(&r, "window.latency_ms.count") > 100.0);
    assert!(num(&r, "window.audio_latency_ms.count") > 0.0 && num(&r, "window.video_latency_ms.count") > 0.0);
    let join = num(&r, "join_ms.p50");
    assert!(join > 0.0 && join < 10_000.0, "join {join} ms");
    assert!(num(&r, "time_to_first_frame_ms.p50") >= join, "first frame after joining");
    assert!(num(&r, "window.server.cpu_percent") > 0.0, "the bridge did some work");
    assert!(num(&r, "window.server.rss_bytes") > 1e6, "the bridge's resident memory");
    assert!(num(&r, "window.server.packets_per_sec") > 50.0);
    assert!(num(&r, "window.server.cpu_us_per_packet") > 0.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_step_bench_writes_a_plot_and_the_ceiling() {
    let (_ponte, signaling, http, pid) = start_ponte().await;
    let dir = std::env::temp_dir().join(format!("loadtest-bench-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (svg, json) = (dir.join("bench.svg"), dir.join("bench.json"));
    let out = loadtest(
        &[
            "bench", "--signaling", &signaling, "--bridge-metrics", &http, "--bridge-pid", &pid, "--publishers", "2", "--step-rooms", "1", "--max-steps", "1",
            // A machine with Janus installed would run it too; this test is about Ponte and the relay.
            "--settle", "1", "--measure", "3", "--no-janus", "--svg", svg.to_str().unwrap(), "--json", json.to_str().unwrap(),
        ],
        Duration::from_secs(28),
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed: {:?}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let results = r["results"].as_array().expect("results");
    let names: Vec<&str> = results.iter().filter_map(|t| t["target"].as_str()).collect();
    assert!(names.contains(&"ponte") && names.contains(&"raw-udp-relay"), "Ponte and the raw relay: {names:?}");
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.starts_with("<svg"));
    assert_eq!(plot.matches("<polyline").count(), 2 * results.len(), "CPU and latency lines for every target");
    for t in results.iter().filter(|t| t["target"] != "janus") {
        let step = &t["steps"][0];
        assert!(num(step, "window.server.packets_per_sec") > 50.0, "{t:#}");
        assert!(num(step, "window.server.cpu_us_per_packet") > 0.0, "{t:#}");
    }
    assert!(num(&r, "ponte_share_of_ceiling") > 0.0);
    let _ = std::fs::remove_dir_all(&dir);
}
