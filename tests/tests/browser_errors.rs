//! Errors a person can act on, shown in the page in words (Chromium): a full room, a bad or
//! missing invitation token, a refused camera and microphone, an unreachable server.

use std::time::Duration;

use ponte::StackConfig;
use ponte_tests::browser::{Browser, BrowserOptions, Engine};
use ponte_tests::meeting_page::{js_string, MeetingPage};
use ponte_tests::stack;

const SOON: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_shown_in_words() {
    tokio::time::timeout(Duration::from_secs(60), run()).await.expect("the scenario finishes within 60 s");
}

/// Open `path` and wait until the lobby's error line contains `words`.
async fn lobby_error(browser: &Browser, url: String, who: &str, words: &str) -> MeetingPage {
    let page = browser.open(&url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    let p = MeetingPage { page, name: who.into() };
    let shown = format!(
        "!document.querySelector('#lobby').hidden && !document.querySelector('#lobby-error').hidden && document.querySelector('#lobby-error').textContent.includes({})",
        js_string(words)
    );
    p.wait(&shown, SOON, &format!("the lobby says {words:?}")).await;
    p
}

async fn run() {
    let browser = Browser::launch(Engine::Chromium).await.expect("chromium starts");

    // A full room.
    let mut small = StackConfig::loopback();
    small.signaling.max_room_size = 1;
    let stack = stack::start_with(small).await;
    let _first = MeetingPage::join(&browser, &stack.http_url(), "tiny", "First").await;
    lobby_error(&browser, format!("{}/tiny?name=Second", stack.http_url()), "Second", "This room is full").await;
    stack.shutdown().await.expect("clean stop");

    // Invitation tokens: a bad one, and none where one is required.
    let mut guarded = StackConfig::loopback();
    guarded.signaling.jwt_secret = Some("test-secret-that-is-long-enough".into());
    let stack = stack::start_with(guarded).await;
    lobby_error(&browser, format!("{}/vip?name=Eve&token=not-a-jwt", stack.http_url()), "Eve", "not valid or has expired").await;
    lobby_error(&browser, format!("{}/vip?name=Eve", stack.http_url()), "Eve", "invitation link").await;

    // The server goes away while the lobby is open: joining says it cannot be reached.
    let base = stack.http_url();
    let page = browser.open(&format!("{base}/later")).await.expect("open the lobby");
    let late = MeetingPage { page, name: "Late".into() };
    late.wait("document.querySelector('#preview-video').videoWidth > 0", SOON, "the lobby is ready").await;
    stack.shutdown().await.expect("clean stop");
    late.eval(&format!("(() => {{ document.querySelector('#name-input').value = {}; return true; }})()", js_string("Late"))).await;
    late.click("#join").await;
    late.wait(
        "document.querySelector('#banner').textContent.includes('reach the meeting server')",
        SOON,
        "the page says the server cannot be reached",
    )
    .await;
    browser.close().await;

    // Camera and microphone refused: the lobby says so and offers to join without them.
    let deny = BrowserOptions { extra_args: vec!["--use-fake-ui-for-media-stream=deny".into()], ..Default::default() };
    let browser = Browser::launch_with(Engine::Chromium, deny).await.expect("chromium starts");
    let stack = stack::start().await;
    let p = lobby_error(&browser, format!("{}/private", stack.http_url()), "Shy", "was refused").await;
    p.wait("!document.querySelector('#lobby-error-actions').hidden", SOON, "the lobby offers to join without them").await;
    p.eval(&format!("(() => {{ document.querySelector('#name-input').value = {}; return true; }})()", js_string("Shy"))).await;
    p.click("#join-without-media").await;
    p.wait_connected(Duration::from_secs(20)).await;
    let muted = p.eval("[window.ponte.state().audioMuted, window.ponte.state().videoMuted]").await;
    assert_eq!(muted, serde_json::json!([true, true]), "without devices the page sends nothing and says so");

    browser.close().await;
    stack.shutdown().await.expect("clean stop");
}
