#!/usr/bin/env bash
# The test command: provisions the engine, cargo-nextest and the images, then runs the whole
# suite with nextest (unit tests, the smoke test against the real stack, every scenario file).
# Extra arguments go to `cargo nextest run`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bash ci/provision.sh
start=$SECONDS
echo "== tests"
cargo nextest run --workspace "$@"
echo "== tests: $((SECONDS - start)) s"
