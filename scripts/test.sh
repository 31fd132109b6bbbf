#!/usr/bin/env bash
# Builds chatvault and runs the whole test suite with ctest. Every server the
# tests need is started here and stopped on exit, pass or fail:
#   - Ceph radosgw on 127.0.0.1 for the S3 tests (scripts/radosgw.sh).
# If a server cannot start, the run fails and says why; nothing is skipped.
#   scripts/test.sh              the suite on the regular build
#   scripts/test.sh --sanitize   the suite on an ASan+UBSan build
# Further arguments go to ctest (e.g. -R Recovery).
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

cd "$build_dir"
status=0
ctest --output-on-failure --timeout 900 -j "$(nproc)" "$@" || status=$?
exit "$status"
