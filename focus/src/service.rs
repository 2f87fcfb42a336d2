//! The standalone focus listener: bind first (so tests learn the port), then serve.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::config::FocusConfig;
use crate::error::FocusError;
use crate::focus::Focus;

pub struct FocusService {
    listener: TcpListener,
    addr: SocketAddr,
    focus: Focus,
}

impl FocusService {
    /// Bind `config.listen` (port 0 picks a free port) and mark the focus ready. Only
    /// `listen` is read here; everything else was given to [`Focus::new`].
    pub async fn bind(config: &FocusConfig, focus: Focus) -> Result<FocusService, FocusError> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| FocusError::Bind { addr: config.listen, source })?;
        let addr = listener.local_addr().map_err(|source| FocusError::Bind { addr: config.listen, source })?;
        focus.set_ready(true);
        tracing::info!(%addr, "focus listening");
        Ok(FocusService { listener, addr, focus })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn focus(&self) -> &Focus {
        &self.focus
    }

    /// Serve until `shutdown` resolves, then close every bridge link and return.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), FocusError> {
        let focus = self.focus.clone();
        let app = self.focus.router().into_make_service_with_connect_info::<SocketAddr>();
        let stopping = async move {
            shutdown.await;
            tracing::info!("focus shutting down");
            focus.set_ready(false);
            // Upgraded links outlive the HTTP server's graceful shutdown; end them here.
            focus.close_links();
        };
        axum::serve(self.listener, app)
            .with_graceful_shutdown(stopping)
            .await
            .map_err(FocusError::Serve)
    }
}
