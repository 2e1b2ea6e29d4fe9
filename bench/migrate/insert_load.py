#!/usr/bin/env python3
"""insert_load.py SQLITE DSN DDL_FILE -- the baseline seed script.

Creates the schema from DDL_FILE (the statements `tbuddy-deploy migrate --dry-run` prints:
tables, then keys, constraints and indexes, so ON CONFLICT has its unique indexes), then
copies every table with psycopg2 in 500-row `INSERT … ON CONFLICT DO NOTHING` batches, the
way a hand-written migration script does it; sequences are set last. Values are converted
by the target column's type (0/1 → boolean; everything else as read).
"""

import sqlite3
import sys

import psycopg2
import psycopg2.extras

src, dsn, ddl_file = sys.argv[1:4]
statements = [s.strip() for s in open(ddl_file).read().split(";\n") if s.strip()]
creates = [s for s in statements if s.startswith("CREATE TABLE")]
setvals = [s for s in statements if s.startswith("SELECT setval")]
rest = [s for s in statements if s not in creates and s not in setvals]

pg = psycopg2.connect(dsn)
cur = pg.cursor()
for s in creates + rest:
    cur.execute(s)
pg.commit()

lite = sqlite3.connect(src)
lite.text_factory = bytes
order = [s.split('"')[3] for s in creates]  # CREATE TABLE "public"."name"
for table in order:
    cur.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
        (table,))
    cols = cur.fetchall()
    src_name = lite.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND lower(name) = ?", (table,)).fetchone()[0].decode()
    conv = []
    for _, ty in cols:
        if ty == "boolean":
            conv.append(lambda v: None if v is None else bool(v))
        elif ty == "bytea":
            conv.append(lambda v: None if v is None else psycopg2.Binary(v))
        else:
            conv.append(lambda v: v.decode() if isinstance(v, bytes) else v)
    names = ", ".join('"%s"' % c for c, _ in cols)
    sel = ", ".join('"%s"' % c for c, _ in cols)
    sql = 'INSERT INTO "public"."%s" (%s) VALUES %%s ON CONFLICT DO NOTHING' % (table, names)
    rows = lite.execute('SELECT %s FROM "%s"' % (sel, src_name))
    while True:
        batch = rows.fetchmany(500)
        if not batch:
            break
        psycopg2.extras.execute_values(
            cur, sql, [tuple(f(v) for f, v in zip(conv, r)) for r in batch], page_size=500)
    pg.commit()
for s in setvals:
    cur.execute(s)
pg.commit()
