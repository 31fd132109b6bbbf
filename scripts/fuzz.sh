#!/usr/bin/env bash
# Builds the libFuzzer targets (scripts/build.sh --fuzz, into build-fuzz/)
# and fuzzes each for a bounded time, starting from its seed corpus in
# tests/fuzz_corpus/<target>/ (copied first: the repository's corpus is
# not modified).
#   scripts/fuzz.sh [SECONDS_PER_TARGET]    default 20
# Stops at the first crash with exit status 1, naming the input that
# crashed (kept in build-fuzz/fuzz-artifacts/). Replaying the seeds only:
# `ctest` in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-20}
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: SECONDS_PER_TARGET must be a positive whole number" >&2
  exit 2
fi

scripts/build.sh --fuzz

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts=build-fuzz/fuzz-artifacts
mkdir -p "$artifacts"

targets=0
executions=0
for source in fuzz/*_fuzzer.cc; do
  name=$(basename "$source" _fuzzer.cc)
  corpus="$work/$name"
  mkdir -p "$corpus"
  if [[ -d "tests/fuzz_corpus/$name" ]]; then
    cp -R "tests/fuzz_corpus/$name/." "$corpus/"
  fi
  log="$work/$name.log"
  # -timeout: an input running longer than this is reported as a hang.
  if ! "build-fuzz/fuzz/${name}_fuzzer" -max_total_time="$seconds" \
      -print_final_stats=1 -timeout=60 -rss_limit_mb=2048 \
      -artifact_prefix="$artifacts/$name-" "$corpus" >"$log" 2>&1; then
    tail -n 80 "$log" >&2
    crash=$(grep -o "Test unit written to [^ ]*" "$log" | tail -n 1 |
      sed 's/Test unit written to //' || true)
    echo "fuzz: target $name CRASHED after $targets clean targets;" \
      "input: ${crash:-see the log above}" >&2
    echo "fuzz: replay it with build-fuzz/fuzz/${name}_fuzzer ${crash:-INPUT}" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  runs=${runs:-0}
  printf 'fuzz: %-16s %10d executions\n' "$name" "$runs"
  targets=$((targets + 1))
  executions=$((executions + runs))
done
echo "fuzz: $targets targets, $executions executions, 0 crashes"
