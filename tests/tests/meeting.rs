//! Three participants in one room each receive the other two's audio and video, intact; a
//! second room at the same time gets none of it.

use std::time::Duration;

use ponte_loadtest::Participant;
use ponte_proto::MediaKind;
use ponte_tests::stack;

/// `receiver` got `publisher`'s `kind` as one unbroken, byte-exact run up to (nearly) the
/// last frame sent.
fn assert_receives(receiver: &Participant, name: &str, publisher: &Participant, kind: MediaKind) {
    let snap = receiver.snapshot();
    let track = snap
        .track(publisher.id(), kind)
        .unwrap_or_else(|| panic!("{name} has no {kind:?} track from {}: {snap:?}", publisher.id()));
    let sent = match kind {
        MediaKind::Audio => publisher.stats().audio,
        MediaKind::Video => publisher.stats().video,
    };
    let (first, last) = (track.first_seq.unwrap(), track.last_seq.unwrap());
    assert_eq!(track.mismatches, 0, "{name}: every {kind:?} frame byte-exact: {track:?}");
    assert_eq!(track.gaps, 0, "{name}: no gap in {kind:?} from {}: {track:?}", publisher.id());
    assert_eq!(track.frames, u64::from(last - first + 1), "{name}: frames = the seq range: {track:?}");
    assert!(track.frames >= 20, "{name}: enough {kind:?} frames: {track:?}");
    // Frames in flight when we looked: at most a few.
    assert!(u64::from(last) + 5 >= sent.frames, "{name}: {kind:?} up to date: last seq {last}, sent {}", sent.frames);
    assert_eq!(track.sender_tag, Some(publisher.sender_tag()), "{name}: the track carries its publisher's media");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_in_a_room_see_and_hear_each_other_and_rooms_stay_apart() {
    let stack = stack::start().await;
    let a = stack::join(&stack, "standup", "Ada").await;
    let b = stack::join(&stack, "standup", "Bo").await;
    let c = stack::join(&stack, "standup", "Cy").await;
    let x = stack::join(&stack, "retro", "Xi").await;
    let y = stack::join(&stack, "retro", "Yu").await;

    let room = [("Ada", &a), ("Bo", &b), ("Cy", &c)];
    let all_flowing = a
        .wait_until(Duration::from_secs(15), |_| {
            room.iter().all(|(_, r)| r.snapshot().tracks.len() == 4 && r.snapshot().tracks.iter().all(|t| t.stats.frames >= 25))
        })
        .await;
    assert!(all_flowing, "every member receives 2 publishers × 2 kinds: {:?}", room.map(|(n, r)| (n, r.snapshot())));

    for (name, receiver) in room {
        for (other, publisher) in room {
            if other != name {
                assert_receives(receiver, name, publisher, MediaKind::Audio);
                assert_receives(receiver, name, publisher, MediaKind::Video);
            }
        }
        let publishers = receiver.snapshot().publishers().into_iter().map(str::to_owned).collect::<Vec<_>>();
        assert!(!publishers.iter().any(|p| p == x.id() || p == y.id()), "{name} got media from another room: {publishers:?}");
        assert_eq!(receiver.snapshot().unmapped_frames, 0);
    }
    assert_receives(&x, "Xi", &y, MediaKind::Video);
    assert_receives(&y, "Yu", &x, MediaKind::Audio);
    let xs = x.snapshot();
    assert_eq!(xs.tracks.len(), 2, "retro sees only retro: {xs:?}");

    let m = ponte_tests::scrape::metrics(stack.addrs.bridge_http).await;
    assert_eq!(m.sum("bridge_endpoints", &[]), 5.0);
    assert_eq!(m.sum("bridge_conferences", &[]), 2.0);
    assert!(m.sum("bridge_frames_forwarded_total", &[("kind", "video")]) > 100.0);
    assert!(m.sum("bridge_keyframe_requests_total", &[]) >= 1.0, "new subscribers asked for key frames");
    stack.shutdown().await.expect("clean stop");
}
