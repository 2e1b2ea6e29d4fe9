#!/bin/sh
# Exits 0 when the application answers on its listen address.
set -eu
listen=$(sed -n 's/^listen *= *//p' "$(dirname "$0")/../etc/app.ini")
exec curl -fsS --max-time 2 "http://$listen/healthz" >/dev/null
