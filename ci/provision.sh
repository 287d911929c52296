#!/usr/bin/env bash
# Provisions what stackdrill's tests and drills need on a Debian machine, idempotently:
#   - Debian's docker.io engine (and debootstrap, maven), started with host networking only
#     (overlay2, else vfs; --bridge=none --iptables=false --ip6tables=false);
#   - cargo-nextest;
#   - the stack's images (`stackdrill images build`: tags are input hashes, so this is a no-op
#     when nothing changed).
# Prints each phase's time. Exits non-zero on any failure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

phase() { PHASE_NAME=$1; PHASE_START=$SECONDS; echo "== $1"; }
done_phase() { echo "== $PHASE_NAME: $((SECONDS - PHASE_START)) s"; }

phase "packages"
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mvn >/dev/null || need+=(maven)
command -v python3 >/dev/null || need+=(python3 python3-pip)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "installing packages needs root (apt-get)" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
done_phase

phase "docker engine"
bash "$ROOT/ci/engine.sh"
done_phase

phase "cargo-nextest"
if ! cargo nextest --version >/dev/null 2>&1; then
  # The build nextest recommends to distributors: without self-update (and its HTTP stack),
  # which a CI machine has no use for and which only lengthens the build.
  cargo install cargo-nextest --locked --quiet --no-default-features --features default-no-update
fi
cargo nextest --version | head -n 1
done_phase

phase "images"
cargo build --quiet --bin stackdrill
"$CARGO_TARGET_DIR/debug/stackdrill" images build
done_phase
