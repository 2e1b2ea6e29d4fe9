#!/usr/bin/env bash
# sshd-down.sh — stop the test hosts of sshd-up.sh and remove everything it set up.
#
# Stops exactly the processes sshd-up.sh started and their descendants (sshd, login sessions,
# daemons a test started in a host): they are found through each host's cgroup (and, where no
# cgroup hierarchy is writable, through the recorded launcher PID + start time and its PID
# namespace), never by process name. SIGTERM first, SIGKILL after 5 s. Then removes the
# cgroups, the users and sudoers file sshd-up.sh created on the machine (isolation none only),
# /run/sshd if sshd-up.sh created it and no other sshd runs, and the whole state directory
# $TBH_STATE/sshd (overlay upper dirs, keys, inventory). Safe to run when nothing is up.
# Env: TBH_STATE (/tmp/tbuddy-hosts). Needs root.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
STATE=$TBH_ROOT/sshd
t0=$(now)
[ -d "$STATE" ] || { log "nothing to stop ($STATE does not exist)"; exit 0; }
exec 8>"$STATE/.lock"
flock -w 60 8 || warn "$STATE/.lock is held by another process; going ahead"

# PIDs of $1 and all its descendants
tree_pids() {
  local p=$1 c
  echo "$p"
  for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree_pids "$c"; done
}
# every process of one host: its cgroup, plus (fallback) its launcher's tree and PID namespace
host_pids() {
  local d=$1 lpid lstart p ns q
  if [ -f "$d/cgroup" ] && [ -n "$TBH_CG_MOUNTS" ]; then cg_pids "$(cat "$d/cgroup")"; return 0; fi
  if [ -f "$d/launcher" ] && read -r lpid lstart <"$d/launcher" && alive "$lpid" "$lstart"; then
    for p in $(tree_pids "$lpid"); do
      echo "$p"
      ns=$(readlink "/proc/$p/ns/pid" 2>/dev/null) || continue
      if [ "$ns" != "$(readlink /proc/self/ns/pid)" ]; then
        for q in /proc/[0-9]*; do [ "$(readlink "$q/ns/pid" 2>/dev/null)" = "$ns" ] && echo "${q#/proc/}"; done
      fi
    done
  fi
  return 0
}

hosts=("$STATE"/hosts/*/)
declare -A pids_of
for d in "${hosts[@]}"; do
  d=${d%/}
  pids_of[$d]=$(host_pids "$d" | sort -un | tr '\n' ' ')
  # shellcheck disable=SC2086
  [ -z "${pids_of[$d]// }" ] || kill -TERM ${pids_of[$d]} 2>/dev/null || true
done
# wait until every host's processes are gone (5 s), then force
gone() { if [ -f "$1/cgroup" ] && [ -n "$TBH_CG_MOUNTS" ]; then ! cg_populated "$(<"$1/cgroup")"; else [ -z "$(host_pids "$1")" ]; fi; }
deadline=$((SECONDS + 5))
for d in "${hosts[@]}"; do
  d=${d%/}
  until gone "$d" || (( SECONDS >= deadline )); do sleep 0.05; done
  if ! gone "$d"; then
    warn "$(basename "$d"): still running 5 s after SIGTERM; sending SIGKILL"
    [ -f "$d/cgroup" ] && cg_kill "$(<"$d/cgroup")" KILL
    left=$(host_pids "$d" | tr '\n' ' ')
    # shellcheck disable=SC2086
    [ -z "${left// }" ] || kill -KILL $left 2>/dev/null || true
    sleep 0.2
    gone "$d" || die "$(basename "$d"): processes survive SIGKILL: $(host_pids "$d" | tr '\n' ' ')"
  fi
  if [ -f "$d/cgroup" ]; then
    cg_remove "$(<"$d/cgroup")" || warn "$(basename "$d"): cgroup $(<"$d/cgroup") could not be removed"
    cg_prune_parents "$(<"$d/cgroup")"
  fi
done

# host-wide changes of isolation mode none
if [ -f "$STATE/created-users" ]; then
  while read -r u; do
    [ -n "$u" ] && id "$u" >/dev/null 2>&1 && { userdel --remove "$u" 2>/dev/null || userdel "$u"; }
  done <"$STATE/created-users"
fi
if [ -f "$STATE/created-sudoers" ]; then rm -f /etc/sudoers.d/tbuddy-hosts; fi
# /run/sshd is needed by every sshd on the machine: only remove it when we made it and no
# other sshd is left
if [ -f "$STATE/created-run-sshd" ] && [ -d /run/sshd ]; then
  other=
  for q in /proc/[0-9]*; do
    [ "$(readlink "$q/exe" 2>/dev/null)" = /usr/sbin/sshd ] && { other=1; break; }
  done
  if [ -z "$other" ]; then rmdir /run/sshd 2>/dev/null || true; fi
fi

exec 8>&-
rm -rf "${STATE:?}"
rmdir "$TBH_ROOT" 2>/dev/null || true
log "stopped ${#hosts[@]} host(s) and removed $STATE in $(since "$t0")s"
