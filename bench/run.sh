#!/usr/bin/env bash
# Every benchmark in one run: each bench/<name>.sh measures ota-doctor and a peer on the
# same input in the same run and prints `RESULT ` lines; this collects them under the
# machine they ran on. Benchmarks print numbers; they fail only when they cannot measure.
#
#   ./bench/run.sh            all of them (pcap, log, session, tui, live)
#   ./bench/run.sh pcap log   only these
# Settings are passed through (see each script's header), e.g. SIZE_MB, RUNS, KEEP=1.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ALL=(pcap log session tui live)
WANT=("$@")
[[ ${#WANT[@]} -eq 0 ]] && WANT=("${ALL[@]}")

machine() {
  local cpu mem
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
  echo "machine: ${cpu:-unknown cpu}, $(nproc) cores, $mem RAM, Linux $(uname -r)"
  echo "tools:   $(rustc --version 2>/dev/null | cut -d' ' -f1-2)," \
    "$(tshark --version 2>/dev/null | head -1 || echo 'no tshark')," \
    "$(grep --version | head -1)"
  echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
}

# Peers and capture tools (tshark, tcpdump, GNU time, iproute2) come from scripts/setup.
"$ROOT/scripts/setup" || exit 1

OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
failed=()
for name in "${WANT[@]}"; do
  script=$ROOT/bench/$name.sh
  if [[ ! -x $script ]]; then
    echo "no benchmark '$name' (have: ${ALL[*]})" >&2
    failed+=("$name")
    continue
  fi
  echo "######## $name"
  if ! "$script" 2>&1 | tee -a "$OUT"; then
    failed+=("$name")
  fi
done

echo
echo "======== summary"
machine
grep '^RESULT ' "$OUT" | sed 's/^RESULT /  /'
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "could not measure: ${failed[*]} (see the output above)" >&2
  exit 1
fi
