//! `/health`, `/ready` and `/metrics` on every service, as operators and orchestrators use them.

use std::time::Duration;

use ponte_bridge::{Bridge, BridgeConfig, LinkEnds};
use ponte_proto::link::BridgeToFocus;
use ponte_tests::{scrape, stack};
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_and_metrics_on_every_service() {
    let stack = stack::start().await;
    let a = stack.addrs;
    for (service, addr) in [("signaling", a.signaling), ("focus", a.focus), ("bridge", a.bridge_http)] {
        assert_eq!(scrape::get(addr, "/health").await, (200, "ok".to_owned()), "{service} /health");
        assert_eq!(scrape::get(addr, "/ready").await.0, 200, "{service} /ready");
        let (status, body) = scrape::get(addr, "/metrics").await;
        assert_eq!(status, 200, "{service} /metrics");
        assert!(body.contains("# TYPE"), "{service}: Prometheus text format");
    }
    let _p = stack::join(&stack, "metrics", "Mo").await;
    let bridge = scrape::metrics(a.bridge_http).await;
    for name in [
        "bridge_endpoints",
        "bridge_conferences",
        "bridge_packets_received_total",
        "bridge_bytes_received_total",
        "bridge_packets_sent_total",
        "bridge_bytes_sent_total",
        "bridge_packets_dropped_total",
    ] {
        assert!(bridge.has(name), "bridge exposes {name}");
    }
    assert!(bridge.sum("bridge_packets_received_total", &[]) > 0.0);
    assert!(bridge.sum("bridge_packets_sent_total", &[]) > 0.0);
    assert_eq!(bridge.sum("bridge_endpoints", &[]), 1.0);
    let signaling = scrape::metrics(a.signaling).await;
    assert_eq!(signaling.sum("signaling_connections", &[]), 1.0);
    assert!(signaling.sum("signaling_messages_total", &[("type", "offer")]) >= 1.0);
    let (status, body) = scrape::get(a.bridge_http, "/v1/stats").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"endpoints\""), "{body}");
    stack.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_is_not_ready_until_its_focus_link_is_up() {
    ponte_tests::init_tracing();
    let config = BridgeConfig {
        bind_ip: "127.0.0.1".parse().unwrap(),
        media_port: 0,
        http_listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    let bridge = Bridge::bind(config, prometheus::Registry::new()).await.unwrap();
    let http = bridge.http_addr();
    // A link whose queue is full: the bridge cannot register yet.
    let (to_focus, mut focus_rx) = mpsc::channel(1);
    to_focus.send(BridgeToFocus::Stats(Default::default())).await.unwrap();
    let (_focus_tx, from_focus) = mpsc::channel(1);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(bridge.run(LinkEnds::new(to_focus, from_focus), async move {
        let _ = stopped.await;
    }));
    let mut health = (0, String::new());
    for _ in 0..50 {
        health = scrape_or_zero(http, "/health").await;
        if health.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(health.0, 200, "alive while not ready");
    assert_eq!(scrape::get(http, "/ready").await.0, 503, "not ready before registering");
    focus_rx.recv().await.unwrap(); // free the queue: Register goes through
    assert!(matches!(focus_rx.recv().await, Some(BridgeToFocus::Register(_))));
    assert_eq!(scrape::get(http, "/ready").await.0, 200, "ready once registered");
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
}

/// Like `scrape::get`, but a refused connection is status 0 (the server may not be up yet).
async fn scrape_or_zero(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    match reqwest::get(format!("http://{addr}{path}")).await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(_) => (0, String::new()),
    }
}
