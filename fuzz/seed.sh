#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with starting inputs taken from the test fixtures, so the
# fuzzers begin from real logs, captures, rules and traces instead of empty input.
# Corpora are not committed (they grow large); run this before fuzzing a fresh checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
fx=tests/fixtures

seed() { # target, files...
  local dir="fuzz/corpus/$1"
  shift
  mkdir -p "$dir"
  for f in "$@"; do
    [[ -f $f ]] || continue
    # Long fixtures are trimmed: the fuzzer's -max_len would cut them anyway.
    head -c 65536 "$f" >"$dir/$(echo "$f" | tr / _)"
  done
}

shopt -s nullglob globstar
serial=("$fx"/**/*serial*.log "$fx"/real/*/serial.log "$fx"/seeds/*/*serial*)
host=("$fx"/**/*host*.log "$fx"/real/*/host.log "$fx"/seeds/*/*host*)
seed serial_lines "${serial[@]}"
seed serial_classify "${serial[@]}"
seed host_log "${host[@]}"
seed capture "$fx"/net/*.pcap "$fx"/**/*.pcapng
seed packet_ota "$fx"/fuzz/packet_ota/*
seed trace "$fx"/**/*.jsonl
seed rule_load rules/*.toml
# Saved crashes and hand-made hostile inputs are good seeds for their own target.
for d in "$fx"/fuzz/*/; do
  t=$(basename "$d")
  seed "$t" "$d"*
done
for d in fuzz/corpus/*/; do
  echo "$(basename "$d"): $(ls "$d" | wc -l) seed(s)"
done
