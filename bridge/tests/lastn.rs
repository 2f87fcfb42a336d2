//! Last-N and the dominant speaker in virtual time: with `last_n = 2` and five publishers, a
//! receiver gets exactly two videos, and they follow whoever speaks (RFC 6464 audio levels);
//! the bridge announces the dominant speaker and the last-N set on the data channel.

mod common;

use std::collections::BTreeSet;

use common::{Net, Opts};
use ponte_bridge::forwarding::config::QualityConfig;

/// Publishers whose video frames reached `c` from frame index `from` on.
fn senders(net: &Net, c: usize, from: usize) -> BTreeSet<String> {
    net.clients[c].frames[from..].iter().map(|f| f.0.clone()).collect()
}

fn speak(net: &mut Net, who: usize) {
    for (i, c) in net.clients.iter_mut().enumerate() {
        c.level = if i == who { -20 } else { -127 };
    }
}

#[test]
fn last_n_two_of_five_follows_the_speaker() {
    let mut net = Net::new(QualityConfig { last_n: 2, ..Default::default() });
    let publisher = Opts { audio: true, video: true, ..Default::default() };
    for _ in 0..5 {
        net.join("r", &publisher);
    }
    let rx = net.join("r", &Opts { channel: true, ..Default::default() });
    net.run(3000);
    let mark = net.clients[rx].frames.len();
    net.run(1000);
    assert_eq!(senders(&net, rx, mark).len(), 2, "exactly two videos: {:?}", senders(&net, rx, mark));

    for (who, expect) in [(3usize, ["p3"].as_slice()), (1, &["p1", "p3"]), (4, &["p1", "p4"])] {
        speak(&mut net, who);
        net.run(2000);
        let mark = net.clients[rx].frames.len();
        net.run(1500);
        let got = senders(&net, rx, mark);
        assert_eq!(got.len(), 2, "still two videos while p{who} speaks: {got:?}");
        for e in expect {
            assert!(got.contains(*e), "p{who} speaks: video of {e} expected, got {got:?}");
        }
        assert_eq!(net.clients[rx].dominant().as_deref(), Some(format!("p{who}").as_str()), "announced on the data channel");
        let announced = net.clients[rx].last_n().unwrap();
        assert_eq!(announced.first().map(String::as_str), Some(format!("p{who}").as_str()), "{announced:?}");
        assert_eq!(announced.iter().cloned().collect::<BTreeSet<_>>(), got, "last_n message matches what flows");
    }
    assert!(net.metric("bridge_dominant_speaker_changes_total") >= 3.0);
    // Audio is never cut by last-N: the receiver's session got every publisher's audio track.
    assert_eq!(net.clients[rx].tracks.len(), 10);
}

#[test]
fn on_stage_participant_is_always_sent() {
    let mut net = Net::new(QualityConfig { last_n: 1, ..Default::default() });
    let publisher = Opts { audio: true, video: true, ..Default::default() };
    for _ in 0..3 {
        net.join("r", &publisher);
    }
    let rx = net.join("r", &Opts { channel: true, ..Default::default() });
    net.clients[rx].constraints = Some(ponte_proto::channel::ClientChannelMessage::Constraints {
        on_stage: Some("p2".into()),
        max_height: Default::default(),
        default_max_height: None,
        last_n: None,
    });
    speak(&mut net, 0);
    net.run(3000);
    let mark = net.clients[rx].frames.len();
    net.run(1500);
    assert_eq!(senders(&net, rx, mark), BTreeSet::from(["p2".to_owned()]), "on stage beats the speaker when N = 1");
}

#[test]
fn only_the_loudest_are_heard_when_configured() {
    let mut net = Net::new(QualityConfig { audio_loudest: 1, ..Default::default() });
    let publisher = Opts { audio: true, video: true, ..Default::default() };
    for _ in 0..4 {
        net.join("r", &publisher);
    }
    let rx = net.join("r", &Opts { channel: true, ..Default::default() });
    speak(&mut net, 2);
    net.run(2000);
    let before = net.clients[rx].audio_from.clone();
    net.run(1000);
    let heard: BTreeSet<String> = net.clients[rx]
        .audio_from
        .iter()
        .filter(|(p, n)| **n > before.get(*p).copied().unwrap_or(0))
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(heard, BTreeSet::from(["p2".to_owned()]), "audio_loudest = 1: only the speaker is heard");
}
