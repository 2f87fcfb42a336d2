//! The media port: one UDP socket for every endpoint.
//!
//! [`demux`] classifies datagrams (pure); [`udp`] does batched socket I/O.

pub mod demux;
pub mod udp;
