//! `ponte`: signaling + focus + one bridge + the web app, in one process.

mod token;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use ponte::{Stack, StackConfig};
use ponte_bridge::BridgeArgs;
use ponte_focus::FocusArgs;
use ponte_signaling::SignalingArgs;

#[derive(Parser)]
#[command(name = "ponte", version, about = "Ponte on one machine: signaling (8080), focus (8888), one bridge (UDP 10000, HTTP 8081)")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    signaling: SignalingArgs,
    #[command(flatten)]
    focus: FocusArgs,
    #[command(flatten)]
    bridge: BridgeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Mint a join token for a server started with a jwt_secret; prints it.
    Token(token::TokenArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Token(args)) => args.run(),
        None => serve(cli),
    }
}

/// Plain `ponte`: run the stack until Ctrl-C or SIGTERM.
#[tokio::main]
async fn serve(cli: Cli) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,str0m=warn")))
        .init();
    let config = StackConfig {
        signaling: cli.signaling.load()?,
        focus: cli.focus.load()?,
        bridge: cli.bridge.load()?,
    };
    let stack = Stack::bind(config).await?;
    let a = stack.addrs();
    let (scheme, port) = (stack.scheme(), a.signaling.port());
    tracing::info!(
        "Ponte is up: open {scheme}://localhost:{port}/ in a browser (focus {}, bridge http {}, media udp {})",
        a.focus, a.bridge_http, a.media
    );
    stack.run(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}
