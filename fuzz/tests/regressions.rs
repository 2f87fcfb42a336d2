//! Inputs fuzzing found, replayed where they would arrive in production. Each also sits in
//! `corpus/<target>/regress-*`, so the fuzz run replays it too.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ponte_bridge::engine::Engine;
use ponte_bridge::metrics::BridgeMetrics;
use ponte_proto::link::{EndpointEvent, EndpointRef, FocusToBridge};

fn engine() -> (Engine, prometheus::Registry) {
    ponte_bridge::init_crypto();
    let registry = prometheus::Registry::new();
    let metrics = BridgeMetrics::new(&registry).unwrap();
    let bridge: SocketAddr = "127.0.0.1:10000".parse().unwrap();
    (Engine::new(vec![bridge], Duration::from_millis(300), metrics), registry)
}

fn offer(engine: &mut Engine, endpoint: &str, sdp: String) -> EndpointEvent {
    let target = EndpointRef { conference: "c".into(), endpoint: endpoint.into() };
    engine.handle_command(Instant::now(), FocusToBridge::Offer { target, sdp, display_name: endpoint.into() });
    std::iter::from_fn(|| engine.poll_event())
        .find(|e| matches!(e, EndpointEvent::Answer { .. } | EndpointEvent::Failed { .. }))
        .expect("an answer or a refusal")
}

/// str0m 0.25 panics ("Pt locked multiple times") on an offer whose payload types collide
/// after a mangled fmtp line. The bridge contains it: that client gets `Failed`, nothing is
/// left behind, and the next client's offer is answered.
#[test]
fn an_offer_that_panics_str0m_is_refused_and_the_bridge_goes_on() {
    let crash = include_str!("../corpus/sdp_offer/regress-pt-locked-twice");
    let good = include_str!("../corpus/sdp_offer/audio_video_data");
    let (mut engine, _registry) = engine();
    match offer(&mut engine, "mangled", crash.to_owned()) {
        EndpointEvent::Failed { reason, .. } => assert!(reason.contains("Pt locked"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(engine.endpoint_count(), 0, "the refused endpoint is gone");
    assert!(matches!(offer(&mut engine, "next", good.to_owned()), EndpointEvent::Answer { .. }));
    assert_eq!(engine.endpoint_count(), 1);
}
