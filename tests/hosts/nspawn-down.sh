#!/usr/bin/env bash
# nspawn-down.sh — stop the hosts of nspawn-up.sh and undo everything it set up on the machine.
#
# Each container is asked to power off (SIGTERM to its supervisor -> systemd-nspawn -> clean
# shutdown of systemd inside); after TBH_STOP_TIMEOUT seconds (20) whatever is still in the
# host's cgroup is killed by PID (these are only processes nspawn-up.sh started and their
# descendants). Then: the cgroups, the overlay mounts, the network namespaces and veths, the
# bridge tbh-br0, the nft table tbuddy_hosts, ip_forward and the inotify limit (restored to
# what they were), /run/netns and /run/systemd if nspawn-up.sh made them, and the state
# directory $TBH_STATE/nspawn. The base rootfs (nspawn-base.sh) is kept for the next run;
# remove it with `rm -rf /var/lib/machines/tbuddy-bookworm*` when no host runs.
# Safe to run when nothing is up. Env: TBH_STATE (/tmp/tbuddy-hosts), TBH_STOP_TIMEOUT. Root.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
STATE=$TBH_ROOT/nspawn
BR=tbh-br0
NFT_TABLE=tbuddy_hosts
STOP_TIMEOUT=${TBH_STOP_TIMEOUT:-20}
t0=$(now)
[ -d "$STATE" ] || { log "nothing to stop ($STATE does not exist)"; exit 0; }
exec 8>"$STATE/.lock"
flock -w 60 8 || warn "$STATE/.lock is held by another process; going ahead"

hosts=()
for d in "$STATE"/hosts/*/; do hosts+=("${d%/}"); done
cgroup_of() { cat "$1/cgroup" 2>/dev/null; }
gone() {
  local d=$1 cg lpid lstart
  cg=$(cgroup_of "$d") && cg_populated "$cg" && return 1
  if [ -f "$d/launcher" ] && read -r lpid lstart <"$d/launcher" && alive "$lpid" "$lstart"; then return 1; fi
  return 0
}

# 1. clean poweroff of every container at once
for d in "${hosts[@]}"; do
  touch "$d/stopping"
  if [ -f "$d/launcher" ] && read -r lpid lstart <"$d/launcher" && alive "$lpid" "$lstart"; then
    kill -TERM "$lpid" 2>/dev/null || true
  elif cg=$(cgroup_of "$d") && init=$(ns_init "$cg"); then
    # the supervisor is gone (crash) but the container lives on: SIGRTMIN+4 = poweroff
    kill -s RTMIN+4 "$init" 2>/dev/null || true
  fi
done
deadline=$((SECONDS + STOP_TIMEOUT))
for d in "${hosts[@]}"; do
  until gone "$d" || (( SECONDS >= deadline )); do sleep 0.1; done
done
# 2. force what did not stop, by PID (cgroup members, then the supervisor itself)
for d in "${hosts[@]}"; do
  gone "$d" && continue
  warn "$(basename "$d"): no clean poweroff within ${STOP_TIMEOUT}s; killing its processes. End of console.log:"
  tail -n 5 "$d/console.log" 2>/dev/null | sed 's/^/    /' >&2 || true
  if cg=$(cgroup_of "$d"); then cg_kill "$cg" KILL; fi
  if read -r lpid lstart <"$d/launcher" 2>/dev/null && alive "$lpid" "$lstart"; then kill -KILL "$lpid" 2>/dev/null || true; fi
  for _ in $(seq 1 50); do gone "$d" && break; sleep 0.1; done
  gone "$d" || die "$(basename "$d"): processes survive SIGKILL: $(cg_pids "$(cgroup_of "$d")" | tr '\n' ' ')"
done

# 3. per host: cgroups, overlay, netns + veth, nspawn's leftovers in /run. A step that fails
# is reported and the rest goes on; the script fails at the end.
problems=()
for d in "${hosts[@]}"; do
  name=$(basename "$d")
  if cg=$(cgroup_of "$d"); then
    cg_remove "$cg" || problems+=("$name: cgroup $cg not removable")
    cg_prune_parents "$cg"
  fi
  if mountpoint -q "$d/root"; then
    umount "$d/root" 2>/dev/null || umount -l "$d/root" || problems+=("$name: cannot unmount $d/root")
  fi
  if read -r _ _ _ ns veth <"$d/endpoint" 2>/dev/null; then
    # veth first (that removes its peer too); deleting the netns would tear the pair down
    # asynchronously. Success is judged by what is left, not by the commands' status.
    ip link del "$veth" 2>/dev/null || true
    if [ -e "/run/netns/$ns" ]; then ip netns del "$ns" 2>/dev/null || true; fi
    [ ! -e "/run/netns/$ns" ] || problems+=("$name: network namespace $ns not removable")
    for _ in $(seq 1 30); do ip link show "$veth" >/dev/null 2>&1 || break; sleep 0.1; done
    ! ip link show "$veth" >/dev/null 2>&1 || problems+=("$name: veth $veth not removable")
  fi
  rm -rf "/run/systemd/nspawn/propagate/$name"
done

# 4. shared network setup and kernel settings
if [ -f "$STATE/created-bridge" ] && ip link show "$BR" >/dev/null 2>&1; then
  ip link del "$BR" || problems+=("ip link del $BR failed")
fi
if [ -f "$STATE/created-nft" ] && nft list table ip "$NFT_TABLE" >/dev/null 2>&1; then
  nft delete table ip "$NFT_TABLE" || problems+=("nft delete table ip $NFT_TABLE failed")
fi
if [ -f "$STATE/ip_forward.orig" ]; then
  # another set of namespaced hosts on this machine may still need forwarding
  if [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
    cat "$STATE/ip_forward.orig" >/proc/sys/net/ipv4/ip_forward
  else
    warn "left net.ipv4.ip_forward=1: other network namespaces exist ($(ls /run/netns | paste -sd' '))"
  fi
fi
if [ -f "$STATE/inotify.orig" ]; then
  read -r orig ours <"$STATE/inotify.orig"
  [ "$(cat /proc/sys/fs/inotify/max_user_instances)" = "$ours" ] && echo "$orig" >/proc/sys/fs/inotify/max_user_instances
fi
if [ -f "$STATE/created-run-netns" ] && [ -d /run/netns ] && [ -z "$(ls -A /run/netns)" ]; then
  mountpoint -q /run/netns && umount /run/netns
  rmdir /run/netns
fi
# systemd-nspawn leaves /run/systemd/nspawn/{locks,propagate} behind on a machine without
# systemd: remove it (and /run/systemd) if nspawn-up.sh made it and no nspawn runs any more
if [ -f "$STATE/created-run-nspawn" ] && [ -d /run/systemd/nspawn ]; then
  nspawn_left=
  for q in /proc/[0-9]*; do
    [ "$(readlink "$q/exe" 2>/dev/null)" = /usr/bin/systemd-nspawn ] && { nspawn_left=1; break; }
  done
  if [ -z "$nspawn_left" ] && [ -z "$(find /run/systemd/nspawn -mindepth 1 -not -type d -not -path '/run/systemd/nspawn/locks/*' -print -quit)" ]; then
    rm -rf /run/systemd/nspawn
    [ -f "$STATE/created-run-systemd" ] && rmdir /run/systemd 2>/dev/null || true
  fi
fi

# 5. state (overlay upper dirs, keys, inventory); kept if anything above went wrong
if [ ${#problems[@]} -gt 0 ]; then
  for p in "${problems[@]}"; do warn "$p"; done
  die "cleanup incomplete (state kept in $STATE; run nspawn-down.sh again)"
fi
for d in "${hosts[@]}"; do
  mountpoint -q "$d/root" && die "$d/root is still mounted; not removing $STATE"
done
exec 8>&-
rm -rf "${STATE:?}"
rmdir "$TBH_ROOT" 2>/dev/null || true
log "stopped ${#hosts[@]} host(s) and cleaned up in $(since "$t0")s"
