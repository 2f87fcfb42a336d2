//! The whole stack shuts down, its bridge with it, and comes back on the same address: each
//! page — one in Chromium, one in Firefox ESR — says it is reconnecting, finds that its media
//! session did not survive (no resume), rejoins by itself with a new participant id, and media
//! flows again between the pages.

use std::time::Duration;

use ponte::StackConfig;
use ponte_tests::browser::{Browser, Engine};
use ponte_tests::meeting_page::MeetingPage;
use ponte_tests::stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_reconnect_after_the_server_closes_their_websockets() {
    tokio::time::timeout(Duration::from_secs(60), run()).await.expect("the scenario finishes within 60 s");
}

async fn run() {
    let first = stack::start().await;
    let base = first.http_url();
    let (chromium, firefox) = tokio::join!(Browser::launch(Engine::Chromium), Browser::launch(Engine::Firefox));
    let (chromium, firefox) = (chromium.expect("chromium starts"), firefox.expect("firefox starts"));
    let ada = MeetingPage::join(&chromium, &base, "resilient", "Ada").await;
    let bo = MeetingPage::join(&firefox, &base, "resilient", "Bo").await;
    let (ada_before, bo_before) = (ada.participant_id().await, bo.participant_id().await);
    ada.wait_media_from(std::slice::from_ref(&bo_before), Duration::from_secs(15)).await;

    // The server goes away: every WebSocket is closed (1012, no `bye`), and the bridge is gone too.
    let addr = first.addrs.signaling;
    first.shutdown().await.expect("clean stop");
    for p in [&ada, &bo] {
        p.wait("window.ponte.state().phase === 'reconnecting'", Duration::from_secs(5), "the page notices").await;
        p.wait(
            "!document.querySelector('#banner').hidden && document.querySelector('#banner').textContent.includes('Reconnecting')",
            Duration::from_secs(5),
            "the page says it is reconnecting",
        )
        .await;
    }

    // Back on the same address (a restart); the pages find it by themselves.
    let mut config = StackConfig::loopback();
    config.signaling.listen = addr;
    let second = stack::start_with(config).await;
    for p in [&ada, &bo] {
        p.wait_connected(Duration::from_secs(20)).await;
        p.wait("window.ponte.state().reconnects >= 1", Duration::from_secs(5), "the page counts the reconnect").await;
        p.wait("document.querySelector('#banner').hidden", Duration::from_secs(5), "the banner goes away").await;
    }
    let (ada_after, bo_after) = (ada.participant_id().await, bo.participant_id().await);
    assert_ne!(ada_after, ada_before, "a rejoin is a new participant");
    assert_ne!(bo_after, bo_before, "a rejoin is a new participant");
    ada.wait_media_from(std::slice::from_ref(&bo_after), Duration::from_secs(20)).await;
    bo.wait_media_from(std::slice::from_ref(&ada_after), Duration::from_secs(20)).await;
    for p in [&ada, &bo] {
        p.wait("document.querySelectorAll('#participants li').length === 2", Duration::from_secs(5), "a fresh list of two").await;
    }

    firefox.close().await;
    chromium.close().await;
    second.shutdown().await.expect("clean stop");
}
