//! A fake bridge for the focus's tests: registers over any link and answers on cue.
#![allow(dead_code)] // each test file uses its own part

use std::time::Duration;

use ponte_focus::{Focus, FocusConfig};
use ponte_proto::link::{
    BridgeStats, BridgeToFocus, EndpointEvent, EndpointRef, FocusToBridge, Registration, LINK_VERSION,
};
use tokio::sync::mpsc;

pub const WAIT: Duration = Duration::from_secs(5);

pub fn config() -> FocusConfig {
    FocusConfig { listen: "127.0.0.1:0".parse().unwrap(), ..FocusConfig::default() }
}

pub fn registration(id: &str, region: Option<&str>) -> Registration {
    Registration {
        bridge_id: id.into(),
        region: region.map(Into::into),
        version: "test".into(),
        link_version: LINK_VERSION,
        media_addr: "127.0.0.1:10000".into(),
        ingest_addrs: vec![],
        conferences: vec![],
        endpoints: vec![],
        drain_requested: false,
    }
}

pub fn target(conference: &str, endpoint: &str) -> EndpointRef {
    EndpointRef { conference: conference.into(), endpoint: endpoint.into() }
}

pub fn offer(conference: &str, endpoint: &str) -> FocusToBridge {
    FocusToBridge::Offer { target: target(conference, endpoint), sdp: "v=0 offer".into(), display_name: endpoint.into() }
}

pub fn answer(conference: &str, endpoint: &str) -> EndpointEvent {
    EndpointEvent::Answer { target: target(conference, endpoint), sdp: "v=0 answer".into() }
}

pub fn stats(stress: f64) -> BridgeToFocus {
    BridgeToFocus::Stats(BridgeStats { stress, ..Default::default() })
}

/// A bridge on the in-process link.
pub struct LocalBridge {
    pub tx: mpsc::Sender<BridgeToFocus>,
    pub rx: mpsc::Receiver<FocusToBridge>,
}

impl LocalBridge {
    /// Connect, register, and wait for `Registered`.
    pub async fn register(focus: &Focus, id: &str, region: Option<&str>) -> Self {
        let (tx, rx) = focus.connect_local();
        let mut bridge = Self { tx, rx };
        bridge.send(BridgeToFocus::Register(registration(id, region))).await;
        assert!(matches!(bridge.recv().await, FocusToBridge::Registered { .. }));
        bridge
    }

    pub async fn send(&self, msg: BridgeToFocus) {
        self.tx.send(msg).await.expect("focus link open");
    }

    /// The next message from the focus.
    pub async fn recv(&mut self) -> FocusToBridge {
        tokio::time::timeout(WAIT, self.rx.recv()).await.expect("focus spoke in time").expect("link open")
    }

    /// Answer the next message, which must be an offer, with an answer event.
    pub async fn answer_next_offer(&mut self) -> EndpointRef {
        match self.recv().await {
            FocusToBridge::Offer { target, .. } => {
                self.send(BridgeToFocus::Endpoint(answer(&target.conference, &target.endpoint))).await;
                target
            }
            other => panic!("expected an offer, got {other:?}"),
        }
    }
}

/// Wait until `check` holds (the focus handles link messages on its own task).
pub async fn eventually(mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "condition not met in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn next_event(events: &mut mpsc::Receiver<EndpointEvent>) -> EndpointEvent {
    tokio::time::timeout(WAIT, events.recv()).await.expect("event in time").expect("events open")
}
