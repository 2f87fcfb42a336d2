//! The `signaling` process (the focus runs inside it) restarts under two Chromium pages in a
//! meeting on a `bridge` process — once on SIGTERM (the server closes the WebSockets with
//! 1012), once on SIGKILL (the kernel resets them). Each time both pages say they are
//! reconnecting, take their session back with `join` + `resume` (same participant id, same
//! RTCPeerConnection, no new offer) and their media never stalls for long: the pages watch
//! their own incoming streams while the server is away.

use std::time::Duration;

use ponte_tests::browser::{Browser, Engine};
use ponte_tests::cluster::Cluster;
use ponte_tests::meeting_page::MeetingPage;

/// The server is away for a second or more each time; media on the bridge must not notice.
/// Typical stalls here are 0.2-0.7 s, the same as without a restart on a busy machine; the
/// bound leaves room for a CPU-starved one. A page that rejoined instead of resuming would
/// stall for good on its old streams (its new peer connection has new ones).
const MAX_STALL: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_resume_their_media_sessions_while_the_focus_restarts() {
    tokio::time::timeout(Duration::from_secs(120), run()).await.expect("the scenario finishes within 120 s");
}

async fn run() {
    let mut c = Cluster::start(&[]).await;
    // Like the in-process test stacks (`StackConfig::loopback`): two Chromium pages and debug
    // processes can starve these 2 cores, and the bandwidth estimate reads that as congestion
    // and pauses video, which this test would count as a stall of the restart.
    let config = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser_focus_restart-bridge.toml");
    std::fs::write(&config, "[quality]\nbandwidth_estimation = false\n").expect("write the bridge config");
    c.add_bridge_with("b1", &["--bridge-config", config.to_str().expect("a UTF-8 path")]).await;
    c.wait_registered(&["b1"], Duration::from_secs(15)).await;
    let base = format!("http://{}", c.addr);
    let browser = Browser::launch(Engine::Chromium).await.expect("chromium starts");
    let ada = MeetingPage::join(&browser, &base, "steady", "Ada").await;
    let bo = MeetingPage::join(&browser, &base, "steady", "Bo").await;
    let (ada_id, bo_id) = (ada.participant_id().await, bo.participant_id().await);
    ada.wait_media_from(std::slice::from_ref(&bo_id), Duration::from_secs(15)).await;
    bo.wait_media_from(std::slice::from_ref(&ada_id), Duration::from_secs(15)).await;
    for p in [&ada, &bo] {
        p.eval("(() => { window.__pcBefore = window.ponte.pc; return true; })()").await;
        p.watch_flow().await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for p in [&ada, &bo] {
        let (stall, _) = p.longest_stall().await;
        println!("before any restart: {} — longest stall {stall:?}", p.name);
    }

    for (round, kill) in [(1, false), (2, true)] {
        let how = if kill { "SIGKILL" } else { "SIGTERM" };
        if kill {
            c.kill_signaling().await;
        } else {
            c.stop_signaling().await;
        }
        for p in [&ada, &bo] {
            p.wait("window.ponte.state().phase === 'reconnecting'", Duration::from_secs(5), "the page notices the server is gone").await;
            p.wait("!document.querySelector('#banner').hidden", Duration::from_secs(5), "the page says it is reconnecting").await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        c.start_signaling().await;

        let resumed = format!("window.ponte.state().resumes === {round} && window.ponte.state().connected");
        for p in [&ada, &bo] {
            p.wait(&resumed, Duration::from_secs(20), &format!("resumed after the {how}")).await;
            p.wait("document.querySelector('#banner').hidden", Duration::from_secs(5), "the banner goes away").await;
            let same = p.eval("window.ponte.pc === window.__pcBefore && window.ponte.state().reconnects === 0").await;
            assert_eq!(same, serde_json::Value::Bool(true), "{}: the same peer connection, no rejoin", p.name);
            p.wait("document.querySelectorAll('#participants li').length === 2", Duration::from_secs(5), "both in the list").await;
            // The other's tiles stay: nobody told the page the other left (a server shutting
            // down used to announce everyone as gone, and the pages dropped their videos).
            p.wait("window.ponte.state().remote.length === 2", Duration::from_secs(5), "the other's audio and video tracks are still shown").await;
        }
        assert_eq!((ada.participant_id().await, bo.participant_id().await), (ada_id.clone(), bo_id.clone()), "the same participants");

        // The resumed sessions are live on the new server: chat goes through it.
        let text = format!("still here after the {how}");
        ada.send_chat(&text).await;
        let seen = format!("window.ponte.state().chat.some((c) => c.text === {} && !c.self)", ponte_tests::meeting_page::js_string(&text));
        bo.wait(&seen, Duration::from_secs(10), "the chat line arrives through the restarted server").await;

        tokio::time::sleep(Duration::from_secs(1)).await;
        for p in [&ada, &bo] {
            let (stall, streams) = p.longest_stall().await;
            println!("focus restart ({how}): {} — longest stall of {streams} incoming streams {stall:?}", p.name);
            assert_eq!(streams, 2, "{}: audio and video from the other page", p.name);
            assert!(stall < MAX_STALL, "{}: media stalled {stall:?} while the server restarted ({how})", p.name);
        }
    }
    ada.wait_media_from(std::slice::from_ref(&bo_id), Duration::from_secs(10)).await;

    browser.close().await;
}
