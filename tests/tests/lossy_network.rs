//! Two participants reach the bridge through relays that lose 5 % of datagrams, add up to
//! 30 ms of jitter and reorder: video keeps flowing (NACK/RTX recover most losses, key-frame
//! requests the rest) and audio never stops for longer than 100 ms.

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
    let relay_a = Relay::start(stack.addrs.media, lossy(11)).await.unwrap();
    let relay_b = Relay::start(stack.addrs.media, lossy(12)).await.unwrap();
    let via = |relay: &Relay| ParticipantOptions { media_via: Some(relay.addr()), ..Default::default() };
    let a = stack::join_with(&stack, "lossy", "Ada", via(&relay_a)).await;
    let b = stack::join_with(&stack, "lossy", "Bo", via(&relay_b)).await;

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

    let (forwarded, dropped) = [&relay_a, &relay_b].iter().fold((0, 0), |acc, r| {
        let (f, d) = r.stats.totals();
        (acc.0 + f, acc.1 + d)
    });
    let metrics = scrape::metrics(stack.addrs.bridge_http).await;
    let keyframe_requests = metrics.sum("bridge_keyframe_requests_total", &[]);
    for (name, r, p, video_before) in [("Ada", &a, &b, before[0]), ("Bo", &b, &a, before[1])] {
        let snap = r.snapshot();
        let video = snap.track(p.id(), MediaKind::Video).expect("a video track");
        let audio = snap.track(p.id(), MediaKind::Audio).expect("an audio track");
        let sent = p.stats();
        let audio_gap = audio.long_intervals.iter().filter(|(at, _)| *at > measure_from).map(|(_, d)| *d).max().unwrap_or_default();
        println!(
            "{name} from {}: video {} of {} frames ({} gaps, {} missing), audio {} of {} frames ({} missing), longest audio gap {audio_gap:?} (whole run {:?}); relays forwarded {forwarded}, dropped {dropped}; key-frame requests {keyframe_requests}",
            p.id(), video.frames, sent.video.frames, video.gaps, video.missing, audio.frames, sent.audio.frames, audio.missing, audio.max_interval
        );
        println!("{name}: audio intervals >= 60 ms: {:?}", audio.long_intervals.iter().map(|(at, d)| (at.saturating_duration_since(measure_from).as_millis() as i64, d.as_millis())).collect::<Vec<_>>());
        assert_eq!(video.mismatches + audio.mismatches, 0, "{name}: what arrives is intact");
        // 15 fps for RUN seconds: most frames get through, repaired or after a key frame.
        let new_video = video.frames - video_before;
        assert!(new_video as f64 >= 0.7 * 15.0 * RUN.as_secs_f64(), "{name}: video keeps flowing: {new_video} frames in {RUN:?}");
        assert!(audio_gap <= MAX_AUDIO_GAP, "{name}: longest audio gap {audio_gap:?}");
    }
    assert_eq!(video_stalls, 0, "no second without new video");
    assert!(dropped > 0, "the relays did lose datagrams");
    drop((a, b));
    stack.shutdown().await.unwrap();
}
