#!/usr/bin/env bash
# Builds chatvault and runs the whole test suite with ctest. Every server the
# tests need is started here and stopped on exit, pass or fail.
#   scripts/test.sh              the suite on the regular build
#   scripts/test.sh --sanitize   the suite on an ASan+UBSan build
# Further arguments go to ctest (e.g. -R Recovery).
set -euo pipefail
cd "$(dirname "$0")/.."

build_args=()
build_dir=build
if [[ "${1:-}" == "--sanitize" ]]; then
  build_args=(--sanitize); build_dir=build-asan; shift
fi

scripts/build.sh "${build_args[@]}"

cd "$build_dir"
exec ctest --output-on-failure --timeout 900 -j "$(nproc)" "$@"
