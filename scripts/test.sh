#!/usr/bin/env bash
# The one test command (README, CI): installs what a fresh machine lacks, then
# runs formatting and lint checks, every Rust test, and the official-SDK test.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

log "system packages"
if ! command -v redis-server >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server
fi
redis-server --version

log "toolchain components"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

log "cargo build (binary for the SDK test)"
cargo build --bins

log "protogen tests"
cargo nextest run -p cloudgate-protogen --no-fail-fast

log "Rust tests (unit + end to end)"
# Every log and audit line of the suite lands here, for the secret scan below.
export CLOUDGATE_LOG_DIR="$PWD/target/tmp/e2e-logs"
rm -rf "$CLOUDGATE_LOG_DIR"
cargo nextest run --no-fail-fast

log "official vendor SDKs against the emulator"
bash tests/sdk/run.sh target/debug/cloudgate

log "client examples (Python, Node) against serve --emulate"
bash scripts/ci/examples.sh target/debug/cloudgate

log "grpcurl: list, describe and every README example against serve --emulate"
bash scripts/ci/grpcurl.sh target/debug/cloudgate

log "secret scan: every log and audit line above, for every configured secret"
cargo nextest run --test secret_scan --run-ignored only --no-capture

log "protogen: proto/ regenerated from the vendor metadata samples, no drift"
bash scripts/ci/protogen_drift.sh target/debug/cloudgate

log "buf lint on proto/"
bash scripts/ci/buf.sh

log "fuzz: each target briefly"
bash scripts/fuzz.sh 20
