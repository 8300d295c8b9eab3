#!/usr/bin/env bash
# Offline pcap decoding speed and memory of `ota-doctor analyze --pcap` against tshark,
# both timed in this run on the same generated capture. A benchmark, not a test: it
# prints numbers and fails only if it cannot measure. bench/run.sh runs it with the
# other benchmarks and collects its `RESULT ` lines. See README.md, "Benchmarks".
#
# Settings (environment): SIZE_MB=200 SEED=1 SESSIONS=150 RUNS=3
#   BIG_MB=1000  a second, larger capture on which only ota-doctor's peak RSS is
#                measured, to show memory does not grow with the file (0: skip)
#   BENCH_DIR=${TMPDIR:-/tmp}/ota-doctor-bench  where the captures are written
#   KEEP=1   keep the captures (and reuse them next time when size, seed and generator match)
#   PROFILE=1  also record ota-doctor with `perf` and print where its time goes
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZE_MB=${SIZE_MB:-200}
SEED=${SEED:-1}
SESSIONS=${SESSIONS:-150}
RUNS=${RUNS:-3}
BIG_MB=${BIG_MB:-1000}
KEEP=${KEEP:-0}
WORK=${BENCH_DIR:-${TMPDIR:-/tmp}/ota-doctor-bench}
PCAP=$WORK/big.pcap
LARGE=$WORK/large.pcap
FILTER='udp.port==8266 || udp.port==3232'

if ! command -v tshark >/dev/null 2>&1; then
  echo "install tshark: apt-get install -y tshark" >&2
  exit 1
fi
source "$ROOT/bench/lib.sh"

mkdir -p "$WORK"
HEAD_PCAP=""
cleanup() {
  if [[ $KEEP != 1 ]]; then
    rm -f "$PCAP" "$PCAP.manifest" "$PCAP.gen" "$LARGE" "$LARGE.manifest" "$LARGE.gen" \
      "$HEAD_PCAP" "$WORK/report.json" \
      "$WORK/trace.jsonl" "$WORK/time.out" "$WORK"/pcap-*.err "$WORK"/perf.data*
    rmdir "$WORK" 2>/dev/null || true
  fi
}
trap cleanup EXIT

echo "== building (release)"
(cd "$ROOT" && cargo build --release --quiet --bin ota-doctor --example gen-pcap)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OTA=$TARGET/release/ota-doctor
GEN=$TARGET/release/examples/gen-pcap

# generate FILE SIZE_MB: a capture, reused only if made by this generator with these
# settings.
generate() {
  local want
  want="seed=$SEED size_mb=$2 sessions=$SESSIONS gen=$(source_id "$ROOT/examples/gen-pcap.rs")"
  reuse_or_generate "$1" "$want" "$GEN" --out "$1" --size-mb "$2" --seed "$SEED" --sessions "$SESSIONS"
}
manifest() { sed -n "s/^$1=//p" "$PCAP.manifest"; }
generate "$PCAP" "$SIZE_MB"
BYTES=$(stat -c %s "$PCAP")
# The first 1000 frames: what each tool costs before the size of the file matters.
if command -v editcap >/dev/null 2>&1; then
  HEAD_PCAP=$WORK/head.pcap
  editcap -r "$PCAP" "$HEAD_PCAP" 1-1000
fi

# tshark's text goes nowhere: writing it to a file would only slow the peer down.
OUT=/dev/null
LOAD0=$(load_average)
echo "== timing: $RUNS runs each after a warm-up, median reported"
measure pcap-ota-doctor "$RUNS" "$OTA" analyze --pcap "$PCAP" --format json
OTA_S=$MED_S OTA_RSS=$RSS_MB
measure pcap-tshark-lines "$RUNS" tshark -r "$PCAP" -n
TL_S=$MED_S TL_RSS=$RSS_MB
measure pcap-tshark-Y "$RUNS" tshark -r "$PCAP" -n -Y "$FILTER" -q
TY_S=$MED_S TY_RSS=$RSS_MB
measure pcap-tshark-q "$RUNS" tshark -r "$PCAP" -n -q
TS_S=$MED_S TS_RSS=$RSS_MB
OE_S=- TE_S=-
if [[ -n $HEAD_PCAP ]]; then
  measure pcap-ota-doctor-1000 "$RUNS" "$OTA" analyze --pcap "$HEAD_PCAP" --format json
  OE_S=$MED_S
  measure pcap-tshark-1000 "$RUNS" tshark -r "$HEAD_PCAP" -n -q
  TE_S=$MED_S
fi
LARGE_BYTES=0 LARGE_RSS=-
if [[ $BIG_MB != 0 ]]; then
  generate "$LARGE" "$BIG_MB"
  LARGE_BYTES=$(stat -c %s "$LARGE")
  measure pcap-ota-doctor-large 1 "$OTA" analyze --pcap "$LARGE" --format json
  LARGE_RSS=$RSS_MB
fi

# What ota-doctor found, from its JSON report and its JSON Lines trace (untimed run).
"$OTA" analyze --pcap "$PCAP" --format json --export "$WORK/trace.jsonl" >"$WORK/report.json"
TRACE=$WORK/trace.jsonl
kind() { grep -F "\"kind\":\"$1\"" "$TRACE" || true; }
count() { kind "$1" | { grep -c -- "$2" || true; }; }
found_packets=$(grep -o '"packets": *[0-9]*' "$WORK/report.json" | grep -o '[0-9]*$')
found_sessions=$(kind ota.invite | { grep -o '"device_ip":"[^"]*"\|"host_port":[0-9]*' || true; } |
  paste - - | sort -u | grep -c . || true)
found_ok=$(count ota.result '"verdict":"ok"')
found_reset=$(count ota.result '"text":"device reset')
found_refused=$(count tcp.connect '"outcome":"refused"')
found_timeout=$(count tcp.connect '"outcome":"timeout"')
found_icmp=$(count icmp.unreachable '')

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
mbs() { awk -v b="$BYTES" -v s="$1" 'BEGIN { printf "%.1f", b / 1e6 / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f×", a / b }'; }

echo
echo "== machine"
echo "   cpu:     $(cpu_name), nproc $(nproc)"
echo "   kernel:  $(uname -srm)"
echo "   date:    $(date -u +%Y-%m-%dT%H:%M:%SZ), load average before: $LOAD0, after: $(load_average)"
echo "   tshark:  $(tshark -v 2>/dev/null | head -n1)"
echo "   ota-doctor: $(commit) (release)"
echo
echo "== capture"
echo "   file:    $PCAP, $(mb "$BYTES") MB ($BYTES bytes), seed $SEED"
echo "   frames:  $(manifest frames) ($(manifest ip_frames) IPv4), $(manifest duration_s) s of traffic"
echo
row() { printf '%-56s %-11s %7s %8s %12s %13s\n' "$@"; }
row "decoder (median of $RUNS runs, warm page cache)" "dissects" "time s" "MB/s" "peak RSS MB" "÷ ota-doctor"
row "ota-doctor analyze --pcap F --format json" "OTA only" "$OTA_S" "$(mbs "$OTA_S")" "$OTA_RSS" "1.0×"
row "tshark -r F -n > /dev/null   (the peer)" "every frame" "$TL_S" "$(mbs "$TL_S")" "$TL_RSS" "$(ratio "$TL_S" "$OTA_S")"
row "tshark -r F -n -Y '$FILTER' -q" "every frame" "$TY_S" "$(mbs "$TY_S")" "$TY_RSS" "$(ratio "$TY_S" "$OTA_S")"
row "tshark -r F -n -q            (floor)" "nothing *" "$TS_S" "$(mbs "$TS_S")" "$TS_RSS" "$(ratio "$TS_S" "$OTA_S")"
row "ota-doctor, first 1000 frames only (startup)" "" "$OE_S"
row "tshark -r -n -q, first 1000 frames only (startup)" "" "$TE_S"
echo "   * with -q and no filter, tap or output, tshark reads the records and dissects"
echo "     none of them: that row is its file-reading floor, not a decoder."
if [[ $BIG_MB != 0 ]]; then
  echo
  echo "   memory: ota-doctor peak RSS $OTA_RSS MB on the $(mb "$BYTES") MB capture," \
    "$LARGE_RSS MB on a $(mb "$LARGE_BYTES") MB one (BIG_MB=$BIG_MB): it reads through a fixed buffer."
fi
echo
printf '%-34s %10s %12s\n' "check" "generated" "ota-doctor"
mismatch=0
check() {
  local mark=ok
  if [[ $2 != "$3" ]]; then
    mark="MISMATCH"
    mismatch=1
  fi
  printf '%-34s %10s %12s  %s\n' "$1" "$2" "$3" "$mark"
}
check "OTA sessions (invitations)" "$(manifest sessions)" "$found_sessions"
check "  finished with OK" "$(manifest ota_ok)" "$found_ok"
check "  reset by the device" "$(manifest ota_reset)" "$found_reset"
check "  connect-back refused" "$(manifest ota_refused)" "$found_refused"
check "  connect-back timed out" "$(manifest ota_connect_timeout)" "$found_timeout"
check "ICMP unreachable frames" "$(manifest icmp_frames)" "$found_icmp"
# ota-doctor counts every IPv4 and ARP frame it parsed; the generator writes no others.
check "IPv4 + ARP packets decoded" "$(manifest frames)" "$found_packets"
if [[ $mismatch == 1 ]]; then
  echo
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!!! MISMATCH: ota-doctor did not find what was generated (see rows above)   !!!"
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
fi
if [[ ${PROFILE:-0} == 1 ]]; then
  echo
  if command -v perf >/dev/null 2>&1; then
    echo "== perf: ota-doctor, self time by symbol (kernel time is the [k] rows)"
    perf record -q -F 10000 -g -o "$WORK/perf.data" "$OTA" analyze --pcap "$PCAP" --format json \
      >/dev/null 2>"$WORK/perf.err"
    perf report -i "$WORK/perf.data" --no-children --stdio --sort sym -g none 2>/dev/null |
      grep -E '^ +[0-9]' | head -n 25 || true
    echo "-- including callees, ota-doctor frames:"
    perf report -i "$WORK/perf.data" --children --stdio --sort sym -g none 2>/dev/null |
      grep -E '^ +[0-9].*(ota_doctor|main|std::fs)' | head -n 15 || true
    rm -f "$WORK/perf.data" "$WORK/perf.data.old"
  else
    echo "PROFILE=1: perf is not installed (apt-get install linux-perf)"
  fi
fi
[[ $KEEP == 1 ]] && echo "kept $PCAP (KEEP=1)"

# One line per figure, for bench/run.sh to collect.
echo
echo "RESULT pcap-decode: ota-doctor $OTA_S s vs tshark -r $TL_S s = $(ratio "$TL_S" "$OTA_S" | tr -d '×')x faster (target >= 10x)"
echo "RESULT pcap-decode-filter: ota-doctor $OTA_S s vs tshark -r -Y $TY_S s = $(ratio "$TY_S" "$OTA_S" | tr -d '×')x faster"
echo "RESULT pcap-decode-floor: ota-doctor $OTA_S s vs tshark -r -q (reads, dissects nothing) $TS_S s = $(ratio "$TS_S" "$OTA_S" | tr -d '×')x faster"
echo "RESULT pcap-throughput: ota-doctor $(mbs "$OTA_S") MB/s on a $(mb "$BYTES") MB capture"
if [[ $BIG_MB != 0 ]]; then
  echo "RESULT pcap-rss: $OTA_RSS MB for $(mb "$BYTES") MB capture, $LARGE_RSS MB for $(mb "$LARGE_BYTES") MB capture"
else
  echo "RESULT pcap-rss: $OTA_RSS MB for $(mb "$BYTES") MB capture"
fi
if [[ $mismatch == 1 ]]; then
  echo "RESULT pcap-sessions: MISMATCH, $found_sessions of $(manifest sessions) OTA sessions found (see the check table)"
else
  echo "RESULT pcap-sessions: $found_sessions of $(manifest sessions) OTA sessions found, every outcome as generated"
fi
exit 0
