#!/usr/bin/env python3
"""Generates a WhatsApp-like chat store for benchmarks, and simulates days
of chat use on it. Standard library only.

  chatstore.py create STORE --corpus DIR --media DIR... [--messages N] [--media-mb M]
  chatstore.py day STORE --corpus DIR --media DIR... --day K

STORE/msgstore.db is a SQLite database (tables chat, message, receipt, with
the indexes a messenger keeps); STORE/Media/ holds photos, some of them
forwarded (the same bytes under several names). Message texts come from the
SpamAssassin public corpus (ham only: real English mail), split into
chat-sized pieces; photos are the JPEGs of Debian's wallpaper packages.
Everything is deterministic for a given seed and day number.
"""
import argparse
import os
import random
import shutil
import sqlite3
import sys

SCHEMA = """
CREATE TABLE chat(_id INTEGER PRIMARY KEY, jid TEXT UNIQUE, subject TEXT,
                  created_timestamp INTEGER);
CREATE TABLE message(_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_row_id INTEGER,
                     from_me INTEGER, key_id TEXT, sender_jid TEXT,
                     timestamp INTEGER, received_timestamp INTEGER,
                     status INTEGER, starred INTEGER, text_data TEXT,
                     media_path TEXT, media_size INTEGER);
CREATE UNIQUE INDEX message_key_id ON message(key_id);
CREATE INDEX message_chat_time ON message(chat_row_id, timestamp);
CREATE TABLE receipt(_id INTEGER PRIMARY KEY AUTOINCREMENT, message_row_id INTEGER,
                     receipt_device_jid TEXT, receipt_timestamp INTEGER,
                     read_timestamp INTEGER);
CREATE INDEX receipt_message ON receipt(message_row_id);
"""

DAY_MS = 86_400_000
START_MS = 1_700_000_000_000


def load_texts(corpus):
    """Chat-sized pieces of the bodies of the corpus's ham messages."""
    texts = []
    for group in sorted(os.listdir(corpus)):
        if "ham" not in group:
            continue
        gdir = os.path.join(corpus, group)
        for name in sorted(os.listdir(gdir)):
            if not name.endswith(".txt"):
                continue
            with open(os.path.join(gdir, name), "rb") as f:
                raw = f.read().decode("latin-1")
            body = raw.split("\n\n", 1)[1] if "\n\n" in raw else raw
            for para in body.split("\n\n"):
                line = " ".join(para.split())
                if 5 <= len(line) <= 400 and not line.startswith(">"):
                    texts.append(line)
    if not texts:
        sys.exit(f"chatstore.py: no ham messages found in {corpus}")
    return texts


def load_photos(media_dirs):
    photos = []
    for d in media_dirs:
        for root, _, files in os.walk(d):
            for f in sorted(files):
                if f.lower().endswith((".jpg", ".jpeg")):
                    photos.append(os.path.join(root, f))
    if not photos:
        sys.exit("chatstore.py: no JPEG photos found in " + ", ".join(media_dirs))
    return sorted(set(photos))


def add_photo(store, rng, photos, day, index):
    """Copies a photo into Media/; one in four is a forward of an earlier one."""
    media = os.path.join(store, "Media", "WhatsApp Images")
    os.makedirs(media, exist_ok=True)
    existing = sorted(os.listdir(media))
    name = f"IMG-{day:04}-WA{index:04}.jpg"
    dest = os.path.join(media, name)
    if existing and rng.random() < 0.25:
        shutil.copyfile(os.path.join(media, rng.choice(existing)), dest)
    else:
        shutil.copyfile(rng.choice(photos), dest)
    return os.path.relpath(dest, store), os.path.getsize(dest)


def insert_messages(db, rng, texts, n, day, chats, media=None):
    rows = []
    for _ in range(n):
        chat = rng.randrange(chats)
        ts = START_MS + day * DAY_MS + rng.randrange(DAY_MS)
        path, size = media.pop() if media else (None, None)
        rows.append((chat, rng.randrange(2), "%032X" % rng.getrandbits(128),
                     f"{chat}@s.whatsapp.net", ts, ts + rng.randrange(5000),
                     rng.choice((4, 5, 13)), int(rng.random() < 0.01),
                     rng.choice(texts), path, size))
    db.executemany("INSERT INTO message(chat_row_id, from_me, key_id, sender_jid, timestamp,"
                   " received_timestamp, status, starred, text_data, media_path, media_size)"
                   " VALUES(?,?,?,?,?,?,?,?,?,?,?)", rows)


def create(args):
    rng = random.Random(args.seed)
    texts = load_texts(args.corpus)
    photos = load_photos(args.media)
    os.makedirs(args.store, exist_ok=True)
    db = sqlite3.connect(os.path.join(args.store, "msgstore.db"))
    db.executescript(SCHEMA)
    db.executemany("INSERT INTO chat VALUES(?,?,?,?)",
                   [(c, f"{c}@s.whatsapp.net", f"chat {c}", START_MS) for c in range(args.chats)])
    media_bytes, index, media = 0, 0, []
    while media_bytes < args.media_mb << 20:
        path, size = add_photo(args.store, rng, photos, 0, index)
        media.append((path, size))
        media_bytes += size
        index += 1
    per_day = args.messages // 100
    for day in range(100):
        todays = [media.pop() for _ in range(min(len(media), max(1, index // 100)))]
        insert_messages(db, rng, texts, per_day, day - 100, args.chats, todays)
    db.execute("INSERT INTO receipt(message_row_id, receipt_device_jid, receipt_timestamp,"
               " read_timestamp) SELECT _id, sender_jid, timestamp + 1000, timestamp + 60000"
               " FROM message WHERE from_me = 1")
    db.commit()
    db.close()


def day(args):
    """One day of use: new messages, status updates, deletions, receipts,
    a few photos."""
    rng = random.Random(args.seed * 1000 + args.day)
    texts = load_texts(args.corpus)
    photos = load_photos(args.media)
    db = sqlite3.connect(os.path.join(args.store, "msgstore.db"))
    max_id = db.execute("SELECT max(_id) FROM message").fetchone()[0]
    media = [add_photo(args.store, rng, photos, args.day, i) for i in range(args.photos)]
    insert_messages(db, rng, texts, args.new, args.day, args.chats, media)
    db.executemany("UPDATE message SET status = 13 WHERE _id = ?",
                   [(rng.randrange(1, max_id),) for _ in range(args.updates)])
    db.executemany("DELETE FROM message WHERE _id = ?",
                   [(rng.randrange(1, max_id),) for _ in range(args.deletes)])
    db.execute("INSERT INTO receipt(message_row_id, receipt_device_jid, receipt_timestamp,"
               " read_timestamp) SELECT _id, sender_jid, timestamp + 1000, timestamp + 60000"
               " FROM message WHERE _id > ? AND from_me = 1", (max_id,))
    db.commit()
    db.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("create", "day"):
        s = sub.add_parser(name)
        s.add_argument("store")
        s.add_argument("--corpus", required=True, help="SpamAssassin corpus data directory")
        s.add_argument("--media", nargs="+", required=True, help="directories with JPEG photos")
        s.add_argument("--seed", type=int, default=1)
        s.add_argument("--chats", type=int, default=200)
    c = sub.choices["create"]
    c.add_argument("--messages", type=int, default=400_000)
    c.add_argument("--media-mb", type=int, default=156)
    d = sub.choices["day"]
    d.add_argument("--day", type=int, required=True)
    d.add_argument("--new", type=int, default=3000)
    d.add_argument("--updates", type=int, default=2000)
    d.add_argument("--deletes", type=int, default=100)
    d.add_argument("--photos", type=int, default=4)
    args = p.parse_args()
    create(args) if args.cmd == "create" else day(args)


if __name__ == "__main__":
    main()
