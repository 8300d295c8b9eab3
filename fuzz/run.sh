#!/usr/bin/env bash
# Runs every fuzz target for N seconds (default 300), one after another, one job each:
# the machine is shared, so no -fork and no -jobs (a plain run is one in-process job,
# and with -jobs libFuzzer moves its output to fuzz-N.log).
#   fuzz/run.sh [seconds] [target...]
# SANITIZER=none runs without AddressSanitizer: about 4x the executions for the text
# targets, whose time goes to the regex engines; ota-doctor has no unsafe code, so
# the sanitizer guards only its dependencies (default: address).
# Each target's libFuzzer output goes to fuzz/logs/<target>.log; the last lines give
# the executions and whether it ran clean. Crashes land in fuzz/artifacts/<target>/.
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-300}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(serial_lines serial_classify host_log capture packet_ota trace rule_load)

# Longest input per target: one line for the recognisers, a small capture or rule file
# for the rest. Longer inputs only slow the fuzzer down without reaching new code.
max_len() {
  case $1 in
    serial_classify) echo 1024 ;;
    capture) echo 65536 ;;
    trace) echo 32768 ;;
    *) echo 16384 ;;
  esac
}

./seed.sh >/dev/null
mkdir -p logs
status=0
for t in "${targets[@]}"; do
  mkdir -p "artifacts/$t"
  cargo +nightly fuzz run -O -s "${SANITIZER:-address}" "$t" "corpus/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
    -timeout=10 -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"logs/$t.log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$')
  echo "$t: exit $rc, ${runs:-?} executions in up to ${secs}s ($(date -u +%FT%TZ))"
  ((rc == 0)) || status=1
done
exit $status
