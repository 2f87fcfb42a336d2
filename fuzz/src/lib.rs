//! `ponte-fuzz`: fuzz targets for the parsers that read the network, and a small mutator so
//! they also run on stable Rust.
//!
//! Each target in [`targets`] takes arbitrary bytes and must return without panicking,
//! whatever the bytes are. Two drivers call them:
//! - libFuzzer (`fuzz_targets/*.rs`, `cargo fuzz run <target> --features libfuzzer`), for long
//!   coverage-guided runs where a nightly compiler (or `RUSTC_BOOTSTRAP=1`) is at hand;
//! - `tests/corpus.rs` (`cargo test`), which replays `corpus/<target>/` and then mutates
//!   the corpus at random for `PONTE_FUZZ_SECS` seconds per target with [`mutate`] — what CI
//!   runs. A crashing input is written to `artifacts/<target>/` and fails the test; it then
//!   belongs in `corpus/<target>/` (the corpus doubles as the regression suite) with a fix.

pub mod mutate;
pub mod targets;
