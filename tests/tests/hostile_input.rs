//! Malformed UDP datagrams, garbage STUN and bad signaling messages are dropped or answered
//! with errors, counted in /metrics, and the meeting goes on.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ponte_proto::MediaKind;
use ponte_tests::{scrape, stack};
use serde_json::Value;
use tokio::net::UdpSocket;
use tokio_tungstenite::tungstenite::Message;

/// A STUN binding request carrying only a USERNAME attribute (no integrity).
fn stun_with_username(user: &str) -> Vec<u8> {
    let mut attr = vec![0x00, 0x06];
    attr.extend_from_slice(&(user.len() as u16).to_be_bytes());
    attr.extend_from_slice(user.as_bytes());
    while attr.len() % 4 != 0 {
        attr.push(0);
    }
    let mut m = vec![0x00, 0x01];
    m.extend_from_slice(&(attr.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
    m.extend_from_slice(&[9; 12]);
    m.extend(attr);
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_media_port_is_dropped_and_counted() {
    let stack = stack::start().await;
    let a = stack::join(&stack, "ops", "Ann").await;
    let b = stack::join(&stack, "ops", "Ben").await;
    assert!(a.wait_until(Duration::from_secs(10), |a| a.snapshot().frames() > 20).await);

    let attacker = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let media = stack.addrs.media;
    let mut truncated_stun = stun_with_username("abcd:efgh");
    truncated_stun[3] = 0xf0; // claims a body far longer than the datagram
    let garbage: Vec<Vec<u8>> = vec![
        vec![0xff; 100],                       // no protocol starts with 0xff
        vec![0x80, 0x60, 0x00],                // an RTP runt
        vec![],                                // empty
        vec![0x16; 5],                         // a DTLS runt
        truncated_stun,                        // STUN that lies about its length
        stun_with_username("nosuchufrag:x"),   // STUN for no endpoint
        vec![0x00, 0x01, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], // no cookie
        [vec![0x80, 0x6f], vec![7; 200]].concat(), // RTP-looking, from an unknown address
        [vec![0x17, 0xfe, 0xfd], vec![1; 60]].concat(), // DTLS-looking, from an unknown address
    ];
    for _ in 0..10 {
        for g in &garbage {
            attacker.send_to(g, media).await.unwrap();
        }
    }
    let dropped = |m: &scrape::Metrics, reason| m.sum("bridge_packets_dropped_total", &[("reason", reason)]);
    let mut m = scrape::metrics(stack.addrs.bridge_http).await;
    for _ in 0..50 {
        if m.sum("bridge_packets_dropped_total", &[]) >= 80.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        m = scrape::metrics(stack.addrs.bridge_http).await;
    }
    assert!(dropped(&m, "malformed") >= 30.0, "runts and 0xff: {}", dropped(&m, "malformed"));
    assert!(dropped(&m, "bad_stun") >= 20.0, "lying and cookieless STUN: {}", dropped(&m, "bad_stun"));
    assert!(dropped(&m, "unknown_ufrag") >= 10.0);
    assert!(dropped(&m, "unknown_source") >= 20.0);

    let before = b.snapshot().track(a.id(), MediaKind::Video).unwrap().frames;
    assert!(
        b.wait_until(Duration::from_secs(5), |b| b.snapshot().track(a.id(), MediaKind::Video).unwrap().frames > before + 15).await,
        "the meeting goes on"
    );
    let t = b.snapshot().track(a.id(), MediaKind::Video).cloned().unwrap();
    assert_eq!((t.gaps, t.mismatches), (0, 0));
    stack.shutdown().await.unwrap();
}

/// Send one text frame and read the reply.
async fn exchange<S>(ws: &mut S, text: &str) -> Value
where
    S: SinkExt<Message> + StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
    <S as futures_util::Sink<Message>>::Error: std::fmt::Debug,
{
    ws.send(Message::text(text.to_owned())).await.unwrap();
    next_json(ws).await
}

async fn next_json<S>(ws: &mut S) -> Value
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a reply").expect("open").unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signaling_messages_get_errors_naming_the_problem() {
    let stack = stack::start().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(stack.ws_url()).await.unwrap();

    let cases: &[(&str, &str, Option<&str>)] = &[
        ("not json", "bad_message", None),
        ("[1,2,3]", "bad_message", None),
        (r#"{"room":"x"}"#, "missing_field", Some("type")),
        (r#"{"type":"teleport"}"#, "unknown_type", Some("type")),
        (r#"{"type":"join","display_name":"Eve"}"#, "missing_field", Some("room")),
        (r#"{"type":"join","room":"no spaces","display_name":"Eve"}"#, "invalid_field", Some("room")),
        (r#"{"type":"join","room":"r","display_name":""}"#, "invalid_field", Some("display_name")),
        (r#"{"type":"join","room":"r","display_name":"Eve","version":99}"#, "unsupported_version", Some("version")),
        (r#"{"type":"chat","text":"hi"}"#, "not_joined", None),
    ];
    for (text, code, field) in cases {
        let reply = exchange(&mut ws, text).await;
        assert_eq!(reply["type"], "error", "{text} → {reply}");
        assert_eq!(reply["code"], *code, "{text} → {reply}");
        if let Some(field) = field {
            assert_eq!(reply["field"], *field, "{text} → {reply}");
        }
        assert!(reply["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let huge = format!(r#"{{"type":"chat","text":"{}"}}"#, "x".repeat(70_000));
    assert_eq!(exchange(&mut ws, &huge).await["code"], "too_large");

    // Still the same connection, and it works.
    let welcome = exchange(&mut ws, r#"{"type":"join","room":"r","display_name":"Eve"}"#).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let reply = exchange(&mut ws, r#"{"type":"mute","kind":"smell","muted":true}"#).await;
    assert_eq!((reply["code"].as_str(), reply["field"].as_str()), (Some("invalid_field"), Some("kind")), "{reply}");
    let reply = exchange(&mut ws, r#"{"type":"offer","sdp":"hello"}"#).await;
    assert_eq!((reply["code"].as_str(), reply["field"].as_str()), (Some("invalid_field"), Some("sdp")), "{reply}");
    let reply = exchange(&mut ws, r#"{"type":"offer","sdp":"v=0\r\nnonsense"}"#).await;
    assert_eq!(reply["type"], "error", "an unparseable offer is refused: {reply}");
    let reply = exchange(&mut ws, r#"{"type":"join","room":"r","display_name":"Eve"}"#).await;
    assert_eq!(reply["code"], "already_joined");
    assert_eq!(exchange(&mut ws, r#"{"type":"ping","id":7}"#).await, serde_json::json!({"type":"pong","id":7}));

    let m = scrape::metrics(stack.addrs.signaling).await;
    assert!(m.sum("signaling_errors_total", &[("code", "bad_message")]) >= 2.0);
    assert!(m.sum("signaling_errors_total", &[("code", "missing_field")]) >= 2.0);
    assert!(m.sum("signaling_errors_total", &[("code", "too_large")]) >= 1.0);
    assert!(m.sum("signaling_messages_total", &[("type", "join")]) >= 1.0);
    assert_eq!(m.sum("signaling_connections", &[]), 1.0);
    stack.shutdown().await.unwrap();
}
