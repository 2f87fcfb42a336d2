//! Last-N and the dominant speaker end to end: with `last_n = 2`, a receiver in a room of five
//! publishers gets exactly two videos, and when someone else speaks (RFC 6464 levels in their
//! audio) the bridge announces them on the data channel and their video arrives.

use std::collections::BTreeSet;
use std::time::Duration;

use ponte::StackConfig;
use ponte_loadtest::{Participant, ParticipantOptions};
use ponte_proto::MediaKind;
use ponte_tests::stack;

/// Publishers whose video frames reached `r` during `window`.
async fn videos(r: &Participant, publishers: &[Participant], window: Duration) -> BTreeSet<String> {
    let frames = |p: &Participant| r.snapshot().track(p.id(), MediaKind::Video).map_or(0, |t| t.frames);
    let before: Vec<u64> = publishers.iter().map(frames).collect();
    tokio::time::sleep(window).await;
    publishers.iter().zip(before).filter(|(p, b)| frames(p) > *b + 3).map(|(p, _)| p.id().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_videos_of_five_follow_the_speaker() {
    let mut config = StackConfig::loopback();
    config.bridge.quality.last_n = 2;
    let stack = stack::start_with(config).await;
    let mut publishers = Vec::new();
    for i in 0..5 {
        let opts = ParticipantOptions { audio_level: Some(-127), video_fps: 10, ..Default::default() };
        publishers.push(stack::join_with(&stack, "lastn", &format!("P{i}"), opts).await);
    }
    let opts = ParticipantOptions { data_channel: true, send_video: false, send_audio: false, ..Default::default() };
    let rx = stack::join_with(&stack, "lastn", "Viewer", opts).await;
    let got = rx.wait_until(Duration::from_secs(15), |r| r.last_n().is_some_and(|l| l.len() == 2)).await;
    assert!(got, "the bridge announces a last-N set of two: {:?}", rx.channel_messages());
    let seen = videos(&rx, &publishers, Duration::from_secs(2)).await;
    assert_eq!(seen.len(), 2, "exactly two videos: {seen:?}");

    for speaker in [3usize, 1] {
        for (i, p) in publishers.iter().enumerate() {
            p.set_audio_level(Some(if i == speaker { -20 } else { -127 })).unwrap();
        }
        let id = publishers[speaker].id().to_owned();
        let announced = rx.wait_until(Duration::from_secs(10), |r| r.dominant_speaker().as_deref() == Some(id.as_str())).await;
        assert!(announced, "P{speaker} announced as dominant speaker: {:?}", rx.channel_messages());
        tokio::time::sleep(Duration::from_secs(1)).await;
        let seen = videos(&rx, &publishers, Duration::from_secs(2)).await;
        assert_eq!(seen.len(), 2, "still two videos: {seen:?}");
        assert!(seen.contains(&id), "the speaker's video arrives: {seen:?}");
        assert_eq!(rx.last_n().unwrap().first(), Some(&id), "the speaker leads the last-N set");
    }
    let audio = publishers.iter().filter(|p| rx.snapshot().track(p.id(), MediaKind::Audio).is_some_and(|t| t.frames > 0)).count();
    assert_eq!(audio, 5, "audio is never cut by last-N");
    let _ = stack.shutdown().await;
}
