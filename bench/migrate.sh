#!/usr/bin/env bash
# bench/migrate.sh — SQLite → PostgreSQL: tbuddy-deploy migrate against pgloader and a
# Python script doing 500-row INSERT … ON CONFLICT DO NOTHING batches.
#
# Generates a booking-bot-shaped SQLite database (11 tables, about 1M rows and 180 MB at
# scale 1) and a ChatSettings one, starts a throwaway PostgreSQL 15 cluster (Debian default
# settings, unix socket only), loads each database with each tool into a fresh database,
# and prints wall-clock time, peak memory (/usr/bin/time), the ratios, and whether the
# table contents are identical (bench/migrate/checksum.py: per-table count and digest).
# tbuddy-deploy verifies its own load against the SQLite snapshot as part of its run
# (that time is included). See docs/benchmarks.md for results.
#
# Usage: bench/migrate.sh [--scale 1.0] [--chat-rows 100000] [--keep]
# Needs: postgresql-15, pgloader, python3-psycopg2 (installed with apt-get when missing,
# as root), and a release build (made when BENCH_TBUDDY is not set).
# Env: BENCH_TBUDDY  a tbuddy-deploy binary to use instead of target/release
#      TMPDIR        where the work directory goes (default /tmp)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SCALE=1.0
CHAT_ROWS=100000
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE=$2; shift 2 ;;
    --chat-rows) CHAT_ROWS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 4 ;;
  esac
done

PY=/usr/bin/python3
need=()
command -v pgloader >/dev/null || need+=(pgloader)
$PY -c 'import psycopg2' 2>/dev/null || need+=(python3-psycopg2)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
fi
PGBIN=/usr/lib/postgresql/15/bin

if [ -n "${BENCH_TBUDDY:-}" ]; then
  TBUDDY=$BENCH_TBUDDY
else
  (cd "$REPO" && cargo build --release --quiet)
  TBUDDY=$REPO/target/release/tbuddy-deploy
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tbuddy-migrate-bench.XXXXXX")
AS=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$WORK"
  AS=(runuser -u postgres --)
fi
PGDATA=$WORK/data
cleanup() {
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  if [ "$KEEP" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

echo "== generating the SQLite databases (scale $SCALE, $CHAT_ROWS ChatSettings rows)"
$PY "$HERE/migrate/gen_booking.py" "$WORK/booking.db" "$SCALE"
$PY "$HERE/migrate/gen_booking.py" --chat "$WORK/chat.db" "$CHAT_ROWS"
chmod 644 "$WORK"/*.db
for db in booking chat; do
  printf '%s: %s bytes, %s rows\n' "$db" "$(stat -c %s "$WORK/$db.db")" "$($PY - "$WORK/$db.db" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
names = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
print(sum(db.execute('SELECT count(*) FROM "%s"' % n).fetchone()[0] for n in names))
PYEOF
)"
done

echo "== starting PostgreSQL 15 (Debian defaults, unix socket in the work directory)"
"${AS[@]}" "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -w -l "$WORK/server.log" \
  -o "-k $WORK -c listen_addresses= -p 5432" start >/dev/null
SOCK_URL=$(printf '%s' "$WORK" | sed 's,/,%2F,g')
url() { echo "postgresql://postgres@$SOCK_URL:5432/$1"; }
dsn() { echo "host=$WORK port=5432 user=postgres dbname=$1"; }
psql_() { "$PGBIN/psql" -h "$WORK" -U postgres -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

RESULTS=$WORK/results.tsv
: > "$RESULTS"
# timed NAME DB -- CMD...: runs CMD under /usr/bin/time, records seconds and peak RSS.
timed() {
  local name=$1 db=$2; shift 3
  /usr/bin/time -f '%e %M' -o "$WORK/time.$name.$db" "$@" >"$WORK/log.$name.$db" 2>&1 || {
    echo "$name on $db FAILED (exit $?), log:" >&2; tail -20 "$WORK/log.$name.$db" >&2; exit 1; }
  read -r secs kb < <(tail -1 "$WORK/time.$name.$db")
  printf '%s\t%s\t%s\t%s\n' "$db" "$name" "$secs" "$kb" >> "$RESULTS"
  printf '  %-8s %-8s %8.2f s  %7.1f MB peak\n' "$db" "$name" "$secs" "$(echo "$kb / 1024" | bc -l)"
}

for db in booking chat; do
  echo "== $db"
  for tool in tbuddy pgloader insert; do
    psql_ -d postgres -c "CREATE DATABASE ${tool}_$db" >/dev/null
  done
  timed tbuddy "$db" -- "$TBUDDY" migrate --no-progress --state "$WORK/state.db" \
    $( [ "$db" = booking ] && echo --boolean services.is_active --boolean masters.is_active ) \
    "$WORK/$db.db" "$(url tbuddy_$db)"
  # Debian's pgloader exhausts SBCL's default heap on the booking set ("Heap exhausted
  # during garbage collection"): give it 4 GB of dynamic space.
  timed pgloader "$db" -- pgloader --dynamic-space-size 4096 "$WORK/$db.db" \
    "postgresql://postgres@unix:$WORK:5432/pgloader_$db"
  # The INSERT script gets the same DDL the tool uses (printed by a dry run into an empty database).
  psql_ -d postgres -c "CREATE DATABASE ddl_$db" >/dev/null
  "$TBUDDY" migrate --dry-run --no-progress --state "$WORK/ddl-state.db" \
    $( [ "$db" = booking ] && echo --boolean services.is_active --boolean masters.is_active ) \
    "$WORK/$db.db" "$(url ddl_$db)" > "$WORK/plan.$db" || [ $? = 5 ]
  sed -n '/^DDL:$/,$p' "$WORK/plan.$db" | grep -v '^DDL:$\|^-- after the load$' > "$WORK/ddl.$db.sql"
  timed insert "$db" -- $PY "$HERE/migrate/insert_load.py" "$WORK/$db.db" "$(dsn insert_$db)" "$WORK/ddl.$db.sql"
  for tool in tbuddy pgloader insert; do
    $PY "$HERE/migrate/checksum.py" "$(dsn ${tool}_$db)" > "$WORK/sum.$tool.$db"
  done
done

echo
echo "== results"
$PY - "$RESULTS" "$WORK" <<'PYEOF'
import sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
work = sys.argv[2]
res = {(d, t): (float(s), int(k) / 1024) for d, t, s, k in rows}
def sums(tool, db):
    return {l.split()[0]: l.split()[1:] for l in open(f"{work}/sum.{tool}.{db}")}
for db in ("booking", "chat"):
    tb = res[(db, "tbuddy")][0]
    print(f"{db}:")
    for tool in ("tbuddy", "pgloader", "insert"):
        s, mb = res[(db, tool)]
        ratio = "" if tool == "tbuddy" else f"  {s / tb:5.2f}x the time of tbuddy"
        print(f"  {tool:9s} {s:8.2f} s  {mb:7.1f} MB peak{ratio}")
    ref = sums("tbuddy", db)
    for tool in ("insert", "pgloader"):
        other = sums(tool, db)
        same = [t for t in ref if other.get(t) == ref[t]]
        diff = [t for t in ref if other.get(t) != ref[t]]
        counts = [t for t in ref if other.get(t, [None])[0] != ref[t][0]]
        print(f"  contents {tool} vs tbuddy: {len(same)}/{len(ref)} tables identical"
              + (f"; differ: {', '.join(diff)}" if diff else "")
              + (f"; row counts differ: {', '.join(counts)}" if counts else ""))
PYEOF
