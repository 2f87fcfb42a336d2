//! Chromium and Firefox ESR in one room see and hear each other: each decodes the other's
//! video and receives audio with sound in it. Firefox's view is written to
//! `target/screenshots/meeting-firefox.png`.

use std::time::Duration;

use ponte_tests::browser::{screenshot_dir, Browser, Engine};
use ponte_tests::meeting_page::MeetingPage;
use ponte_tests::stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_and_firefox_see_and_hear_each_other() {
    tokio::time::timeout(Duration::from_secs(60), run()).await.expect("the scenario finishes within 60 s");
}

async fn run() {
    let stack = stack::start().await;
    let (chromium, firefox) = tokio::join!(Browser::launch(Engine::Chromium), Browser::launch(Engine::Firefox));
    let chromium = chromium.expect("chromium starts");
    let firefox = firefox.expect("firefox starts");
    let c = MeetingPage::join(&chromium, &stack.http_url(), "mixed", "Chrome").await;
    let f = MeetingPage::join(&firefox, &stack.http_url(), "mixed", "Fox").await;
    let (c_id, f_id) = (c.participant_id().await, f.participant_id().await);

    for (page, other) in [(&c, &f_id), (&f, &c_id)] {
        let inbound = page.wait_media_from(std::slice::from_ref(other), Duration::from_secs(20)).await;
        let from = |kind: &str| inbound.iter().find(|s| s.participant_id.as_ref() == Some(other) && s.kind == kind).cloned();
        let video = from("video").unwrap_or_else(|| panic!("{}: no video from {other}: {inbound:?}", page.name));
        assert!(video.frame_width > 0, "{}: decoded pictures have a size: {video:?}", page.name);
        let audio = from("audio").unwrap_or_else(|| panic!("{}: no audio from {other}: {inbound:?}", page.name));
        assert!(audio.audio_energy > 0.0, "{}: the audio is not silence: {audio:?}", page.name);
    }

    let shot = screenshot_dir().join("meeting-firefox.png");
    f.page.screenshot(&shot).await.expect("firefox screenshot");
    println!("screenshot: {}", shot.display());

    firefox.close().await;
    chromium.close().await;
    stack.shutdown().await.expect("clean stop");
}
