//! Admission limits: over the conference limit or the pending-handshake limit, an offer is
//! refused with a `Failed` event naming the limit, counted, and nothing is allocated; once
//! room frees up, offers are accepted again.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ponte_bridge::engine::{Engine, Limits};
use ponte_bridge::metrics::BridgeMetrics;
use ponte_proto::link::{EndpointEvent, EndpointRef, FocusToBridge};
use str0m::media::{Direction, MediaKind};
use str0m::{Candidate, Rtc};

/// A browser-like offer (audio + video) that will never complete its handshake.
fn offer(now: Instant) -> String {
    let mut rtc = Rtc::builder().build(now);
    let addr: SocketAddr = "127.0.0.9:5000".parse().unwrap();
    rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    api.add_media(MediaKind::Video, Direction::SendRecv, None, None, None);
    api.apply().unwrap().0.to_sdp_string()
}

fn target(conference: &str, endpoint: &str) -> EndpointRef {
    EndpointRef { conference: conference.into(), endpoint: endpoint.into() }
}

/// Offer for `conference/endpoint`; Ok(()) on an answer, Err(reason) on a refusal.
fn join(engine: &mut Engine, now: Instant, conference: &str, endpoint: &str) -> Result<(), String> {
    let sdp = offer(now);
    engine.handle_command(now, FocusToBridge::Offer { target: target(conference, endpoint), sdp, display_name: endpoint.into() });
    while let Some(ev) = engine.poll_event() {
        match ev {
            EndpointEvent::Answer { .. } => return Ok(()),
            EndpointEvent::Failed { reason, .. } => return Err(reason),
            _ => {}
        }
    }
    panic!("neither an answer nor a refusal for {conference}/{endpoint}");
}

fn refusals(registry: &prometheus::Registry, label: &str) -> u64 {
    registry
        .gather()
        .iter()
        .filter(|f| f.name() == "bridge_endpoint_failures_total")
        .flat_map(|f| f.get_metric().iter())
        .filter(|m| m.get_label().iter().any(|l| l.value() == label))
        .map(|m| m.get_counter().get_value() as u64)
        .sum()
}

#[test]
fn offers_over_a_limit_are_refused_with_a_reason_and_counted() {
    ponte_bridge::init_crypto();
    let registry = prometheus::Registry::new();
    let metrics = BridgeMetrics::new(&registry).unwrap();
    let mut engine = Engine::new(vec!["127.0.0.1:10000".parse().unwrap()], Duration::from_millis(300), metrics);
    engine.set_limits(Limits { max_conferences: 2, max_pending_endpoints: 3 });
    let now = Instant::now();

    join(&mut engine, now, "a", "a1").unwrap();
    join(&mut engine, now, "b", "b1").unwrap();
    let e = join(&mut engine, now, "c", "c1").unwrap_err();
    assert!(e.contains("conference limit (2)"), "{e}");
    assert_eq!(engine.endpoint_count(), 2, "nothing allocated for a refused offer");

    join(&mut engine, now, "a", "a2").unwrap();
    let e = join(&mut engine, now, "a", "a3").unwrap_err();
    assert!(e.contains("too many connections being set up (3)"), "{e}");
    assert_eq!((refusals(&registry, "conference_limit"), refusals(&registry, "pending_limit")), (1, 1));

    // A pending endpoint leaves: there is room for one more handshake.
    engine.handle_command(now, FocusToBridge::ExpireEndpoint { target: target("a", "a1") });
    join(&mut engine, now, "a", "a3").unwrap();
    // A conference ends: there is room for another conference (and its one handshake).
    engine.handle_command(now, FocusToBridge::ExpireConference { conference: "b".into() });
    join(&mut engine, now, "c", "c1").unwrap();
    assert_eq!(engine.endpoint_count(), 3);
}
