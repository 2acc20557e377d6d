#!/usr/bin/env bash
# The long crash harness: kills the real daemon with SIGKILL at random moments while a
# loopback feed keeps publishing, restarts it, and checks that a webhook receiver and aiosmtpd
# got every alert, none more than once except a single resend of the one in flight at a kill.
# The short version (5 kills) runs in `cargo test`; this runs the same harness with more kills
# and prints the figures (published, delivered per destination, repeats, resends, kills,
# wall time).
#
#   scripts/crash-harness.sh                 # 50 kills
#   NEWSHOUND_CRASH_KILLS=200 scripts/crash-harness.sh
#   NEWSHOUND_CRASH_SEED=1234 scripts/crash-harness.sh   # replay a run's random choices
#
# Needs python3 (aiosmtpd is installed into target/pydeps on first use, as for `cargo test`).
set -euo pipefail
cd "$(dirname "$0")/.."
export NEWSHOUND_CRASH_KILLS="${NEWSHOUND_CRASH_KILLS:-50}"
exec cargo test --locked --test crash -- --nocapture --test-threads 1
