//! The start page in Chromium: `/` shows the camera preview and the device lists; choosing a
//! room and a name and pressing Join enters the meeting, and the address becomes the room's.
//! `/ROOM` opens that room's lobby with the room filled in.

use std::time::Duration;

use ponte_tests::browser::{Browser, Engine};
use ponte_tests::meeting_page::{js_string, MeetingPage};
use ponte_tests::stack;

const SOON: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lobby_previews_devices_and_joins_the_chosen_room() {
    tokio::time::timeout(Duration::from_secs(60), run()).await.expect("the scenario finishes within 60 s");
}

async fn run() {
    let stack = stack::start().await;
    let browser = Browser::launch(Engine::Chromium).await.expect("chromium starts");
    let page = browser.open(&format!("{}/", stack.http_url())).await.expect("open /");
    let lee = MeetingPage { page, name: "Lee".into() };

    lee.wait("!document.querySelector('#lobby').hidden", SOON, "the lobby shows").await;
    lee.wait("document.querySelector('#preview-video').videoWidth > 0", SOON, "the camera preview plays").await;
    lee.wait("document.querySelector('#camera-select').options.length >= 1", SOON, "cameras are listed").await;
    lee.wait("document.querySelector('#mic-select').options.length >= 1", SOON, "microphones are listed").await;

    let fill = format!(
        "(() => {{ document.querySelector('#room-input').value = {}; document.querySelector('#name-input').value = {}; return true; }})()",
        js_string("design-review"),
        js_string("Lee")
    );
    lee.eval(&fill).await;
    lee.click("#join").await;
    lee.wait_connected(Duration::from_secs(20)).await;
    assert_eq!(lee.eval("location.pathname").await, "/design-review", "the address is the room's");
    assert_eq!(lee.eval("window.ponte.state().room").await, "design-review");

    // A room's own address opens its lobby with the room filled in; joining from there
    // lands in the same meeting.
    let page = browser.open(&format!("{}/design-review", stack.http_url())).await.expect("open /design-review");
    let max = MeetingPage { page, name: "Max".into() };
    max.wait("!document.querySelector('#lobby').hidden", SOON, "the room's lobby shows").await;
    assert_eq!(max.eval("document.querySelector('#room-input').value").await, "design-review");
    max.eval(&format!("(() => {{ document.querySelector('#name-input').value = {}; return true; }})()", js_string("Max"))).await;
    max.click("#join").await;
    max.wait_connected(Duration::from_secs(20)).await;
    let lee_id = lee.participant_id().await;
    max.wait_media_from(&[lee_id], Duration::from_secs(15)).await;

    browser.close().await;
    stack.shutdown().await.expect("clean stop");
}
