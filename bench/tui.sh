#!/usr/bin/env bash
# Redraw time of the terminal UI with a million events on the timeline, against the
# same screens with a thousand, measured in one run. A benchmark, not a test: it
# prints numbers and fails only if it cannot measure.
#
# Settings (environment): EVENTS=1000000 SMALL=1000 FRAMES=300
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
EVENTS=${EVENTS:-1000000}
SMALL=${SMALL:-1000}
FRAMES=${FRAMES:-300}

echo "== building (release)"
(cd "$ROOT" && cargo build --release --quiet --example bench-tui)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

echo "== machine: $(nproc) cpus, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $FRAMES frames per screen at 120x36 (TestBackend), $EVENTS vs $SMALL events"
# Building the million-event state (decode + analysis) takes most of the time; the
# frames themselves take well under a second per screen.
timeout 1200 "$TARGET/release/examples/bench-tui" "$EVENTS" "$SMALL" "$FRAMES"
