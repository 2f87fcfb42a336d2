//! `ponte`: the whole stack in one process — signaling (with the web app), the focus and one
//! bridge, linked in-process. This is the single-machine default (`cargo run --release --bin
//! ponte`) and what the cross-service tests start: both compose exactly the services that
//! run in production, through their `bind`/`run` APIs.

use std::future::Future;
use std::net::SocketAddr;

use prometheus::Registry;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use ponte_bridge::{Bridge, BridgeConfig, BridgeError, LinkEnds};
use ponte_focus::{Focus, FocusConfig, FocusError, FocusService};
use ponte_signaling::{Signaling, SignalingConfig, SignalingError};

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("signaling: {0}")]
    Signaling(#[from] SignalingError),
    #[error("focus: {0}")]
    Focus(#[from] FocusError),
    #[error("bridge: {0}")]
    Bridge(#[from] BridgeError),
    #[error("a service task panicked: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// The three services' configurations.
#[derive(Debug, Clone, Default)]
pub struct StackConfig {
    pub signaling: SignalingConfig,
    pub focus: FocusConfig,
    pub bridge: BridgeConfig,
}

impl StackConfig {
    /// Everything on 127.0.0.1 with ports picked by the OS: for tests and parallel stacks.
    pub fn loopback() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut c = Self::default();
        c.signaling.listen = any;
        c.focus.listen = any;
        c.bridge.http_listen = any;
        c.bridge.bind_ip = any.ip();
        c.bridge.media_port = 0;
        c.bridge.ingest.srt_listen = any;
        c.bridge.ingest.rtmp_listen = any;
        // The in-process link cannot drop; the only way this bridge misses heartbeats is a
        // runtime starved by a loaded test machine (browsers, ffmpeg), and with one bridge
        // there is nowhere to move its rooms to.
        c.focus.heartbeat_timeout = std::time::Duration::from_secs(10);
        // Loopback has no bottleneck, but a CPU-starved test machine (three browsers and the
        // stack on two cores) delays packets, the delay-based estimate collapses and whole
        // videos are paused. Tests of bandwidth adaptation turn it back on.
        c.bridge.quality.bandwidth_estimation = false;
        c
    }
}

/// A bound stack: every listener is open, nothing is served yet.
pub struct Stack {
    signaling: Signaling,
    focus: Focus,
    focus_service: FocusService,
    bridge: Bridge,
}

/// Where a bound stack listens.
#[derive(Debug, Clone, Copy)]
pub struct StackAddrs {
    pub signaling: SocketAddr,
    pub focus: SocketAddr,
    pub bridge_http: SocketAddr,
    pub media: SocketAddr,
    /// The bridge's SRT and RTMP ingest listeners, when its config gives a room a stream key.
    pub srt: Option<SocketAddr>,
    pub rtmp: Option<SocketAddr>,
}

impl Stack {
    /// Bind every listener (port 0 works everywhere).
    pub async fn bind(config: StackConfig) -> Result<Self, StackError> {
        ponte_bridge::init_crypto();
        let (focus, events) = Focus::new(config.focus.clone(), Registry::new());
        let focus_service = FocusService::bind(&config.focus, focus.clone()).await?;
        let bridge = Bridge::bind(config.bridge, Registry::new()).await?;
        // The focus API also answers on the signaling port, so the dashboard served there
        // reaches it on the same origin.
        let signaling =
            Signaling::bind_with(config.signaling, focus.clone(), events, Registry::new(), Some(focus.router())).await?;
        Ok(Self { signaling, focus, focus_service, bridge })
    }

    pub fn addrs(&self) -> StackAddrs {
        StackAddrs {
            signaling: self.signaling.addr(),
            focus: self.focus_service.addr(),
            bridge_http: self.bridge.http_addr(),
            media: self.bridge.media_addr(),
            srt: self.bridge.srt_addr(),
            rtmp: self.bridge.rtmp_addr(),
        }
    }

    /// `https` when signaling serves TLS.
    pub fn scheme(&self) -> &'static str {
        self.signaling.scheme()
    }

    pub fn focus(&self) -> &Focus {
        &self.focus
    }

    /// Serve until `shutdown` resolves or a service fails; then stop all of them.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StackError> {
        let (stop, _) = watch::channel(false);
        let until_stopped = |stop: &watch::Sender<bool>| {
            let mut rx = stop.subscribe();
            async move {
                let _ = rx.wait_for(|v| *v).await;
            }
        };
        let (to_focus, from_focus) = self.focus.connect_local();
        let link = LinkEnds::new(to_focus, from_focus);
        let mut services = JoinSet::new();
        let (bridge, focus, signaling) = (self.bridge, self.focus_service, self.signaling);
        let stopped = until_stopped(&stop);
        services.spawn(async move { ("bridge", bridge.run(link, stopped).await.map_err(StackError::from)) });
        let stopped = until_stopped(&stop);
        services.spawn(async move { ("focus", focus.run(stopped).await.map_err(StackError::from)) });
        let stopped = until_stopped(&stop);
        services.spawn(async move { ("signaling", signaling.run(stopped).await.map_err(StackError::from)) });
        let first = tokio::select! {
            _ = shutdown => Ok(()),
            Some(done) = services.join_next() => match done {
                Ok((name, result)) => {
                    tracing::warn!("{name} stopped; stopping the stack");
                    result
                }
                Err(e) => Err(e.into()),
            },
        };
        stop.send_replace(true);
        while let Some(done) = services.join_next().await {
            match done {
                Ok((name, Err(e))) => tracing::warn!("{name} stopped with an error: {e}"),
                Err(e) => tracing::warn!("a service task failed: {e}"),
                Ok((_, Ok(()))) => {}
            }
        }
        first
    }

    /// Run on the current runtime; the handle stops it (tests).
    pub fn spawn(self) -> RunningStack {
        let addrs = self.addrs();
        let (stop, mut rx) = watch::channel(false);
        let task = tokio::spawn(self.run(async move {
            let _ = rx.wait_for(|v| *v).await;
        }));
        RunningStack { addrs, stop, task }
    }
}

/// A stack serving in the background.
pub struct RunningStack {
    pub addrs: StackAddrs,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), StackError>>,
}

impl RunningStack {
    /// `ws://…/ws` for clients.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addrs.signaling)
    }

    /// `http://…` of the web app.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addrs.signaling)
    }

    pub async fn shutdown(self) -> Result<(), StackError> {
        self.stop.send_replace(true);
        self.task.await?
    }
}
