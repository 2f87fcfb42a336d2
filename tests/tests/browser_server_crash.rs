//! The `ponte` process dies (SIGKILL: no `bye`, the kernel resets the pages' WebSockets) and
//! is started again on the same address: both Chromium pages say they are reconnecting, come
//! back by themselves and see and hear each other again.

use std::time::Duration;

use ponte_tests::browser::{Browser, Engine};
use ponte_tests::meeting_page::MeetingPage;
use ponte_tests::process::Service;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_come_back_after_the_server_process_dies() {
    tokio::time::timeout(Duration::from_secs(60), run()).await.expect("the scenario finishes within 60 s");
}

/// Start `ponte` with signaling on `listen`; returns it and the port it bound.
async fn start_ponte(listen: &str) -> (Service, u16) {
    let env = [
        ("PONTE_SIGNALING_LISTEN", listen),
        ("PONTE_FOCUS_LISTEN", "127.0.0.1:0"),
        ("PONTE_BRIDGE_HTTP", "127.0.0.1:0"),
        ("PONTE_BRIDGE_BIND_IP", "127.0.0.1"),
        ("PONTE_BRIDGE_MEDIA_PORT", "0"),
        ("RUST_LOG", "info"),
    ];
    let mut ponte = Service::start("ponte", &[], &env);
    let line = ponte.wait_for_line("Ponte is up", Duration::from_secs(30)).await;
    let port = line
        .split("http://localhost:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("a URL in {line:?}"));
    (ponte, port)
}

async fn run() {
    let (ponte, port) = start_ponte("127.0.0.1:0").await;
    let base = format!("http://127.0.0.1:{port}");
    let browser = Browser::launch(Engine::Chromium).await.expect("chromium starts");
    let ada = MeetingPage::join(&browser, &base, "crash", "Ada").await;
    let bo = MeetingPage::join(&browser, &base, "crash", "Bo").await;
    ada.wait_media_from(&[bo.participant_id().await], Duration::from_secs(15)).await;

    ponte.kill().await;
    for p in [&ada, &bo] {
        p.wait("window.ponte.state().phase === 'reconnecting'", Duration::from_secs(5), "the page notices").await;
        p.wait(
            "document.querySelector('#conn-state').dataset.state === 'reconnecting' && !document.querySelector('#banner').hidden",
            Duration::from_secs(5),
            "the page says it is reconnecting",
        )
        .await;
    }

    let (ponte, _) = start_ponte(&format!("127.0.0.1:{port}")).await;
    for p in [&ada, &bo] {
        p.wait_connected(Duration::from_secs(25)).await;
    }
    let (ada_id, bo_id) = (ada.participant_id().await, bo.participant_id().await);
    ada.wait_media_from(&[bo_id], Duration::from_secs(15)).await;
    bo.wait_media_from(&[ada_id], Duration::from_secs(15)).await;

    browser.close().await;
    let status = ponte.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}
