//! Each target on stable Rust: replay its committed corpus (every entry, including past
//! crashes kept as regressions), then mutate the corpus at random for `PONTE_FUZZ_SECS`
//! seconds (default 2). `PONTE_FUZZ_SEED` replays a run; the seed is printed either way.
//! A panic writes the input to `artifacts/<target>/` and fails with its path.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ponte_fuzz::mutate::{mutate, Rng};
use ponte_fuzz::targets::ALL;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn corpus(name: &str) -> Vec<(String, Vec<u8>)> {
    let dir = root().join("corpus").join(name);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a readable corpus entry").path())
        .collect();
    entries.sort();
    entries
        .into_iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect()
}

/// Run the target; on a panic, keep the input and say where.
fn run(name: &str, target: fn(&[u8]), input: &[u8], what: &str) {
    if catch_unwind(AssertUnwindSafe(|| target(input))).is_ok() {
        return;
    }
    let dir = root().join("artifacts").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
    let path = dir.join(format!("crash-{hash:016x}"));
    std::fs::write(&path, input).unwrap();
    panic!("{name} panicked on {what}; input saved to {}", path.display());
}

fn fuzz(name: &str) {
    let target = ALL.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).expect("a target of that name");
    let seeds = corpus(name);
    assert!(!seeds.is_empty(), "corpus/{name} has entries");
    for (file, input) in &seeds {
        run(name, target, input, &format!("corpus entry {file}"));
    }
    let secs: f64 = std::env::var("PONTE_FUZZ_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let seed: u64 = std::env::var("PONTE_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    let mut rng = Rng::new(seed);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut runs = 0u64;
    while Instant::now() < deadline {
        let (_, base) = &seeds[rng.below(seeds.len())];
        let (_, other) = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, base, other);
        run(name, target, &input, &format!("mutation #{runs} (PONTE_FUZZ_SEED={seed})"));
        runs += 1;
    }
    println!("{name}: {} corpus entries, {runs} mutations in {secs} s, seed {seed}", seeds.len());
}

#[test]
fn signal_json() {
    fuzz("signal_json");
}

#[test]
fn link_json() {
    fuzz("link_json");
}

#[test]
fn sdp_offer() {
    fuzz("sdp_offer");
}

#[test]
fn udp_datagram() {
    fuzz("udp_datagram");
}

#[test]
fn media_verify() {
    fuzz("media_verify");
}

#[test]
fn mpegts() {
    fuzz("mpegts");
}

#[test]
fn flv() {
    fuzz("flv");
}

#[test]
fn h264() {
    fuzz("h264");
}

#[test]
fn aac() {
    fuzz("aac");
}

#[test]
fn stream_id() {
    fuzz("stream_id");
}

#[test]
fn rtmp() {
    fuzz("rtmp");
}

#[test]
fn srt() {
    fuzz("srt");
}

#[test]
fn rtp_h264() {
    fuzz("rtp_h264");
}

#[test]
fn every_target_has_a_test_here() {
    let tested = ["signal_json", "link_json", "sdp_offer", "udp_datagram", "media_verify", "mpegts", "flv", "h264", "aac", "stream_id", "rtmp", "srt", "rtp_h264"];
    for (name, _) in ALL {
        assert!(tested.contains(name), "add a #[test] for {name}");
    }
}
