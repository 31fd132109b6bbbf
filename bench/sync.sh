#!/usr/bin/env bash
# Sync: linking devices to an account and fanning a chat store out to them,
# on the generated benchmark chat store (bench/chatstore.py).
#   1. Link plus initial sync: for each of three followers, `device join`
#      with `device link --yes` on the phone, then `sync --from phone`
#      into an empty directory; against `restore latest` of the same
#      snapshot with the passphrase and an empty cache (a new phone).
#   2. Propagation: the three followers run `sync --watch --interval 1`;
#      CHANGES times, the phone inserts one message and runs `sync push`.
#      For each change: the time from `sync push` starting, and from the
#      head being published, until the last of the three followers has the
#      new database in place; and the bytes each follower read.
# Every follower's directory is compared with the store at the end.
# Prints Markdown for docs/benchmarks.md.
#   bench/sync.sh [CHANGES] [RUNS]     (default: 20 3; RUNS: restores timed)
#   KEEP=DIR keeps the work directory there.
set -euo pipefail
cd "$(dirname "$0")/.."
changes=${1:-20}
runs=${2:-3}
source bench/common.sh

work=${KEEP:-$(mktemp -d /tmp/chatvault-sync.XXXXXX)}
mkdir -p "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n "${KEEP:-}" ]] || rm -rf "$work"
}
trap cleanup EXIT
store="$work/store"
[[ -d "$store" ]] || python3 bench/chatstore.py create "$store" --corpus "$corpus" --media "${media[@]}"
repo="$work/repo"
rm -rf "$repo" "$work"/phone* "$work"/f[123]* "$work"/restore* "$work"/join* "$work/code"
export CHATVAULT_PASSWORD=bench
phone=(env CHATVAULT_HOME="$work/phone" CHATVAULT_CACHE_DIR="$work/phone-cache" "$cv" -r "$repo")
follower() {  # follower N ARGS...: chatvault as follower N, without the passphrase
  local n=$1; shift
  env -u CHATVAULT_PASSWORD CHATVAULT_HOME="$work/f$n" CHATVAULT_CACHE_DIR="$work/f$n-cache" \
    "$cv" -r "$repo" "$@"
}
now_ms() { date +%s%3N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1000 }'; }  # secs T0 T1

"${phone[@]}" -q init --recovery-code-file "$work/code"
"${phone[@]}" -q backup "$store"
phone_id=$("${phone[@]}" --json device list | python3 -c 'import json,sys; print(json.load(sys.stdin)["devices"][0]["id"][:12])')
store_mib=$(du -sm "$store" | cut -f1)

# 1. Plain restore, as on a new phone: passphrase, empty cache.
restore_s=()
for i in $(seq "$runs"); do
  rm -rf "$work/restore" "$work/restore-cache"; sync
  t0=$(now_ms)
  env CHATVAULT_HOME="$work/restore-home" CHATVAULT_CACHE_DIR="$work/restore-cache" \
    "$cv" -q -r "$repo" restore latest --target "$work/restore"
  t1=$(now_ms)
  restore_s+=("$(secs $t0 $t1)")
done
diff -r "$store" "$work/restore$store" >/dev/null

# Link plus initial sync, three followers.
link_s=() initial_s=()
for n in 1 2 3; do
  sync
  t0=$(now_ms)
  follower "$n" --json device join --name "f$n" --expires 5min >"$work/join$n.log" 2>&1 &
  join_pid=$!
  code=""
  for _ in $(seq 600); do
    code=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d.get("type") == "code": print(d["code"])' "$work/join$n.log" 2>/dev/null || true)
    [[ -n "$code" ]] && break
    sleep 0.01
  done
  "${phone[@]}" -q device link --yes <<<"$code" >/dev/null
  wait "$join_pid"
  t1=$(now_ms)
  follower "$n" -q sync --from "$phone_id" --target "$work/f$n-chats"
  t2=$(now_ms)
  link_s+=("$(secs $t0 $t1)")
  initial_s+=("$(secs $t1 $t2)")
  diff -r "$store" "$work/f$n-chats" >/dev/null
done

# 2. Propagation with --watch --interval 1.
for n in 1 2 3; do
  follower "$n" --json sync --from "$phone_id" --target "$work/f$n-chats" \
    --watch --interval 1 >"$work/f$n.log" 2>"$work/f$n.err" &
  pids+=($!)
done
sleep 2
: >"$work/pushes"
for i in $(seq "$changes"); do
  python3 - "$store/msgstore.db" "$i" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
chat = db.execute("SELECT chat_row_id FROM message ORDER BY _id DESC LIMIT 1").fetchone()[0]
now = int(time.time() * 1000)
db.execute("INSERT INTO message(chat_row_id, from_me, key_id, sender_jid, timestamp, "
           "received_timestamp, status, starred, text_data) VALUES(?,1,?,NULL,?,?,0,0,?)",
           (chat, "BENCH%d-%d" % (now, int(sys.argv[2])), now, now,
            "benchmark message %s" % sys.argv[2]))
db.commit()
PY
  t0=$(now_ms)
  version=$("${phone[@]}" --json sync push "$store" | python3 -c 'import json,sys; print(json.load(sys.stdin)["head_version"])')
  t1=$(now_ms)
  echo "$version $t0 $t1" >>"$work/pushes"
  # Wait until all three have it (30 s at most), then a random pause so
  # changes do not fall in step with the followers' polling.
  for _ in $(seq 600); do
    [[ $(grep -l "\"head_version\":$version" "$work"/f[123].log | wc -l) -eq 3 ]] && break
    sleep 0.05
  done
  sleep "0.$((RANDOM % 10))"
done
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()
for n in 1 2 3; do diff -r "$store" "$work/f$n-chats" >/dev/null; done

python3 - "$work" "$changes" "$store_mib" "${restore_s[*]}" "${link_s[*]}" "${initial_s[*]}" <<'PY'
import json, statistics, sys
work, changes, store_mib = sys.argv[1], int(sys.argv[2]), sys.argv[3]
restore = [float(x) for x in sys.argv[4].split()]
link = [float(x) for x in sys.argv[5].split()]
initial = [float(x) for x in sys.argv[6].split()]
applied = {}  # version -> [(applied_ms, head_ms, blobs_fetched)]
for n in (1, 2, 3):
    for line in open(f"{work}/f{n}.log"):
        d = json.loads(line)
        if d.get("type") == "synced":
            applied.setdefault(d["head_version"], []).append(d)
from_push, from_publish, fetched = [], [], []
for line in open(f"{work}/pushes"):
    version, t0, t1 = (int(x) for x in line.split())
    got = applied.get(version, [])
    if len(got) != 3:
        sys.exit(f"change {version}: {len(got)} of 3 followers applied it")
    last = max(d["applied_unix_ms"] for d in got)
    from_push.append((last - t0) / 1000)
    from_publish.append((last - got[0]["head_time_unix_ms"]) / 1000)
    fetched += [d["blobs_fetched"] for d in got]
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]
med = statistics.median
print(f"Store: {store_mib} MiB. Restores: {len(restore)} runs; followers: 3; changes: {changes}.\n")
print("| measure | median | raw (s) |")
print("|---|---|---|")
print(f"| restore latest (passphrase, empty cache) | {med(restore):.2f} s | {' '.join('%.2f' % x for x in restore)} |")
print(f"| device join + device link | {med(link):.2f} s | {' '.join('%.2f' % x for x in link)} |")
print(f"| initial sync --from phone | {med(initial):.2f} s | {' '.join('%.2f' % x for x in initial)} |")
print(f"| link + initial sync | {med([a + b for a, b in zip(link, initial)]):.2f} s | |")
print()
print("| propagation, all 3 followers | p50 | p95 | max |")
print("|---|---|---|---|")
print(f"| from `sync push` starting | {pct(from_push, 50):.2f} s | {pct(from_push, 95):.2f} s | {max(from_push):.2f} s |")
print(f"| from the head being published | {pct(from_publish, 50):.2f} s | {pct(from_publish, 95):.2f} s | {max(from_publish):.2f} s |")
print(f"\nBlobs fetched per follower per change: median {med(fetched)}, max {max(fetched)}.")
PY
