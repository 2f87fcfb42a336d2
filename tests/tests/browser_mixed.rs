//! A Chromium page and a Rust test participant (`ponte_loadtest::Participant`) in one room:
//! the page receives the Rust participant's audio and video packets (its VP8 is synthetic and
//! not decodable, so packets are what counts), and the Rust side receives Chromium's real
//! Opus and VP8 frames (which fail the synthetic-marker check by design: counted in `bytes`
//! and `mismatches`, never in `frames`).

use std::time::Duration;

use ponte_proto::MediaKind;
use ponte_tests::browser::{Browser, Engine};
use ponte_tests::meeting_page::MeetingPage;
use ponte_tests::stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_and_the_rust_participant_exchange_media() {
    tokio::time::timeout(Duration::from_secs(60), run()).await.expect("the scenario finishes within 60 s");
}

async fn run() {
    let stack = stack::start().await;
    let browser = Browser::launch(Engine::Chromium).await.expect("chromium starts");
    let page = MeetingPage::join(&browser, &stack.http_url(), "hybrid", "Chrome").await;
    let rust = stack::join(&stack, "hybrid", "Rusty").await;
    let page_id = page.participant_id().await;

    let inbound = page.wait_packets_from(&[rust.id().to_owned()], Duration::from_secs(20)).await;
    assert!(
        inbound.iter().filter(|s| s.participant_id.as_deref() == Some(rust.id())).count() == 2,
        "the page has the Rust participant's audio and video: {inbound:?}"
    );
    assert_eq!(page.id_of("Rusty", Duration::from_secs(5)).await, rust.id(), "the page lists the Rust participant");

    let real_media = |p: &ponte_loadtest::Participant, kind, at_least: u64| {
        p.snapshot().track(&page_id, kind).is_some_and(|t| t.mismatches >= at_least && t.bytes > 0)
    };
    let received = rust
        .wait_until(Duration::from_secs(15), |p| real_media(p, MediaKind::Audio, 50) && real_media(p, MediaKind::Video, 20))
        .await;
    assert!(received, "the Rust participant receives Chromium's Opus and VP8 frames: {:?}", rust.snapshot());
    let video = rust.snapshot().track(&page_id, MediaKind::Video).cloned().unwrap();
    assert!(video.bytes / video.mismatches.max(1) > 100, "VP8 frames of a real picture are not tiny: {video:?}");
    assert_eq!(rust.roster().iter().filter(|p| p.id == page_id).count(), 1, "the Rust side lists the page");

    rust.leave().await.expect("the Rust participant leaves");
    browser.close().await;
    stack.shutdown().await.expect("clean stop");
}
