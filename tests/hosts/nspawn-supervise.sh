#!/usr/bin/env bash
# nspawn-supervise.sh NAME HOSTDIR NETNS — internal: started (detached, already inside the
# host's cgroup) by nspawn-up.sh; boots HOSTDIR/root with systemd as PID 1 in network
# namespace NETNS and boots it again when it exits with 133, which is what `reboot` inside a
# container makes systemd-nspawn return (as systemd-nspawn@.service does). SIGTERM (from
# nspawn-down.sh) is passed on to systemd-nspawn, which turns it into a clean poweroff.
#
# The machine's PID 1 is not systemd: there is no system bus and no machined, so nspawn runs
# with --register=no --keep-unit and uses the cgroup it was started in (one per host).
set -u
name=$1 d=$2 netns=$3
child=
trap 'touch "$d/stopping"; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT HUP

while :; do
  echo "=== tbuddy: boot $(date -u +%FT%TZ)" >>"$d/console.log"
  systemd-nspawn --quiet --directory="$d/root" --machine="$name" --boot \
    --register=no --keep-unit \
    --private-network --network-namespace-path="/run/netns/$netns" \
    --resolv-conf=off --timezone=off --link-journal=no \
    --console=read-only \
    >>"$d/console.log" 2>&1 </dev/null &
  child=$!
  s=$(cut -d' ' -f22 "/proc/$child/stat" 2>/dev/null || echo 0)
  echo "$child $s" >"$d/nspawn.pid"
  rc=
  # `wait` returns early when a trapped signal arrives: wait until nspawn is really gone
  while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
  child=
  echo "=== tbuddy: exit $rc $(date -u +%FT%TZ)" >>"$d/console.log"
  # on a machine whose /run is not a tmpfs, nspawn refuses to remove this itself
  rm -rf "/run/systemd/nspawn/propagate/$name"
  if [ "$rc" = 133 ] && [ ! -e "$d/stopping" ]; then continue; fi
  exit "${rc:-0}"
done
