#!/usr/bin/env bash
# Memory a live session holds over a simulated day of serial output, uploads and
# network events, against the same stream held without a window, measured in one
# run. A benchmark, not a test: it prints numbers and fails only if it cannot measure.
#
# Settings (environment): HOURS=24 PEER_HOURS=1 RATE=100 (serial lines/s)
#   WINDOW=100000 (plain lines held, as --window)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HOURS=${HOURS:-24}
PEER_HOURS=${PEER_HOURS:-1}
RATE=${RATE:-100}
WINDOW=${WINDOW:-100000}

echo "== building (release)"
(cd "$ROOT" && cargo build --release --quiet --example bench-session)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

echo "== machine: $(nproc) cpus, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== pushing $HOURS h of simulated time through Session (window $WINDOW, peer: unbounded for $PEER_HOURS h)"
# The stream is bounded by HOURS*3600*RATE lines; a day at 100 lines/s takes about a minute.
timeout 1800 "$TARGET/release/examples/bench-session" \
  --hours "$HOURS" --peer-hours "$PEER_HOURS" --rate "$RATE" --window "$WINDOW"
