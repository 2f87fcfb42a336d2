#!/usr/bin/env bash
# Runs Ponte's whole test suite on a fresh Debian machine: installs what the tests need
# (system packages only when missing), then runs every test of the workspace.
# Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

# Packages the cross-service tests drive: real Chromium and Firefox ESR (browser tests, driven over
# the DevTools protocol and WebDriver BiDi; chromium-driver is there for WebDriver-based tools), real
# ffmpeg (ingest), libopus-dev (the ingest tests check Opus with libopus), srt-tools.
need=()
for pkg in chromium chromium-driver firefox-esr ffmpeg libopus-dev srt-tools; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  log=$(mktemp)
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"; } >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "scripts/test.sh: installing ${need[*]} failed (full log: $log)" >&2
    exit 1
  fi
fi

# The cross-service tests start the service binaries (ponte, bridge, focus, signaling,
# loadtest) as child processes; `cargo test` alone builds only test targets.
echo "==> cargo build --workspace --bins"
cargo build --workspace --bins

echo "==> cargo test --workspace"
cargo test --workspace "$@"

# Fuzz targets (fuzz/, a workspace of its own sharing target/): replay the committed corpus,
# then mutate it at random for a few seconds per target. Skipped when running selected tests.
if [ $# -eq 0 ]; then
  echo "==> fuzz: corpus + ${PONTE_FUZZ_SECS:-3} s of mutation per target"
  PONTE_FUZZ_SECS="${PONTE_FUZZ_SECS:-3}" cargo test --manifest-path fuzz/Cargo.toml --target-dir target
fi
