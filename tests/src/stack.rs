//! The whole stack in this process, on 127.0.0.1 with OS-picked ports.

use std::time::Duration;

use ponte::{RunningStack, Stack, StackConfig};
use ponte_loadtest::{Participant, ParticipantOptions};

/// Start signaling + focus + one bridge, and wait until the bridge is registered.
pub async fn start() -> RunningStack {
    start_with(StackConfig::loopback()).await
}

pub async fn start_with(config: StackConfig) -> RunningStack {
    crate::init_tracing();
    let stack = Stack::bind(config).await.expect("the stack binds on loopback");
    let focus = stack.focus().clone();
    let running = stack.spawn();
    let registered = tokio::time::timeout(Duration::from_secs(10), async {
        while focus.bridges().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(registered.is_ok(), "the in-process bridge registers with the focus");
    running
}

/// Join `room` as `name` with default media (Opus + VP8) and wait for ICE + DTLS.
pub async fn join(stack: &RunningStack, room: &str, name: &str) -> Participant {
    join_with(stack, room, name, ParticipantOptions::default()).await
}

pub async fn join_with(stack: &RunningStack, room: &str, name: &str, opts: ParticipantOptions) -> Participant {
    let p = Participant::join(&stack.ws_url(), room, name, opts)
        .await
        .unwrap_or_else(|e| panic!("{name} joins {room}: {e}"));
    p.wait_connected(Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("{name}'s media connects: {e}"));
    p
}
