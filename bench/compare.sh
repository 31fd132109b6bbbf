#!/usr/bin/env bash
# chatvault against restic and BorgBackup on the same generated chat store
# in the same run: initial backup, daily incremental backups (each a
# simulated day of chat use), full restore; wall time, peak RSS and
# repository growth. Prints Markdown for docs/benchmarks.md.
#   bench/compare.sh [DAYS]
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-3}
source bench/common.sh

work=$(mktemp -d /tmp/chatvault-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
store="$work/store"
python3 bench/chatstore.py create "$store" --corpus "$corpus" --media "${media[@]}"

export CHATVAULT_PASSWORD=bench RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench
export CHATVAULT_CACHE_DIR="$work/cv-cache" RESTIC_CACHE_DIR="$work/restic-cache"
export BORG_CACHE_DIR="$work/borg-cache" BORG_CONFIG_DIR="$work/borg-config"
export BORG_BASE_DIR="$work/borg-base" BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
"$cv" -q -r "$work/cv" init --recovery-code-file "$work/cv-code"
restic -q -r "$work/restic" init
borg init -e repokey-blake2 "$work/borg"

# measure TOOL LABEL CMD...: runs CMD, records "label tool seconds peak_kib".
measure() {
  local tool=$1 label=$2; shift 2
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" ||
    { cat "$work/err" >&2; exit 1; }
  echo "$label $tool $(cat "$work/time")" >>"$work/results"
}
size() { du -sb "$1" | cut -f1; }

backup_all() {
  local label=$1
  measure chatvault "$label" "$cv" -q -r "$work/cv" backup "$store"
  echo "$label chatvault-size $(size "$work/cv")" >>"$work/results"
  measure restic "$label" restic -q -r "$work/restic" backup "$store"
  echo "$label restic-size $(size "$work/restic")" >>"$work/results"
  measure borg "$label" borg create --compression zstd,3 "$work/borg::$label" "$store"
  echo "$label borg-size $(size "$work/borg")" >>"$work/results"
}

backup_all initial
for ((d = 1; d <= days; d++)); do
  python3 bench/chatstore.py day "$store" --corpus "$corpus" --media "${media[@]}" --day "$d"
  backup_all "day$d"
done
measure chatvault restore "$cv" -q -r "$work/cv" restore latest --target "$work/r-cv"
measure restic restore restic -q -r "$work/restic" restore latest --target "$work/r-restic"
(cd "$work" && mkdir -p r-borg && cd r-borg &&
 measure borg restore borg extract "$work/borg::day$days")
diff -r "$store" "$work/r-cv$store" >/dev/null || { echo "chatvault restore differs" >&2; exit 1; }

python3 - "$work/results" "$days" "$(size "$store")" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
days, store = int(sys.argv[2]), int(sys.argv[3])
t, rss, size = {}, {}, {}
for r in rows:
    label, tool = r[0], r[1]
    if tool.endswith("-size"):
        size[(label, tool[:-5])] = int(r[2])
    else:
        t[(label, tool)] = float(r[2]); rss[(label, tool)] = int(r[3])
tools = ["chatvault", "restic", "borg"]
mb = lambda b: b / 1e6
print(f"Chat store: {mb(store):.0f} MB. Days simulated: {days}.\n")
print("| step | " + " | ".join(f"{x} s" for x in tools) + " | " +
      " | ".join(f"{x} peak RSS MiB" for x in tools) + " |")
print("|---|" + "---|" * 6)
for label in ["initial"] + [f"day{d}" for d in range(1, days + 1)] + ["restore"]:
    key = lambda x: (label, x if label != "restore" else x)
    print(f"| {label} | " + " | ".join(f"{t[(label, x)]:.2f}" for x in tools) + " | " +
          " | ".join(f"{rss[(label, x)] / 1024:.0f}" for x in tools) + " |")
print("\n| step | " + " | ".join(f"{x} repo MB" for x in tools) + " | " +
      " | ".join(f"{x} growth MB" for x in tools) + " |")
print("|---|" + "---|" * 6)
prev = None
for label in ["initial"] + [f"day{d}" for d in range(1, days + 1)]:
    cur = [size[(label, x)] for x in tools]
    growth = [c - p for c, p in zip(cur, prev)] if prev else cur
    print(f"| {label} | " + " | ".join(f"{mb(c):.1f}" for c in cur) + " | " +
          " | ".join(f"{mb(g):.2f}" for g in growth) + " |")
    prev = cur
PY
