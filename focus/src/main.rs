//! `focus`: the Ponte focus on its own, for deployments where bridges dial in over the network.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use ponte_focus::{Focus, FocusArgs, FocusService};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "focus", version, about = "Ponte focus: bridge registry, placement, operator API")]
struct Cli {
    /// TOML configuration file (same as --focus-config).
    #[arg(long = "config")]
    config_file: Option<PathBuf>,
    #[command(flatten)]
    focus: FocusArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("focus: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let mut cli = Cli::parse();
    if let Some(path) = cli.config_file.take() {
        cli.focus.config = Some(path);
    }
    let config = cli.focus.load()?;
    let (focus, mut events) = Focus::new(config.clone(), prometheus::Registry::new());
    // No signaling in this process: nobody asks for endpoints, but keep the queue drained.
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            tracing::debug!(?event, "endpoint event with no signaling attached");
        }
    });
    let service = FocusService::bind(&config, focus).await.context("starting the focus")?;
    service.run(shutdown_signal()).await.context("serving")?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
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
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
