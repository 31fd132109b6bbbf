#!/usr/bin/env bash
# The end-to-end demo: builds chatvault, makes a small sample chat store (a
# SQLite message database and a media folder), and on the embedded default
# repository runs init, a backup, a day of chat activity, a second backup,
# a restore, a byte-for-byte verification, then links a desktop device and
# has it follow the store. Everything happens in a
# temporary directory, which is removed afterwards (keep it with --keep).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
keep=0
[[ "${1:-}" == "--keep" ]] && keep=1

scripts/build.sh >/dev/null
cv="$root/build/chatvault"

demo=$(mktemp -d /tmp/chatvault-demo.XXXXXX)
cleanup() { [[ $keep == 1 ]] && echo "demo files kept in $demo" || rm -rf "$demo"; }
trap cleanup EXIT

# The embedded default repository lives under $XDG_DATA_HOME; point that
# into the demo directory so the demo never touches a real one.
export XDG_DATA_HOME="$demo/data"
export XDG_CACHE_HOME="$demo/cache"
export XDG_CONFIG_HOME="$demo/config"
unset CHATVAULT_CACHE_DIR CHATVAULT_HOME
export CHATVAULT_PASSWORD="demo passphrase, not a real one"
unset CHATVAULT_REPO
store="$demo/chats"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. A sample chat store"
python3 - "$store" <<'PY'
import os, random, sqlite3, sys
store = sys.argv[1]
os.makedirs(f"{store}/Media/Images", exist_ok=True)
rng = random.Random(7)
words = ("hi see you at the station tomorrow thanks for the photos did you "
         "get my message call me later love it ok sure on my way").split()
db = sqlite3.connect(f"{store}/msgstore.db")
db.executescript("""
  CREATE TABLE chat(_id INTEGER PRIMARY KEY, jid TEXT, subject TEXT);
  CREATE TABLE message(_id INTEGER PRIMARY KEY, chat_row_id INTEGER,
    from_me INTEGER, key_id TEXT UNIQUE, timestamp INTEGER, status INTEGER,
    text_data TEXT);
  CREATE INDEX message_chat ON message(chat_row_id, timestamp);
""")
for c in range(40):
    db.execute("INSERT INTO chat VALUES(?,?,?)", (c, f"{c}@s.example", f"chat {c}"))
for m in range(60000):
    db.execute("INSERT INTO message VALUES(?,?,?,?,?,?,?)",
               (m, rng.randrange(40), rng.randrange(2), "%032x" % rng.getrandbits(128),
                1_700_000_000_000 + m * 1000, 5,
                " ".join(rng.choice(words) for _ in range(rng.randrange(3, 25)))))
db.commit()
for i in range(12):
    with open(f"{store}/Media/Images/IMG-{i:04}.jpg", "wb") as f:
        f.write(b"\xff\xd8\xff\xe0" + os.urandom(rng.randrange(150_000, 400_000)))
PY
du -sh "$store" | sed 's/^/   chat store: /'

step "2. chatvault init (embedded default repository under \$XDG_DATA_HOME)"
"$cv" init --recovery-code-file "$demo/recovery-code.txt"

step "3. First backup"
"$cv" backup "$store"

step "4. A day of chat use: 800 new messages, 300 status updates, 2 new photos"
python3 - "$store" <<'PY'
import os, random, sqlite3, sys
store = sys.argv[1]
rng = random.Random(8)
db = sqlite3.connect(f"{store}/msgstore.db")
start = db.execute("SELECT max(_id) FROM message").fetchone()[0] + 1
for m in range(start, start + 800):
    db.execute("INSERT INTO message VALUES(?,?,?,?,?,?,?)",
               (m, rng.randrange(40), 1, "%032x" % rng.getrandbits(128),
                1_800_000_000_000 + m, 0, "new message %d" % m))
for _ in range(300):
    db.execute("UPDATE message SET status=13 WHERE _id=?", (rng.randrange(start),))
db.commit()
for i in (12, 13):
    with open(f"{store}/Media/Images/IMG-{i:04}.jpg", "wb") as f:
        f.write(b"\xff\xd8\xff\xe0" + os.urandom(250_000))
PY

step "5. Second backup (incremental: only what changed is stored)"
"$cv" backup "$store"

step "6. Snapshots"
"$cv" snapshots

step "7. Restore the latest snapshot, opening the repository with the recovery code"
"$cv" --recovery-code-file "$demo/recovery-code.txt" restore latest --target "$demo/restored"

step "8. Verify"
if diff -r "$store" "$demo/restored$store" >/dev/null; then
  echo "   restored files are byte-for-byte identical to the chat store"
else
  echo "   MISMATCH between the chat store and the restore" >&2
  exit 1
fi
repo_size=$(du -sh "$XDG_DATA_HOME/chatvault/repo" | cut -f1)
store_size=$(du -sh "$store" | cut -f1)
echo "   chat store $store_size, repository $repo_size after two snapshots (encrypted, deduplicated, compressed)"

step "9. Link a desktop (its own home, no passphrase) and follow the phone's chat store"
desktop=(env -u CHATVAULT_PASSWORD CHATVAULT_HOME="$demo/desktop" CHATVAULT_CACHE_DIR="$demo/desktop-cache" "$cv")
"${desktop[@]}" --json device join --name desktop --no-qr >"$demo/join.log" 2>&1 &
join_pid=$!
code=""
for _ in $(seq 300); do
  code=$(sed -n 's/.*"code":"\([^"]*\)".*/\1/p' "$demo/join.log")
  [[ -n "$code" ]] && break
  sleep 0.05
done
echo "   link code shown by the desktop: $code"
"$cv" device link --yes <<<"$code" | sed 's/^/   phone: /'
wait "$join_pid"
phone=$("$cv" --json device list | sed -n 's/.*"id":"\([0-9a-f]\{12\}\)[^"]*","kind":"phone".*/\1/p')
[[ -n "$phone" ]] || phone=$(hostname)
"${desktop[@]}" sync --from "$phone" --target "$demo/desktop-chats" | sed 's/^/   desktop: /'
python3 - "$store/msgstore.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO message VALUES(NULL, 3, 1, 'demo-new-message', 1800000000000, 0, 'on my way')")
db.commit()
PY
"$cv" -q sync push "$store"
"${desktop[@]}" sync --from "$phone" --target "$demo/desktop-chats" | sed 's/^/   desktop, after one new message: /'
if diff -r "$store" "$demo/desktop-chats" >/dev/null; then
  echo "   the desktop's copy is byte-for-byte identical to the phone's chat store"
else
  echo "   MISMATCH between the chat store and the desktop's copy" >&2
  exit 1
fi
"$cv" device list | sed 's/^/   /'
