# shellcheck shell=bash
# Helpers shared by the tests/hosts scripts. Sourced, never run.
#
# Every script that sources this file:
#   * runs with `set -Eeuo pipefail` and an ERR trap that names the failing command;
#   * reads nothing from stdin (fd 0 is reopened on /dev/null, so CI with no stdin works);
#   * writes progress to stderr and only results (an inventory, a path) to stdout;
#   * exits non-zero with a one-line "error:" message when something is missing or fails.

set -Eeuo pipefail
shopt -s nullglob

TBH_SCRIPT=$(basename "$0" .sh)
# shellcheck disable=SC2034  # TBH_DIR and TBH_ROOT are used by the sourcing scripts
TBH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034
TBH_ROOT=${TBH_STATE:-/tmp/tbuddy-hosts}
# nothing reads stdin (CI has none): fd 0 becomes /dev/null; exec.sh and ssh.sh pass it on
# (TBH_KEEP_STDIN=1), but a closed fd 0 would be taken by the next open(), so it is reopened
if [ "${TBH_KEEP_STDIN:-0}" != 1 ] || ! { : <&0; } 2>/dev/null; then exec </dev/null; fi

log() { printf '%s: %s\n' "$TBH_SCRIPT" "$*" >&2; }
warn() { printf '%s: warning: %s\n' "$TBH_SCRIPT" "$*" >&2; }
die() { printf '%s: error: %s\n' "$TBH_SCRIPT" "$*" >&2; exit 1; }
# scripts may set TBH_ON_ERROR to a function name that cleans up after a failure
TBH_ON_ERROR=
TBH_MAIN_PID=$$
tbh_err_trap() {
  local rc=$? line=$1 cmd=$2
  # in a subshell ($(...), a background job) the caller looks at the exit status
  [ "$BASHPID" = "$TBH_MAIN_PID" ] || exit "$rc"
  trap - ERR
  printf '%s: error: command failed (exit %s) at line %s: %s\n' "$TBH_SCRIPT" "$rc" "$line" "$cmd" >&2
  if [ -n "$TBH_ON_ERROR" ]; then "$TBH_ON_ERROR" || true; fi
  exit "$rc"
}
trap 'tbh_err_trap "$LINENO" "$BASH_COMMAND"' ERR

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (it creates namespaces, mounts, users and network devices)"; }
# need_cmd CMD PACKAGE: fail with a pointer to install-deps.sh when CMD is missing
need_cmd() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ] \
    || die "'$1' not found (Debian package $2): run tests/hosts/install-deps.sh first"
}

# monotonic-enough wall clock in seconds with two decimals
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

# start time (clock ticks since boot) of PID; together with the PID it identifies a process.
# Fails for a zombie: the machine's PID 1 may take seconds to reap orphans, and a zombie is
# not running any more.
proc_start() {
  local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }
  # shellcheck disable=SC2086
  set -- $s
  case "$1" in Z|X) return 1 ;; esac
  echo "${20}"
}
# alive PID START: true if PID still is the process that had start time START
alive() { [ -n "${1:-}" ] && [ "$(proc_start "$1" 2>/dev/null)" = "${2:-x}" ]; }

# --- cgroups: every process a script starts is put into its own cgroup, so that the matching
# down script can find (and kill) exactly those processes and their descendants, including
# daemons a test started inside a host, by PID; nothing is ever killed by name.
# cg_mounts prints the hierarchies to use: the cgroup2 one (pure v2 or the "unified" mount of a
# hybrid setup) and, on hybrid/v1 hosts, the name=systemd v1 hierarchy (systemd-nspawn needs it).
cg_mounts() {
  if [ -z "${TBH_CG_MOUNTS+x}" ]; then
    TBH_CG_MOUNTS=
    if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
      TBH_CG_MOUNTS=/sys/fs/cgroup
    else
      [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] && TBH_CG_MOUNTS=/sys/fs/cgroup/unified
      [ "$(stat -fc %T /sys/fs/cgroup/systemd 2>/dev/null)" = cgroupfs ] && TBH_CG_MOUNTS+=" /sys/fs/cgroup/systemd"
    fi
  fi
  echo $TBH_CG_MOUNTS
}
cg_mounts >/dev/null
# cg_enter REL PID: create REL (e.g. tbuddy-hosts/sshd-123/sshd1) in every hierarchy, move PID in
cg_enter() {
  local m rel=$1 pid=$2 ok=
  for m in $TBH_CG_MOUNTS; do
    mkdir -p "$m/$rel" && echo "$pid" >"$m/$rel/cgroup.procs" && ok=1
  done
  [ -n "$ok" ]
}
# cg_pids REL: every PID in REL or below it, in any hierarchy
cg_pids() {
  local m
  for m in $TBH_CG_MOUNTS; do
    [ -d "$m/$1" ] || continue
    find "$m/$1" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -un
}
# cg_populated REL: true while a process is left in REL or below (cgroup2: one file read)
cg_populated() {
  local m
  for m in $TBH_CG_MOUNTS; do
    if [ -f "$m/$1/cgroup.events" ]; then
      [[ "$(<"$m/$1/cgroup.events")" == *"populated 1"* ]]; return
    fi
  done
  [ -n "$(cg_pids "$1")" ]
}
# cg_kill REL SIGNAL: signal every process in REL (cgroup.kill for SIGKILL where available)
cg_kill() {
  local rel=$1 sig=$2 m pids
  if [ "$sig" = KILL ]; then
    for m in $TBH_CG_MOUNTS; do
      if [ -e "$m/$rel/cgroup.kill" ]; then echo 1 >"$m/$rel/cgroup.kill" 2>/dev/null || true; fi
    done
  fi
  pids=$(cg_pids "$rel")
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill "-$sig" $pids 2>/dev/null || true
}
# cg_remove REL: remove the (empty) cgroup directories, deepest first; a cgroup whose last
# tasks are still being torn down refuses rmdir (EBUSY) for a moment, so retry for 5 s
cg_remove() {
  local m
  for _ in $(seq 1 50); do
    for m in $TBH_CG_MOUNTS; do
      if [ -d "$m/$1" ]; then find "$m/$1" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
    done
    local left=
    for m in $TBH_CG_MOUNTS; do [ -d "$m/$1" ] && left=1; done
    [ -z "$left" ] && return 0
    sleep 0.1
  done
  return 1
}
# cg_prune_parents REL: remove REL's parent directories if they became empty
cg_prune_parents() {
  local m rel
  for m in $TBH_CG_MOUNTS; do
    rel=$1
    while [ "$rel" != . ] && [ "$rel" != / ] && [ -n "$rel" ]; do
      rel=$(dirname "$rel")
      [ "$rel" = . ] && break
      rmdir "$m/$rel" 2>/dev/null || break
    done
  done
  return 0
}

# cgroup path prefix for a state directory (two state dirs never share cgroups)
cg_prefix() { echo "tbuddy-hosts/$1-$(printf '%s' "$2" | cksum | cut -d' ' -f1)"; }

# generate a client key pair once per state directory
ensure_client_key() {
  local key=$1
  if [ ! -f "$key" ] || [ ! -f "$key.pub" ]; then
    rm -f "$key" "$key.pub"
    ssh-keygen -q -t ed25519 -N '' -C "tbuddy-test-client" -f "$key"
  fi
}

# random password of letters and digits (for the sudo-needs-a-password user)
random_password() { tr -dc 'A-Za-z0-9' </dev/urandom | head -c 20 || true; }

# host_running HOSTDIR: true while any process of that host (sshd or nspawn) is alive
host_running() {
  local d=${1%/} lpid lstart
  if [ -f "$d/cgroup" ] && [ -n "$TBH_CG_MOUNTS" ] && cg_populated "$(<"$d/cgroup")"; then return 0; fi
  [ -f "$d/launcher" ] && read -r lpid lstart <"$d/launcher" && alive "$lpid" "$lstart"
}

# ns_init CGROUP: host PID of the PID-1 process of the host in CGROUP (the member whose
# innermost PID is 1: systemd of an nspawn host, sshd of an sshd host in mode mount)
ns_init() {
  local p nspid
  for p in $(cg_pids "$1"); do
    nspid=$(awk '/^NSpid:/ { print NF - 1, $NF }' "/proc/$p/status" 2>/dev/null) || continue
    if [ "${nspid%% *}" -ge 2 ] 2>/dev/null && [ "${nspid#* }" = 1 ]; then echo "$p"; return 0; fi
  done
  return 1
}

# remove_empty_state DIR: at exit of an up script that failed early, do not leave a state
# directory holding nothing but its lock file
remove_empty_state() {
  local f
  [ -d "$1" ] || return 0
  for f in "$1"/* "$1"/.[!.]*; do [ "$f" = "$1/.lock" ] || return 0; done
  rm -rf "$1"; rmdir "$TBH_ROOT" 2>/dev/null || true
}
