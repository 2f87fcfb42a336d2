//! Placement across real bridge processes: nine conferences created in one burst spread over
//! three bridges (no bridge gets them all: the focus counts joins it sent since each bridge's
//! last stats report), and a fourth bridge started while they run receives new conferences.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::join_all;
use ponte_loadtest::{Participant, ParticipantOptions};
use ponte_tests::cluster::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conferences_spread_by_stress_and_a_new_bridge_takes_new_ones() {
    tokio::time::timeout(Duration::from_secs(60), run()).await.expect("the scenario finishes within 60 s");
}

/// Light participants: audio only, so that nine of them barely load the bridges.
fn light() -> ParticipantOptions {
    ParticipantOptions { send_video: false, ..Default::default() }
}

async fn join(c: &Cluster, rooms: impl Iterator<Item = String>) -> Vec<Participant> {
    let joins = rooms.map(|room| {
        let url = c.ws_url();
        async move { Participant::join(&url, &room, "p", light()).await.unwrap_or_else(|e| panic!("join {room}: {e}")) }
    });
    join_all(joins).await
}

async fn wait_placed(c: &Cluster, n: usize) -> BTreeMap<String, String> {
    for _ in 0..200 {
        let placed = c.conferences().await;
        if placed.len() >= n {
            return placed;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{n} conferences placed; the focus has {:?}", c.conferences().await);
}

fn per_bridge(placed: &BTreeMap<String, String>) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for bridge in placed.values() {
        *n.entry(bridge.clone()).or_default() += 1;
    }
    n
}

async fn run() {
    let mut c = Cluster::start(&["b1", "b2", "b3"]).await;
    let stress = |v: Option<serde_json::Value>| {
        v.and_then(|v| v.as_array().cloned()).unwrap_or_default().iter().map(|b| format!("{}={}", b["id"], b["stats"]["stress"])).collect::<Vec<_>>()
    };
    eprintln!("stress before the burst: {:?}", stress(c.api("/v1/bridges").await));

    // A burst: nine rooms' first offers arrive together, between two stats reports.
    let first = join(&c, (0..9).map(|i| format!("burst-{i}"))).await;
    let placed = wait_placed(&c, 9).await;
    let spread = per_bridge(&placed);
    eprintln!("burst of 9 conferences: {spread:?}");
    // Reported stress includes CPU, so an idle bridge can look a little busier than another;
    // the correction for pending joins must still spread the burst.
    assert!(spread.len() >= 2, "no bridge gets the whole burst: {placed:?}");
    assert!(spread.values().all(|&n| n <= 6), "no bridge takes most of the burst: {spread:?}");
    for p in &first {
        p.wait_connected(Duration::from_secs(15)).await.unwrap_or_else(|e| panic!("{} connects: {e}", p.room()));
    }

    // A fourth bridge joins while those run: it is the idlest, so new rooms land there.
    c.add_bridge("b4").await;
    c.wait_registered(&["b4"], Duration::from_secs(10)).await;
    let mut later = Vec::new();
    for i in 0..3 {
        later.extend(join(&c, std::iter::once(format!("later-{i}"))).await);
    }
    let placed = wait_placed(&c, 12).await;
    let on_b4: Vec<&String> = placed.iter().filter(|(_, b)| *b == "b4").map(|(r, _)| r).collect();
    eprintln!("after b4 joined: {:?}", per_bridge(&placed));
    assert!(!on_b4.is_empty(), "the new bridge receives new conferences: {placed:?}");
    assert!(on_b4.iter().all(|r| r.starts_with("later-")), "running conferences stay where they are: {placed:?}");
    for p in &later {
        p.wait_connected(Duration::from_secs(15)).await.unwrap_or_else(|e| panic!("{} connects: {e}", p.room()));
    }
    join_all(first.into_iter().chain(later).map(Participant::leave)).await;
}

/// A bridge with the wrong secret is refused: it says so in its log and counts it; the focus
/// logs and counts the refusal too, and never lists the bridge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_refused_logged_and_counted_on_both_sides() {
    let mut c = Cluster::start(&[]).await;
    c.add_bridge_with("intruder", &["--secret", "not-the-secret"]).await;
    c.bridge("intruder").wait_for_line("wrong or missing secret", Duration::from_secs(10)).await;
    c.signaling().wait_for_line("bad or missing secret", Duration::from_secs(10)).await;
    let bridge = ponte_tests::scrape::metrics(c.bridge_http("intruder")).await;
    assert!(bridge.sum("bridge_focus_link_failures_total", &[("reason", "unauthorized")]) >= 1.0, "the bridge counts the refusal");
    let focus = ponte_tests::scrape::metrics(c.addr).await;
    assert!(focus.sum("ponte_focus_bridge_link_failures_total", &[("reason", "unauthorized")]) >= 1.0, "the focus counts it");
    assert!(c.registered().await.is_empty(), "the intruder is not registered");
}

/// Bridges registered with a region take the rooms whose first participant names that region
/// in its `join`, even when another bridge is idler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_with_a_region_lands_on_a_bridge_of_that_region() {
    let mut c = Cluster::start(&[]).await;
    c.add_bridge_with("us-1", &["--region", "us"]).await;
    c.add_bridge_with("eu-1", &["--region", "eu"]).await;
    c.wait_registered(&["us-1", "eu-1"], Duration::from_secs(10)).await;
    let mut joined = Vec::new();
    for (room, region) in [("paris", "eu"), ("berlin", "eu"), ("boston", "us"), ("nowhere", "ap")] {
        let opts = ParticipantOptions { send_video: false, region: Some(region.into()), ..Default::default() };
        joined.push(Participant::join(&c.ws_url(), room, "p", opts).await.unwrap_or_else(|e| panic!("join {room}: {e}")));
    }
    let placed = wait_placed(&c, 4).await;
    eprintln!("by region: {placed:?}");
    assert_eq!(placed["paris"], "eu-1", "{placed:?}");
    assert_eq!(placed["berlin"], "eu-1", "a busier bridge in the region still wins: {placed:?}");
    assert_eq!(placed["boston"], "us-1", "{placed:?}");
    assert!(placed.contains_key("nowhere"), "an unknown region falls back to any bridge: {placed:?}");
    join_all(joined.into_iter().map(Participant::leave)).await;
}
