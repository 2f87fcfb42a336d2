//! What travels from a publisher to its subscribers, independent of where it came from
//! (a WebRTC endpoint today; an ingest stream or a relay tomorrow).

pub mod frame;
