//! SDP relay between clients and a (fake) bridge through the real focus.

mod common;

use common::{FakeBridge, Stack, ANSWER_SDP, SDP};
use serde_json::json;

use ponte_proto::link::{EndpointEvent, EndpointRef, FocusToBridge};
use ponte_proto::signal::{ErrorCode, ServerMessage};
use ponte_proto::{MediaKind, TrackInfo};
use ponte_signaling::SignalingConfig;

#[tokio::test]
async fn offer_without_a_bridge_is_unavailable() {
    let stack = Stack::start(SignalingConfig::default()).await;
    let (mut c, _, _) = stack.join("r", "Ann").await;
    c.send(json!({"type": "offer", "sdp": SDP})).await;
    assert_eq!(c.error().await, (ErrorCode::Unavailable, None));
    c.assert_alive().await;
    stack.stop().await;
}

#[tokio::test]
async fn offer_answer_renegotiation_and_expiry_are_routed() {
    let stack = Stack::start(SignalingConfig::default()).await;
    let bridge = FakeBridge::attach(&stack.focus).await;
    let (mut ann, ann_id, _) = stack.join("room-1", "Ann").await;
    let (mut bob, bob_id, _) = stack.join("room-1", "Bob").await;
    ann.recv().await; // Bob joined

    // The client's offer reaches the bridge, addressed to its endpoint; the answer comes back.
    ann.send(json!({"type": "offer", "sdp": SDP})).await;
    assert!(matches!(ann.recv().await, ServerMessage::Answer { sdp } if sdp == ANSWER_SDP));
    let ann_ep = EndpointRef { conference: "room-1".into(), endpoint: ann_id.clone() };
    let offer = bridge.wait_for(|c| matches!(c, FocusToBridge::Offer { target, .. } if *target == ann_ep)).await;
    assert!(matches!(offer, FocusToBridge::Offer { sdp, display_name, .. } if sdp == SDP && display_name == "Ann"));

    // A renegotiation from the bridge reaches only its endpoint's client, tracks included.
    let tracks = vec![TrackInfo { mid: "2".into(), participant_id: bob_id.clone(), kind: MediaKind::Video }];
    bridge.event(EndpointEvent::Offer { target: ann_ep.clone(), sdp: "v=0\r\ns=reneg\r\n".into(), tracks: tracks.clone() }).await;
    match ann.recv().await {
        ServerMessage::Offer { sdp, tracks: got } => {
            assert_eq!(sdp, "v=0\r\ns=reneg\r\n");
            assert_eq!(got, tracks);
        }
        other => panic!("expected offer, got {other:?}"),
    }
    ann.send(json!({"type": "answer", "sdp": "v=0\r\ns=client-answer\r\n"})).await;
    bridge.wait_for(|c| matches!(c, FocusToBridge::Answer { target, sdp } if *target == ann_ep && sdp.contains("client-answer"))).await;

    // Failures become negotiation_failed errors.
    bridge.event(EndpointEvent::Failed { target: ann_ep.clone(), reason: "bad sdp".into() }).await;
    match ann.recv().await {
        ServerMessage::Error { code, message, .. } => {
            assert_eq!(code, ErrorCode::NegotiationFailed);
            assert!(message.contains("bad sdp"), "{message}");
        }
        other => panic!("expected error, got {other:?}"),
    }

    // Events for someone who is not here are dropped and counted.
    let ghost = EndpointRef { conference: "room-1".into(), endpoint: "nobody-here0".into() };
    bridge.event(EndpointEvent::Answer { target: ghost, sdp: SDP.into() }).await;
    ann.assert_alive().await;
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let (_, _, body) = stack.get("/metrics").await;
        if String::from_utf8_lossy(&body).contains("signaling_events_dropped_total 1") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the ghost event was never counted");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Leaving expires the endpoint on the bridge; Bob, who never offered, costs the bridge nothing.
    ann.send(json!({"type": "leave"})).await;
    bridge.wait_for(|c| matches!(c, FocusToBridge::ExpireEndpoint { target } if *target == ann_ep)).await;
    assert!(matches!(bob.recv().await, ServerMessage::ParticipantLeft { participant_id } if participant_id == ann_id));
    stack.stop().await;
}
