#!/usr/bin/env bash
# Live monitor under load, each figure next to a peer measured in this same run:
#   serial: a checkable 2 Mbaud stream through a pseudo-terminal for SERIAL_SECS,
#           read by ota-doctor (exported trace) and by `cat` (raw file);
#   flood:  an OTA upload to the simulated device in a network namespace while unrelated
#           UDP floods the capture interface (bounded: FLOOD_COUNT packets, <= 10 s);
#           tcpdump captures the device's packets on the same interface meanwhile;
#   idle:   CPU time from /proc/PID/stat over IDLE_SECS with a serial pty and --ip but
#           no traffic, for ota-doctor, tcpdump and cat.
# A benchmark, not a test: it prints numbers, ending with `RESULT ` lines, and fails only
# if it cannot measure. Needs root (network namespaces, packet capture).
#
# Settings (environment): SERIAL_SECS=60 RATE=200000 FLOOD_COUNT=5000000 FLOOD_SIZE=200
#   IMAGE_KB=400 IDLE_SECS=10
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SERIAL_SECS=${SERIAL_SECS:-60}
RATE=${RATE:-200000}
FLOOD_COUNT=${FLOOD_COUNT:-5000000}
FLOOD_SIZE=${FLOOD_SIZE:-200}
IMAGE_KB=${IMAGE_KB:-400}
IDLE_SECS=${IDLE_SECS:-10}

if [[ $(id -u) != 0 ]]; then
  echo "bench/live.sh needs root: network namespaces and packet capture (run it with sudo)" >&2
  exit 1
fi
for tool in ip tcpdump stty; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install iproute2 tcpdump coreutils)" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ota-doctor-live.XXXXXX")
TAG=$$
HNS=otad-bh-$TAG DNS=otad-bd-$TAG VH=bh$TAG VD=bd$TAG
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del "$HNS" 2>/dev/null || true
  ip netns del "$DNS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== building (release)"
(cd "$ROOT" && cargo build --release --quiet --bin ota-doctor --example live-load)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OTA=$TARGET/release/ota-doctor
LOAD=$TARGET/release/examples/live-load
kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# ---------------------------------------------------------------- serial
echo "== serial: ${SERIAL_SECS} s at $RATE bytes/s (2 Mbaud 8N1) through a pty"
mkdir -p "$WORK/s-cat" "$WORK/s-ota"
CAT_LINE=$("$LOAD" serial --secs "$SERIAL_SECS" --rate "$RATE" --out "$WORK/s-cat" -- \
  sh -c "stty -F TTY raw -echo && exec cat TTY > '$WORK/s-cat/raw'")
echo "   cat:        $CAT_LINE"
# Its timeline lines (every serial line) go to a file: printing them is part of the load.
OTA_LINE=$("$LOAD" serial --secs "$SERIAL_SECS" --rate "$RATE" --out "$WORK/s-ota" -- \
  sh -c "exec '$OTA' --serial TTY --no-tui --duration $((SERIAL_SECS + 30))s --export '$WORK/s-ota/t.jsonl' >'$WORK/s-ota/out' 2>'$WORK/s-ota/err'")
echo "   ota-doctor: $OTA_LINE"
lost_of() { echo $(($(kv overrun "$1") + $(kv lost "$1") + $(kv repeated "$1") + $(kv corrupt "$1"))); }

# ---------------------------------------------------------------- namespaces
ip netns add "$HNS"
ip netns add "$DNS"
ip -n "$HNS" link add "$VH" type veth peer name "$VD" netns "$DNS"
ip -n "$HNS" addr add 10.214.1.1/24 dev "$VH"
ip -n "$DNS" addr add 10.214.1.2/24 dev "$VD"
ip -n "$DNS" addr add 10.214.1.3/24 dev "$VD"
for ns in "$HNS" "$DNS"; do ip -n "$ns" link set lo up; done
ip -n "$HNS" link set "$VH" up
ip -n "$DNS" link set "$VD" up
DEV=10.214.1.2

# ---------------------------------------------------------------- flood
echo "== flood: upload ${IMAGE_KB} kB to the simulated device while UDP floods $VH"
head -c $((IMAGE_KB * 1000)) /dev/urandom >"$WORK/fw.bin"
printf '\xe9' | dd of="$WORK/fw.bin" conv=notrunc status=none
ip netns exec "$DNS" "$OTA" sim --bind "$DEV" --duration 60 --serial-link "$WORK/tty" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [[ -e $WORK/tty ]] && break; sleep 0.05; done
ip netns exec "$HNS" tcpdump -i "$VH" -n -U -w "$WORK/peer.pcap" host "$DEV" or arp 2>"$WORK/tcpdump.err" &
TCPDUMP=$!
PIDS+=($TCPDUMP)
sleep 1
tx0=$(ip -n "$HNS" -s -j link show "$VH" | grep -o '"tx":{[^}]*' | grep -o '"packets":[0-9]*' | cut -d: -f2)
"$LOAD" flood --netns "$HNS" --to 10.214.1.3:9 --secs 10 --count "$FLOOD_COUNT" --size "$FLOOD_SIZE" >"$WORK/flood.out" &
FLOODER=$!
sleep 0.5
ip netns exec "$HNS" "$OTA" upload -i "$DEV" -f "$WORK/fw.bin" --serial "$WORK/tty" --format json \
  --export "$WORK/up.jsonl" >"$WORK/up.json" 2>"$WORK/up.err" || true
wait "$FLOODER"
tx1=$(ip -n "$HNS" -s -j link show "$VH" | grep -o '"tx":{[^}]*' | grep -o '"packets":[0-9]*' | cut -d: -f2)
sleep 0.5
kill -INT "$TCPDUMP"
wait "$TCPDUMP" 2>/dev/null || true
FLOOD_LINE=$(cat "$WORK/flood.out")
echo "   flood:      $FLOOD_LINE (veth tx counter: $((tx1 - tx0)) packets)"
transfer=$(grep '"kind":"ota.transfer"' "$WORK/up.jsonl" | tail -n1 || true)
acked=$(grep -o '"bytes_acked":[0-9]*' <<<"$transfer" | cut -d: -f2)
size=$(grep -o '"image_size":[0-9]*' <<<"$transfer" | cut -d: -f2)
# The OTA session's own packets (invitation, connect-back, data, acks) in each capture.
OTA_FILTER="udp port 8266 or tcp"
ours=$(tcpdump -n -r "$WORK/up.pcapng" "$OTA_FILTER" 2>/dev/null | wc -l)
peer=$(tcpdump -n -r "$WORK/peer.pcap" "$OTA_FILTER" 2>/dev/null | wc -l)
peer_drop=$(sed -n 's/^\([0-9]*\) packets dropped by kernel/\1/p' "$WORK/tcpdump.err")
cause=$(grep -o '"cause": *"[^"]*"' "$WORK/up.json" | head -n1 | cut -d'"' -f4)
echo "   ota-doctor: ${acked:-?} of ${size:-?} image bytes acknowledged on the wire, $ours OTA packets, top cause ${cause:-none}"
echo "   tcpdump:    $peer OTA packets, ${peer_drop:-?} dropped by kernel"
missed=$((peer > ours ? peer - ours : 0))
[[ ${acked:-0} == "${size:-x}" ]] || missed="$missed (and $((${size:-0} - ${acked:-0})) OTA bytes unseen)"

# ---------------------------------------------------------------- idle CPU
echo "== idle: ${IDLE_SECS} s with a serial pty and --ip $DEV, no traffic"
TCK=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
idle_pct() { # idle_pct PID: CPU % of one core over IDLE_SECS, after a 1 s settle
  local pid=$1 a b
  sleep 1
  a=$(ticks "$pid")
  sleep "$IDLE_SECS"
  b=$(ticks "$pid")
  awk -v d=$((b - a)) -v t="$TCK" -v s="$IDLE_SECS" 'BEGIN { printf "%.2f", d / t / s * 100 }'
}
start_pty() { # start_pty FILE: a held-open pty; its path in FILE
  "$LOAD" pty --secs $((IDLE_SECS + 10)) >"$1" &
  PIDS+=($!)
  for _ in $(seq 100); do [[ -s $1 ]] && break; sleep 0.05; done
}
start_pty "$WORK/pty1"
ip netns exec "$HNS" "$OTA" --serial "$(cat "$WORK/pty1")" --ip "$DEV" --no-tui \
  --duration "$((IDLE_SECS + 5))s" >/dev/null 2>&1 &
OIDLE=$!
PIDS+=($OIDLE)
start_pty "$WORK/pty2"
sh -c "stty -F '$(cat "$WORK/pty2")' raw -echo && exec cat '$(cat "$WORK/pty2")' >/dev/null" &
CIDLE=$!
PIDS+=($CIDLE)
ip netns exec "$HNS" tcpdump -i "$VH" -n -w /dev/null host "$DEV" 2>/dev/null &
TIDLE=$!
PIDS+=($TIDLE)
# The three are measured over the same seconds.
idle_pct "$OIDLE" >"$WORK/idle.ota" &
M1=$!
idle_pct "$TIDLE" >"$WORK/idle.tcpdump" &
M2=$!
idle_pct "$CIDLE" >"$WORK/idle.cat" &
M3=$!
wait "$M1" "$M2" "$M3"
IO=$(cat "$WORK/idle.ota") IT=$(cat "$WORK/idle.tcpdump") IC=$(cat "$WORK/idle.cat")
echo "   ota-doctor: $IO %, tcpdump: $IT %, cat: $IC % of one core"

echo
echo "== machine: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1), nproc $(nproc), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== ota-doctor $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?') (release), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
echo "RESULT serial-2mbaud: $(mb "$(kv sent_bytes "$OTA_LINE")") in $(kv secs "$OTA_LINE") s, $(lost_of "$OTA_LINE") lines lost ($(kv overrun "$OTA_LINE") overrun, $(kv lost "$OTA_LINE") missing, $(kv repeated "$OTA_LINE") repeated, $(kv out_of_order "$OTA_LINE") out of order) (cat: $(mb "$(kv sent_bytes "$CAT_LINE")"), $(lost_of "$CAT_LINE") lost)"
echo "RESULT flood: $missed OTA packets missed under $(kv pps "$FLOOD_LINE") pkt/s UDP flood ($(kv packets "$FLOOD_LINE") packets of $FLOOD_SIZE bytes); ota-doctor saw $ours OTA packets, tcpdump $peer"
echo "RESULT idle-cpu: $IO% of one core (tcpdump: $IT%, cat: $IC%)"
