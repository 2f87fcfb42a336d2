//! The `ponte` binary as a person starts it: one process, one line saying where to connect,
//! a clean stop on SIGTERM.

use std::time::Duration;

use ponte_tests::process::Service;
use ponte_tests::scrape;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ponte_starts_says_where_to_connect_and_stops_on_sigterm() {
    let env = [
        ("PONTE_SIGNALING_LISTEN", "127.0.0.1:0"),
        ("PONTE_FOCUS_LISTEN", "127.0.0.1:0"),
        ("PONTE_BRIDGE_HTTP", "127.0.0.1:0"),
        ("PONTE_BRIDGE_BIND_IP", "127.0.0.1"),
        ("PONTE_BRIDGE_MEDIA_PORT", "0"),
        ("RUST_LOG", "info"),
    ];
    let mut ponte = Service::start("ponte", &[], &env);
    let line = ponte.wait_for_line("Ponte is up", Duration::from_secs(30)).await;
    let port: u16 = line
        .split("http://localhost:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("a URL in {line:?}"));
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(scrape::get(addr, "/health").await.0, 200);
    let (status, page) = scrape::get(addr, "/").await;
    assert_eq!(status, 200);
    assert!(page.contains("<html") || page.contains("<!doctype") || page.contains("<!DOCTYPE"), "the web app is served");
    let status = ponte.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_config_fails_at_start_naming_the_key() {
    let mut ponte = Service::start("ponte", &[], &[("PONTE_BRIDGE_PUBLIC_IP", "0.0.0.0")]);
    ponte.wait_for_line("public_ip", Duration::from_secs(30)).await;
    let status = ponte.terminate(Duration::from_secs(10)).await;
    assert!(!status.success());
}
