//! `signaling`: the client-facing service, with the focus embedded in the same process.
//! Browsers use `/ws` and the web app; bridges dial `ws://HOST:PORT/v1/bridge-link` on the
//! same listener (the focus's router answers whatever signaling does not).

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use prometheus::Registry;
use tracing_subscriber::EnvFilter;

use ponte_focus::{Focus, FocusArgs};
use ponte_signaling::{Signaling, SignalingArgs};

#[derive(Parser)]
#[command(name = "signaling", version, about = "Ponte signaling: rooms, roster and SDP relay for browsers, with the focus embedded")]
struct Cli {
    /// TOML configuration file for signaling (same as --signaling-config).
    #[arg(long = "config")]
    config_file: Option<PathBuf>,
    #[command(flatten)]
    signaling: SignalingArgs,
    /// The embedded focus. Its `listen` is not used: it shares the signaling listener.
    #[command(flatten)]
    focus: FocusArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let mut cli = Cli::parse();
    if let Some(path) = cli.config_file.take() {
        cli.signaling.config = Some(path);
    }
    let config = cli.signaling.load()?;
    let focus_config = cli.focus.load()?;
    if cli.focus.listen.is_some() {
        tracing::warn!("--focus-listen is ignored: the embedded focus shares the signaling listener");
    }
    // One registry: signaling's /metrics shows the focus's metrics too.
    let registry = Registry::new();
    let (focus, events) = Focus::new(focus_config, registry.clone());
    let signaling = Signaling::bind_with(config, focus.clone(), events, registry, Some(focus.router()))
        .await
        .context("starting signaling")?;
    focus.set_ready(true);
    tracing::info!("clients: http://{0}/  bridges: ws://{0}/v1/bridge-link", signaling.addr());
    let shutdown = async move {
        shutdown_signal().await;
        focus.set_ready(false);
        // Upgraded bridge links outlive the HTTP server's graceful shutdown; end them here.
        focus.close_links();
    };
    signaling.run(shutdown).await.context("serving")?;
    tracing::info!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("Ctrl-C: shutting down"),
        _ = term => tracing::info!("SIGTERM: shutting down"),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn flags_do_not_clash() {
        super::Cli::command().debug_assert();
    }
}
