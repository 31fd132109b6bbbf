#!/usr/bin/env bash
# chatvault against restic and BorgBackup on the same generated chat store
# in the same run: initial backup, daily incremental backups (each a
# simulated day of chat use), full restore, and chatvault's restore of the
# message database alone (restore --only-db: the time until messages are
# back); wall time, peak RSS and repository growth, as medians over RUNS
# repetitions of the whole sequence. Also draws the repository growth per
# day as a PNG chart (CHART, default docs/benchmark-growth.png).
# "chatvault-64M" is chatvault with its passphrase's Argon2id at 64 MiB
# (init --kdf-memory 64M, RFC 9106's floor) instead of the 256 MiB default,
# to show the engine's own memory and speed beside the unlock's.
# Prints Markdown for docs/benchmarks.md.
#   bench/compare.sh [DAYS] [RUNS]        (default: 7 days, 3 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-7}
runs=${2:-3}
chart=${CHART:-docs/benchmark-growth.png}
source bench/common.sh

work=$(mktemp -d /tmp/chatvault-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 bench/chatstore.py create "$work/base" --corpus "$corpus" --media "${media[@]}"
store="$work/store"

export CHATVAULT_PASSWORD=bench RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench
export CHATVAULT_HOME="$work/cv-home" CHATVAULT_CACHE_DIR="$work/cv-cache" RESTIC_CACHE_DIR="$work/restic-cache"
export BORG_CACHE_DIR="$work/borg-cache" BORG_CONFIG_DIR="$work/borg-config"
export BORG_BASE_DIR="$work/borg-base" BORG_RELOCATED_REPO_ACCESS_IS_OK=yes

# measure RUN TOOL LABEL CMD...: runs CMD, records "run label tool seconds peak_kib".
measure() {
  local run=$1 tool=$2 label=$3; shift 3
  # Earlier steps' writes are flushed first, so that no tool pays for
  # another's write-back.
  sync
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" ||
    { cat "$work/err" >&2; exit 1; }
  echo "$run $label $tool $(cat "$work/time")" >>"$work/results"
}
size() { du -sb "$1" | cut -f1; }

backup_all() {
  local run=$1 label=$2
  measure "$run" chatvault "$label" "$cv" -q -r "$work/cv" backup "$store"
  echo "$run $label chatvault-size $(size "$work/cv")" >>"$work/results"
  measure "$run" chatvault-64M "$label" "$cv" -q -r "$work/cv64" --cache-dir "$work/cv64-cache" backup "$store"
  echo "$run $label chatvault-64M-size $(size "$work/cv64")" >>"$work/results"
  measure "$run" restic "$label" restic -q -r "$work/restic" backup "$store"
  echo "$run $label restic-size $(size "$work/restic")" >>"$work/results"
  measure "$run" borg "$label" borg create --compression zstd,3 "$work/borg::$label" "$store"
  echo "$run $label borg-size $(size "$work/borg")" >>"$work/results"
}

for ((run = 1; run <= runs; run++)); do
  rm -rf "$store" "$work"/cv* "$work"/restic* "$work"/borg* "$work"/r-*
  cp -a "$work/base" "$store"
  "$cv" -q -r "$work/cv" init --recovery-code-file "$work/cv-code"
  "$cv" -q -r "$work/cv64" init --kdf-memory 64M --recovery-code-file "$work/cv64-code"
  restic -q -r "$work/restic" init
  borg init -e repokey-blake2 "$work/borg"
  backup_all "$run" initial
  for ((d = 1; d <= days; d++)); do
    python3 bench/chatstore.py day "$store" --corpus "$corpus" --media "${media[@]}" --day "$d"
    backup_all "$run" "day$d"
  done
  measure "$run" chatvault db-restore "$cv" -q -r "$work/cv" restore latest --only-db --target "$work/r-cv-db"
  measure "$run" chatvault-64M db-restore "$cv" -q -r "$work/cv64" --cache-dir "$work/cv64-cache" restore latest --only-db --target "$work/r-cv64-db"
  measure "$run" chatvault restore "$cv" -q -r "$work/cv" restore latest --target "$work/r-cv"
  measure "$run" chatvault-64M restore "$cv" -q -r "$work/cv64" --cache-dir "$work/cv64-cache" restore latest --target "$work/r-cv64"
  measure "$run" restic restore restic -q -r "$work/restic" restore latest --target "$work/r-restic"
  (cd "$work" && mkdir -p r-borg && cd r-borg &&
   measure "$run" borg restore borg extract "$work/borg::day$days")
  diff -r "$store" "$work/r-cv$store" >/dev/null || { echo "chatvault restore differs" >&2; exit 1; }
  diff -r "$store" "$work/r-cv64$store" >/dev/null || { echo "chatvault restore differs" >&2; exit 1; }
  cmp "$store/msgstore.db" "$work/r-cv-db$store/msgstore.db" || { echo "chatvault --only-db differs" >&2; exit 1; }
done
# RESULTS=FILE keeps the raw figures.
[[ -z "${RESULTS:-}" ]] || cp "$work/results" "$RESULTS"

python3 - "$work/results" "$days" "$runs" "$(size "$store")" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
days, runs, store = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t, rss, size = {}, {}, {}
for r in rows:
    label, tool = r[1], r[2]
    if tool.endswith("-size"):
        size.setdefault((label, tool[:-5]), []).append(int(r[3]))
    else:
        t.setdefault((label, tool), []).append(float(r[3]))
        rss.setdefault((label, tool), []).append(int(r[4]))
med = statistics.median
tools = ["chatvault", "chatvault-64M", "restic", "borg"]
labels = ["initial"] + [f"day{d}" for d in range(1, days + 1)]
mb = lambda b: b / 1e6
print(f"Chat store: {mb(store):.0f} MB. Days simulated: {days}. Medians of {runs} runs.\n")
print("| step | " + " | ".join(f"{x} s" for x in tools) + " | " +
      " | ".join(f"{x} peak RSS MiB" for x in tools) + " |")
print("|---|" + "---|" * (2 * len(tools)))
cell = lambda d, label, x, f: f(med(d[(label, x)])) if (label, x) in d else "–"
for label in labels + ["restore", "db-restore"]:
    print(f"| {label} | " + " | ".join(cell(t, label, x, lambda v: f"{v:.2f}") for x in tools) + " | " +
          " | ".join(cell(rss, label, x, lambda v: f"{v / 1024:.0f}") for x in tools) + " |")
print("\n| step | " + " | ".join(f"{x} repo MB" for x in tools) + " | " +
      " | ".join(f"{x} growth MB" for x in tools) + " |")
print("|---|" + "---|" * (2 * len(tools)))
prev = None
for label in labels:
    cur = [med(size[(label, x)]) for x in tools]
    growth = [c - p for c, p in zip(cur, prev)] if prev else cur
    print(f"| {label} | " + " | ".join(f"{mb(c):.1f}" for c in cur) + " | " +
          " | ".join(f"{mb(g):.2f}" for g in growth) + " |")
    prev = cur
print("\nEvery run (seconds), in run order:\n")
print("| step | " + " | ".join(tools) + " |")
print("|---|" + "---|" * len(tools))
for label in labels + ["restore", "db-restore"]:
    print(f"| {label} | " + " | ".join(" ".join(f"{v:.2f}" for v in t.get((label, x), [])) or "–"
                                       for x in tools) + " |")
PY
# The chart needs Debian's matplotlib, which a virtualenv's python3 may lack.
/usr/bin/python3 bench/chart.py "$work/results" "$days" "$chart" >&2
