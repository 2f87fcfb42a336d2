//! Simulcast and the stage with real Chromium pages.
//!
//! - A publisher whose camera captures 1280x720 sends three encodings (q/h/f); a receiver
//!   whose window is small draws it small, asks the bridge for that height over the data
//!   channel and decodes the small layer (inbound-rtp `frameWidth` ≤ 320); widened, its stage
//!   tile grows, it asks for more and decodes a larger layer.
//! - The participant who speaks is the one the others' pages show large: three pages, one
//!   microphone open (a warbling tone as the fake microphone); then that one mutes and
//!   another speaks, and the stage follows.

use std::time::Duration;

use ponte_tests::browser::{Browser, BrowserOptions, Engine};
use ponte_tests::meeting_page::{js_string, Inbound, MeetingPage};
use ponte_tests::stack;

/// Width of the q layer of a 1280-wide camera (scaled down by 4).
const SMALL_MAX: u64 = 320;
/// Loopback bandwidth estimation may hold the top layer back for a while; the h layer
/// (640 wide) proves the switch up as well.
const LARGE_MIN: u64 = 640;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_tile_gets_the_small_layer_and_a_large_one_the_large_layer() {
    tokio::time::timeout(Duration::from_secs(60), layers()).await.expect("the scenario finishes within 60 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dominant_speaker_is_shown_large() {
    tokio::time::timeout(Duration::from_secs(60), stage()).await.expect("the scenario finishes within 60 s");
}

/// The receiving page's video stream from `publisher`, once it decodes frames whose width
/// satisfies `ok` (sampled every half second); panics with the last sample after `timeout`.
async fn wait_width(page: &MeetingPage, publisher: &str, ok: impl Fn(u64) -> bool, timeout: Duration, what: &str) -> Inbound {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut frames_before = None;
    loop {
        let video = page
            .inbound()
            .await
            .into_iter()
            .find(|s| s.kind == "video" && s.participant_id.as_deref() == Some(publisher));
        if let Some(v) = &video {
            // Frames must still be decoding, not a width left over from before.
            let decoding = frames_before.is_some_and(|b| v.frames_decoded > b);
            if decoding && ok(v.frame_width) {
                return v.clone();
            }
            frames_before = Some(v.frames_decoded);
        }
        if tokio::time::Instant::now() > deadline {
            let state = page.state().await;
            panic!("{}: {what} within {timeout:?}; last {video:?}\nstate {state}\nconsole:\n{}", page.name, page.page.console().join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn layers() {
    let stack = stack::start().await;
    // The receiver starts small: its stage tile is well under 180 pixels tall.
    let (big, small) = tokio::join!(
        Browser::launch(Engine::Chromium),
        Browser::launch_with(Engine::Chromium, BrowserOptions { window: (480, 300), ..Default::default() })
    );
    let (big, small) = (big.expect("chromium starts"), small.expect("chromium starts"));
    let ada = MeetingPage::join(&big, &stack.http_url(), "layers", "Ada").await;
    let state = ada.state().await;
    assert_eq!(state["simulcast"], true, "a 1280x720 camera goes out as simulcast: {state}");
    let bo = MeetingPage::join(&small, &stack.http_url(), "layers", "Bo").await;
    let ada_id = ada.participant_id().await;

    let on_stage = format!(
        "document.querySelector('#grid .tile.on-stage')?.dataset.participantId === {}",
        js_string(&ada_id)
    );
    bo.wait(&on_stage, Duration::from_secs(5), "Ada on Bo's stage").await;
    let asked = format!("window.ponte.state().constraints?.max_height?.[{}]", js_string(&ada_id));
    assert_eq!(bo.wait(&asked, Duration::from_secs(5), "Bo asks for a height").await, 180, "a small tile asks for 180");
    let small_layer = wait_width(&bo, &ada_id, |w| w > 0 && w <= SMALL_MAX, Duration::from_secs(20), "the small layer").await;
    println!("small window: Bo decodes Ada at frameWidth {}", small_layer.frame_width);

    bo.page.resize(1280, 720).await.expect("resize");
    let tall = bo.wait(&format!("{asked} >= 720 && {asked}"), Duration::from_secs(5), "Bo asks for a large height").await;
    println!("large window: Bo asks for {tall}");
    let large_layer = wait_width(&bo, &ada_id, |w| w >= LARGE_MIN, Duration::from_secs(25), "a larger layer").await;
    println!("large window: Bo decodes Ada at frameWidth {}", large_layer.frame_width);
    assert!(large_layer.frame_width > small_layer.frame_width, "the picture grew: {small_layer:?} → {large_layer:?}");

    small.close().await;
    big.close().await;
    stack.shutdown().await.expect("clean stop");
}

/// A WAV file of a warbling tone (500 ± 200 Hz, 3 times a second), 10 s, 48 kHz mono: a
/// voice stand-in loud for longer than the bridge's speaker hold. Chromium's default fake
/// microphone only beeps (20 ms twice a second), which names a first speaker but never holds
/// long enough to take over from one; and a steady sine would be eaten by noise suppression.
fn warble_wav() -> std::path::PathBuf {
    const RATE: u32 = 48_000;
    let samples: Vec<i16> = {
        let mut phase = 0.0f64;
        (0..RATE * 10)
            .map(|i| {
                let t = f64::from(i) / f64::from(RATE);
                let f = 500.0 + 200.0 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
                phase += 2.0 * std::f64::consts::PI * f / f64::from(RATE);
                (phase.sin() * 0.5 * f64::from(i16::MAX)) as i16
            })
            .collect()
    };
    let data_len = samples.len() as u32 * 2;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&RATE.to_le_bytes());
    wav.extend_from_slice(&(RATE * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    samples.iter().for_each(|s| wav.extend_from_slice(&s.to_le_bytes()));
    let path = std::env::temp_dir().join(format!("ponte-warble-{}.wav", std::process::id()));
    std::fs::write(&path, wav).expect("write the WAV file");
    path
}

async fn stage() {
    let stack = stack::start().await;
    let wav = warble_wav();
    let options = BrowserOptions { extra_args: vec![format!("--use-file-for-fake-audio-capture={}", wav.display())], ..Default::default() };
    let browser = Browser::launch_with(Engine::Chromium, options).await.expect("chromium starts");
    let base = stack.http_url();
    // Only Ada's microphone is open: hers is the only voice in the room.
    let ada = MeetingPage::join(&browser, &base, "stage", "Ada").await;
    let bo = MeetingPage::join(&browser, &base, "stage", "Bo&audio=0").await;
    let cy = MeetingPage::join(&browser, &base, "stage", "Cy&audio=0").await;
    let (ada_id, bo_id) = (ada.participant_id().await, bo.participant_id().await);
    let shown = |id: &str| {
        format!(
            "window.ponte.state().dominantSpeaker === {id} && document.querySelector('#grid .tile.on-stage')?.dataset.participantId === {id} && document.querySelector('#grid').dataset.layout === 'stage'",
            id = js_string(id)
        )
    };
    cy.wait(&shown(&ada_id), Duration::from_secs(15), "the bridge names Ada the speaker and Cy's stage shows her").await;
    bo.wait(&shown(&ada_id), Duration::from_secs(5), "Bo's stage shows Ada").await;
    // Large means large: the stage tile is several times the size of the others.
    let sizes = cy
        .eval("[...document.querySelectorAll('#grid .tile')].map((t) => [t.dataset.onStage, t.getBoundingClientRect().height])")
        .await;
    let (mut stage_h, mut other_h) = (0.0, f64::MAX);
    for t in sizes.as_array().expect("tiles") {
        let h = t[1].as_f64().unwrap_or_default();
        if t[0] == "true" {
            stage_h = h;
        } else {
            other_h = other_h.min(h);
        }
    }
    assert!(stage_h > 2.0 * other_h, "stage tile {stage_h}px tall, the others {other_h}px");

    // Ada stops, Bo speaks: the stage follows.
    ada.click("#mute-audio").await;
    bo.click("#mute-audio").await;
    cy.wait(&shown(&bo_id), Duration::from_secs(15), "Cy's stage moves to Bo").await;

    browser.close().await;
    let _ = std::fs::remove_file(&wav);
    stack.shutdown().await.expect("clean stop");
}
