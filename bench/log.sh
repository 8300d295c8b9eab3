#!/usr/bin/env bash
# Serial-log analysis speed and memory of `ota-doctor analyze --serial-log` against
# `grep -E -c -f` with the patterns ota-doctor tests each line with, both timed in this
# run on the same generated log. A benchmark, not a test: it prints numbers, checks the
# diagnosis, and fails only if it cannot measure. See README.md, "Benchmarks".
#
# Settings (environment): SIZE_MB=1000 SEED=1 RUNS=3 SMALL_MB=200 (RSS is also taken on
#   the first SMALL_MB of the log, to show it does not grow with the size)
#   BENCH_DIR=${TMPDIR:-/tmp}/ota-doctor-bench  where the log is written
#   KEEP=1        keep the log (and reuse it next time when size, seed and generator match)
#   GREP_UTF8=1   also time grep in the current (UTF-8) locale, once: it is much slower
#   OTA_DOCTOR_THREADS=N  decode on N threads (default: every core, like nproc); grep
#                 uses one, so the RESULT line says how many ota-doctor used
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZE_MB=${SIZE_MB:-1000}
SEED=${SEED:-1}
RUNS=${RUNS:-3}
KEEP=${KEEP:-0}
WORK=${BENCH_DIR:-${TMPDIR:-/tmp}/ota-doctor-bench}
LOG=$WORK/big-serial.log
# Peak RSS is also taken on the first SMALL_MB of the log: it must not grow with size.
SMALL_MB=${SMALL_MB:-200}
SMALL=$WORK/head-serial.log
PATS=$WORK/patterns.ere

source "$ROOT/bench/lib.sh"

mkdir -p "$WORK"
cleanup() {
  if [[ $KEEP != 1 ]]; then
    rm -f "$LOG" "$LOG.manifest" "$LOG.gen" "$PATS" "$WORK/log-report.txt" "$WORK/time.out" "$WORK/out" "$SMALL" \
      "$WORK"/log-*.err
    rmdir "$WORK" 2>/dev/null || true
  fi
}
trap cleanup EXIT

echo "== building (release)"
(cd "$ROOT" && cargo build --release --quiet --bin ota-doctor --example gen-log)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OTA=$TARGET/release/ota-doctor
GEN=$TARGET/release/examples/gen-log

want="seed=$SEED size_mb=$SIZE_MB gen=$(source_id "$ROOT/examples/gen-log.rs")"
reuse_or_generate "$LOG" "$want" "$GEN" --out "$LOG" --size-mb "$SIZE_MB" --seed "$SEED"
manifest() { sed -n "s/^$1=//p" "$LOG.manifest"; }
BYTES=$(stat -c %s "$LOG")

echo "== grep's patterns: ota-doctor rules patterns --grep"
"$OTA" rules patterns --grep >"$PATS" 2>"$WORK/log-patterns.err"
sed 's/^/   /' "$WORK/log-patterns.err"
NPATS=$(grep -c . "$PATS")
# ota-doctor decodes on every core it may use (nproc counts the same), unless told.
THREADS=${OTA_DOCTOR_THREADS:-$(nproc)}

LOAD0=$(load_average)
echo "== timing: $RUNS runs each after a warm-up, median reported"
measure log-ota-doctor "$RUNS" "$OTA" analyze --serial-log "$LOG"
OTA_S=$MED_S OTA_U=$USER_S OTA_RSS=$RSS_MB
measure log-grep-C "$RUNS" env LC_ALL=C grep -E -c -f "$PATS" "$LOG"
GC_S=$MED_S GC_U=$USER_S
head -c "$((SMALL_MB * 1000000))" "$LOG" >"$SMALL"
measure log-ota-doctor-small 1 "$OTA" analyze --serial-log "$SMALL"
SMALL_RSS=$RSS_MB
GU_S=-
if [[ ${GREP_UTF8:-0} == 1 ]]; then
  measure log-grep-utf8 1 grep -E -c -f "$PATS" "$LOG"
  GU_S=$MED_S
fi

# What ota-doctor found, and how much it held (untimed run).
OTA_DOCTOR_STATS=1 "$OTA" analyze --serial-log "$LOG" >"$WORK/log-report.txt" 2>"$WORK/log-stats.err"
found=$(sed -n 's/^Cause: \([a-z_]*\).*/\1/p' "$WORK/log-report.txt" | head -n1)
read -r lines held < <(sed -n 's/^stats: \([0-9]*\) lines.* \([0-9]*\) events held$/\1 \2/p' "$WORK/log-stats.err")
expect=$(manifest expect_cause)

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
mbs() { awk -v b="$BYTES" -v s="$1" 'BEGIN { printf "%.1f", b / 1e6 / s }'; }
speed() { awk -v o="$1" -v g="$2" 'BEGIN { printf "%.2f", g / o }'; }

echo
echo "== machine"
echo "   cpu:     $(cpu_name), nproc $(nproc)"
echo "   date:    $(date -u +%Y-%m-%dT%H:%M:%SZ), load average before: $LOAD0, after: $(load_average)"
echo "   grep:    $(grep --version | head -n1), $NPATS patterns"
echo "   ota-doctor: $(commit) (release)"
echo
echo "== log: $LOG, $(mb "$BYTES") MB, $(manifest lines) lines, seed $SEED"
printf '%-50s %8s %8s %8s %12s\n' "command (median of runs, warm page cache)" "wall s" "user s" "MB/s" "peak RSS MB"
printf '%-50s %8s %8s %8s %12s\n' "ota-doctor analyze --serial-log F ($THREADS threads)" "$OTA_S" "$OTA_U" "$(mbs "$OTA_S")" "$OTA_RSS"
printf '%-50s %8s %8s %8s\n' "LC_ALL=C grep -E -c -f patterns F" "$GC_S" "$GC_U" "$(mbs "$GC_S")"
[[ $GU_S != - ]] && printf '%-50s %8s\n' "grep -E -c -f patterns F (UTF-8 locale, 1 run)" "$GU_S"
echo
mark=ok
[[ $found == "$expect" ]] || mark=MISMATCH
echo "   diagnosis: expected $expect, ota-doctor found ${found:-nothing}: $mark"
echo "   held: $held events of $lines lines read"
echo
echo "RESULT log-analyze: ota-doctor $OTA_S s vs grep -E -c $GC_S s (LC_ALL=C) = $(speed "$OTA_S" "$GC_S")x grep's speed (target >= 0.5x; ota-doctor on $THREADS threads, grep on 1)"
if [[ $GU_S != - ]]; then
  echo "RESULT log-analyze-utf8: ota-doctor $OTA_S s vs grep -E -c $GU_S s (UTF-8 locale) = $(speed "$OTA_S" "$GU_S")x grep's speed"
fi
echo "RESULT log-rss: $OTA_RSS MB peak for a $(mb "$BYTES") MB log, $SMALL_RSS MB for its first $SMALL_MB MB ($(awk -v r="$OTA_RSS" -v h="$held" 'BEGIN { printf "%d", r * 1048576 / (h > 0 ? h : 1) }') bytes/event held, $held events held of $lines)"
echo "RESULT log-diagnosis: $mark (expected $expect, found ${found:-nothing})"
[[ $mark == ok ]]
