#!/usr/bin/env python3
"""checksum.py DSN -- per-table row count and content digest of the public schema.

Each row is rendered by PostgreSQL (`row::text`, TimeZone UTC, shortest exact floats),
hashed, and the sorted hashes hashed again, so the digest is independent of row order.
Prints `table count digest` per line.
"""

import sys

import psycopg2

pg = psycopg2.connect(sys.argv[1])
cur = pg.cursor()
cur.execute("SET TimeZone = 'UTC'; SET extra_float_digits = 1")
cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
for (t,) in cur.fetchall():
    cur.execute(
        'SELECT count(*), md5(coalesce(string_agg(h, \'\' ORDER BY h), \'\')) '
        'FROM (SELECT md5(x::text) AS h FROM "public"."%s" x) s' % t)
    n, digest = cur.fetchone()
    print(t, n, digest)
