//! The signaling service: binds the listener, then serves HTTP and WebSocket clients and
//! pumps bridge events to them until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use axum::Router;
use prometheus::Registry;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use ponte_focus::Focus;
use ponte_proto::link::EndpointEvent;

use crate::auth::TokenVerifier;
use crate::config::SignalingConfig;
use crate::error::SignalingError;
use crate::metrics::SignalingMetrics;
use crate::room::Rooms;
use crate::{events, http};

/// How long shutdown waits for sessions to say goodbye.
const SESSION_DRAIN: Duration = Duration::from_secs(5);

/// What every session and handler shares.
pub struct Shared {
    pub config: SignalingConfig,
    pub rooms: Rooms,
    pub focus: Focus,
    pub metrics: SignalingMetrics,
    pub registry: Registry,
    pub tokens: Option<TokenVerifier>,
    /// True while serving (after `run` starts, until shutdown begins).
    pub ready: AtomicBool,
    /// Becomes true at shutdown; sessions say `bye` and close.
    pub stop: watch::Sender<bool>,
    /// Open sessions, so shutdown can wait for them.
    sessions: watch::Sender<usize>,
}

/// Counts a session while it lives (also when its task is cancelled).
pub struct SessionCount {
    shared: Arc<Shared>,
}

impl Drop for SessionCount {
    fn drop(&mut self) {
        self.shared.metrics.connections.dec();
        self.shared.sessions.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Shared {
    /// Everything a session needs, with metrics registered in `registry`.
    pub fn new(config: SignalingConfig, focus: Focus, registry: Registry) -> Result<Arc<Self>, SignalingError> {
        config.validate()?;
        let metrics = SignalingMetrics::new(&registry)?;
        Ok(Arc::new(Shared {
            rooms: Rooms::new(config.max_room_size, metrics.clone()),
            tokens: config.jwt_secret.as_deref().map(TokenVerifier::new),
            config,
            focus,
            metrics,
            registry,
            ready: AtomicBool::new(false),
            stop: watch::channel(false).0,
            sessions: watch::channel(0).0,
        }))
    }

    pub fn session_started(self: &Arc<Self>) -> SessionCount {
        self.metrics.connections.inc();
        self.sessions.send_modify(|n| *n += 1);
        SessionCount { shared: self.clone() }
    }
}

/// A bound signaling service; [`Signaling::run`] serves it.
pub struct Signaling {
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    events: mpsc::Receiver<EndpointEvent>,
    moves: tokio::sync::broadcast::Receiver<ponte_focus::ConferenceMoved>,
    app: Router,
}

impl Signaling {
    /// Bind the listener (port 0 picks a free port), with a registry of its own.
    pub async fn bind(config: SignalingConfig, focus: Focus, events: mpsc::Receiver<EndpointEvent>) -> Result<Self, SignalingError> {
        Self::bind_with(config, focus, events, Registry::new(), None).await
    }

    /// Bind, registering metrics in `registry` (one registry can serve a whole process), and
    /// hand requests that match no signaling route to `fallback` — the all-in-one binary
    /// passes the focus's router so bridges dial in on the same port.
    pub async fn bind_with(
        config: SignalingConfig,
        focus: Focus,
        events: mpsc::Receiver<EndpointEvent>,
        registry: Registry,
        fallback: Option<Router>,
    ) -> Result<Self, SignalingError> {
        let listen = config.listen;
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::acceptor(cert, key)?),
            _ => None,
        };
        // Subscribed before anything can fail over, so that no move goes unannounced.
        let moves = focus.subscribe_moves();
        let shared = Shared::new(config, focus, registry)?;
        let listener = TcpListener::bind(listen).await.map_err(|source| SignalingError::Bind { addr: listen, source })?;
        let mut app = http::router(shared.clone());
        if let Some(fallback) = fallback {
            app = app.fallback_service(fallback);
        }
        Ok(Self { listener, tls, shared, events, moves, app })
    }

    /// The bound address (with the real port when the config asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// `https` when serving TLS, else `http` (`wss`/`ws` for the WebSocket).
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// The registry holding signaling's metrics.
    pub fn registry(&self) -> &Registry {
        &self.shared.registry
    }

    /// Serve until `shutdown` resolves; then tell every client `bye` and wait (briefly) for
    /// their sessions to end, which frees their bridge endpoints.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), SignalingError> {
        let Signaling { listener, tls, shared, events, moves, app } = self;
        let pump = tokio::spawn(events::pump(events, shared.clone()));
        let mover = tokio::spawn(events::moves(moves, shared.clone()));
        shared.ready.store(true, Ordering::Relaxed);
        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(%addr, scheme, public_url = shared.config.public_url.as_deref().unwrap_or("-"), "signaling serving");
        if shared.tokens.is_none() {
            tracing::info!("no jwt_secret set: anonymous joins are allowed (anyone who can reach this server can join any room)");
        } else {
            tracing::info!("joins need a token signed with the jwt_secret (mint one with `ponte token`)");
        }
        let stopping = shared.clone();
        let stop = async move {
            shutdown.await;
            stopping.ready.store(false, Ordering::Relaxed);
            stopping.stop.send_replace(true);
        };
        // Connect info lets a fallback router (the focus's link) log its peers.
        let served = match tls {
            None => axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(stop)
                .await,
            Some(acceptor) => {
                // `tap_io` gives any listener whose address is a SocketAddr the connect info.
                let listener = crate::tls::TlsListener::new(listener, acceptor)?.tap_io(|_| {});
                axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                    .with_graceful_shutdown(stop)
                    .await
            }
        };
        shared.ready.store(false, Ordering::Relaxed);
        shared.stop.send_replace(true);
        let mut sessions = shared.sessions.subscribe();
        if tokio::time::timeout(SESSION_DRAIN, sessions.wait_for(|n| *n == 0)).await.is_err() {
            tracing::warn!("{} sessions still open after {SESSION_DRAIN:?}; leaving them", *sessions.borrow());
        }
        pump.abort();
        mover.abort();
        served.map_err(SignalingError::Io)
    }
}
