//! The start page in Chromium (with several fake cameras): `/` shows the camera preview and the
//! device lists; the camera chosen there is the one the meeting sends; choosing a room and a
//! name and pressing Join enters the meeting, and the address becomes the room's. `/ROOM`
//! opens that room's lobby with the room filled in. Switching cameras in the meeting keeps
//! the others' picture going.

use std::time::Duration;

use ponte_tests::browser::{Browser, BrowserOptions, Engine};
use ponte_tests::meeting_page::{js_string, MeetingPage};
use ponte_tests::stack;

const SOON: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lobby_previews_devices_and_joins_the_chosen_room() {
    tokio::time::timeout(Duration::from_secs(60), run()).await.expect("the scenario finishes within 60 s");
}

async fn run() {
    let stack = stack::start().await;
    // Chromium's second fake camera produces Y16 (depth) frames, which no encoder takes; the
    // third produces MJPEG like a real webcam, so that is the one to switch to.
    let cameras = BrowserOptions {
        extra_args: vec!["--use-fake-device-for-media-stream=device-count=3".into()],
        ..Default::default()
    };
    let browser = Browser::launch_with(Engine::Chromium, cameras).await.expect("chromium starts");
    let page = browser.open(&format!("{}/", stack.http_url())).await.expect("open /");
    let lee = MeetingPage { page, name: "Lee".into() };

    lee.wait("!document.querySelector('#lobby').hidden", SOON, "the lobby shows").await;
    lee.wait("document.querySelector('#preview-video').videoWidth > 0", SOON, "the camera preview plays").await;
    lee.wait("document.querySelector('#camera-select').options.length >= 1", SOON, "cameras are listed").await;
    lee.wait("document.querySelector('#mic-select').options.length >= 1", SOON, "microphones are listed").await;
    let cameras = lee.eval("[...document.querySelector('#camera-select').options].map((o) => o.value)").await;
    let second = cameras.get(2).and_then(|v| v.as_str()).unwrap_or_else(|| panic!("three cameras listed: {cameras}")).to_owned();
    let first = cameras[0].as_str().unwrap().to_owned();
    choose(&lee, "#camera-select", &second).await;
    let previewing = format!("document.querySelector('#preview-video').srcObject?.getVideoTracks()[0]?.getSettings().deviceId === {}", js_string(&second));
    lee.wait(&previewing, SOON, "the preview shows the chosen camera").await;

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
    assert_eq!(lee.eval(SENT_CAMERA).await, second, "the meeting sends the camera chosen in the lobby");

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
    max.wait_media_from(std::slice::from_ref(&lee_id), Duration::from_secs(15)).await;

    // The meeting's device settings: back to the first camera, and Max still sees Lee.
    lee.click("#settings").await;
    choose(&lee, "#settings-camera", &first).await;
    lee.wait(&format!("({SENT_CAMERA}) === {}", js_string(&first)), SOON, "the meeting sends the other camera").await;
    max.wait_media_from(&[lee_id], Duration::from_secs(15)).await;

    browser.close().await;
    stack.shutdown().await.expect("clean stop");
}

/// The device id of the camera the page's peer connection sends.
const SENT_CAMERA: &str =
    "window.ponte.pc.getSenders().map((s) => s.track).find((t) => t && t.kind === 'video')?.getSettings().deviceId";

/// Pick `value` in the `<select>` at `selector`, as a person would (a `change` event follows).
async fn choose(page: &MeetingPage, selector: &str, value: &str) {
    let js = format!(
        "(() => {{ const s = document.querySelector({}); s.value = {}; s.dispatchEvent(new Event('change', {{ bubbles: true }})); return s.value; }})()",
        js_string(selector),
        js_string(value)
    );
    assert_eq!(page.eval(&js).await, value, "{selector} offers {value}");
}
