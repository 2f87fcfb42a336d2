//! Several real processes on loopback: one `signaling` (with the focus embedded) and any
//! number of `bridge` processes, each on its own loopback address (127.0.0.2, .3, ...), as
//! an operator runs them. Bridges can be added, killed (SIGKILL) or terminated (SIGTERM) one
//! by one, their output read, and signaling restarted on the same port.
//!
//! ```no_run
//! # async fn f() {
//! use ponte_tests::cluster::Cluster;
//! let mut c = Cluster::start(&["b1", "b2", "b3"]).await;
//! c.add_bridge("b4").await;
//! c.bridge("b4").wait_for_line("registered with the focus", std::time::Duration::from_secs(5)).await;
//! let placed = c.conferences().await; // room → bridge id
//! c.kill_bridge("b1").await;
//! # }
//! ```

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use serde_json::Value;

use crate::process::Service;

/// The shared secret of the bridge link and operator API in every cluster.
pub const SECRET: &str = "cluster-secret";
/// Heartbeat timeout the focus runs with (its default).
pub const HEARTBEAT_SECS: f64 = 3.0;
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running bridge process.
pub struct ClusterBridge {
    pub ip: Ipv4Addr,
    /// Its `/health`, `/ready`, `/metrics` listener.
    pub http: SocketAddr,
    pub service: Service,
}

pub struct Cluster {
    signaling: Option<Service>,
    /// Signaling's (and the focus's) address, kept across restarts.
    pub addr: SocketAddr,
    bridges: BTreeMap<String, ClusterBridge>,
    /// The next bridge gets 127.0.0.<next_ip>.
    next_ip: u8,
    /// Extra flags for signaling (e.g. `--stress-ceiling`).
    signaling_args: Vec<String>,
}

impl Cluster {
    /// Signaling on a free port of 127.0.0.1, then one bridge per id (127.0.0.2, .3, ...),
    /// returning once every bridge is registered.
    pub async fn start(bridge_ids: &[&str]) -> Cluster {
        Self::start_with(bridge_ids, &[]).await
    }

    /// [`Cluster::start`] with extra flags for the `signaling` process.
    pub async fn start_with(bridge_ids: &[&str], signaling_args: &[&str]) -> Cluster {
        crate::init_tracing();
        let port = free_port();
        let mut cluster = Cluster {
            signaling: None,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            bridges: BTreeMap::new(),
            next_ip: 2,
            signaling_args: signaling_args.iter().map(|s| s.to_string()).collect(),
        };
        cluster.start_signaling().await;
        for id in bridge_ids {
            cluster.add_bridge(id).await;
        }
        cluster.wait_registered(bridge_ids, START_TIMEOUT).await;
        cluster
    }

    /// `ws://127.0.0.1:PORT/ws`, for participants.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Start the `signaling` process (after [`Cluster::stop_signaling`]) on the same port.
    pub async fn start_signaling(&mut self) {
        assert!(self.signaling.is_none(), "signaling is already running");
        let listen = self.addr.to_string();
        let heartbeat = HEARTBEAT_SECS.to_string();
        let mut args = vec!["--signaling-listen", &listen, "--focus-secret", SECRET, "--heartbeat-timeout", &heartbeat];
        args.extend(self.signaling_args.iter().map(String::as_str));
        let mut s = Service::start("signaling", &args, &[("RUST_LOG", "info,str0m=warn")]);
        s.wait_for_line("signaling serving", START_TIMEOUT).await;
        self.signaling = Some(s);
    }

    /// SIGTERM to signaling; waits for it to exit.
    pub async fn stop_signaling(&mut self) {
        let s = self.signaling.take().expect("signaling runs");
        let status = s.terminate(Duration::from_secs(15)).await;
        assert!(status.success(), "signaling exits cleanly on SIGTERM: {status}");
    }

    /// SIGKILL to signaling.
    pub async fn kill_signaling(&mut self) {
        self.signaling.take().expect("signaling runs").kill().await;
    }

    pub fn signaling(&mut self) -> &mut Service {
        self.signaling.as_mut().expect("signaling runs")
    }

    /// Start a bridge process with `id` on the next loopback address; does not wait for it
    /// to register (see [`Cluster::wait_registered`]).
    pub async fn add_bridge(&mut self, id: &str) -> Ipv4Addr {
        self.add_bridge_with(id, &[]).await
    }

    /// [`Cluster::add_bridge`] with extra flags (`bridge --help` names them; a secret
    /// flag there replaces the cluster's secret).
    pub async fn add_bridge_with(&mut self, id: &str, extra: &[&str]) -> Ipv4Addr {
        assert!(!self.bridges.contains_key(id), "bridge {id} already runs");
        let ip = Ipv4Addr::new(127, 0, 0, self.next_ip);
        self.next_ip += 1;
        let focus = format!("ws://{}/v1/bridge-link", self.addr);
        let ip_s = ip.to_string();
        let http = format!("{ip}:0");
        // Environment rather than flags, so that a flag given in `extra` wins.
        let mut env = vec![
            ("PONTE_BRIDGE_ID", id),
            ("PONTE_BRIDGE_BIND_IP", ip_s.as_str()),
            ("PONTE_BRIDGE_MEDIA_PORT", "0"),
            ("PONTE_BRIDGE_HTTP", http.as_str()),
            ("PONTE_BRIDGE_FOCUS", focus.as_str()),
            ("RUST_LOG", "info,str0m=warn"),
        ];
        if !extra.iter().any(|a| a.contains("secret")) {
            env.push(("PONTE_SECRET", SECRET));
        }
        let mut service = Service::start("bridge", extra, &env);
        let line = service.wait_for_line("bridge bound", START_TIMEOUT).await;
        let http = line
            .split("http=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("an http= address in {line:?}"));
        self.bridges.insert(id.to_owned(), ClusterBridge { ip, http, service });
        ip
    }

    /// The running bridge `id`, to read its output.
    pub fn bridge(&mut self, id: &str) -> &mut Service {
        &mut self.bridges.get_mut(id).unwrap_or_else(|| panic!("no bridge {id}")).service
    }

    /// Bridge `id`'s HTTP address (`/health`, `/ready`, `/metrics`).
    pub fn bridge_http(&self, id: &str) -> SocketAddr {
        self.bridges.get(id).unwrap_or_else(|| panic!("no bridge {id}")).http
    }

    pub fn bridge_ids(&self) -> Vec<String> {
        self.bridges.keys().cloned().collect()
    }

    /// SIGKILL, as a crash would: no goodbye to the focus.
    pub async fn kill_bridge(&mut self, id: &str) {
        let b = self.bridges.remove(id).unwrap_or_else(|| panic!("no bridge {id}"));
        b.service.kill().await;
    }

    /// SIGTERM, then wait up to `timeout` for the exit; the bridge is gone afterwards.
    pub async fn terminate_bridge(&mut self, id: &str, timeout: Duration) -> std::process::ExitStatus {
        let b = self.bridges.remove(id).unwrap_or_else(|| panic!("no bridge {id}"));
        b.service.terminate(timeout).await
    }

    /// Take bridge `id` out of the cluster without stopping it (e.g. to wait for it to exit
    /// by itself).
    pub fn take_bridge(&mut self, id: &str) -> ClusterBridge {
        self.bridges.remove(id).unwrap_or_else(|| panic!("no bridge {id}"))
    }

    /// `GET /v1/...` on the focus with the secret; None while signaling is down.
    pub async fn api(&self, path: &str) -> Option<Value> {
        let url = format!("http://{}{path}", self.addr);
        let response = reqwest::Client::new().get(url).bearer_auth(SECRET).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    /// POST on the operator API with the secret; the status and body.
    pub async fn post(&self, path: &str) -> (u16, Value) {
        let url = format!("http://{}{path}", self.addr);
        let response = reqwest::Client::new().post(url).bearer_auth(SECRET).send().await.expect("focus answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Registered bridge ids, as the focus lists them.
    pub async fn registered(&self) -> Vec<String> {
        let Some(Value::Array(bridges)) = self.api("/v1/bridges").await else { return Vec::new() };
        bridges.iter().filter_map(|b| b["id"].as_str().map(str::to_owned)).collect()
    }

    /// room → bridge id, as the focus places them (either shape of `/v1/conferences`).
    pub async fn conferences(&self) -> BTreeMap<String, String> {
        match self.api("/v1/conferences").await {
            Some(Value::Object(map)) => map.into_iter().filter_map(|(k, v)| Some((k, v.as_str()?.to_owned()))).collect(),
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|c| Some((c["room"].as_str()?.to_owned(), c["bridge"].as_str()?.to_owned())))
                .collect(),
            _ => BTreeMap::new(),
        }
    }

    /// Wait until every id in `ids` is registered.
    pub async fn wait_registered(&self, ids: &[&str], timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let registered = self.registered().await;
            if ids.iter().all(|id| registered.iter().any(|r| r == id)) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "bridges {ids:?} registered within {timeout:?}; registered: {registered:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A TCP port free on 127.0.0.1 right now (signaling binds it a moment later).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("bound").port()
}
