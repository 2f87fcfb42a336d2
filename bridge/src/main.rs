//! `bridge`: the SFU alone, dialing a focus over the bridge link.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ponte_bridge::focus_link::ws;
use ponte_bridge::{Bridge, BridgeArgs, LinkEnds};
use tokio::sync::oneshot;

#[derive(Parser)]
#[command(name = "bridge", version, about = "Ponte bridge: the SFU. Dials a focus with --focus.")]
struct Cli {
    #[command(flatten)]
    bridge: BridgeArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,str0m=warn".into()))
        .init();
    let cli = Cli::parse();
    let config = cli.bridge.load()?;
    let focus_url = config
        .focus_url
        .clone()
        .context("a standalone bridge needs --focus ws://HOST:8888/v1/bridge-link (or run `ponte` for everything in one process)")?;
    ponte_bridge::init_crypto();
    let bridge = Bridge::bind(config.clone(), prometheus::Registry::new()).await?;
    tracing::info!(media = %bridge.media_addr(), http = %bridge.http_addr(), focus = %focus_url, "bridge bound");
    let options = ws::WsLinkOptions { failures: Some(bridge.focus_link_failures()), ..ws::WsLinkOptions::new(focus_url, config.secret.clone()) };
    let link = ws::spawn_with(options);
    let (drain, shutdown) = signals();
    bridge.run_with_drain(LinkEnds::new(link.to_focus, link.from_focus), drain, shutdown).await?;
    // The engine's ends are dropped: the link sends what is queued (a last `Evacuate`), closes
    // the socket and ends. Do not let the runtime cut it off, nor wait for a focus that is gone.
    if tokio::time::timeout(Duration::from_secs(2), link.task).await.is_err() {
        tracing::warn!("focus link did not close within 2 s");
    }
    Ok(())
}

/// The first SIGTERM or Ctrl-C starts a drain; the second exits at once.
fn signals() -> (impl Future<Output = ()> + Send + 'static, impl Future<Output = ()> + Send + 'static) {
    let (drain_tx, drain_rx) = oneshot::channel::<()>();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut signals = Signals::new();
        signals.recv().await;
        let _ = drain_tx.send(());
        signals.recv().await;
        tracing::info!("second signal: exiting now");
        let _ = stop_tx.send(());
    });
    let wait = |rx: oneshot::Receiver<()>| async move {
        // A dropped sender means no signal handling: never fire.
        if rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    (wait(drain_rx), wait(stop_rx))
}

/// SIGTERM and Ctrl-C, as one stream of "a signal came".
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .inspect_err(|e| tracing::error!(error = %e, "cannot listen for SIGTERM"))
                .ok();
            Self { term }
        }
        #[cfg(not(unix))]
        Self {}
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        let term = async {
            match self.term.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            r = tokio::signal::ctrl_c() => {
                if r.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            _ = term => {}
        }
    }
}
