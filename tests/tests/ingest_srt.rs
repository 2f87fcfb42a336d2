//! SRT ingest with real encoders: ffmpeg pushes H.264 + AAC over SRT with an AES passphrase
//! into a room; a member of the room receives H.264 access units (SPS, PPS, IDR) and Opus that
//! libopus decodes into the 1 kHz tone. A wrong key is refused and counted.

use std::time::Duration;

use ponte_tests::ingest::{self, check_audio, check_video, FPS, TONE_HZ};
use ponte_tests::{scrape, stack};

const KEY: &str = "stage-key-1";
const PASSPHRASE: &str = "correct-horse-battery";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srt_with_passphrase_reaches_the_room() {
    let stack = stack::start_with(ingest::config_with_keys(&[("stage", KEY, Some(PASSPHRASE))])).await;
    let srt = stack.addrs.srt.expect("a room has a key, so SRT listens");
    let viewer = stack::join_with(&stack, "stage", "viewer", ingest::viewer_options("stage")).await;

    let url = format!("srt://{srt}?mode=caller&streamid=%23!::r=stage,m=publish,s={KEY}&passphrase={PASSPHRASE}&pbkeylen=16&latency=200000");
    let seconds = 4;
    let (ok, err) = ingest::finish(ingest::ffmpeg(seconds, "mpegts", &url), Duration::from_secs(20)).await;
    assert!(ok, "ffmpeg pushed over SRT: {err}");
    tokio::time::sleep(Duration::from_millis(800)).await;

    let kept = viewer.snapshot().kept;
    let v = check_video(&kept);
    let sent = (seconds * FPS) as usize;
    assert!(v.idr >= 2 && v.sps >= v.idr && v.pps >= v.idr && v.bare_idr == 0, "{v:?}");
    assert_eq!(v.before_first_idr, 0, "the viewer starts at a key frame: {v:?}");
    assert!(v.access_units >= sent * 7 / 10 && v.access_units <= sent + 5, "{} of {sent} frames: {v:?}", v.access_units);
    let (secs, hz) = check_audio(&kept);
    assert!(secs >= f64::from(seconds) * 0.6, "{secs:.2} s of audio");
    assert!((hz - TONE_HZ).abs() < 30.0, "tone at {hz:.0} Hz");

    let (code, body) = scrape::get(stack.addrs.bridge_http, "/metrics").await;
    assert_eq!(code, 200);
    assert!(body.contains("bridge_ingest_video_frames_total"), "{body}");
    stack.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srt_wrong_key_is_refused_and_counted() {
    let stack = stack::start_with(ingest::config_with_keys(&[("stage", KEY, None)])).await;
    let srt = stack.addrs.srt.unwrap();
    let url = format!("srt://{srt}?mode=caller&streamid=stage/not-the-key&latency=200000");
    let (ok, err) = ingest::finish(ingest::ffmpeg(2, "mpegts", &url), Duration::from_secs(15)).await;
    assert!(!ok, "a wrong key must not be taken");
    assert!(err.to_lowercase().contains("reject") || !err.is_empty(), "{err}");
    let m = scrape::metrics(stack.addrs.bridge_http).await;
    assert!(m.sum("bridge_ingest_refusals_total", &[("reason", "wrong_key"), ("protocol", "srt")]) >= 1.0);
    stack.shutdown().await.unwrap();
}

/// A viewer who joins while the stream runs starts from the cached key frame at once (the
/// encoder sends one only every 4 s here), so its first access unit is an IDR with SPS/PPS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_viewer_starts_from_the_cached_key_frame() {
    let stack = stack::start_with(ingest::config_with_keys(&[("stage", KEY, None)])).await;
    let srt = stack.addrs.srt.unwrap();
    let url = format!("srt://{srt}?mode=caller&streamid=stage/{KEY}&latency=200000");
    let encoder = ingest::ffmpeg_with(6, "mpegts", &url, &["-g", "100"]);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let viewer = stack::join_with(&stack, "stage", "late", ingest::viewer_options("stage")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let kept = viewer.snapshot().kept;
    let v = check_video(&kept);
    assert!(v.idr >= 1 && v.before_first_idr == 0 && v.bare_idr == 0, "{v:?}");
    assert!(v.access_units >= 25, "video flows after the replay: {v:?}");
    let (ok, err) = ingest::finish(encoder, Duration::from_secs(20)).await;
    assert!(ok, "{err}");
    stack.shutdown().await.unwrap();
}

/// libsrt's own `srt-live-transmit` relays a TS file in: its 1456-byte messages do not line up
/// with 188-byte TS packets, and the bridge re-frames them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srt_live_transmit_relays_a_ts_file() {
    let dir = std::env::temp_dir().join(format!("ponte-ingest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("clip.ts");
    let seconds = 3;
    let (ok, err) = ingest::finish(ingest::ffmpeg_with(seconds, "mpegts", file.to_str().unwrap(), &["-y"]), Duration::from_secs(20)).await;
    assert!(ok, "ffmpeg wrote the TS file: {err}");

    let stack = stack::start_with(ingest::config_with_keys(&[("stage", KEY, None)])).await;
    let srt = stack.addrs.srt.unwrap();
    let viewer = stack::join_with(&stack, "stage", "viewer", ingest::viewer_options("stage")).await;
    // stdin must be a pipe: srt-live-transmit polls it, and a regular file cannot be polled.
    let mut relay = tokio::process::Command::new("srt-live-transmit")
        .args(["-q", "file://con", &format!("srt://{srt}?streamid=stage/{KEY}&latency=200")])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("srt-live-transmit runs (scripts/test.sh installs srt-tools)");
    let mut stdin = relay.stdin.take().unwrap();
    let ts = std::fs::read(&file).unwrap();
    // srt-live-transmit drops what it reads before its SRT connection is up, and it does not
    // exit at the end of its input: feed it after a moment, at about real time, then stop it.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let step = ts.len().div_ceil(seconds as usize * 10);
    for chunk in ts.chunks(step) {
        use tokio::io::AsyncWriteExt;
        stdin.write_all(chunk).await.expect("srt-live-transmit takes its input");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let _ = relay.start_kill();
    drop(stdin);
    let (_, err) = ingest::finish(relay, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let kept = viewer.snapshot().kept;
    let v = check_video(&kept);
    let sent = (seconds * FPS) as usize;
    assert!(v.idr >= 2 && v.bare_idr == 0 && v.before_first_idr == 0, "{v:?} ({err})");
    assert!(v.access_units >= sent * 7 / 10, "{} of {sent}: {v:?} ({err})", v.access_units);
    let (_, hz) = check_audio(&kept);
    assert!((hz - TONE_HZ).abs() < 30.0, "tone at {hz:.0} Hz");
    let _ = std::fs::remove_dir_all(&dir);
    stack.shutdown().await.unwrap();
}
