//! Draining real `bridge` processes behind a `signaling` process (focus embedded):
//! - drained through the operator API, a bridge gets no new conference, keeps its running
//!   one, answers `/ready` with 503, stays drained across a restart of the focus, and exits
//!   (status 0) when its last conference ends;
//! - SIGTERM does the same; a second SIGTERM exits at once;
//! - at the drain deadline a bridge has the focus move what is left to another bridge (the
//!   participants renegotiate there and media flows again) and exits.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use ponte_loadtest::{Participant, ParticipantOptions};
use ponte_proto::MediaKind;
use ponte_tests::cluster::Cluster;
use ponte_tests::process::Service;

/// Generous: the machine is shared with other builds and tests.
const EXIT_BOUND: Duration = Duration::from_secs(20);

/// Audio only, so that the bridges stay light.
fn light() -> ParticipantOptions {
    ParticipantOptions { send_video: false, ..Default::default() }
}

async fn join(c: &Cluster, room: &str, name: &str, opts: ParticipantOptions) -> Participant {
    let p = Participant::join(&c.ws_url(), room, name, opts).await.unwrap_or_else(|e| panic!("{name} joins {room}: {e}"));
    p.wait_connected(Duration::from_secs(15)).await.unwrap_or_else(|e| panic!("{name} in {room} connects: {e}"));
    p
}

async fn ready_status(c: &Cluster, id: &str) -> u16 {
    let url = format!("http://{}/ready", c.bridge_http(id));
    reqwest::get(url).await.expect("bridge answers /ready").status().as_u16()
}

async fn bridge_state(c: &Cluster, id: &str) -> Option<String> {
    let bridges = c.api("/v1/bridges").await?;
    bridges.as_array()?.iter().find(|b| b["id"] == id).and_then(|b| b["state"].as_str().map(str::to_owned))
}

async fn wait_state(c: &Cluster, id: &str, want: &str) {
    for _ in 0..200 {
        if bridge_state(c, id).await.as_deref() == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("bridge {id} is {want}: the focus says {:?}", c.api("/v1/bridges").await);
}

/// A join into a new room while the only bridge drains: the room must not land on it.
async fn refused_while_draining(c: &Cluster, room: &str, draining: &str) {
    let p = Participant::join(&c.ws_url(), room, "late", light()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let placed = c.conferences().await;
    assert_ne!(placed.get(room).map(String::as_str), Some(draining), "a draining bridge got a new conference: {placed:?}");
    if let Ok(p) = p {
        assert!(!p.is_connected(), "{room} found no bridge, so no media path");
        let _ = p.leave().await;
    }
}

async fn exits_by_itself(service: &mut Service, why: &str) -> Duration {
    let start = Instant::now();
    let status = service
        .wait_exit(EXIT_BOUND)
        .await
        .unwrap_or_else(|| panic!("bridge exits {why} within {EXIT_BOUND:?}; output:\n{}", service.log.join("\n")));
    assert!(status.success(), "bridge exits with status 0 {why}: {status}; output:\n{}", service.log.join("\n"));
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drained_through_the_api_a_bridge_takes_nothing_new_and_exits_when_empty() {
    tokio::time::timeout(Duration::from_secs(90), async {
        let mut c = Cluster::start(&["b1"]).await;
        let running = [join(&c, "running", "A", light()).await, join(&c, "running", "B", light()).await];
        assert_eq!(ready_status(&c, "b1").await, 200);
        // The admin page that drives this API is served by signaling at /admin.
        let admin = reqwest::get(format!("http://{}/admin", c.addr)).await.expect("signaling answers");
        assert_eq!(admin.status().as_u16(), 200);
        assert!(admin.text().await.unwrap_or_default().contains("/js/admin.js"), "/admin is the admin page");

        let (status, body) = c.post("/v1/bridges/b1/drain").await;
        assert_eq!((status, body["state"].as_str()), (200, Some("draining")), "{body}");
        // The drain reaches the bridge over its link a moment after the API answers.
        let mut ready = 0;
        for _ in 0..100 {
            ready = ready_status(&c, "b1").await;
            if ready == 503 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(ready, 503, "a draining bridge is not ready");
        refused_while_draining(&c, "newcomer", "b1").await;
        assert!(running.iter().all(Participant::is_connected), "the running conference goes on");

        // The drain outlives a restart of the focus: b1 reports it when it registers again.
        c.stop_signaling().await;
        c.start_signaling().await;
        c.wait_registered(&["b1"], Duration::from_secs(15)).await;
        wait_state(&c, "b1", "draining").await;
        assert_eq!(ready_status(&c, "b1").await, 503, "still draining after the focus restarted");
        refused_while_draining(&c, "after-restart", "b1").await;

        // Another bridge takes the new room; the drained one keeps its conference.
        c.add_bridge("b2").await;
        c.wait_registered(&["b2"], Duration::from_secs(10)).await;
        let newcomer = join(&c, "newcomer", "N", light()).await;
        let placed = c.conferences().await;
        assert_eq!(placed.get("newcomer").map(String::as_str), Some("b2"), "{placed:?}");
        assert_eq!(placed.get("running").map(String::as_str), Some("b1"), "{placed:?}");

        let mut b1 = c.take_bridge("b1");
        join_all(running.into_iter().map(Participant::leave)).await;
        let took = exits_by_itself(&mut b1.service, "when its last conference ends").await;
        eprintln!("drain: b1 exited {:.2} s after its last participants left", took.as_secs_f64());
        assert!(b1.service.log.iter().any(|l| l.contains("drained: exiting")), "{}", b1.service.log.join("\n"));
        c.wait_registered(&["b2"], Duration::from_secs(5)).await;
        for _ in 0..100 {
            if !c.registered().await.contains(&"b1".to_owned()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(c.registered().await, vec!["b2".to_owned()], "the focus forgot the exited bridge");

        // A second SIGTERM exits at once, conference or not.
        let mut b2 = c.take_bridge("b2");
        b2.service.sigterm();
        b2.service.wait_for_line("draining: no new conferences", Duration::from_secs(10)).await;
        b2.service.sigterm();
        let took = exits_by_itself(&mut b2.service, "on a second SIGTERM").await;
        assert!(took < Duration::from_secs(10), "a second SIGTERM does not wait for the conference: {took:?}");
        let _ = newcomer.leave().await;
    })
    .await
    .expect("the scenario finishes within 90 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_a_bridge_which_exits_when_its_last_conference_ends() {
    tokio::time::timeout(Duration::from_secs(90), async {
        let mut c = Cluster::start(&["b1"]).await;
        let running = join(&c, "running", "A", light()).await;

        let mut b1 = c.take_bridge("b1");
        let http = b1.http;
        b1.service.sigterm();
        b1.service.wait_for_line("draining: no new conferences", Duration::from_secs(10)).await;
        // The focus learns it from the bridge (`Draining` on the link), not from an operator.
        wait_state(&c, "b1", "draining").await;
        let status = reqwest::get(format!("http://{http}/ready")).await.expect("/ready answers").status();
        assert_eq!(status.as_u16(), 503, "a draining bridge is not ready");
        refused_while_draining(&c, "newcomer", "b1").await;
        // An operator cannot call a SIGTERM back.
        let (status, body) = c.post("/v1/bridges/b1/undrain").await;
        assert_eq!((status, body["state"].as_str()), (200, Some("draining")), "{body}");
        assert!(running.is_connected(), "the running conference goes on");
        assert!(b1.service.wait_exit(Duration::from_millis(500)).await.is_none(), "no exit while a conference runs");

        running.leave().await.expect("leave");
        let took = exits_by_itself(&mut b1.service, "when its last conference ends").await;
        eprintln!("sigterm drain: b1 exited {:.2} s after its last participant left", took.as_secs_f64());
    })
    .await
    .expect("the scenario finishes within 90 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_drain_deadline_the_conferences_move_and_the_bridge_exits() {
    const DEADLINE: Duration = Duration::from_secs(3);
    tokio::time::timeout(Duration::from_secs(90), async {
        let mut c = Cluster::start(&[]).await;
        c.add_bridge_with("b1", &["--drain-deadline-secs", &DEADLINE.as_secs().to_string()]).await;
        c.wait_registered(&["b1"], Duration::from_secs(10)).await;
        let members = [
            join(&c, "stay", "A", ParticipantOptions::default()).await,
            join(&c, "stay", "B", ParticipantOptions::default()).await,
        ];
        c.add_bridge("b2").await;
        c.wait_registered(&["b2"], Duration::from_secs(10)).await;
        let ok = members[0]
            .wait_until(Duration::from_secs(15), |_| members.iter().all(|p| p.snapshot().tracks.iter().filter(|t| t.stats.frames >= 10).count() == 2))
            .await;
        assert!(ok, "media flows before the drain");

        let mut b1 = c.take_bridge("b1");
        let drained_at = Instant::now();
        b1.service.sigterm();
        wait_state(&c, "b1", "draining").await;
        b1.service.wait_for_line("drain deadline", DEADLINE + Duration::from_secs(10)).await;
        let took = exits_by_itself(&mut b1.service, "after the drain deadline").await;
        let exited = drained_at.elapsed();
        eprintln!("drain deadline {DEADLINE:?}: b1 exited {:.2} s after SIGTERM", exited.as_secs_f64());
        assert!(exited >= DEADLINE, "not before the deadline: {exited:?} ({took:?} after the deadline line)");

        let placed = c.conferences().await;
        assert_eq!(placed.get("stay").map(String::as_str), Some("b2"), "the conference moved: {placed:?}");
        for p in &members {
            let other = members.iter().find(|o| o.id() != p.id()).expect("two members");
            let back = p
                .wait_until(Duration::from_secs(15), |p| {
                    let (n, at) = p.renegotiations();
                    n > 0
                        && at.is_some_and(|at| at > drained_at)
                        && [MediaKind::Audio, MediaKind::Video]
                            .iter()
                            .all(|&k| p.snapshot().track(other.id(), k).is_some_and(|t| t.frames >= 3 && t.mismatches == 0))
                })
                .await;
            assert!(back, "{} receives {} from b2 after the move: {:?} {:?}", p.id(), other.id(), p.renegotiations(), p.snapshot());
            eprintln!("drain deadline: {} renegotiated, media from b2 again", p.id());
        }
        join_all(members.into_iter().map(Participant::leave)).await;
    })
    .await
    .expect("the scenario finishes within 90 s");
}
