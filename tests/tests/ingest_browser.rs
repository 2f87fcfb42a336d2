//! A Chromium participant watches a live stream: ffmpeg pushes H.264 (constrained baseline)
//! and AAC over RTMP into a room, and the browser's `getStats()` shows the live participant's
//! video decoded (framesDecoded > 0, 320 px wide, codec H.264) and its Opus audio with sound.

use std::time::Duration;

use ponte_tests::browser::{Browser, Engine};
use ponte_tests::ingest;
use ponte_tests::meeting_page::MeetingPage;
use ponte_tests::stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_decodes_the_live_h264_of_an_ffmpeg_ingest() {
    tokio::time::timeout(Duration::from_secs(60), run()).await.expect("the scenario finishes within 60 s");
}

/// The inbound video's codec and decoder, as the page's `getStats()` names them.
const CODEC_JS: &str = r#"(async () => {
  const stats = await window.ponte.pc.getStats();
  const out = [];
  stats.forEach((r) => {
    if (r.type !== 'inbound-rtp' || (r.kind || r.mediaType) !== 'video') return;
    const c = r.codecId ? stats.get(r.codecId) : null;
    out.push({ mime: c ? c.mimeType : null, fmtp: c ? c.sdpFmtpLine : null, decoder: r.decoderImplementation || null, frames: r.framesDecoded || 0, width: r.frameWidth || 0 });
  });
  return out;
})()"#;

async fn run() {
    let stack = stack::start_with(ingest::config_with_keys(&[("stage", "stage-key-1", None)])).await;
    let rtmp = stack.addrs.rtmp.expect("RTMP listens");
    let browser = Browser::launch(Engine::Chromium).await.expect("chromium starts");
    let page = MeetingPage::join(&browser, &stack.http_url(), "stage", "Viewer").await;
    page.wait_connected(Duration::from_secs(15)).await;

    let encoder = ingest::ffmpeg(12, "flv", &format!("rtmp://{rtmp}/live/stage?key=stage-key-1"));
    let live = vec!["live-stage".to_owned()];
    let inbound = page.wait_media_from(&live, Duration::from_secs(25)).await;
    let codecs = page.eval(CODEC_JS).await;
    println!("inbound: {inbound:?}\nvideo codec: {codecs}");

    let from = |kind: &str| inbound.iter().find(|s| s.participant_id.as_deref() == Some("live-stage") && s.kind == kind);
    let video = from("video").unwrap_or_else(|| panic!("no video from the live participant: {inbound:?}"));
    assert!(video.frames_decoded > 0, "Chromium decoded the live H.264: {video:?}");
    assert_eq!(video.frame_width, 320, "the encoder's picture size: {video:?}");
    let codec = codecs.as_array().and_then(|a| a.iter().find(|c| c["frames"].as_u64().unwrap_or(0) > 0)).cloned().unwrap_or_default();
    assert_eq!(codec["mime"], "video/H264", "the browser decoded H.264, not something else: {codecs}");
    let audio = from("audio").unwrap_or_else(|| panic!("no audio from the live participant: {inbound:?}"));
    assert!(audio.audio_energy > 0.0, "the tone is audible: {audio:?}");

    drop(encoder);
    browser.close().await;
    stack.shutdown().await.expect("clean stop");
}
