#!/usr/bin/env bash
# What opening a repository costs each tool before any work: the passphrase
# KDF plus start-up, on empty repositories (restic: scrypt as calibrated at
# init; borg: repokey-blake2, PBKDF2; chatvault: Argon2id at the default
# 256 MiB and at the 64 MiB floor). Medians of RUNS; prints Markdown.
#   bench/unlock.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
source bench/common.sh

work=$(mktemp -d /tmp/chatvault-unlock.XXXXXX)
trap 'rm -rf "$work"' EXIT
export CHATVAULT_PASSWORD=bench RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench
export CHATVAULT_CACHE_DIR="$work/cv-cache" RESTIC_CACHE_DIR="$work/restic-cache"
export CHATVAULT_HOME="$work/cv-home"
export BORG_CACHE_DIR="$work/borg-cache" BORG_CONFIG_DIR="$work/borg-config"
export BORG_BASE_DIR="$work/borg-base" BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
"$cv" -q -r "$work/cv" init --recovery-code-file "$work/c1"
"$cv" -q -r "$work/cv64" init --kdf-memory 64M --recovery-code-file "$work/c2"
restic -q -r "$work/restic" init
borg init -e repokey-blake2 "$work/borg" 2>/dev/null

run() {
  local name=$1; shift
  for ((i = 0; i < runs; i++)); do
    /usr/bin/time -f "%e %M" -o "$work/t" "$@" >/dev/null 2>&1
    echo "$name $(cat "$work/t")" >>"$work/results"
  done
}
run "chatvault snapshots (256 MiB)" "$cv" -q -r "$work/cv" snapshots
run "chatvault snapshots (64 MiB)" "$cv" -q -r "$work/cv64" snapshots
run "restic cat config" restic -q -r "$work/restic" cat config
run "borg info" borg info "$work/borg"

python3 - "$work/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    *name, secs, kib = line.split()
    rows.setdefault(" ".join(name), []).append((float(secs), int(kib)))
print("| command | median s | median peak RSS MiB | runs (s) |")
print("|---|---|---|---|")
for name, v in rows.items():
    print(f"| {name} | {statistics.median(s for s, _ in v):.2f} | "
          f"{statistics.median(k for _, k in v) / 1024:.0f} | "
          + " ".join(f"{s:.2f}" for s, _ in v) + " |")
PY
