# Shared by the benchmarks that time ota-doctor and a peer on one generated file
# (bench/log.sh, bench/pcap.sh): sourced, not run. Expects ROOT and WORK to be set.

if [[ -x /usr/bin/time ]] && /usr/bin/time -f %M true >/dev/null 2>&1; then
  HAVE_TIME=1
else
  HAVE_TIME=0
  echo "note: GNU time not found (apt-get install time); peak RSS is sampled from /proc" >&2
fi

# reuse_or_generate FILE WANT CMD...: runs CMD to make FILE unless FILE was made by the
# same settings and generator (WANT, a line naming them) and still has the size its
# manifest gives; then FILE is reused (KEEP=1 keeps it between runs).
reuse_or_generate() {
  local file=$1 want=$2
  shift 2
  if [[ -f $file && -f $file.manifest && -f $file.gen && $(cat "$file.gen") == "$want" &&
    $(stat -c %s "$file") == $(sed -n 's/^bytes=//p' "$file.manifest") ]]; then
    echo "== reusing $file ($want)"
  else
    echo "== generating $file ($want)"
    rm -f "$file.gen"
    "$@" >/dev/null
    echo "$want" >"$file.gen"
  fi
}

# A short fingerprint of a generator's source, so a changed generator makes new files.
source_id() { sha256sum "$1" | cut -c1-16; }

# One run of CMD, timed; its output goes to $OUT. Sets RUN_US (wall µs), RUN_KB (peak
# RSS) and RUN_CPU (user CPU seconds; - when GNU time is missing).
timed_run() {
  local err=$1 t0 t1
  shift
  t0=$(date +%s%N)
  if [[ $HAVE_TIME == 1 ]]; then
    /usr/bin/time -f '%M %U' -o "$WORK/time.out" "$@" >"$OUT" 2>>"$err" ||
      { echo "FAILED: $* (see $err)" >&2; exit 1; }
    read -r RUN_KB RUN_CPU <"$WORK/time.out"
  else
    "$@" >"$OUT" 2>>"$err" &
    local pid=$! hwm
    RUN_KB=0 RUN_CPU=-
    while kill -0 "$pid" 2>/dev/null; do
      hwm=$(sed -n 's/^VmHWM:\s*\([0-9]*\).*/\1/p' "/proc/$pid/status" 2>/dev/null || true)
      [[ -n $hwm && $hwm -gt $RUN_KB ]] && RUN_KB=$hwm
      sleep 0.01
    done
    wait "$pid" || { echo "FAILED: $* (see $err)" >&2; exit 1; }
  fi
  t1=$(date +%s%N)
  RUN_US=$(((t1 - t0) / 1000))
}

# measure NAME RUNS CMD...: one warm-up run (page cache), then RUNS timed runs. Output
# goes to $OUT (default a file: GNU grep stops at the first match when it writes to
# /dev/null). Sets MED_S (median wall seconds), USER_S (that run's user CPU seconds) and
# RSS_MB (its peak RSS), and prints every run.
measure() {
  local name=$1 runs=$2 err=$WORK/$1.err
  shift 2
  : "${OUT:=$WORK/out}"
  : >"$err"
  "$@" >"$OUT" 2>"$err" || { echo "FAILED: $* (see $err)" >&2; exit 1; }
  local rows=() i shown=""
  for ((i = 0; i < runs; i++)); do
    timed_run "$err" "$@"
    rows+=("$RUN_US $RUN_KB $RUN_CPU")
    shown+=" $(awk -v us="$RUN_US" -v kb="$RUN_KB" 'BEGIN { printf "%.3fs/%.0fMB", us / 1e6, kb / 1024 }')"
  done
  local us kb cpu
  read -r us kb cpu < <(printf '%s\n' "${rows[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
  MED_S=$(awk -v us="$us" 'BEGIN { printf "%.3f", us / 1e6 }')
  USER_S=$cpu
  RSS_MB=$(awk -v kb="$kb" 'BEGIN { printf "%.1f", kb / 1024 }')
  echo "   $name:$shown (median $MED_S s, user $USER_S s, peak RSS $RSS_MB MB)"
}

load_average() { cut -d' ' -f1-3 /proc/loadavg; }
cpu_name() { sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1; }
commit() { (cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null) || echo '?'; }
