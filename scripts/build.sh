#!/usr/bin/env bash
# Installs dependencies, configures and builds chatvault into build/.
#   scripts/build.sh              release build with debug info, tests included
#   scripts/build.sh --sanitize   ASan+UBSan build into build-asan/
#   scripts/build.sh --fuzz       clang ASan+UBSan build with the libFuzzer
#                                 targets (fuzz/) into build-fuzz/
# Extra arguments after -- go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sanitize) build_dir=build-asan; cmake_args=(-DCMAKE_BUILD_TYPE=Debug -DCHATVAULT_SANITIZE=ON) ;;
    # -O1: fuzzing wants speed, and still gets usable stack traces.
    --fuzz) build_dir=build-fuzz; export CC=clang CXX=clang++
            cmake_args=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" -DCHATVAULT_FUZZ=ON) ;;
    --) shift; cmake_args+=("$@"); break ;;
    *) echo "build.sh: unknown option '$1' (known: --sanitize, --fuzz)" >&2; exit 2 ;;
  esac
  shift
done

scripts/deps.sh
cmake -S . -B "$build_dir" -G Ninja "${cmake_args[@]}" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
