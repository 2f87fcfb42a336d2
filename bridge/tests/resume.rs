//! A client whose signaling was down when the bridge renegotiated (a newcomer's tracks) missed
//! the offer; the bridge waits for an answer that never comes and offers nothing more. When
//! the client resumes its session, signaling says `Resumed` and the bridge sends the offer
//! again: the client answers it and receives the newcomer.

mod common;

use common::{Net, Opts};
use ponte_bridge::forwarding::config::QualityConfig;
use ponte_proto::link::FocusToBridge;

fn from(net: &Net, c: usize, publisher: &str) -> usize {
    net.clients[c].frames.iter().filter(|f| f.0 == publisher).count()
}

#[test]
fn a_resumed_client_gets_the_offer_it_missed() {
    let mut net = Net::new(QualityConfig::default());
    let both = Opts { audio: true, video: true, ..Default::default() };
    let ann = net.join("r", &both);
    let bob = net.join("r", &both);
    net.run(1000);
    assert!(from(&net, ann, "p1") > 0, "Ann receives Bob");

    net.unreachable.insert(ann);
    let cy = net.join("r", &both);
    net.run(1500);
    assert_eq!(from(&net, ann, "p2"), 0, "Ann missed the offer with Cy's tracks");
    assert!(from(&net, bob, "p2") > 0, "Bob answered his and receives Cy");

    net.unreachable.remove(&ann);
    let target = net.clients[ann].target();
    net.engine.handle_command(net.now, FocusToBridge::Resumed { target });
    net.pump();
    net.run(1500);
    assert!(from(&net, ann, "p2") > 0, "after the resume Ann receives Cy too");
    assert!(from(&net, cy, "p0") > 0);
}
