//! The bridge's side of the focus link: a pair of channel ends carrying
//! [`ponte_proto::link`] messages. The engine loop only sees these; whether the focus is in
//! the same process (`Focus::connect_local`) or across a WebSocket ([`ws`]) is decided at
//! start-up.

pub mod ws;

use ponte_proto::link::{BridgeToFocus, FocusToBridge};
use tokio::sync::mpsc;

pub struct LinkEnds {
    pub to_focus: mpsc::Sender<BridgeToFocus>,
    pub from_focus: mpsc::Receiver<FocusToBridge>,
}

impl LinkEnds {
    pub fn new(to_focus: mpsc::Sender<BridgeToFocus>, from_focus: mpsc::Receiver<FocusToBridge>) -> Self {
        Self { to_focus, from_focus }
    }
}
