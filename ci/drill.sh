#!/usr/bin/env bash
# The main job: provisions the engine and images, then runs scenarios against the real stack and
# writes the reports. Arguments go to `stackdrill run` (default: the CI profile over scenarios/).
#   ci/drill.sh                                  # every scenario, CI profile
#   ci/drill.sh --profile nightly scenarios/     # the nightly DR drill
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bash ci/provision.sh
[ $# -gt 0 ] || set -- scenarios/
cargo run --quiet --release --bin stackdrill -- run "$@"
