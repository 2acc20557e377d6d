#!/usr/bin/env bash
# Runs every file of the shared development fixtures (feeds, feedparser's conformance suite,
# the charset matrix, real article pages) through newshound's parse → extract → match
# pipeline in one process (examples/fixtures_smoke.rs) and prints counts per kind; exits 1
# if any file made the pipeline panic.
#
#   scripts/shared-fixtures-smoke.sh                  # ../shared/fixtures
#   scripts/shared-fixtures-smoke.sh path/to/fixtures
#   SMOKE_VERBOSE=1 scripts/shared-fixtures-smoke.sh   # also lists each file that failed to parse
#
# Development only: the fixtures are not in the repository and `cargo test` never needs them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
fixtures="${1:-$root/../shared/fixtures}"
if [ ! -d "$fixtures" ]; then
  echo "no fixture directory at $fixtures" >&2
  exit 66
fi
cd "$root"
# The debug build: the release profile's fat LTO takes far longer to build than this run takes.
cargo run --quiet --example fixtures_smoke -- "$fixtures" ${SMOKE_VERBOSE:+-v}
