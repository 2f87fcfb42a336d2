//! A participant reaches the bridge through a relay that loses 5 % of datagrams, adds up to
//! 30 ms of jitter and reorders, in both directions; so both media paths (what it sends and
//! what it receives) cross one bad link, as they would behind one bad access network. Video
//! keeps flowing (NACK/RTX recover most losses, key-frame requests the rest) and audio never
//! stops for longer than 100 ms unless the link itself lost three or more 20 ms frames in a
//! row: the bridge adds no stall of its own to what the link loses.
//!
//! (With a second relay in front of the other participant every path crosses two such links,
//! 10 % loss end to end: three or four consecutive lost 20 ms frames plus jitter then exceed
//! 100 ms now and then however the bridge behaves.)

use std::time::Duration;

use ponte_loadtest::ParticipantOptions;
use ponte_proto::MediaKind;
use ponte_tests::relay::{Impairment, Relay};
use ponte_tests::{scrape, stack};

const RUN: Duration = Duration::from_secs(12);
/// The longest silence allowed between two audio frames.
const MAX_AUDIO_GAP: Duration = Duration::from_millis(100);

fn lossy(seed: u64) -> Impairment {
    Impairment { loss: 0.05, jitter: Duration::from_millis(30), reorder: 0.05, rate_bps: None, seed }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_survives_loss_jitter_and_reordering() {
    let stack = stack::start().await;
    let relay = Relay::start(stack.addrs.media, lossy(11)).await.unwrap();
    let a = stack::join_with(&stack, "lossy", "Ada", ParticipantOptions { media_via: Some(relay.addr()), ..Default::default() }).await;
    let b = stack::join(&stack, "lossy", "Bo").await;

    let flowing = a
        .wait_until(Duration::from_secs(15), |_| {
            [(&a, &b), (&b, &a)].iter().all(|(r, p)| r.snapshot().track(p.id(), MediaKind::Audio).is_some_and(|t| t.frames > 10))
        })
        .await;
    assert!(flowing, "audio flows both ways through the relays: {:?} {:?}", a.snapshot(), b.snapshot());
    // Measure from here: joining (renegotiation, first key frame) is not the steady state.
    let measure_from = std::time::Instant::now();
    let before = [(a.snapshot(), &b), (b.snapshot(), &a)].map(|(s, p)| s.track(p.id(), MediaKind::Video).map_or(0, |t| t.frames));
    let mut video_stalls = 0;
    let mut last_video = before;
    let start = tokio::time::Instant::now();
    while start.elapsed() < RUN {
        tokio::time::sleep(Duration::from_secs(1)).await;
        for (i, (r, p)) in [(&a, &b), (&b, &a)].into_iter().enumerate() {
            let frames = r.snapshot().track(p.id(), MediaKind::Video).map_or(0, |t| t.frames);
            if frames == last_video[i] {
                video_stalls += 1;
            }
            last_video[i] = frames;
        }
    }

    let (forwarded, dropped) = relay.stats.totals();
    let metrics = scrape::metrics(stack.addrs.bridge_http).await;
    let keyframe_requests = metrics.sum("bridge_keyframe_requests_total", &[]);
    for (name, r, p, video_before) in [("Ada", &a, &b, before[0]), ("Bo", &b, &a, before[1])] {
        let snap = r.snapshot();
        let video = snap.track(p.id(), MediaKind::Video).expect("a video track");
        let audio = snap.track(p.id(), MediaKind::Audio).expect("an audio track");
        let sent = p.stats();
        let window: Vec<_> = audio.long_intervals.iter().filter(|g| g.at > measure_from).collect();
        let audio_gap = window.iter().map(|g| g.interval).max().unwrap_or_default();
        // A wait that follows three or more frames lost in a row is the link's doing (3 × 20 ms
        // plus jitter); any other wait over the limit is a stall.
        let stalls: Vec<_> = window.iter().filter(|g| g.interval > MAX_AUDIO_GAP && g.skipped < 3).collect();
        println!(
            "{name} receives from {}: video {} of {} frames ({} gaps, {} missing), audio {} of {} frames ({} missing), longest audio gap {audio_gap:?} (whole run {:?}); relays forwarded {forwarded}, dropped {dropped}; key-frame requests {keyframe_requests}",
            p.id(), video.frames, sent.video.frames, video.gaps, video.missing, audio.frames, sent.audio.frames, audio.missing, audio.max_interval
        );
        println!(
            "{name}: audio waits >= 60 ms (ms into the window, ms, frames lost before): {:?}",
            window.iter().map(|g| (g.at.saturating_duration_since(measure_from).as_millis(), g.interval.as_millis(), g.skipped)).collect::<Vec<_>>()
        );
        assert_eq!(video.mismatches + audio.mismatches, 0, "{name}: what arrives is intact");
        // 15 fps for RUN seconds: most frames get through, repaired or after a key frame.
        let new_video = video.frames - video_before;
        assert!(new_video as f64 >= 0.7 * 15.0 * RUN.as_secs_f64(), "{name}: video keeps flowing: {new_video} frames in {RUN:?}");
        assert!(stalls.is_empty(), "{name}: audio stopped for longer than {MAX_AUDIO_GAP:?} without a loss burst to explain it: {stalls:?}");
    }
    assert_eq!(video_stalls, 0, "no second without new video");
    assert!(dropped > 0, "the relays did lose datagrams");
    drop((a, b));
    stack.shutdown().await.unwrap();
}
