//! What travels from a publisher to its subscribers, independent of where it came from
//! (a WebRTC endpoint today; an ingest stream or a relay tomorrow), and how much of it each
//! subscriber gets.
//!
//! - [`frame`]: one media frame on its way.
//! - [`source`]: what a published video source sends (layers, rates, heights).
//! - [`forwarder`]: per subscriber × source, decides per frame and rebases RTP time.
//! - [`layer`]: the layer selectors behind the forwarder (simulcast, null).
//! - [`allocator`]: two-phase bandwidth allocation per receiver.
//! - [`speaker`] and [`lastn`]: dominant speaker and the last-N order it drives.
//! - [`config`] and [`metrics`]: the `[quality]` config section and its metrics.

pub mod allocator;
pub mod config;
pub mod forwarder;
pub mod frame;
pub mod lastn;
pub mod layer;
pub mod metrics;
pub mod source;
pub mod speaker;
