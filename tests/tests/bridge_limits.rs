//! A bridge at its conference limit refuses the next room's offer, and the client hears why
//! (an `error` naming the limit) while the rooms already there go on; the refusal is counted.

use std::time::Duration;

use ponte::StackConfig;
use ponte_loadtest::{Participant, ParticipantOptions, RosterEvent};
use ponte_proto::signal::ErrorCode;
use ponte_tests::{scrape, stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conference_over_the_limit_is_refused_with_a_reason() {
    let mut config = StackConfig::loopback();
    config.bridge.max_conferences = 1;
    let stack = stack::start_with(config).await;
    let ada = stack::join(&stack, "first", "Ada").await;

    let opts = ParticipantOptions { send_video: false, ..Default::default() };
    let bo = Participant::join(&stack.ws_url(), "second", "Bo", opts).await.expect("signaling welcomes Bo");
    let told = bo
        .wait_until(Duration::from_secs(10), |p| {
            p.events().iter().any(|e| matches!(e, RosterEvent::Error { code: ErrorCode::NegotiationFailed, message } if message.contains("conference limit")))
        })
        .await;
    assert!(told, "Bo is told the bridge is at its conference limit: {:?}", bo.events());
    assert!(!bo.is_connected());
    assert!(ada.is_connected(), "the room already there goes on");

    let metrics = scrape::metrics(stack.addrs.bridge_http).await;
    assert_eq!(metrics.sum("bridge_endpoint_failures_total", &[("reason", "conference_limit")]), 1.0);
    assert!(metrics.has("process_resident_memory_bytes") && metrics.has("process_open_fds"), "process metrics on the bridge");
    drop((ada, bo));
    stack.shutdown().await.unwrap();
}
