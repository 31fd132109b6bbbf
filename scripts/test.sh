#!/usr/bin/env bash
# Builds chatvault and runs the whole test suite with ctest. Every server the
# tests need is started here and stopped on exit, pass or fail:
#   - Ceph radosgw on 127.0.0.1 for the S3 tests (scripts/radosgw.sh).
# If a server cannot start, the run fails and says why; nothing is skipped.
#   scripts/test.sh              the whole run, as CI does it:
#     1. the suite on the regular build (build/), crash and network-fault
#        harnesses included (docs/reliability.md);
#     2. the suite again on the clang ASan+UBSan build (build-fuzz/), with
#        every fuzz target replaying its seeds (the two harnesses, which
#        fork and wait on the network, run only in step 1);
#     3. every fuzz target for FUZZ_SECONDS (default 10) from its seeds.
#   scripts/test.sh --sanitize   the suite on the gcc ASan+UBSan build only
# Further arguments go to ctest (e.g. -R Recovery), and then only step 1
# (or the --sanitize suite) runs. The last line sums every ctest run:
# "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

build_args=()
build_dir=build
if [[ "${1:-}" == "--sanitize" ]]; then
  build_args=(--sanitize); build_dir=build-asan; shift
fi

scripts/build.sh "${build_args[@]}"

rgw_dir=$(mktemp -d /tmp/chatvault-rgw.XXXXXX)
rmdir "$rgw_dir"  # radosgw.sh creates it
cleanup() { "$root/scripts/radosgw.sh" stop "$rgw_dir" || true; }
trap cleanup EXIT
if ! scripts/radosgw.sh start "$rgw_dir"; then
  echo "test.sh: the S3 test server (radosgw) did not start; see above" >&2
  exit 1
fi
# shellcheck disable=SC1091
source "$rgw_dir/env"

passed=0 failed=0 status=0
# Runs ctest in build directory $1 with the other arguments; adds its
# counts to the totals.
run_ctest() {
  local dir=$1 log rc=0
  shift
  log=$(mktemp)
  (cd "$dir" && ctest --output-on-failure --timeout 900 -j "$(nproc)" "$@") 2>&1 |
    tee "$log" || rc=$?
  local line
  line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$log" | tail -n 1 || true)
  rm -f "$log"
  if [[ -z "$line" ]]; then
    echo "test.sh: ctest in $dir printed no summary" >&2
    failed=$((failed + 1)); status=1; return
  fi
  local nfail total
  nfail=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  passed=$((passed + total - nfail)); failed=$((failed + nfail))
  [[ $rc == 0 && $nfail == 0 ]] || status=1
}

if [[ $# -gt 0 || "$build_dir" != build ]]; then
  run_ctest "$build_dir" "$@"
else
  echo "== 1. the suite (build/)"
  run_ctest build
  echo "== 2. the suite under clang ASan+UBSan, and the fuzz seeds (build-fuzz/)"
  scripts/build.sh --fuzz
  run_ctest build-fuzz -E "CrashTest|NetworkFaultTest"
  echo "== 3. fuzzing every target for ${FUZZ_SECONDS:-10} s"
  if scripts/fuzz.sh "${FUZZ_SECONDS:-10}"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); status=1
  fi
fi
echo "$passed passed, $failed failed"
exit "$status"
