//! Writes the seed corpus (`cargo test --test seeds -- --ignored`): one well-formed example
//! of each thing a target reads, and a few near misses. Run once; the corpus is committed,
//! and crashes found later are added next to these by hand.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use ponte_fuzz::targets::UFRAG_PLACEHOLDER;
use ponte_loadtest::media::{opus, vp8};
use str0m::media::{Direction, MediaKind};
use str0m::{Candidate, Rtc};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn offer(kinds: &[MediaKind]) -> String {
    let mut rtc = Rtc::builder().build(Instant::now());
    let addr: SocketAddr = "127.0.0.9:5000".parse().unwrap();
    rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
    let mut api = rtc.sdp_api();
    for kind in kinds {
        api.add_media(*kind, Direction::SendRecv, Some("stream".into()), None, None);
    }
    api.add_channel("data".into());
    api.apply().unwrap().0.to_sdp_string()
}

/// A STUN binding request as a browser sends it, naming the bridge endpoint's ufrag.
fn stun_binding_request() -> Vec<u8> {
    let mut attrs = Vec::new();
    let mut attr = |typ: u16, value: &[u8]| {
        attrs.extend_from_slice(&typ.to_be_bytes());
        attrs.extend_from_slice(&(value.len() as u16).to_be_bytes());
        attrs.extend_from_slice(value);
        attrs.resize(attrs.len().div_ceil(4) * 4, 0);
    };
    let mut username = UFRAG_PLACEHOLDER.to_vec();
    username.extend_from_slice(b":abcd");
    attr(0x0006, &username); // USERNAME
    attr(0x0024, &0x6e7f_1eff_u32.to_be_bytes()); // PRIORITY
    attr(0x802a, &[1, 2, 3, 4, 5, 6, 7, 8]); // ICE-CONTROLLING
    attr(0x0025, &[]); // USE-CANDIDATE
    attr(0x0008, &[0x5a; 20]); // MESSAGE-INTEGRITY (wrong, the password is secret)
    attr(0x8028, &[0, 0, 0, 0]); // FINGERPRINT
    let mut m = vec![0x00, 0x01];
    m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
    m.extend_from_slice(b"txid-fuzz-01");
    m.extend_from_slice(&attrs);
    m
}

#[test]
#[ignore = "writes the committed seed corpus"]
fn write_seed_corpus() {
    // Signaling: every client message type, and near misses.
    let sdp = offer(&[MediaKind::Audio, MediaKind::Video]);
    let sdp_json = serde_json::to_string(&sdp).unwrap();
    let join = r#"{"type":"join","version":1,"room":"daily","display_name":"Ada","token":"e30.e30.sig","audio_muted":true,"video_muted":false}"#;
    let signals = [
        ("join", join.to_string()),
        ("join_min", r#"{"type":"join","room":"r","display_name":"A"}"#.to_string()),
        ("offer", format!(r#"{{"type":"offer","sdp":{sdp_json}}}"#)),
        ("answer", r#"{"type":"answer","sdp":"v=0\r\n"}"#.to_string()),
        ("mute", r#"{"type":"mute","kind":"video","muted":true}"#.to_string()),
        ("chat", r#"{"type":"chat","text":"héllo 👋"}"#.to_string()),
        ("ping", r#"{"type":"ping","id":7}"#.to_string()),
        ("leave", r#"{"type":"leave"}"#.to_string()),
        ("unknown_type", r#"{"type":"dance","x":[1,2,{"y":null}]}"#.to_string()),
        ("not_object", r#"[1,"two",3.5e10]"#.to_string()),
    ];
    for (name, text) in signals {
        write("signal_json", name, text.as_bytes());
    }

    // Focus link: both directions.
    let links = [
        ("offer", format!(r#"{{"type":"offer","conference":"c","endpoint":"e","sdp":{sdp_json},"display_name":"Ada"}}"#)),
        ("expire", r#"{"type":"expire_endpoint","conference":"c","endpoint":"e"}"#.to_string()),
        ("register", r#"{"type":"register","bridge_id":"b1","region":"eu","version":"0.1.0","link_version":1,"media_addr":"10.0.0.1:10000","ingest_addrs":[],"conferences":["c"]}"#.to_string()),
        ("stats", r#"{"type":"stats","stress":0.25,"endpoints":3,"conferences":1,"bitrate_in_bps":100000,"bitrate_out_bps":200000,"packet_rate_in":50,"packet_rate_out":100,"draining":false}"#.to_string()),
        ("event", r#"{"type":"endpoint","event":"failed","conference":"c","endpoint":"e","reason":"x"}"#.to_string()),
    ];
    for (name, text) in links {
        write("link_json", name, text.as_bytes());
    }

    // SDP offers as clients make them.
    write("sdp_offer", "audio_video_data", sdp.as_bytes());
    write("sdp_offer", "audio_only", offer(&[MediaKind::Audio]).as_bytes());
    write("sdp_offer", "video_twice", offer(&[MediaKind::Video, MediaKind::Video]).as_bytes());

    // Datagrams: STUN for the endpoint, a DTLS ClientHello header, RTP, RTCP, junk.
    write("udp_datagram", "stun_binding", &stun_binding_request());
    let mut dtls = vec![0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x30, 0x01, 0, 0, 0x24, 0, 0, 0, 0, 0, 0, 0, 0x24, 0xfe, 0xfd];
    dtls.extend(0..36u8);
    write("udp_datagram", "dtls_client_hello", &dtls);
    let mut rtp = vec![0x90, 0x60, 0x12, 0x34, 0, 0, 0x10, 0, 0xde, 0xad, 0xbe, 0xef, 0xbe, 0xde, 0, 1, 0x10, 0x7f, 0, 0];
    rtp.extend(vp8::frame(1, 2, false));
    write("udp_datagram", "rtp", &rtp);
    let rtcp = [0x81, 0xc9, 0, 7, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    write("udp_datagram", "rtcp_rr", &rtcp);
    write("udp_datagram", "junk", b"\xff\x00hello");

    // Media frames the test participant checks.
    write("media_verify", "vp8_key", &vp8::frame_with_body(1, 2, true, 64));
    write("media_verify", "vp8_delta", &vp8::frame_with_body(3, 4, false, 32));
    write("media_verify", "opus", &opus::packet_with_body(5, 6, 40));
}

/// RTMP as an encoder sends it after the handshake: connect, createStream, publish
/// (`live` / `town?key=...`), metadata, the AVC and AAC sequence headers, a key frame and an
/// audio frame (the FLV seed bodies), made by rml_rtmp's client session talking to its server
/// session. The first byte of each entry is the read size selector of the `rtmp` target.
#[test]
#[ignore = "writes the committed seed corpus"]
fn write_rtmp_seeds() {
    use rml_rtmp::sessions::{ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult, PublishRequestType};
    use rml_rtmp::sessions::{ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult, StreamMetadata};
    use rml_rtmp::time::RtmpTimestamp;

    let flv = |name: &str| std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/flv").join(name)).unwrap()[1..].to_vec();
    let (mut client, _) = ClientSession::new(ClientSessionConfig::new()).unwrap();
    let (mut server, first) = ServerSession::new(ServerSessionConfig::new()).unwrap();
    let mut wire = Vec::new(); // client → server, what the bridge reads
    let mut to_client: Vec<u8> = first
        .into_iter()
        .filter_map(|r| match r {
            ServerSessionResult::OutboundResponse(p) => Some(p.bytes),
            _ => None,
        })
        .flatten()
        .collect();
    let mut events = Vec::new();
    // Exchange until quiet: the client's packets to the server, the server's answers back.
    let mut exchange = |out: Vec<ClientSessionResult>, wire: &mut Vec<u8>, to_client: &mut Vec<u8>, client: &mut ClientSession, server: &mut ServerSession| {
        let mut pending: Vec<u8> = out
            .into_iter()
            .filter_map(|r| match r {
                ClientSessionResult::OutboundResponse(p) => Some(p.bytes),
                _ => None,
            })
            .flatten()
            .collect();
        for _ in 0..16 {
            if pending.is_empty() && to_client.is_empty() {
                break;
            }
            wire.extend_from_slice(&pending);
            let mut answers = Vec::new();
            let mut queue: std::collections::VecDeque<_> = server.handle_input(&pending).unwrap().into();
            while let Some(r) = queue.pop_front() {
                match r {
                    ServerSessionResult::OutboundResponse(p) => answers.extend(p.bytes),
                    ServerSessionResult::RaisedEvent(ServerSessionEvent::ConnectionRequested { request_id, .. })
                    | ServerSessionResult::RaisedEvent(ServerSessionEvent::PublishStreamRequested { request_id, .. }) => {
                        queue.extend(server.accept_request(request_id).unwrap());
                    }
                    ServerSessionResult::RaisedEvent(e) => events.push(format!("{e:?}").chars().take(40).collect::<String>()),
                    _ => {}
                }
            }
            answers.splice(0..0, std::mem::take(to_client));
            pending = client
                .handle_input(&answers)
                .unwrap()
                .into_iter()
                .filter_map(|r| match r {
                    ClientSessionResult::OutboundResponse(p) => Some(p.bytes),
                    ClientSessionResult::RaisedEvent(ClientSessionEvent::PublishRequestAccepted) => None,
                    _ => None,
                })
                .flatten()
                .collect();
        }
    };
    let r = client.request_connection("live".into()).unwrap();
    exchange(vec![r], &mut wire, &mut to_client, &mut client, &mut server);
    let r = client.request_publishing("town?key=town-key-1".into(), PublishRequestType::Live).unwrap();
    exchange(vec![r], &mut wire, &mut to_client, &mut client, &mut server);
    let handshake_end = wire.len();
    let metadata = StreamMetadata { video_width: Some(64), video_height: Some(48), video_codec_id: Some(7), audio_codec_id: Some(10), ..StreamMetadata::new() };
    let mut media = vec![client.publish_metadata(&metadata).unwrap()];
    let ts = RtmpTimestamp::new;
    media.push(client.publish_video_data(flv("video_config").into(), ts(0), false).unwrap());
    media.push(client.publish_audio_data(flv("audio_config").into(), ts(0), false).unwrap());
    media.push(client.publish_video_data(flv("video_nalus").into(), ts(0), false).unwrap());
    media.push(client.publish_audio_data(flv("audio_frame").into(), ts(23), true).unwrap());
    media.push(client.publish_video_data(flv("video_nalus").into(), ts(40), false).unwrap());
    exchange(media, &mut wire, &mut to_client, &mut client, &mut server);
    println!("{} bytes, media from {handshake_end}; events {events:?}", wire.len());
    assert!(events.iter().any(|e| e.starts_with("VideoDataReceived")), "{events:?}");
    write("rtmp", "publish_session", &[[0u8].as_slice(), &wire].concat());
    write("rtmp", "publish_session_small_reads", &[[2u8].as_slice(), &wire].concat());
    write("rtmp", "commands_only", &[[0u8].as_slice(), &wire[..handshake_end]].concat());
}
