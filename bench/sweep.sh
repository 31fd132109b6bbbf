#!/usr/bin/env bash
# Sweeps one `chatvault init` option to choose its default: for each value,
# on the same generated chat store, a fresh repository gets an initial
# backup, then one simulated day of chat use (bench/chatstore.py day,
# deterministic) and a second backup. Reports medians over RUNS of the wall
# times, the stored size after each backup and the number of blobs.
# Prints Markdown.
#   bench/sweep.sh --chunk-size RUNS 64K 128K 256K 512K 1M 2M 4M
#   bench/sweep.sh --sqlite-pages RUNS 1 2 4 8
#   bench/sweep.sh --day-host RUNS bench other
# --day-host is not an init option: the initial backup is made as host
# "bench" and the day's backup as the host given, so "bench" finds its
# parent snapshot (and stores changed pages as deltas) and "other" does not.
set -euo pipefail
cd "$(dirname "$0")/.."
option=$1
runs=$2
shift 2
sizes=("$@")
source bench/common.sh

work=$(mktemp -d /tmp/chatvault-sweep.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 bench/chatstore.py create "$work/base" --corpus "$corpus" --media "${media[@]}"
export CHATVAULT_PASSWORD=bench CHATVAULT_CACHE_DIR="$work/cache" CHATVAULT_HOME="$work/home"

seconds() { sync; /usr/bin/time -f "%e" -o "$work/time" "$@" >/dev/null && cat "$work/time"; }
for size in "${sizes[@]}"; do
  for ((r = 1; r <= runs; r++)); do
    rm -rf "$work/store" "$work/repo" "$work/cache" "$work/code"
    cp -a "$work/base" "$work/store"
    init=("$option" "$size") first=() day=()
    if [[ "$option" == --day-host ]]; then
      init=() first=(--host bench) day=(--host "$size")
    fi
    "$cv" -q -r "$work/repo" init "${init[@]}" --recovery-code-file "$work/code"
    t0=$(seconds "$cv" -q -r "$work/repo" backup "${first[@]}" "$work/store")
    s0=$(du -sb "$work/repo" | cut -f1)
    python3 bench/chatstore.py day "$work/store" --corpus "$corpus" --media "${media[@]}" --day 1
    t1=$(seconds "$cv" -q -r "$work/repo" backup "${day[@]}" "$work/store")
    s1=$(du -sb "$work/repo" | cut -f1)
    blobs=$("$cv" -q -r "$work/repo" --json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["blobs"])')
    echo "$size $t0 $t1 $s0 $s1 $blobs" >>"$work/results"
  done
done

python3 - "$work/results" "$(du -sb "$work/base" | cut -f1)" "$option" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    size, *vals = line.split()
    rows.setdefault(size, []).append([float(v) for v in vals])
print(f"Chat store: {int(sys.argv[2]) / 1e6:.0f} MB; medians of {len(next(iter(rows.values())))} runs.\n")
print(f"| {sys.argv[3]} | initial backup s | day backup s | repo after initial MB | growth for the day MB | blobs | runs: initial s / day s |")
print("|---|---|---|---|---|---|---|")
for size, runs in rows.items():
    med = [statistics.median(r[i] for r in runs) for i in range(5)]
    detail = " ".join(f"{r[0]:.2f}/{r[1]:.2f}" for r in runs)
    print(f"| {size} | {med[0]:.2f} | {med[1]:.2f} | {med[2] / 1e6:.1f} | "
          f"{(med[3] - med[2]) / 1e6:.2f} | {med[4]:.0f} | {detail} |")
PY
