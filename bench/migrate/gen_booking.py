#!/usr/bin/env python3
"""gen_booking.py OUT.db [SCALE] -- a booking-bot-shaped SQLite database.

Eleven tables as a Telegram booking bot keeps them (users, admins, services, masters,
master_services, schedules, slots, bookings, payments, reviews, notifications); SCALE 1.0
gives about 1,000,000 rows and 180 MB. Deterministic (fixed seed). The data carries the
traits that trip migrations: datetimes with and without UTC offsets, 8-byte REAL prices,
0/1 flags in INTEGER columns, mixed-case text, a partial index, AUTOINCREMENT with
deleted tail rows, and a TEXT column defaulting to datetime('now').

gen_booking.py --chat OUT.db [ROWS] writes the ChatSettings database of a translation bot
(chat_id, language_codes, language_names, updated_at) instead.
"""

import random
import sqlite3
import sys
from datetime import datetime, timedelta, timezone

SCHEMA = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    telegram_id INTEGER NOT NULL UNIQUE,
    username TEXT,
    first_name TEXT NOT NULL,
    last_name TEXT,
    phone TEXT,
    language TEXT NOT NULL DEFAULT 'ru',
    is_blocked INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP
);
CREATE TABLE admins (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    role TEXT NOT NULL CHECK (role IN ('owner', 'manager')),
    added_at TEXT DEFAULT (datetime('now'))
);
CREATE TABLE services (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    description TEXT,
    duration_min INTEGER NOT NULL CHECK (duration_min > 0),
    price REAL NOT NULL,
    is_active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE masters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    bio TEXT,
    photo_file_id TEXT,
    is_active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE master_services (
    master_id INTEGER NOT NULL REFERENCES masters(id),
    service_id INTEGER NOT NULL REFERENCES services(id),
    PRIMARY KEY (master_id, service_id)
);
CREATE TABLE schedules (
    id INTEGER PRIMARY KEY,
    master_id INTEGER NOT NULL REFERENCES masters(id),
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    starts TEXT NOT NULL,
    ends TEXT NOT NULL
);
CREATE TABLE slots (
    id INTEGER PRIMARY KEY,
    master_id INTEGER NOT NULL REFERENCES masters(id),
    starts_at TIMESTAMP NOT NULL,
    is_free INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE bookings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    master_id INTEGER NOT NULL REFERENCES masters(id),
    service_id INTEGER NOT NULL REFERENCES services(id),
    starts_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL DEFAULT 'new',
    price REAL NOT NULL,
    comment TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX idx_bookings_user ON bookings (user_id);
CREATE INDEX idx_bookings_status ON bookings (status) WHERE status <> 'done';
CREATE TABLE payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    booking_id INTEGER NOT NULL REFERENCES bookings(id),
    amount REAL NOT NULL,
    currency TEXT NOT NULL DEFAULT 'RUB',
    provider_charge_id TEXT,
    paid_at TIMESTAMP
);
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    booking_id INTEGER NOT NULL REFERENCES bookings(id),
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    text TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX idx_notifications_user ON notifications (user_id);
"""

WORDS = ("маникюр стрижка окрашивание укладка massage relax brow lash care spa "
         "quick deluxe classic premium evening morning weekend special gift").split()


def ts(rng, base, spread_days, offsets):
    t = base + timedelta(seconds=rng.randrange(spread_days * 86400))
    if offsets and rng.random() < 0.0188:
        # About 2 % written with an explicit +03:00 offset (pitfall: lost in `timestamp`).
        return (t + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S") + "+03:00"
    if rng.random() < 0.3:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return t.strftime("%Y-%m-%d %H:%M:%S")


def text(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def booking(out, scale):
    rng = random.Random(20261123)
    db = sqlite3.connect(out)
    db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + SCHEMA)
    base = datetime(2023, 1, 1)
    n = lambda k: max(1, int(k * scale))
    users, masters, services = n(50_000), n(200), n(100)
    bookings, notifications = n(400_000), n(250_000)
    db.executemany("INSERT INTO users VALUES (?,?,?,?,?,?,?,?,?,?)", (
        (i, 100_000_000 + i * 7, f"user_{i}" if rng.random() < 0.7 else None,
         rng.choice(["Анна", "Olga", "Ivan", "Мария", "Bob", "Zoë"]),
         rng.choice([None, "Smith", "Петрова", "O'Brien"]),
         f"+7{rng.randrange(10**9, 10**10)}" if rng.random() < 0.6 else None,
         rng.choice(["ru", "en", "de"]), int(rng.random() < 0.01),
         ts(rng, base, 700, False), ts(rng, base, 730, True) if rng.random() < 0.9 else None)
        for i in range(1, users + 1)))
    db.executemany("INSERT INTO admins (user_id, role, added_at) VALUES (?,?,?)",
                   ((i, "owner" if i == 1 else "manager", ts(rng, base, 30, False)) for i in range(1, 11)))
    db.executemany("INSERT INTO services VALUES (?,?,?,?,?,?)", (
        (i, text(rng, 3).title(), text(rng, 12), rng.choice([30, 45, 60, 90, 120]),
         round(rng.uniform(500, 200_000), 3), int(rng.random() < 0.85))
        for i in range(1, services + 1)))
    db.executemany("INSERT INTO masters VALUES (?,?,?,?,?)", (
        (i, f"Master {i}", text(rng, 20), f"AgACAgIAAxkBAAI{rng.getrandbits(64):016x}", int(rng.random() < 0.9))
        for i in range(1, masters + 1)))
    pairs = {(rng.randrange(1, masters + 1), rng.randrange(1, services + 1)) for _ in range(n(2_000))}
    db.executemany("INSERT INTO master_services VALUES (?,?)", sorted(pairs))
    db.executemany("INSERT INTO schedules VALUES (?,?,?,?,?)", (
        (i, rng.randrange(1, masters + 1), rng.randrange(7), "09:00", "18:00") for i in range(1, n(5_000) + 1)))
    db.executemany("INSERT INTO slots VALUES (?,?,?,?)", (
        (i, rng.randrange(1, masters + 1), ts(rng, base, 730, False), int(rng.random() < 0.5))
        for i in range(1, n(100_000) + 1)))
    statuses = ["new", "confirmed", "done", "done", "done", "cancelled"]
    db.executemany("INSERT INTO bookings VALUES (?,?,?,?,?,?,?,?,?)", (
        (i, rng.randrange(1, users + 1), rng.randrange(1, masters + 1), rng.randrange(1, services + 1),
         ts(rng, base, 730, False), rng.choice(statuses),
         123456.789 if rng.random() < 0.11 else round(rng.uniform(500, 20_000), 2),
         text(rng, rng.randrange(0, 12)) or None, ts(rng, base, 730, True))
        for i in range(1, bookings + 1)))
    db.executemany("INSERT INTO payments VALUES (?,?,?,?,?,?)", (
        (i, rng.randrange(1, bookings + 1), round(rng.uniform(500, 20_000), 2), "RUB",
         f"ch_{rng.getrandbits(80):020x}", ts(rng, base, 730, False) if rng.random() < 0.95 else None)
        for i in range(1, n(150_000) + 1)))
    db.executemany("INSERT INTO reviews VALUES (?,?,?,?,?)", (
        (i, rng.randrange(1, bookings + 1), rng.randrange(1, 6), text(rng, rng.randrange(3, 30)),
         ts(rng, base, 730, False)) for i in range(1, n(40_000) + 1)))
    db.executemany("INSERT INTO notifications VALUES (?,?,?,?,?)", (
        (i, rng.randrange(1, users + 1), rng.choice(["reminder", "confirm", "promo"]),
         '{"text": "%s", "booking": %d, "buttons": ["ok", "cancel"], "lang": "ru"}' % (text(rng, 25), rng.randrange(1, bookings + 1)),
         ts(rng, base, 730, False) if rng.random() < 0.97 else None)
        for i in range(1, notifications + 1)))
    # AUTOINCREMENT with deleted tail rows: the next id must not reuse them.
    db.execute("DELETE FROM notifications WHERE id > ?", (notifications - 3,))
    db.commit()
    db.close()


def chat(out, rows):
    rng = random.Random(7)
    db = sqlite3.connect(out)
    db.executescript("""PRAGMA journal_mode = OFF;
        CREATE TABLE ChatSettings (chat_id TEXT PRIMARY KEY, language_codes TEXT, language_names TEXT, updated_at TEXT);""")
    langs = [("en", "English"), ("de", "Deutsch"), ("ru", "Русский"), ("uk", "Українська"), ("fr", "Français")]
    def row(i):
        pick = rng.sample(langs, rng.randrange(1, 4))
        chat_id = -1001000000000 - i if rng.random() < 0.3 else 10_000_000 + i
        t = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randrange(300 * 86400))
        return (str(chat_id), ",".join(c for c, _ in pick), ",".join(n for _, n in pick),
                t.replace(tzinfo=None).isoformat(timespec="microseconds"))
    db.executemany("REPLACE INTO ChatSettings VALUES (?,?,?,?)", (row(i) for i in range(rows)))
    db.commit()
    db.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--chat":
        chat(args[1], int(args[2]) if len(args) > 2 else 100_000)
    else:
        booking(args[0], float(args[1]) if len(args) > 1 else 1.0)
