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

if [[ -x /usr/bin/time ]] && /usr/bin/time -f %M true >/dev/null 2>&1; then
  HAVE_TIME=1
else
  HAVE_TIME=0
  echo "note: GNU time not found (apt-get install time); peak RSS is sampled from /proc" >&2
fi

mkdir -p "$WORK"
cleanup() {
  if [[ $KEEP != 1 ]]; then
    rm -f "$LOG" "$LOG.manifest" "$LOG.gen" "$PATS" "$WORK/log-report.txt" "$WORK/log-rss" "$WORK/log-out" "$SMALL" \
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

# The log is reused only if it was made by this generator with these settings.
want="seed=$SEED size_mb=$SIZE_MB gen=$(sha256sum "$ROOT/examples/gen-log.rs" | cut -c1-16)"
manifest() { sed -n "s/^$1=//p" "$LOG.manifest"; }
if [[ -f $LOG && -f $LOG.manifest && -f $LOG.gen && $(cat "$LOG.gen") == "$want" &&
  $(stat -c %s "$LOG") == $(manifest bytes) ]]; then
  echo "== reusing $LOG ($want)"
else
  echo "== generating $LOG ($want)"
  rm -f "$LOG.gen"
  "$GEN" --out "$LOG" --size-mb "$SIZE_MB" --seed "$SEED"
  echo "$want" >"$LOG.gen"
fi
BYTES=$(stat -c %s "$LOG")

echo "== grep's patterns: ota-doctor rules patterns --grep"
"$OTA" rules patterns --grep >"$PATS" 2>"$WORK/log-patterns.err"
sed 's/^/   /' "$WORK/log-patterns.err"
NPATS=$(grep -c . "$PATS")
# ota-doctor decodes on every core it may use (nproc counts the same), unless told.
THREADS=${OTA_DOCTOR_THREADS:-$(nproc)}

# measure NAME RUNS CMD...: one warm-up run (page cache), then the timed runs. Output
# goes to a file: GNU grep stops at the first match when it sees /dev/null.
# Sets MED_S (median wall seconds), USER_S (its user CPU seconds), RSS_MB (its peak RSS).
measure() {
  local name=$1 runs=$2 err=$WORK/log-$1.err
  shift 2
  "$@" >"$WORK/log-out" 2>"$err" || { echo "FAILED: $* (see $err)" >&2; exit 1; }
  local rows=() i t0 t1 rss cpu shown=""
  for ((i = 0; i < runs; i++)); do
    t0=$(date +%s%N)
    if [[ $HAVE_TIME == 1 ]]; then
      /usr/bin/time -f '%M %U' -o "$WORK/log-rss" "$@" >"$WORK/log-out" 2>>"$err" || true
      read -r rss cpu <"$WORK/log-rss"
    else
      "$@" >"$WORK/log-out" 2>>"$err" &
      local pid=$! hwm
      rss=0 cpu=0
      while kill -0 "$pid" 2>/dev/null; do
        hwm=$(sed -n 's/^VmHWM:\s*\([0-9]*\).*/\1/p' "/proc/$pid/status" 2>/dev/null || true)
        [[ -n $hwm && $hwm -gt $rss ]] && rss=$hwm
        sleep 0.01
      done
      wait "$pid" || true
    fi
    t1=$(date +%s%N)
    rows+=("$(((t1 - t0) / 1000)) $rss $cpu")
    shown+=" $(awk -v us="$(((t1 - t0) / 1000))" 'BEGIN { printf "%.2f", us / 1e6 }')s"
  done
  local mid
  mid=$(printf '%s\n' "${rows[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
  read -r mid_us mid_rss mid_cpu <<<"$mid"
  MED_S=$(awk -v us="$mid_us" 'BEGIN { printf "%.2f", us / 1e6 }')
  USER_S=$mid_cpu
  RSS_MB=$(awk -v kb="$mid_rss" 'BEGIN { printf "%.1f", kb / 1024 }')
  echo "   $name:$shown (median $MED_S s, user $USER_S s, peak RSS $RSS_MB MB)"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== timing: $RUNS runs each after a warm-up, median reported"
measure ota-doctor "$RUNS" "$OTA" analyze --serial-log "$LOG"
OTA_S=$MED_S OTA_U=$USER_S OTA_RSS=$RSS_MB
measure grep-C "$RUNS" env LC_ALL=C grep -E -c -f "$PATS" "$LOG"
GC_S=$MED_S GC_U=$USER_S
head -c "$((SMALL_MB * 1000000))" "$LOG" >"$SMALL"
measure ota-doctor-small 1 "$OTA" analyze --serial-log "$SMALL"
SMALL_RSS=$RSS_MB
GU_S=-
if [[ ${GREP_UTF8:-0} == 1 ]]; then
  measure grep-utf8 1 grep -E -c -f "$PATS" "$LOG"
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
echo "   cpu:     $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1), nproc $(nproc)"
echo "   date:    $(date -u +%Y-%m-%dT%H:%M:%SZ), load average before: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   grep:    $(grep --version | head -n1), $NPATS patterns"
echo "   ota-doctor: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?') (release)"
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
