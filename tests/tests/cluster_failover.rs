//! A bridge dies (SIGKILL: no goodbye) while it hosts two conferences of three participants
//! each: the focus sees its link drop, places both conferences on the other bridges and
//! signaling tells every participant to renegotiate; each one receives the others' audio
//! and video again from a new bridge within 10 s. The measured time per participant is
//! printed. With no bridge left, participants keep offering until an operator starts one.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use ponte_loadtest::{Participant, ParticipantOptions};
use ponte_proto::MediaKind;
use ponte_tests::cluster::Cluster;

const BOUND: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_bridge_moves_its_conferences_and_media_comes_back() {
    tokio::time::timeout(Duration::from_secs(60), run()).await.expect("the scenario finishes within 60 s");
}

/// `p` has a media session started after `since` that receives both kinds from every
/// other member of its room.
fn flowing_again(p: &Participant, others: &[(String, u32)], since: Instant) -> bool {
    let (n, at) = p.renegotiations();
    if n == 0 || at.is_none_or(|at| at < since) {
        return false;
    }
    let snap = p.snapshot();
    others.iter().all(|(id, _)| {
        [MediaKind::Audio, MediaKind::Video]
            .iter()
            .all(|&kind| snap.track(id, kind).is_some_and(|t| t.frames >= 3 && t.mismatches == 0))
    })
}

async fn run() {
    // Both rooms go to b1, the only bridge at first; b2 and b3 come later.
    let mut c = Cluster::start(&["b1"]).await;
    let mut rooms: Vec<(String, Vec<Participant>)> = Vec::new();
    for room in ["north", "south"] {
        let mut members = Vec::new();
        for name in ["A", "B", "C"] {
            let p = Participant::join(&c.ws_url(), room, name, ParticipantOptions::default())
                .await
                .unwrap_or_else(|e| panic!("{name} joins {room}: {e}"));
            members.push(p);
        }
        rooms.push((room.to_owned(), members));
    }
    for (_, members) in &rooms {
        for p in members {
            p.wait_connected(Duration::from_secs(15)).await.expect("media connects");
        }
    }
    let placed = c.conferences().await;
    assert_eq!(placed.get("north").map(String::as_str), Some("b1"), "{placed:?}");
    assert_eq!(placed.get("south").map(String::as_str), Some("b1"), "{placed:?}");
    c.add_bridge("b2").await;
    c.add_bridge("b3").await;
    c.wait_registered(&["b2", "b3"], Duration::from_secs(10)).await;
    // Everyone receives everyone before the crash.
    let all = rooms.iter().flat_map(|(_, m)| m.iter()).collect::<Vec<_>>();
    let ok = all[0]
        .wait_until(Duration::from_secs(15), |_| all.iter().all(|p| p.snapshot().tracks.iter().filter(|t| t.stats.frames >= 10).count() == 4))
        .await;
    assert!(ok, "media flows in both rooms before the crash");

    let killed_at = Instant::now();
    c.kill_bridge("b1").await;

    let mut times = Vec::new();
    for (room, members) in &rooms {
        for p in members {
            let others: Vec<(String, u32)> =
                members.iter().filter(|o| o.id() != p.id()).map(|o| (o.id().to_owned(), o.sender_tag())).collect();
            let back = p.wait_until(BOUND, |p| flowing_again(p, &others, killed_at)).await;
            let took = killed_at.elapsed();
            assert!(back, "{room}/{}: media from a new bridge within {BOUND:?}: renegotiations {:?}, {:?}", p.id(), p.renegotiations(), p.snapshot());
            // Checked in order, so `took` includes waiting for earlier participants; each
            // one's own time is when the last of its incoming streams began again.
            let snap = p.snapshot();
            let own = snap
                .tracks
                .iter()
                .filter_map(|t| t.stats.first_at)
                .max()
                .map_or(took, |t| t.saturating_duration_since(killed_at));
            eprintln!("failover: {room}/{} receives media again {:.2} s after kill -9", p.id(), own.as_secs_f64());
            times.push(own);
        }
    }
    let placed = c.conferences().await;
    for room in ["north", "south"] {
        let bridge = placed.get(room).unwrap_or_else(|| panic!("{room} is placed again: {placed:?}"));
        assert!(bridge == "b2" || bridge == "b3", "{room} moved to a live bridge: {placed:?}");
    }
    assert_ne!(placed["north"], placed["south"], "the two moved conferences spread: {placed:?}");
    let worst = times.iter().max().copied().unwrap_or_default();
    eprintln!("failover: worst {:.2} s over {} participants", worst.as_secs_f64(), times.len());
    // The focus timed each moved participant, up to its media connecting on the new bridge.
    let m = ponte_tests::scrape::metrics(c.addr).await;
    let (count, sum) = (m.sum("ponte_focus_failover_seconds_count", &[]), m.sum("ponte_focus_failover_seconds_sum", &[]));
    eprintln!("failover: the focus's histogram has {count} failovers, mean {:.2} s", sum / count.max(1.0));
    assert_eq!(count, 6.0, "one failover per moved participant");
    assert!(sum / count < BOUND.as_secs_f64(), "the focus's failover times are in the same range: mean {} s", sum / count);
    join_all(rooms.into_iter().flat_map(|(_, m)| m).map(Participant::leave)).await;
}

/// A cluster with bridge b1 alone, and two participants in `room` with media connected.
async fn one_bridge_two_participants(room: &str) -> (Cluster, Vec<Participant>) {
    let c = Cluster::start(&["b1"]).await;
    let mut members = Vec::new();
    for name in ["A", "B"] {
        members.push(Participant::join(&c.ws_url(), room, name, ParticipantOptions::default()).await.expect("joins"));
    }
    for p in &members {
        p.wait_connected(Duration::from_secs(15)).await.expect("media connects");
    }
    (c, members)
}

/// A bridge that hangs (SIGSTOP: its link stays open, it just stops reporting) is declared
/// dead after the focus's heartbeat timeout (3 s) and its room moves; when it wakes up it is
/// told to end the room it still runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_that_stops_reporting_is_dead_after_the_heartbeat_timeout() {
    tokio::time::timeout(Duration::from_secs(60), hang()).await.expect("the scenario finishes within 60 s");
}

async fn hang() {
    let (mut c, members) = one_bridge_two_participants("stuck").await;
    c.add_bridge("b2").await;
    c.wait_registered(&["b2"], Duration::from_secs(10)).await;
    let stopped_at = Instant::now();
    c.bridge("b1").signal("STOP");
    for p in &members {
        let others: Vec<(String, u32)> = members.iter().filter(|o| o.id() != p.id()).map(|o| (o.id().to_owned(), o.sender_tag())).collect();
        let back = p.wait_until(Duration::from_secs(15), |p| flowing_again(p, &others, stopped_at)).await;
        assert!(back, "{}: media from b2 after b1 hung: {:?}", p.id(), p.renegotiations());
        let at = p.renegotiations().1.expect("renegotiated");
        let took = at.saturating_duration_since(stopped_at);
        eprintln!("hung bridge: {} told to renegotiate {:.2} s after SIGSTOP", p.id(), took.as_secs_f64());
        // Found dead by silence, not by a closed link (that would be at once): the last report
        // left up to one stats interval (1 s, more on a loaded machine) before the stop.
        assert!(took >= Duration::from_millis(1000), "not before the heartbeat timeout: {took:?}");
    }
    assert_eq!(c.conferences().await.get("stuck").map(String::as_str), Some("b2"));
    c.bridge("b1").signal("CONT");
    c.bridge("b1").wait_for_line("focus link lost", Duration::from_secs(20)).await;
    c.signaling().wait_for_line("expiring it there", Duration::from_secs(10)).await;
    assert_eq!(c.conferences().await.get("stuck").map(String::as_str), Some("b2"), "the room stays on b2");
    join_all(members.into_iter().map(Participant::leave)).await;
}

/// The only bridge dies: the room has nowhere to go, so the participants' new offers are
/// refused (`unavailable`) and they keep offering, backing off; when an operator starts
/// another bridge, their next offer lands there and media flows again without anyone
/// rejoining.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_bridge_left_participants_keep_offering_until_one_comes() {
    tokio::time::timeout(Duration::from_secs(60), alone()).await.expect("the scenario finishes within 60 s");
}

async fn alone() {
    let (mut c, members) = one_bridge_two_participants("stranded").await;
    let killed_at = Instant::now();
    c.kill_bridge("b1").await;
    for p in &members {
        let refused = p.wait_until(Duration::from_secs(15), |p| p.offer_retries() >= 1).await;
        assert!(refused, "{}: told to renegotiate, refused for want of a bridge, offered again: {:?}", p.id(), p.renegotiations());
    }
    assert!(members.iter().all(|p| !p.is_connected()), "no bridge, no media");
    c.add_bridge("b2").await;
    c.wait_registered(&["b2"], Duration::from_secs(10)).await;
    let started_at = Instant::now();
    for p in &members {
        let others: Vec<(String, u32)> = members.iter().filter(|o| o.id() != p.id()).map(|o| (o.id().to_owned(), o.sender_tag())).collect();
        // The backoff tops out at 15 s; by then a retry has found b2.
        let back = p.wait_until(Duration::from_secs(25), |p| flowing_again(p, &others, killed_at)).await;
        assert!(back, "{}: media from b2 once it registered: offers {}, {:?}", p.id(), p.offer_retries(), p.snapshot());
        eprintln!("no bridge left: {} receives media again {:.2} s after b2 registered ({} offers again)", p.id(), started_at.elapsed().as_secs_f64(), p.offer_retries());
    }
    assert_eq!(c.conferences().await.get("stranded").map(String::as_str), Some("b2"));
    join_all(members.into_iter().map(Participant::leave)).await;
}
