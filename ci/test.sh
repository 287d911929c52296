#!/usr/bin/env bash
# The test command: provisions the engine, cargo-nextest and the images, then runs the whole
# suite with nextest (unit tests, the smoke test against the real stack, every scenario file;
# scenarios marked `nightly` run only with STACKDRILL_NIGHTLY=1).
# Extra arguments go to `cargo nextest run`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bash ci/provision.sh
# The engine and images are in place: the scenario trials that need a stack run too.
export STACKDRILL_STACK=1
start=$SECONDS
echo "== tests"
cargo nextest run --workspace "$@"
echo "== tests: $((SECONDS - start)) s"
