#!/usr/bin/env bash
# Prune: chatvault against restic and BorgBackup on repositories holding the
# same DAYS+1 snapshots (an initial backup and DAYS simulated days of chat
# use) of the generated chat store. Each tool forgets all but the newest
# KEEP snapshots and reclaims the space:
#   chatvault forget --keep-last KEEP --prune --grace 0   (mark and delete in one run)
#   chatvault forget --keep-last KEEP --prune             (default grace: mark only)
#   chatvault prune                                       (a later run: delete what was marked)
#   restic forget --keep-last KEEP --prune
#   borg prune --keep-last KEEP, then borg compact
# The repositories are built once and copied back before each of RUNS
# repetitions; wall time and peak RSS are medians. After each chatvault
# prune, the newest snapshot is restored and compared with the store, and
# check runs. Prints Markdown for docs/benchmarks.md.
#   bench/prune.sh [DAYS] [KEEP] [RUNS]        (default: 30 7 3)
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-30}
keep=${2:-7}
runs=${3:-3}
source bench/common.sh

work=$(mktemp -d /tmp/chatvault-prune.XXXXXX)
trap 'rm -rf "$work"' EXIT
store="$work/store"
python3 bench/chatstore.py create "$store" --corpus "$corpus" --media "${media[@]}"

export CHATVAULT_PASSWORD=bench RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench
export CHATVAULT_HOME="$work/state/cv-home" CHATVAULT_CACHE_DIR="$work/state/cv-cache" RESTIC_CACHE_DIR="$work/state/restic-cache"
export BORG_CACHE_DIR="$work/state/borg-cache" BORG_CONFIG_DIR="$work/state/borg-config"
export BORG_BASE_DIR="$work/state/borg-base" BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
mkdir -p "$work/state"
cv_repo="$work/state/cv" restic_repo="$work/state/restic" borg_repo="$work/state/borg"

"$cv" -q -r "$cv_repo" init --recovery-code-file "$work/cv-code"
restic -q -r "$restic_repo" init
borg init -e repokey-blake2 "$borg_repo"
backup_all() {
  "$cv" -q -r "$cv_repo" backup "$store"
  restic -q -r "$restic_repo" backup "$store" >/dev/null
  borg create --compression zstd,3 "$borg_repo::$1" "$store"
}
echo "building $((days + 1)) snapshots per tool..." >&2
backup_all initial
for ((d = 1; d <= days; d++)); do
  python3 bench/chatstore.py day "$store" --corpus "$corpus" --media "${media[@]}" --day "$d"
  backup_all "day$d"
done
size() { du -sb "$1" | cut -f1; }
echo "sizes-before $(size "$cv_repo") $(size "$restic_repo") $(size "$borg_repo")" >"$work/results"
cp -a "$work/state" "$work/pristine"
# KEEP=DIR keeps a copy of the repositories and the store for a closer look.
[[ -z "${KEEP:-}" ]] || { rm -rf "$KEEP" && mkdir -p "$KEEP" && cp -a "$work/pristine" "$KEEP/state" && cp -a "$store" "$KEEP/store" && cp "$work/cv-code" "$KEEP/"; }

# measure RUN LABEL CMD...: records "run label seconds peak_kib".
measure() {
  local run=$1 label=$2; shift 2
  sync
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" ||
    { cat "$work/err" >&2; exit 1; }
  echo "$run $label $(cat "$work/time")" >>"$work/results"
}
reset() { rm -rf "$work/state" && cp -a "$work/pristine" "$work/state"; }
verify() {
  rm -rf "$work/r"
  "$cv" -q -r "$cv_repo" restore latest --target "$work/r"
  diff -r "$store" "$work/r$store" >/dev/null || { echo "chatvault restore differs after prune" >&2; exit 1; }
  "$cv" -q -r "$cv_repo" check >/dev/null || { echo "chatvault check failed after prune" >&2; exit 1; }
}

for ((run = 1; run <= runs; run++)); do
  reset
  measure "$run" chatvault-grace0 "$cv" -q -r "$cv_repo" forget --keep-last "$keep" --prune --grace 0
  echo "$run chatvault-size $(size "$cv_repo")" >>"$work/results"
  verify
  reset
  # The same, opened with the recovery code: no Argon2id, the engine alone.
  measure "$run" chatvault-code-grace0 "$cv" -q -r "$cv_repo" --recovery-code-file "$work/cv-code" forget --keep-last "$keep" --prune --grace 0
  verify
  reset
  measure "$run" chatvault-mark "$cv" -q -r "$cv_repo" forget --keep-last "$keep" --prune
  # The later run, once the grace period has passed: --grace 0 stands in
  # for the hour.
  measure "$run" chatvault-delete "$cv" -q -r "$cv_repo" prune --grace 0
  verify
  reset
  measure "$run" restic restic -q -r "$restic_repo" forget --keep-last "$keep" --prune
  echo "$run restic-size $(size "$restic_repo")" >>"$work/results"
  reset
  measure "$run" borg-prune borg prune --keep-last "$keep" "$borg_repo"
  measure "$run" borg-compact borg compact "$borg_repo"
  echo "$run borg-size $(size "$borg_repo")" >>"$work/results"
done
# RESULTS=FILE keeps the raw figures.
[[ -z "${RESULTS:-}" ]] || cp "$work/results" "$RESULTS"

python3 - "$work/results" "$days" "$keep" "$runs" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
days, keep, runs = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
med = statistics.median
t, rss, size = {}, {}, {}
before = None
for r in rows:
    if r[0] == "sizes-before":
        before = [int(x) for x in r[1:]]
    elif r[1].endswith("-size"):
        size.setdefault(r[1][:-5], []).append(int(r[2]))
    else:
        t.setdefault(r[1], []).append(float(r[2]))
        rss.setdefault(r[1], []).append(int(r[3]))
mb = lambda b: b / 1e6
print(f"{days + 1} snapshots (initial + {days} days), forget all but the newest {keep}. "
      f"Medians of {runs} runs.\n")
print("| step | seconds | peak RSS MiB | every run (s) |")
print("|---|---|---|---|")
for label in ["chatvault-grace0", "chatvault-code-grace0", "chatvault-mark", "chatvault-delete", "restic",
              "borg-prune", "borg-compact"]:
    print(f"| {label} | {med(t[label]):.2f} | {med(rss[label]) / 1024:.0f} | "
          + " ".join(f"{v:.2f}" for v in t[label]) + " |")
borg = [a + b for a, b in zip(t["borg-prune"], t["borg-compact"])]
borg_rss = [max(a, b) for a, b in zip(rss["borg-prune"], rss["borg-compact"])]
print(f"| borg prune + compact | {med(borg):.2f} | {med(borg_rss) / 1024:.0f} | |")
cv = t["chatvault-grace0"]
for label in ["chatvault-grace0", "chatvault-code-grace0"]:
    cv = t[label]
    print(f"\n{label} / restic: time {med(cv) / med(t['restic']):.2f}, "
          f"peak RSS {med(rss[label]) / med(rss['restic']):.2f}; "
          f"/ borg prune + compact: time {med(cv) / med(borg):.2f}, peak RSS "
          f"{med(rss[label]) / med(borg_rss):.2f}.")
print("\n| repository | before MB | after MB |")
print("|---|---|---|")
for i, tool in enumerate(["chatvault", "restic", "borg"]):
    print(f"| {tool} | {mb(before[i]):.1f} | {mb(med(size[tool])):.1f} |")
PY
