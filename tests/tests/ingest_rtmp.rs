//! RTMP ingest with real encoders: ffmpeg publishes H.264 + AAC over RTMP into two rooms at
//! once; a member of each room receives valid H.264 access units and the 1 kHz tone as Opus.
//! The stream is in the room's roster while it runs. A wrong key gets an error status and is
//! counted.

use std::time::Duration;

use ponte_tests::ingest::{self, check_audio, check_video, FPS, TONE_HZ};
use ponte_loadtest::RosterEvent;
use ponte_tests::{scrape, stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rtmp_encoders_into_two_rooms() {
    let cfg = ingest::config_with_keys(&[("north", "north-key-1", None), ("south", "south-key-1", None)]);
    let stack = stack::start_with(cfg).await;
    let rtmp = stack.addrs.rtmp.expect("RTMP listens");
    let north = stack::join_with(&stack, "north", "viewer-n", ingest::viewer_options("north")).await;
    let south = stack::join_with(&stack, "south", "viewer-s", ingest::viewer_options("south")).await;

    let seconds = 4;
    // Both URL forms: the key as a query, and OBS's stream key "ROOM/KEY".
    let a = ingest::ffmpeg(seconds, "flv", &format!("rtmp://{rtmp}/live/north?key=north-key-1"));
    let b = ingest::ffmpeg(seconds, "flv", &format!("rtmp://{rtmp}/live/south/south-key-1"));
    // While streaming, the live participant is in the room's roster.
    let roster_seen = async {
        for _ in 0..100 {
            if north.roster().iter().any(|p| p.id == "live-north" && p.display_name == "live: north feed") {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    };
    let (ra, rb, in_roster) =
        tokio::join!(ingest::finish(a, Duration::from_secs(20)), ingest::finish(b, Duration::from_secs(20)), roster_seen);
    assert!(in_roster, "live: north feed in the roster: {:?}", north.roster());
    assert!(ra.0, "north encoder: {}", ra.1);
    assert!(rb.0, "south encoder: {}", rb.1);
    tokio::time::sleep(Duration::from_millis(800)).await;

    let sent = (seconds * FPS) as usize;
    for (room, viewer) in [("north", &north), ("south", &south)] {
        let kept = viewer.snapshot().kept;
        let v = check_video(&kept);
        assert!(v.idr >= 2 && v.bare_idr == 0 && v.before_first_idr == 0, "{room}: {v:?}");
        assert!(v.access_units >= sent * 7 / 10 && v.access_units <= sent + 5, "{room}: {} of {sent}: {v:?}", v.access_units);
        let (secs, hz) = check_audio(&kept);
        assert!(secs >= f64::from(seconds) * 0.6, "{room}: {secs:.2} s of audio");
        assert!((hz - TONE_HZ).abs() < 30.0, "{room}: tone at {hz:.0} Hz");
    }
    let (code, body) = scrape::get(stack.addrs.bridge_http, "/v1/ingests").await;
    assert_eq!(code, 200, "{body}");
    let left = north.events().iter().any(|e| matches!(e, RosterEvent::Left { participant_id } if participant_id == "live-north"));
    assert!(left, "the live participant leaves when the encoder stops: {:?}", north.events());
    stack.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtmp_wrong_key_is_refused() {
    let stack = stack::start_with(ingest::config_with_keys(&[("north", "north-key-1", None)])).await;
    let rtmp = stack.addrs.rtmp.unwrap();
    let (ok, err) = ingest::finish(ingest::ffmpeg(2, "flv", &format!("rtmp://{rtmp}/live/north?key=wrong-key")), Duration::from_secs(15)).await;
    assert!(!ok, "a wrong key must not be taken: {err}");
    let m = scrape::metrics(stack.addrs.bridge_http).await;
    assert!(m.sum("bridge_ingest_refusals_total", &[("reason", "wrong_key"), ("protocol", "rtmp")]) >= 1.0);
    stack.shutdown().await.unwrap();
}

/// An encoder that drops and reconnects within the grace period resumes the same participant:
/// viewers keep its tracks (no leave, no renegotiation) and the picture goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_encoder_resumes_the_same_participant() {
    let mut cfg = ingest::config_with_keys(&[("north", "north-key-1", None)]);
    cfg.bridge.ingest.reconnect_grace_ms = 5000;
    let stack = stack::start_with(cfg).await;
    let rtmp = stack.addrs.rtmp.unwrap();
    let viewer = stack::join_with(&stack, "north", "viewer", ingest::viewer_options("north")).await;
    let url = format!("rtmp://{rtmp}/live/north?key=north-key-1");
    for _ in 0..2 {
        let (ok, err) = ingest::finish(ingest::ffmpeg(2, "flv", &url), Duration::from_secs(15)).await;
        assert!(ok, "{err}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = viewer.events();
    let joins = events.iter().filter(|e| matches!(e, RosterEvent::Joined(p) if p.id == "live-north")).count();
    let leaves = events.iter().filter(|e| matches!(e, RosterEvent::Left { participant_id } if participant_id == "live-north")).count();
    let in_roster = viewer.roster().iter().any(|p| p.id == "live-north");
    assert!((joins == 1 || in_roster) && leaves == 0, "one participant throughout: {events:?}");
    let v = check_video(&viewer.snapshot().kept);
    assert!(v.idr >= 3 && v.access_units >= (4 * FPS as usize) * 6 / 10, "both sessions reached the viewer: {v:?}");
    stack.shutdown().await.unwrap();
}

/// B-frames are detected and reported (metric) rather than leaving a stuttering picture
/// unexplained.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_frames_are_detected_and_counted() {
    let stack = stack::start_with(ingest::config_with_keys(&[("north", "north-key-1", None)])).await;
    let rtmp = stack.addrs.rtmp.unwrap();
    let url = format!("rtmp://{rtmp}/live/north?key=north-key-1");
    let push = ingest::ffmpeg_with(2, "flv", &url, &["-profile:v", "main", "-bf", "2", "-tune", "film"]);
    let (ok, err) = ingest::finish(push, Duration::from_secs(15)).await;
    assert!(ok, "{err}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m = scrape::metrics(stack.addrs.bridge_http).await;
    assert!(m.sum("bridge_ingest_b_frames_total", &[("room", "north")]) > 0.0, "B-frames counted");
    assert!(m.sum("bridge_ingest_b_frame_streams_total", &[]) >= 1.0);
    stack.shutdown().await.unwrap();
}

/// Stream keys from the operator API: a room added at run time takes a stream; removed, it
/// refuses the next one. The API wants the bridge's secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_from_the_operator_api() {
    let mut cfg = ingest::config_with_keys(&[("north", "north-key-1", None)]);
    cfg.bridge.secret = Some("bridge-secret".into());
    let stack = stack::start_with(cfg).await;
    let rtmp = stack.addrs.rtmp.unwrap();
    let api = format!("http://{}/v1/ingest/keys/east", stack.addrs.bridge_http);
    let http = reqwest::Client::new();
    let body = r#"{"key":"east-key-1","name":"East"}"#;
    let anonymous = http.put(&api).body(body).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let put = http.put(&api).bearer_auth("bridge-secret").body(body).send().await.unwrap();
    assert_eq!(put.status(), 204, "{}", put.text().await.unwrap());
    let bad = http.put(&api).bearer_auth("bridge-secret").body(r#"{"key":"short"}"#).send().await.unwrap();
    assert_eq!(bad.status(), 400);

    let viewer = stack::join_with(&stack, "east", "viewer", ingest::viewer_options("east")).await;
    let url = format!("rtmp://{rtmp}/live/east?key=east-key-1");
    let (ok, err) = ingest::finish(ingest::ffmpeg(2, "flv", &url), Duration::from_secs(15)).await;
    assert!(ok, "{err}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let v = check_video(&viewer.snapshot().kept);
    assert!(v.idr >= 1 && v.access_units >= 25, "{v:?}");
    assert!(viewer.events().iter().any(|e| matches!(e, RosterEvent::Joined(p) if p.display_name == "live: East")));

    let del = http.delete(&api).bearer_auth("bridge-secret").send().await.unwrap();
    assert_eq!(del.status(), 204);
    let (ok, _) = ingest::finish(ingest::ffmpeg(1, "flv", &url), Duration::from_secs(15)).await;
    assert!(!ok, "a removed key takes no stream");
    let m = scrape::metrics(stack.addrs.bridge_http).await;
    assert!(m.sum("bridge_ingest_refusals_total", &[("reason", "unknown_room"), ("protocol", "rtmp")]) >= 1.0);
    stack.shutdown().await.unwrap();
}

/// A second encoder on a room that is live is refused; the first goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_publisher_on_a_live_room_is_refused() {
    let stack = stack::start_with(ingest::config_with_keys(&[("north", "north-key-1", None)])).await;
    let rtmp = stack.addrs.rtmp.unwrap();
    let url = format!("rtmp://{rtmp}/live/north?key=north-key-1");
    let first = ingest::ffmpeg(3, "flv", &url);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (second_ok, _) = ingest::finish(ingest::ffmpeg(1, "flv", &url), Duration::from_secs(15)).await;
    assert!(!second_ok, "the room already has a live stream");
    let (first_ok, err) = ingest::finish(first, Duration::from_secs(15)).await;
    assert!(first_ok, "the first encoder is undisturbed: {err}");
    let m = scrape::metrics(stack.addrs.bridge_http).await;
    assert!(m.sum("bridge_ingest_refusals_total", &[("reason", "in_use"), ("protocol", "rtmp")]) >= 1.0);
    stack.shutdown().await.unwrap();
}
