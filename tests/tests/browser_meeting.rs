//! Three Chromium pages join one room through the stack: each decodes both others' video and
//! receives their audio, with sound in it. A screenshot of the meeting is written to
//! `target/screenshots/meeting-3.png` for a person to look at.

use std::time::Duration;

use ponte_tests::browser::{screenshot_dir, Browser, Engine};
use ponte_tests::meeting_page::MeetingPage;
use ponte_tests::stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_chromium_pages_see_and_hear_each_other() {
    tokio::time::timeout(Duration::from_secs(60), run()).await.expect("the scenario finishes within 60 s");
}

async fn run() {
    let stack = stack::start().await;
    let browser = Browser::launch(Engine::Chromium).await.expect("chromium starts");
    let mut pages = Vec::new();
    for name in ["Ada", "Bo", "Cy"] {
        pages.push(MeetingPage::join(&browser, &stack.http_url(), "standup", name).await);
    }
    let mut ids = Vec::new();
    for p in &pages {
        ids.push(p.participant_id().await);
    }

    for (page, me) in pages.iter().zip(&ids) {
        let others: Vec<String> = ids.iter().filter(|id| *id != me).cloned().collect();
        let inbound = page.wait_media_from(&others, Duration::from_secs(20)).await;
        for other in &others {
            let from = |kind: &str| inbound.iter().find(|s| s.participant_id.as_ref() == Some(other) && s.kind == kind);
            let video = from("video").unwrap_or_else(|| panic!("{}: no video stream from {other}: {inbound:?}", page.name));
            assert!(video.frame_width > 0, "{}: decoded pictures from {other} have a size: {video:?}", page.name);
            let audio = from("audio").unwrap_or_else(|| panic!("{}: no audio stream from {other}: {inbound:?}", page.name));
            assert!(audio.audio_energy > 0.0, "{}: the audio from {other} is not silence: {audio:?}", page.name);
        }
        let indicator = page.eval("document.querySelector('#conn-state').dataset.state").await;
        assert_eq!(indicator, "connected", "{}: the connection indicator says connected", page.name);
        // Every tile is there, with its name.
        let tiles = page.eval("document.querySelectorAll('.tile[data-participant-id]').length").await;
        assert_eq!(tiles, 3, "{}: one tile per participant", page.name);
    }

    // Let the grid settle (tiles fade in, videos start) before the picture.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let shot = screenshot_dir().join("meeting-3.png");
    pages[0].page.screenshot(&shot).await.expect("screenshot");
    println!("screenshot: {}", shot.display());

    browser.close().await;
    stack.shutdown().await.expect("clean stop");
}
