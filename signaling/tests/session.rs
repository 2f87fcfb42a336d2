//! Client sessions over a real WebSocket: join, roster, mute, chat, leave, malformed
//! messages, size and rate limits, room size, tokens.

mod common;

use std::time::Duration;

use common::{Client, Stack};
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use ponte_proto::signal::{ErrorCode, ServerMessage};
use ponte_proto::MediaKind;
use ponte_signaling::SignalingConfig;

fn lenient() -> SignalingConfig {
    SignalingConfig { messages_per_second: 1000, message_burst: 1000, ..Default::default() }
}

#[tokio::test]
async fn join_welcome_roster_and_announcements() {
    let stack = Stack::start(SignalingConfig::default()).await;
    let (mut ann, ann_id, roster) = stack.join("standup", "Ann").await;
    assert!(roster.is_empty());
    assert_eq!(ann_id.len(), 12);
    assert!(ann_id.chars().all(|c| c.is_ascii_alphanumeric()));

    let (mut bob, bob_id, roster) = stack.join("standup", "  Bob  ").await;
    assert_eq!(roster.len(), 1);
    assert_eq!((roster[0].id.as_str(), roster[0].display_name.as_str()), (ann_id.as_str(), "Ann"));
    match ann.recv().await {
        ServerMessage::ParticipantJoined { participant } => {
            assert_eq!((participant.id.as_str(), participant.display_name.as_str()), (bob_id.as_str(), "Bob"));
        }
        other => panic!("expected participant_joined, got {other:?}"),
    }

    // Another room is another roster.
    let (_carol, _, roster) = stack.join("other-room", "Carol").await;
    assert!(roster.is_empty());

    // `leave`: bye to the leaver, participant_left to the others.
    bob.send(json!({"type": "leave"})).await;
    assert!(matches!(bob.recv().await, ServerMessage::Bye { reason } if reason == "left"));
    assert!(bob.closed_within(common::WAIT).await);
    assert!(matches!(ann.recv().await, ServerMessage::ParticipantLeft { participant_id } if participant_id == bob_id));

    // A closed socket counts as leaving.
    let (dave, dave_id, _) = stack.join("standup", "Dave").await;
    assert!(matches!(ann.recv().await, ServerMessage::ParticipantJoined { .. }));
    drop(dave);
    assert!(matches!(ann.recv().await, ServerMessage::ParticipantLeft { participant_id } if participant_id == dave_id));
    stack.stop().await;
}

#[tokio::test]
async fn mute_reaches_everyone_and_the_roster() {
    let stack = Stack::start(SignalingConfig::default()).await;
    let (mut ann, ann_id, _) = stack.join("r", "Ann").await;
    let (mut bob, _, _) = stack.join("r", "Bob").await;
    ann.recv().await; // Bob joined
    ann.send(json!({"type": "mute", "kind": "audio", "muted": true})).await;
    for c in [&mut ann, &mut bob] {
        match c.recv().await {
            ServerMessage::MuteChanged { participant_id, kind, muted } => {
                assert_eq!((participant_id.as_str(), kind, muted), (ann_id.as_str(), MediaKind::Audio, true));
            }
            other => panic!("expected mute_changed, got {other:?}"),
        }
    }
    let (_carol, _, roster) = stack.join("r", "Carol").await;
    let ann_entry = roster.iter().find(|p| p.id == ann_id).unwrap();
    assert!(ann_entry.audio_muted && !ann_entry.video_muted);
    stack.stop().await;
}

#[tokio::test]
async fn chat_reaches_everyone_including_the_sender() {
    let stack = Stack::start(SignalingConfig::default()).await;
    let (mut ann, ann_id, _) = stack.join("r", "Ann").await;
    let (mut bob, _, _) = stack.join("r", "Bob").await;
    ann.recv().await; // Bob joined
    ann.send(json!({"type": "chat", "text": "hello 👋"})).await;
    for c in [&mut ann, &mut bob] {
        match c.recv().await {
            ServerMessage::Chat { from, display_name, text, ts_ms } => {
                assert_eq!((from.as_str(), display_name.as_str(), text.as_str()), (ann_id.as_str(), "Ann", "hello 👋"));
                assert!(ts_ms > 1_600_000_000_000);
            }
            other => panic!("expected chat, got {other:?}"),
        }
    }
    stack.stop().await;
}

#[tokio::test]
async fn every_malformed_message_gets_an_error_and_the_connection_stays() {
    let stack = Stack::start(lenient()).await;
    let mut c = stack.client().await;
    let before_join: &[(&str, ErrorCode, Option<&str>)] = &[
        ("{nope", ErrorCode::BadMessage, None),
        ("[1,2]", ErrorCode::BadMessage, None),
        (r#"{"room":"x"}"#, ErrorCode::MissingField, Some("type")),
        (r#"{"type":5}"#, ErrorCode::InvalidField, Some("type")),
        (r#"{"type":"dance"}"#, ErrorCode::UnknownType, Some("type")),
        (r#"{"type":"join","display_name":"A"}"#, ErrorCode::MissingField, Some("room")),
        (r#"{"type":"join","room":"a b","display_name":"A"}"#, ErrorCode::InvalidField, Some("room")),
        (r#"{"type":"join","room":7,"display_name":"A"}"#, ErrorCode::InvalidField, Some("room")),
        (r#"{"type":"join","room":"r","display_name":"   "}"#, ErrorCode::InvalidField, Some("display_name")),
        (r#"{"type":"join","room":"r","display_name":"A","version":2}"#, ErrorCode::UnsupportedVersion, Some("version")),
        (r#"{"type":"join","room":"r","display_name":"A","extra":1}"#, ErrorCode::InvalidField, Some("extra")),
        (r#"{"type":"offer","sdp":"v=0"}"#, ErrorCode::NotJoined, None),
        (r#"{"type":"ping"}"#, ErrorCode::NotJoined, None),
    ];
    for (text, code, field) in before_join {
        c.send_text(text).await;
        assert_eq!(c.error().await, (*code, field.map(str::to_owned)), "for {text}");
    }
    c.send_frame(Message::binary(vec![1u8, 2, 3])).await;
    assert_eq!(c.error().await, (ErrorCode::BadMessage, None));

    c.send(json!({"type": "join", "room": "r", "display_name": "Ann"})).await;
    assert!(matches!(c.recv().await, ServerMessage::Welcome { .. }));
    let long_chat = json!({"type": "chat", "text": "x".repeat(2001)}).to_string();
    let after_join: &[(&str, ErrorCode, Option<&str>)] = &[
        (r#"{"type":"join","room":"r","display_name":"A"}"#, ErrorCode::AlreadyJoined, None),
        (r#"{"type":"mute","kind":"smell","muted":true}"#, ErrorCode::InvalidField, Some("kind")),
        (r#"{"type":"mute","kind":"audio","muted":"yes"}"#, ErrorCode::InvalidField, Some("muted")),
        (r#"{"type":"mute","kind":"audio"}"#, ErrorCode::MissingField, Some("muted")),
        (r#"{"type":"chat","text":"  "}"#, ErrorCode::InvalidField, Some("text")),
        (&long_chat, ErrorCode::TooLarge, Some("text")),
        (r#"{"type":"offer","sdp":"hello"}"#, ErrorCode::InvalidField, Some("sdp")),
        (r#"{"type":"answer"}"#, ErrorCode::MissingField, Some("sdp")),
        (r#"{"type":"ping","id":-1}"#, ErrorCode::InvalidField, Some("id")),
        (r#"{"type":"leave","now":true}"#, ErrorCode::InvalidField, Some("now")),
    ];
    for (text, code, field) in after_join {
        c.send_text(text).await;
        assert_eq!(c.error().await, (*code, field.map(str::to_owned)), "for {text}");
    }
    c.assert_alive().await;
    stack.stop().await;
}

#[tokio::test]
async fn oversize_messages_are_refused_and_huge_ones_close() {
    let stack = Stack::start(lenient()).await;
    let (mut c, _, _) = stack.join("r", "Ann").await;
    let big = json!({"type": "chat", "text": "x".repeat(70_000)}).to_string();
    c.send_text(&big).await;
    assert_eq!(c.error().await, (ErrorCode::TooLarge, None));
    c.assert_alive().await;
    // Past four times the limit the frame is not even read: the connection closes.
    c.send_text(&"y".repeat(300_000)).await;
    assert!(c.closed_within(common::WAIT).await);
    stack.stop().await;
}

#[tokio::test]
async fn rate_limit_drops_messages_but_keeps_the_connection() {
    let config = SignalingConfig { messages_per_second: 2, message_burst: 4, ..Default::default() };
    let stack = Stack::start(config).await;
    let (mut c, _, _) = stack.join("r", "Ann").await; // one token
    for id in 0..5 {
        c.send(json!({"type": "ping", "id": id})).await;
    }
    let mut pongs = 0;
    let mut limited = 0;
    for _ in 0..5 {
        match c.recv().await {
            ServerMessage::Pong { .. } => pongs += 1,
            ServerMessage::Error { code: ErrorCode::RateLimited, .. } => limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((pongs, limited), (3, 2));
    tokio::time::sleep(Duration::from_millis(600)).await;
    c.assert_alive().await;
    stack.stop().await;
}

#[tokio::test]
async fn full_room_refuses_the_next_join() {
    let stack = Stack::start(SignalingConfig { max_room_size: 2, ..Default::default() }).await;
    let (_a, _, _) = stack.join("small", "A").await;
    let (_b, _, _) = stack.join("small", "B").await;
    let mut c = stack.client().await;
    c.send(json!({"type": "join", "room": "small", "display_name": "C"})).await;
    assert_eq!(c.error().await, (ErrorCode::RoomFull, Some("room".into())));
    // Still connected, and free to join elsewhere.
    c.send(json!({"type": "join", "room": "big", "display_name": "C"})).await;
    assert!(matches!(c.recv().await, ServerMessage::Welcome { room, .. } if room == "big"));
    stack.stop().await;
}

fn token(secret: &str, room: &str, exp_from_now: i64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let claims = json!({"room": room, "exp": now + exp_from_now});
    encode(&Header::default(), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

async fn join_with(c: &mut Client, room: &str, token: Option<String>) -> ServerMessage {
    c.send(json!({"type": "join", "room": room, "display_name": "Ann", "token": token})).await;
    c.recv().await
}

#[tokio::test]
async fn tokens_are_checked_when_a_secret_is_set() {
    let stack = Stack::start(SignalingConfig { jwt_secret: Some("s3cret".into()), ..Default::default() }).await;
    let mut c = stack.client().await;
    let refusals = [
        None,
        Some(token("s3cret", "team", -3600)),
        Some(token("s3cret", "elsewhere", 600)),
        Some(token("wrong", "team", 600)),
        Some("not.a.jwt".to_string()),
    ];
    for t in refusals {
        match join_with(&mut c, "team", t.clone()).await {
            ServerMessage::Error { code, field, .. } => {
                assert_eq!((code, field.as_deref()), (ErrorCode::Unauthorized, Some("token")), "token {t:?}");
            }
            other => panic!("expected unauthorized for {t:?}, got {other:?}"),
        }
    }
    assert!(matches!(join_with(&mut c, "team", Some(token("s3cret", "team", 600))).await, ServerMessage::Welcome { .. }));
    let mut d = stack.client().await;
    assert!(matches!(join_with(&mut d, "team", Some(token("s3cret", "*", 600))).await, ServerMessage::Welcome { .. }));
    stack.stop().await;
}
