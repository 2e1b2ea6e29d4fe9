#!/usr/bin/env bash
# bench/fleet.sh — tbuddy-deploy against ansible-core on a fleet of loopback SSH hosts.
#
# Applies bench/playbook/site.yml (two templates, three copies, two lineinfile edits, one
# command) to N = 1, 10 and 50 test hosts (tests/hosts/sshd-up.sh) with both tools, in three
# scenarios:
#   first   first apply, after the playbook's directory was removed on every host
#   noop    the same apply again: nothing to change (every host must report changed=0)
#   check   check mode (--check) on the applied state (again changed=0 everywhere)
# and measures the "SSH floor": N parallel `ssh HOST true`, each a fresh connection. Prints
# the median wall-clock time of each, the ratios, the CPU time each run cost on the controller
# and inside the hosts, and the controller's peak memory at the largest N. See
# docs/benchmarks.md for what is measured and the results.
#
# Usage: bench/fleet.sh [--hosts "1 10 50"] [--runs 3] [--user tbuddy|root]
#                       [--tools "ansible tbuddy"] [--timeout 600] [--out FILE] [--keep]
#   --hosts    fleet sizes (1..200); hosts for the largest are started once
#   --runs     repetitions of each measurement; the median is reported
#   --user     login user: tbuddy (default; unprivileged, tasks run with become/sudo) or
#              root (no become; root's ~/.bashrc inside the hosts is emptied first)
#   --tools    leave one out to measure only the other
#   --timeout  limit in seconds for one run of a tool (it fails the benchmark)
#   --out      also write the table to FILE (the raw samples go to FILE.tsv)
#   --keep     keep the work directory (logs of every run) instead of deleting it
#
# Needs root (the test hosts need it) on Debian 12 with network access to PyPI the first
# time (ansible-core is pip-installed into a venv that is then reused).
# Env: BENCH_VENV        the venv (default ${TMPDIR:-/tmp}/tbuddy-bench-venv)
#      BENCH_ANSIBLE     ansible-core version (default 2.17.14)
#      BENCH_PYTHON      python for the venv (default /usr/bin/python3)
#      BENCH_TBUDDY      a tbuddy-deploy binary to use instead of building target/release
#      TMPDIR            where the work directory goes (default /tmp)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PLAYBOOK=$HERE/playbook/site.yml
BENCH_ROOT=/srv/bench            # bench_root of the playbook; private to each host

HOSTS="1 10 50"
RUNS=3
LOGIN=tbuddy
TOOLS="ansible tbuddy"
TIMEOUT=600
OUT=
KEEP=0
ANSIBLE_VERSION=${BENCH_ANSIBLE:-2.17.14}
VENV=${BENCH_VENV:-${TMPDIR:-/tmp}/tbuddy-bench-venv}
PYTHON=${BENCH_PYTHON:-/usr/bin/python3}

log() { printf 'fleet: %s\n' "$*" >&2; }
die() { printf 'fleet: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) HOSTS=${2:?--hosts needs a value}; shift 2 ;;
    --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
    --user) LOGIN=${2:?--user needs a value}; shift 2 ;;
    --tools) TOOLS=${2:?--tools needs a value}; shift 2 ;;
    --timeout) TIMEOUT=${2:?--timeout needs a value}; shift 2 ;;
    --out) OUT=${2:?--out needs a value}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage 0 ;;
    *) printf 'fleet: error: unknown argument %s\n\n' "$1" >&2; usage 4 ;;
  esac
done

MAXN=0
for n in $HOSTS; do
  if ! [[ "$n" =~ ^[0-9]+$ ]] || (( n < 1 || n > 200 )); then die "--hosts: '$n' is not a number in 1..200"; fi
  if (( n > MAXN )); then MAXN=$n; fi
done
(( MAXN > 0 )) || die "--hosts: no fleet size given"
if ! [[ "$RUNS" =~ ^[0-9]+$ ]] || (( RUNS < 1 || RUNS > 50 )); then die "--runs must be 1..50"; fi
if ! [[ "$TIMEOUT" =~ ^[0-9]+$ ]] || (( TIMEOUT < 10 )); then die "--timeout must be a number of seconds >= 10"; fi
case "$LOGIN" in tbuddy|root) ;; *) die "--user must be tbuddy or root" ;; esac
for t in $TOOLS; do case "$t" in ansible|tbuddy) ;; *) die "--tools: unknown tool '$t'" ;; esac; done
[ -n "${TOOLS// /}" ] || die "--tools: no tool given"
has_tool() { case " $TOOLS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
[ "$(id -u)" = 0 ] || die "must run as root (the test hosts of tests/hosts/ need it)"
for c in ssh timeout awk sort; do command -v "$c" >/dev/null || die "'$c' is missing"; done

# ---------------------------------------------------------------------------------------
# Work directory, test hosts, clean-up

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tbuddy-bench.XXXXXX")
chmod 755 "$WORK"
export TBH_STATE=$WORK/hosts
HOSTS_UP=0

stop_ansible_masters() {
  local s
  for s in "$WORK"/cp/*; do
    [ -S "$s" ] || continue
    ssh -o ControlPath="$s" -O exit bench-host >/dev/null 2>&1 || true
  done
}
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  stop_ansible_masters
  if [ -n "${CTL_CG:-}" ] && [ -d "$CTL_CG" ]; then
    # a control master that outlived its run would keep the cgroup busy: stop those first
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      rmdir "$CTL_CG" 2>/dev/null && break
      pids=$(cat "$CTL_CG/cgroup.procs" 2>/dev/null || true)
      # shellcheck disable=SC2086
      [ -z "$pids" ] || kill $pids 2>/dev/null
      sleep 0.2
    done
  fi
  if [ "$HOSTS_UP" = 1 ]; then
    log "stopping the test hosts"
    "$REPO/tests/hosts/sshd-down.sh" >/dev/null 2>"$WORK/sshd-down.log" || cat "$WORK/sshd-down.log" >&2
  fi
  if [ "$KEEP" = 1 ]; then
    log "work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------
# Prerequisites: Debian packages, the release binary, the ansible-core venv

log "checking the Debian packages of the test hosts (tests/hosts/install-deps.sh)"
"$REPO/tests/hosts/install-deps.sh" >"$WORK/install-deps.log" 2>&1 \
  || { cat "$WORK/install-deps.log" >&2; die "tests/hosts/install-deps.sh failed"; }

if [ -n "${BENCH_TBUDDY:-}" ]; then
  TBUDDY=$BENCH_TBUDDY
  [ -x "$TBUDDY" ] || die "BENCH_TBUDDY=$TBUDDY is not an executable"
elif has_tool tbuddy; then
  command -v cargo >/dev/null || die "cargo is missing (needed to build tbuddy-deploy)"
  log "building tbuddy-deploy (cargo build --release)"
  (cd "$REPO" && cargo build --release --quiet) || die "cargo build --release failed"
  TBUDDY=$REPO/target/release/tbuddy-deploy
fi

if has_tool ansible; then
  version=$("$VENV/bin/ansible-playbook" --version 2>/dev/null || true)
  if [[ "$version" != *"[core $ANSIBLE_VERSION]"* ]]; then
    if [ ! -x "$VENV/bin/pip" ]; then
      [ -x "$PYTHON" ] || die "no python at $PYTHON (set BENCH_PYTHON)"
      [ ! -e "$VENV" ] || die "$VENV exists but is no venv (set BENCH_VENV to another directory)"
      log "creating the venv $VENV (once)"
      "$PYTHON" -m venv "$VENV" || die "$PYTHON -m venv failed (is python3-venv installed?)"
    fi
    log "installing ansible-core $ANSIBLE_VERSION into $VENV (once)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "ansible-core==$ANSIBLE_VERSION" \
      || die "pip install ansible-core==$ANSIBLE_VERSION failed"
  fi
  ANSIBLE_PLAYBOOK=$VENV/bin/ansible-playbook
  mkdir -p "$WORK/cp" "$WORK/ansible-home" "$WORK/ansible-tmp"
  cat >"$WORK/ansible.cfg" <<EOF
[defaults]
host_key_checking = True
retry_files_enabled = False
interpreter_python = /usr/bin/python3
local_tmp = $WORK/ansible-tmp
# the default (10 s) for connecting and for sudo's answer is too short for 50 hosts on a
# small machine: under that load some hosts fail with "Timeout waiting for privilege
# escalation prompt". A longer limit changes no timing, it only avoids those failures.
timeout = 60

[ssh_connection]
pipelining = True
# ansible-core's defaults, spelled out: one control master per host, kept 60 s
ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s
control_path_dir = $WORK/cp
EOF
  export ANSIBLE_CONFIG=$WORK/ansible.cfg ANSIBLE_HOME=$WORK/ansible-home ANSIBLE_NOCOLOR=1
  export ANSIBLE_FORCE_COLOR=0
fi

log "starting $MAXN test hosts (tests/hosts/sshd-up.sh)"
HOSTS_UP=1
"$REPO/tests/hosts/sshd-up.sh" "$MAXN" >/dev/null 2>"$WORK/sshd-up.log" \
  || { cat "$WORK/sshd-up.log" >&2; die "the test hosts did not come up"; }
SSHD=$TBH_STATE/sshd
KEY=$SSHD/id_ed25519
KNOWN=$SSHD/known_hosts
SSH_OPTS=(-o UserKnownHostsFile="$KNOWN" -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes
          -o IdentitiesOnly=yes -o BatchMode=yes -i "$KEY")
mapfile -t HOST_LINES <"$SSHD/hosts.tsv"    # name addr port sandbox, sorted sshd1..N

# CPU accounting with cgroup v2: the harness runs every host in a cgroup below one parent, and
# each measured run of a tool (with the ssh processes it starts, control masters included)
# goes into a cgroup of our own. Their cpu.stat counts only those processes, whatever else
# the machine is doing.
CG_MOUNT=
for m in /sys/fs/cgroup /sys/fs/cgroup/unified; do
  if [ "$(stat -fc %T "$m" 2>/dev/null)" = cgroup2fs ]; then CG_MOUNT=$m; break; fi
done
HOSTS_CG=''
CTL_CG=''
if [ -n "$CG_MOUNT" ] && [ -s "$SSHD/hosts/sshd1/cgroup" ]; then
  HOSTS_CG=$CG_MOUNT/$(dirname "$(cat "$SSHD/hosts/sshd1/cgroup")")
  CTL_CG=$CG_MOUNT/tbuddy-bench-$$
  mkdir "$CTL_CG" 2>/dev/null || CTL_CG=
fi
if [ -z "$CTL_CG" ] || [ ! -f "$HOSTS_CG/cpu.stat" ]; then
  [ -z "$CTL_CG" ] || rmdir "$CTL_CG"
  HOSTS_CG=''
  CTL_CG=''
  log "no cgroup v2 here: CPU times are not measured"
fi
cpu_usec() { if [ -n "$1" ]; then awk '$1 == "usage_usec" { print $2 }' "$1/cpu.stat"; else echo 0; fi; }
# runs a command inside the controller cgroup
in_ctl_cg() {
  if [ -n "$CTL_CG" ]; then echo "$BASHPID" >"$CTL_CG/cgroup.procs"; fi
  exec "$@"
}

# on every host (in parallel, as root, without SSH): run a shell command
on_hosts() {
  local n=$1 cmd=$2 i pids=() fail=0
  for ((i = 1; i <= n; i++)); do
    "$REPO/tests/hosts/exec.sh" "sshd$i" sh -c "$cmd" >/dev/null 2>>"$WORK/exec.log" & pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || fail=1; done
  return "$fail"
}

if [ "$LOGIN" = root ]; then
  # The hosts' /root is a copy-on-write view of the machine's, whose .bashrc may do slow
  # things on every login; emptying it inside the hosts leaves the machine's untouched.
  on_hosts "$MAXN" ': >/root/.bashrc' || die "cannot empty /root/.bashrc in the hosts"
  BECOME=()
else
  BECOME=(-b)
fi

# an inventory with the first N hosts, read by both tools
inventory() {
  local n=$1 f=$WORK/inventory-$1.yml i name addr port
  {
    echo "all:"
    echo "  hosts:"
    for ((i = 0; i < n; i++)); do
      read -r name addr port _ <<<"${HOST_LINES[$i]}"
      echo "    $name:"
      echo "      ansible_host: $addr"
      echo "      ansible_port: $port"
    done
    echo "  vars:"
    echo "    ansible_user: $LOGIN"
    echo "    ansible_ssh_private_key_file: $KEY"
    echo "    ansible_ssh_common_args: '-o UserKnownHostsFile=$KNOWN -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'"
    echo "    ansible_python_interpreter: /usr/bin/python3"
  } >"$f"
  echo "$f"
}

# ---------------------------------------------------------------------------------------
# Measuring

now() { echo "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

RESULTS=$WORK/results.tsv      # N scenario tool seconds controller-cpu-seconds host-cpu-seconds
: >"$RESULTS"

# the SSH floor: N fresh connections at once, each running `true`
floor_once() {
  local n=$1 i name addr port pids=() fail=0 t0 t1 c0 c1 h0 h1
  c0=$(cpu_usec "$CTL_CG"); h0=$(cpu_usec "$HOSTS_CG")
  t0=$(now)
  for ((i = 0; i < n; i++)); do
    read -r name addr port _ <<<"${HOST_LINES[$i]}"
    ( in_ctl_cg ssh "${SSH_OPTS[@]}" -o ControlMaster=no -o ControlPath=none -p "$port" -l "$LOGIN" "$addr" true \
      </dev/null 2>>"$WORK/floor.log" ) & pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || fail=1; done
  t1=$(now)
  c1=$(cpu_usec "$CTL_CG"); h1=$(cpu_usec "$HOSTS_CG")
  [ "$fail" = 0 ] || die "ssh to a test host failed (see $WORK/floor.log)"
  printf '%s\tfloor\tssh\t%s\t%s\n' "$n" "$(elapsed "$t0" "$t1")" "$(cpu_pair "$c0" "$c1" "$h0" "$h1")" >>"$RESULTS"
}
cpu_pair() { awk -v a="$1" -v b="$2" -v c="$3" -v d="$4" 'BEGIN { printf "%.2f\t%.2f", (b - a) / 1e6, (d - c) / 1e6 }'; }

# per-host recap of a run as lines "host ok changed failed unreachable"
recap_tbuddy() {
  grep '"event":"recap"' "$1" | tail -1 | "$PYTHON" -c '
import json, sys
for host, c in sorted(json.load(sys.stdin)["hosts"].items()):
    print(host, c.get("ok", 0), c.get("changed", 0), c.get("failed", 0), c.get("unreachable", 0))'
}
recap_ansible() {
  awk '/^PLAY RECAP/ { on = 1; next }
       on && NF >= 3 && $2 == ":" {
         ok = ch = fa = un = 0
         for (i = 3; i <= NF; i++) { split($i, kv, "=")
           if (kv[1] == "ok") ok = kv[2]; else if (kv[1] == "changed") ch = kv[2]
           else if (kv[1] == "failed") fa = kv[2]; else if (kv[1] == "unreachable") un = kv[2] }
         print $1, ok, ch, fa, un }' "$1"
}

# checks a run's recap: every host present, nothing failed; changed=0 unless first apply
verify() {
  local tool=$1 scen=$2 n=$3 out=$4 recap hosts bad
  recap=$("recap_$tool" "$out") || true
  hosts=$(printf '%s\n' "$recap" | grep -c . || true)
  [ "$hosts" = "$n" ] || die "$tool $scen on $n hosts: the recap lists $hosts hosts (log: $out)"
  bad=$(printf '%s\n' "$recap" | awk -v s="$scen" '$4 != 0 || $5 != 0 || (s != "first" && $3 != 0) || (s == "first" && $3 == 0)')
  [ -z "$bad" ] || die "$tool $scen on $n hosts: unexpected recap (host ok changed failed unreachable): $(echo "$bad" | head -3 | tr '\n' ';') (log: $out)"
  printf '%s\n' "$recap" | awk '{ print $2, $3 }' | sort -u >"$WORK/counts-$tool-$scen-$n"
}

run_tool() {
  local tool=$1 scen=$2 n=$3 rep=$4 inv out t0 t1 rc=0 cmd c0 c1 h0 h1
  inv=$WORK/inventory-$n.yml
  out=$WORK/log-$tool-$scen-$n-$rep.txt
  case "$tool" in
    tbuddy)
      cmd=("$TBUDDY" apply -i "$inv" "$PLAYBOOK" -y --forks "$n" --json "${BECOME[@]}")
      [ "$scen" = check ] && cmd+=(--check) ;;
    ansible)
      cmd=("$ANSIBLE_PLAYBOOK" -i "$inv" "$PLAYBOOK" -f "$n" "${BECOME[@]}")
      [ "$scen" = check ] && cmd+=(--check) ;;
  esac
  c0=$(cpu_usec "$CTL_CG"); h0=$(cpu_usec "$HOSTS_CG")
  t0=$(now)
  ( in_ctl_cg timeout --kill-after=10 "$TIMEOUT" "${cmd[@]}" ) </dev/null >"$out" 2>&1 || rc=$?
  t1=$(now)
  stop_ansible_masters     # their CPU time belongs to the run
  c1=$(cpu_usec "$CTL_CG"); h1=$(cpu_usec "$HOSTS_CG")
  case "$rc" in 124|137) die "$tool $scen on $n hosts took longer than ${TIMEOUT}s (log: $out)" ;; esac
  [ "$rc" = 0 ] || die "$tool $scen on $n hosts failed with exit status $rc (log: $out)"
  verify "$tool" "$scen" "$n" "$out"
  printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$scen" "$tool" "$(elapsed "$t0" "$t1")" "$(cpu_pair "$c0" "$c1" "$h0" "$h1")" >>"$RESULTS"
}

reset_hosts() {
  on_hosts "$1" "rm -rf $BENCH_ROOT" || die "cannot reset $BENCH_ROOT on the hosts (see $WORK/exec.log)"
}

# what the playbook left on a host: path, mode, owner, checksum (the random key excluded)
snapshot() {
  "$REPO/tests/hosts/exec.sh" "$1" sh -c \
    "cd $BENCH_ROOT && find . -printf '%p %m %u:%g %y\n' | sort && find . -type f ! -name 'app_key*' | sort | xargs sha256sum"
}

# one tool, one repetition: reset, first apply, no-op re-apply, check mode
tool_round() {
  local tool=$1 n=$2 rep=$3
  stop_ansible_masters     # every run starts without connections, as tbuddy-deploy does
  reset_hosts "$n"
  stop_ansible_masters; run_tool "$tool" first "$n" "$rep"
  stop_ansible_masters; run_tool "$tool" noop "$n" "$rep"
  stop_ansible_masters; run_tool "$tool" check "$n" "$rep"
  stop_ansible_masters
  if [ "$rep" = 1 ]; then
    { snapshot sshd1 && snapshot "sshd$n"; } >"$WORK/snapshot-$tool-$n.txt" || die "cannot read $BENCH_ROOT on the hosts"
  fi
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for n in $HOSTS; do
  inventory "$n" >/dev/null
  for ((rep = 1; rep <= RUNS; rep++)); do
    log "$n host(s), run $rep/$RUNS"
    floor_once "$n"
    # alternate which tool goes first, so a change in the machine's load hits both alike
    if (( rep % 2 )); then order=$TOOLS; else order=$(echo "$TOOLS" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }'); fi
    for tool in $order; do tool_round "$tool" "$n" "$rep"; done
  done
  if has_tool ansible && has_tool tbuddy; then
    # same end state and the same per-host ok/changed counts from both tools
    diff -u "$WORK/snapshot-ansible-$n.txt" "$WORK/snapshot-tbuddy-$n.txt" >"$WORK/snapshot-$n.diff" \
      || die "the tools left different files on the hosts (see $WORK/snapshot-$n.diff)"
    for scen in first noop check; do
      cmp -s "$WORK/counts-ansible-$scen-$n" "$WORK/counts-tbuddy-$scen-$n" \
        || die "$scen on $n hosts: ok/changed counts differ: ansible $(tr '\n' ' ' <"$WORK/counts-ansible-$scen-$n"), tbuddy $(tr '\n' ' ' <"$WORK/counts-tbuddy-$scen-$n")"
    done
  fi
done

# controller memory at the largest N: one more first apply per tool, sampled
MEM=$WORK/memory.txt
: >"$MEM"
for tool in $TOOLS; do
  log "$MAXN host(s): controller memory of $tool (first apply)"
  reset_hosts "$MAXN"; stop_ansible_masters
  inv=$WORK/inventory-$MAXN.yml
  if [ "$tool" = tbuddy ]; then
    marker='tbuddy-ssh-{pid}-'
    cmd=("$TBUDDY" apply -i "$inv" "$PLAYBOOK" -y --forks "$MAXN" --json "${BECOME[@]}")
  else
    marker=$WORK/cp/
    cmd=("$ANSIBLE_PLAYBOOK" -i "$inv" "$PLAYBOOK" -f "$MAXN" "${BECOME[@]}")
  fi
  timeout --kill-after=10 "$TIMEOUT" "$PYTHON" "$HERE/memwatch.py" "$WORK/mem-$tool" "$marker" -- "${cmd[@]}" \
    </dev/null >"$WORK/log-$tool-mem.txt" 2>&1 || die "$tool under memwatch failed (log: $WORK/log-$tool-mem.txt)"
  verify "$tool" first "$MAXN" "$WORK/log-$tool-mem.txt"
  stop_ansible_masters
  printf '%s %s\n' "$tool" "$(cat "$WORK/mem-$tool")" >>"$MEM"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------
# The table

median() {  # N scenario tool [column: 4 wall, 5 controller CPU, 6 host CPU] -> median (or -)
  awk -F'\t' -v n="$1" -v s="$2" -v t="$3" -v c="${4:-4}" '$1 == n && $2 == s && $3 == t { print $c }' "$RESULTS" \
    | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.1fx", a / b }'; }
secs() { awk -v a="$1" 'BEGIN { if (a == "-") print "-"; else printf "%.2f s", a }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }

TABLE=$WORK/table.txt
{
  echo "tbuddy-deploy vs ansible-core $ANSIBLE_VERSION: median of $RUNS run(s); login user $LOGIN$([ "$LOGIN" = tbuddy ] && echo ' with become (sudo)'); forks = N"
  echo "machine: $(nproc) CPUs, $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"'), $(ssh -V 2>&1 | cut -d, -f1); load average before $LOAD_BEFORE, after $LOAD_AFTER"
  echo
  printf '%5s  %-11s  %9s  %9s  %14s  %9s  %12s\n' hosts scenario ansible tbuddy ansible/tbuddy "ssh floor" tbuddy/floor
  for n in $HOSTS; do
    fl=$(median "$n" floor ssh)
    for scen in first noop check; do
      a=$(median "$n" "$scen" ansible); t=$(median "$n" "$scen" tbuddy)
      case "$scen" in first) label="first apply" ;; noop) label="no-op apply" ;; check) label="check mode" ;; esac
      printf '%5s  %-11s  %9s  %9s  %14s  %9s  %12s\n' "$n" "$label" "$(secs "$a")" "$(secs "$t")" \
        "$(ratio "$a" "$t")" "$(secs "$fl")" "$(ratio "$t" "$fl")"
    done
  done
  if [ -n "$CTL_CG" ]; then
    echo
    echo "CPU seconds per run (median), controller + inside the hosts; the machine has $(nproc) CPUs:"
    printf '%5s  %-11s  %21s  %21s  %21s\n' hosts scenario ansible tbuddy "ssh floor"
    for n in $HOSTS; do
      fl="$(median "$n" floor ssh 5) + $(median "$n" floor ssh 6)"
      for scen in first noop check; do
        case "$scen" in first) label="first apply" ;; noop) label="no-op apply" ;; check) label="check mode" ;; esac
        printf '%5s  %-11s  %21s  %21s  %21s\n' "$n" "$label" \
          "$(median "$n" "$scen" ansible 5) + $(median "$n" "$scen" ansible 6)" \
          "$(median "$n" "$scen" tbuddy 5) + $(median "$n" "$scen" tbuddy 6)" "$fl"
      done
    done
  fi
  echo
  echo "controller memory, first apply on $MAXN host(s):"
  while read -r tool kv; do
    declare -A m=()
    for pair in $kv; do m[${pair%%=*}]=${pair#*=}; done
    printf '  %-8s main process peak RSS %s; whole controller incl. forks and ssh masters: peak PSS %s (RSS sum %s, %s processes)\n' \
      "$tool" "$(mb "${m[main_hwm_kb]}")" "$(mb "${m[total_pss_kb]}")" "$(mb "${m[total_rss_kb]}")" "${m[procs]}"
    unset m
  done <"$MEM"
} >"$TABLE"

echo
cat "$TABLE"
if [ -n "$OUT" ]; then
  cp "$TABLE" "$OUT"
  cp "$RESULTS" "$OUT.tsv"
  log "table written to $OUT, samples to $OUT.tsv"
fi
