//! `bridge`: the SFU alone, dialing a focus over the bridge link.
fn main() {}
