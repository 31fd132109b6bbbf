#!/usr/bin/env bash
# The reliability harness at full strength (docs/reliability.md). CI
# (scripts/test.sh) runs a bounded part of each; this runs all of it, in
# about two and a half hours on two cores:
#   1. kill -9 at every storage point of backup, prune and restore, on a
#      local directory and on S3 (tests/crash_test.cc, every point);
#   2. backup and restore through the fault-injecting proxy, ROUNDS rounds
#      of each kind of fault (tests/network_fault_test.cc);
#   3. the real binary killed with SIGKILL at random moments of backup and
#      prune, KILLS times: after each kill, check --read-data passes, the
#      next backup succeeds and its restore is byte-identical to the source;
#   4. every fuzz target for FUZZ_SECONDS (scripts/fuzz.sh).
#
#   scripts/stress.sh [--rounds N] [--kills N] [--fuzz-seconds N] [--only PART]
# PART is crash, network, kill or fuzz. Each part prints its summary lines
# (crash-summary, network-summary, kill-summary, fuzz:), which
# docs/reliability.md reports.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

rounds=10 kills=60 fuzz_seconds=300 only=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    --kills) kills=$2; shift ;;
    --fuzz-seconds) fuzz_seconds=$2; shift ;;
    --only) only=$2; shift ;;
    *) echo "stress.sh: unknown option '$1' (known: --rounds, --kills, --fuzz-seconds, --only)" >&2
       exit 2 ;;
  esac
  shift
done
want() { [[ -z "$only" || "$only" == "$1" ]]; }

scripts/build.sh >/dev/null
scripts/deps.sh s3

rgw_dir=$(mktemp -d /tmp/chatvault-rgw.XXXXXX)
rmdir "$rgw_dir"
work=$(mktemp -d /tmp/chatvault-stress.XXXXXX)
cleanup() {
  "$root/scripts/radosgw.sh" stop "$rgw_dir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
if want crash || want network; then
  scripts/radosgw.sh start "$rgw_dir" || { echo "stress.sh: radosgw did not start" >&2; exit 1; }
  # shellcheck disable=SC1091
  source "$rgw_dir/env"
fi

failed=0
if want crash; then
  echo "== 1. kill -9 at every storage point"
  CHATVAULT_CRASH_EVERY_POINT=1 build/tests/crash_test 2>&1 |
    tee "$work/crash.log" | grep -E "crash-summary|FAILED|Failure" || true
  grep -q "FAILED" "$work/crash.log" && failed=1
fi

if want network; then
  echo "== 2. network faults, $rounds rounds each"
  CHATVAULT_STRESS_ROUNDS=$rounds build/tests/network_fault_test 2>&1 |
    tee "$work/network.log" | grep -E "network-summary|FAILED|Failure" || true
  grep -q "FAILED" "$work/network.log" && failed=1
fi

if want kill; then
  echo "== 3. the binary killed at random moments, $kills times"
  cv="$root/build/chatvault"
  export CHATVAULT_PASSWORD="stress" CHATVAULT_HOME="$work/home"
  export CHATVAULT_CACHE_DIR="$work/cache"
  repo="$work/repo" src="$work/src"
  "$cv" -r "$repo" init --kdf-memory 64M >/dev/null
  mkdir -p "$src"
  killed=0 completed=0 checks=0
  last_ms=1000  # how long the last full backup took, unlocking included
  for i in $(seq 1 "$kills"); do
    # The store changes: a new photo, a grown log, a removed file.
    head -c $((200000 + RANDOM * 20)) /dev/urandom >"$src/photo-$i.jpg"
    head -c $((RANDOM * 4)) /dev/urandom >>"$src/log.bin"
    [[ $((i % 4)) == 0 ]] && rm -f "$src/photo-$((i - 3)).jpg"
    if [[ $((i % 5)) == 0 ]]; then
      cmd=(forget --keep-last 3 --prune --grace 0)
    else
      cmd=(backup "$src")
    fi
    "$cv" -r "$repo" -q "${cmd[@]}" >/dev/null 2>"$work/err" &
    pid=$!
    # Somewhere in the second half of a run: past the key derivation.
    delay=$((last_ms / 2 + RANDOM % (last_ms / 2 + 1)))
    sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
    if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
    wait "$pid" 2>/dev/null || true
    # A new backup completes, and the repository is sound.
    start=$(date +%s%N)
    if ! "$cv" -r "$repo" -q backup "$src" >/dev/null 2>"$work/err"; then
      echo "kill $i: the backup after the kill failed:"; cat "$work/err"; failed=1; break
    fi
    completed=$((completed + 1))
    last_ms=$((($(date +%s%N) - start) / 1000000))
    if ! "$cv" -r "$repo" check --read-data >"$work/check" 2>&1; then
      echo "kill $i: check failed after killing '${cmd[0]}':"; cat "$work/check"; failed=1; break
    fi
    checks=$((checks + 1))
    rm -rf "$work/out"
    "$cv" -r "$repo" -q restore latest --target "$work/out" >/dev/null
    if ! diff -r "$src" "$work/out$src" >/dev/null; then
      echo "kill $i: the restore differs from the source"; failed=1; break
    fi
  done
  echo "kill-summary kills=$killed backups_after=$completed checks_passed=$checks"
fi

if want fuzz; then
  echo "== 4. fuzzing, $fuzz_seconds s a target"
  scripts/fuzz.sh "$fuzz_seconds" || failed=1
fi

if [[ $failed != 0 ]]; then
  echo "stress.sh: FAILED (see above)"
  exit 1
fi
echo "stress.sh: all parts passed"
