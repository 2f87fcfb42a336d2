//! `ponte-tests`: the cross-service tests and the pieces they share.
//!
//! - [`stack`]: start the whole stack in this process on loopback with OS-picked ports, the
//!   same composition the `ponte` binary runs.
//! - [`process`]: start a service binary as a child process and stop it with SIGTERM.
//! - [`cluster`]: `signaling` (focus inside) and several `bridge` processes on loopback
//!   addresses; bridges added, killed or terminated one by one.
//! - [`relay`]: a UDP relay that adds loss, jitter, reordering and a rate cap.
//! - [`scrape`]: read a service's `/metrics` and `/health`-style endpoints.
//! - Participants come from `ponte_loadtest::Participant`, the same simulated client the
//!   load tool uses.
//!
//! One scenario per file under `tests/`.

pub mod browser;
pub mod cluster;
pub mod meeting_page;
pub mod process;
pub mod relay;
pub mod scrape;
pub mod stack;
pub mod ingest;

/// Log to the test's output (`RUST_LOG` to change the filter); safe to call many times.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,ponte=info".into()),
        )
        .with_test_writer()
        .try_init();
}
