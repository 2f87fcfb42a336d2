//! `bridge`: the SFU alone, dialing a focus over the bridge link.

use anyhow::Context;
use clap::Parser;
use ponte_bridge::focus_link::ws;
use ponte_bridge::{Bridge, BridgeArgs, LinkEnds};

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
    let link = ws::spawn(focus_url, config.secret.clone());
    bridge.run(LinkEnds::new(link.to_focus, link.from_focus), shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}
