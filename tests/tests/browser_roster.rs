//! The meeting's controls, in two Chromium pages and one Firefox ESR page (Cy): a participant mutes its microphone and
//! stops its camera → the others' participant lists show it (and unmuting shows again); with
//! the others muted, the one who still sends sound is highlighted as the speaker; a screen
//! share replaces the camera without interrupting the others' video; a chat message reaches
//! the others; one leaves → its tile and list entry are gone from the others within seconds.

use std::time::Duration;

use ponte_tests::browser::{Browser, Engine};
use ponte_tests::meeting_page::{js_string, MeetingPage};
use ponte_tests::stack;

const SOON: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mute_chat_and_leave_show_in_the_other_pages() {
    // Three browsers on two cores take most of a minute here; each step has its own bound.
    tokio::time::timeout(Duration::from_secs(150), run()).await.expect("the scenario finishes within 150 s");
}

/// The selector of `id`'s entry in the participant list, with `attr` = `value`.
fn entry(id: &str, attr: &str, value: &str) -> String {
    js_string(&format!("#participants li[data-participant-id=\"{id}\"][data-{attr}=\"{value}\"]"))
}

async fn run() {
    let stack = stack::start().await;
    let (browser, firefox) = tokio::join!(Browser::launch(Engine::Chromium), Browser::launch(Engine::Firefox));
    let (browser, firefox) = (browser.expect("chromium starts"), firefox.expect("firefox starts"));
    let ada = MeetingPage::join(&browser, &stack.http_url(), "daily", "Ada").await;
    let bo = MeetingPage::join(&browser, &stack.http_url(), "daily", "Bo").await;
    let cy = MeetingPage::join(&firefox, &stack.http_url(), "daily", "Cy").await;
    let (ada_id, cy_id) = (ada.participant_id().await, cy.participant_id().await);
    for p in [&ada, &bo, &cy] {
        p.wait("document.querySelectorAll('#participants li').length === 3", SOON, "three in the list").await;
    }

    ada.click("#mute-audio").await;
    ada.click("#mute-video").await;
    for p in [&bo, &cy] {
        let muted = format!("!!document.querySelector({})", entry(&ada_id, "audio-muted", "true"));
        p.wait(&muted, SOON, "Ada's microphone shows off").await;
        let off = format!("!!document.querySelector({})", entry(&ada_id, "video-muted", "true"));
        p.wait(&off, SOON, "Ada's camera shows off").await;
    }
    assert_eq!(ada.eval("window.ponte.state().audioMuted").await, true, "Ada's own page knows she is muted");
    ada.click("#mute-audio").await;
    for p in [&bo, &cy] {
        let unmuted = format!("!!document.querySelector({})", entry(&ada_id, "audio-muted", "false"));
        p.wait(&unmuted, SOON, "Ada's microphone shows on again").await;
    }

    // Only Ada's microphone is open now: she is the one the others see speaking.
    bo.click("#mute-audio").await;
    cy.click("#mute-audio").await;
    for p in [&bo, &cy] {
        let ring = format!("!!document.querySelector({})", js_string(&format!(".tile[data-participant-id=\"{ada_id}\"][data-speaking=\"true\"]")));
        p.wait(&ring, SOON, "Ada's tile is highlighted as the speaker").await;
    }

    // Sharing swaps what Ada's video sender carries; the others keep decoding her video.
    ada.click("#mute-video").await; // the camera back on first: sharing is video either way
    ada.click("#share").await;
    ada.wait("window.ponte.state().sharing && document.querySelector('#share').getAttribute('aria-pressed') === 'true'", SOON, "Ada shares").await;
    bo.wait_media_from(std::slice::from_ref(&ada_id), Duration::from_secs(10)).await;
    ada.click("#share").await;
    ada.wait("!window.ponte.state().sharing", SOON, "Ada stops sharing").await;
    bo.wait_media_from(std::slice::from_ref(&ada_id), Duration::from_secs(10)).await;

    let text = "hello from Ada ✓";
    ada.send_chat(text).await;
    for p in [&bo, &cy] {
        let got = format!(
            "window.ponte.state().chat.some((c) => c.text === {} && c.display_name === 'Ada' && !c.self)",
            js_string(text)
        );
        p.wait(&got, SOON, "Ada's chat message arrives").await;
        let shown = format!("document.querySelector('#chat-log').textContent.includes({})", js_string(text));
        p.wait(&shown, SOON, "Ada's chat message is shown").await;
    }

    cy.click("#leave").await;
    cy.wait("window.ponte.state().phase === 'ended'", SOON, "Cy's page says she left").await;
    for p in [&ada, &bo] {
        let tile = format!("!document.querySelector({})", js_string(&format!(".tile[data-participant-id=\"{cy_id}\"]")));
        p.wait(&tile, SOON, "Cy's tile is gone").await;
        let listed = format!("!document.querySelector({})", js_string(&format!("#participants li[data-participant-id=\"{cy_id}\"]")));
        p.wait(&listed, SOON, "Cy is gone from the list").await;
        p.wait("window.ponte.state().remote.length === 2", SOON, "only one other's audio and video remain").await;
    }
    // Ada's chat panel is open: the "Cy left" notice must not cover where she types.
    let covered = r#"(() => {
      const form = document.querySelector('#chat-form').getBoundingClientRect();
      const toasts = [...document.querySelectorAll('#toasts .toast')].map((t) => t.getBoundingClientRect());
      const overlaps = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
      return { toasts: toasts.length, covered: toasts.some((t) => overlaps(t, form)) };
    })()"#;
    let seen = ada.eval(covered).await;
    assert!(seen["toasts"].as_u64() >= Some(1) && seen["covered"] == false, "a notice shows, beside the chat input: {seen}");

    firefox.close().await;
    browser.close().await;
    stack.shutdown().await.expect("clean stop");
}
