//! The media connection drops while the WebSocket stays up: the bridge carrying a meeting
//! stops, another bridge is there. Both Chromium pages notice the lost media, say they are
//! reconnecting, rejoin by themselves (the focus places the room on the other bridge), and
//! media flows again.
//!
//! The stack is composed here service by service (the same `bind`/`run` APIs `ponte` uses) so
//! that one bridge can stop while signaling and the focus keep running.

use std::time::Duration;

use prometheus::Registry;
use tokio::sync::oneshot;

use ponte_bridge::{Bridge, BridgeConfig, LinkEnds};
use ponte_focus::{Focus, FocusConfig};
use ponte_signaling::{Signaling, SignalingConfig};
use ponte_tests::browser::{Browser, Engine};
use ponte_tests::meeting_page::MeetingPage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_rejoin_on_another_bridge_when_theirs_stops() {
    tokio::time::timeout(Duration::from_secs(60), run()).await.expect("the scenario finishes within 60 s");
}

/// A bridge on loopback linked in-process to `focus`; send on the returned channel to stop it.
async fn start_bridge(focus: &Focus) -> (String, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let config = BridgeConfig {
        http_listen: "127.0.0.1:0".parse().unwrap(),
        bind_ip: "127.0.0.1".parse().unwrap(),
        media_port: 0,
        ..BridgeConfig::default()
    };
    let id = config.bridge_id.clone();
    let bridge = Bridge::bind(config, Registry::new()).await.expect("the bridge binds");
    let (to_focus, from_focus) = focus.connect_local();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = bridge.run(LinkEnds::new(to_focus, from_focus), async move { let _ = stopped.await; }).await;
    });
    let registered = tokio::time::timeout(Duration::from_secs(10), async {
        while !focus.bridges().iter().any(|b| b.id == id) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    registered.await.expect("the bridge registers");
    (id, stop, task)
}

async fn run() {
    ponte_tests::init_tracing();
    ponte_bridge::init_crypto();
    let (focus, events) = Focus::new(FocusConfig::default(), Registry::new());
    let config = SignalingConfig { listen: "127.0.0.1:0".parse().unwrap(), ..SignalingConfig::default() };
    let signaling = Signaling::bind(config, focus.clone(), events).await.expect("signaling binds");
    let base = format!("http://{}", signaling.addr());
    let (stop_signaling, signaling_stopped) = oneshot::channel::<()>();
    let signaling_task = tokio::spawn(signaling.run(async move { let _ = signaling_stopped.await; }));
    let (first, stop_first, first_task) = start_bridge(&focus).await;

    let browser = Browser::launch(Engine::Chromium).await.expect("chromium starts");
    let ada = MeetingPage::join(&browser, &base, "failover", "Ada").await;
    let bo = MeetingPage::join(&browser, &base, "failover", "Bo").await;
    let bo_before = bo.participant_id().await;
    ada.wait_media_from(std::slice::from_ref(&bo_before), Duration::from_secs(15)).await;

    let (second, stop_second, second_task) = start_bridge(&focus).await;
    stop_first.send(()).expect("the first bridge runs");
    first_task.await.expect("the first bridge stops");
    for p in [&ada, &bo] {
        // The other bridge is up, so a page may be back before we look: count that too.
        let noticed = "window.ponte.state().phase === 'reconnecting' || window.ponte.state().reconnects >= 1";
        p.wait(noticed, Duration::from_secs(20), "the page notices the lost media").await;
    }
    for p in [&ada, &bo] {
        p.wait_connected(Duration::from_secs(20)).await;
    }
    let (ada_id, bo_id) = (ada.participant_id().await, bo.participant_id().await);
    ada.wait_media_from(&[bo_id], Duration::from_secs(15)).await;
    bo.wait_media_from(&[ada_id], Duration::from_secs(15)).await;
    let placed = focus.bridges().into_iter().find(|b| b.id == second).map(|b| b.conferences);
    assert!(placed.is_some_and(|c| c.iter().any(|c| c == "failover")), "the room moved from {first} to {second}: {:?}", focus.bridges());

    browser.close().await;
    let _ = stop_second.send(());
    let _ = stop_signaling.send(());
    let _ = tokio::join!(second_task, signaling_task);
}
