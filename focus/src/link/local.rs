//! The in-process link: a pair of channels between a bridge and the focus in one process
//! (the all-in-one binary), carrying the same messages as the WebSocket.

use ponte_proto::link::{BridgeToFocus, FocusToBridge};
use tokio::sync::mpsc;

use super::{LinkError, LinkSource, LINK_QUEUE};
use crate::focus::Focus;

/// Messages a local bridge can queue before its sends wait.
const BRIDGE_QUEUE: usize = 1024;

impl LinkSource for mpsc::Receiver<BridgeToFocus> {
    async fn recv(&mut self) -> Option<Result<BridgeToFocus, LinkError>> {
        mpsc::Receiver::recv(self).await.map(Ok)
    }
}

/// Spawn the session and return the bridge's ends.
pub(crate) fn connect(focus: Focus) -> (mpsc::Sender<BridgeToFocus>, mpsc::Receiver<FocusToBridge>) {
    let (to_focus, from_bridge) = mpsc::channel(BRIDGE_QUEUE);
    let (to_bridge, from_focus) = mpsc::channel(LINK_QUEUE);
    tokio::spawn(async move { super::run(focus, from_bridge, to_bridge, "in-process").await });
    (to_focus, from_focus)
}
