#!/usr/bin/env bash
# exec.sh HOST [CMD [ARG...]] — run a command inside a test host as root, without SSH.
#
# HOST is an nspawn host (nspawn1...) or an sshd host (sshd1...). The command (argv, no shell;
# use `exec.sh HOST sh -c '...'` for one) runs in all namespaces of the host's PID 1 with a
# clean environment (PATH, HOME=/root, LANG=C.UTF-8, TERM) and inherits stdin/stdout/stderr;
# its exit status is returned. Without CMD an interactive login shell is started.
# It joins the host's cgroup, so whatever it leaves running is stopped by the down script.
# An sshd host with TBH_ISOLATION=none has no namespaces: the command runs on the machine.
# Examples:  exec.sh nspawn1 systemctl is-system-running
#            exec.sh sshd2 cat /etc/app.conf
# Env: TBH_STATE (/tmp/tbuddy-hosts). Needs root.
TBH_KEEP_STDIN=1
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
[ $# -ge 1 ] || die "usage: exec.sh HOST [CMD [ARG...]]"
host=$1; shift
[[ "$host" =~ ^[a-z0-9-]+$ ]] || die "bad host name '$host'"
d=
for kind in nspawn sshd; do
  if [ -d "$TBH_ROOT/$kind/hosts/$host" ]; then d=$TBH_ROOT/$kind/hosts/$host; break; fi
done
[ -n "$d" ] || die "no test host '$host' under $TBH_ROOT (is it up? TBH_STATE right?)"
host_running "$d" || die "test host '$host' is not running"
[ $# -gt 0 ] || set -- /bin/bash -l

# the host's PID 1: the process of the host whose innermost PID is 1
leader=
cg=$(cat "$d/cgroup" 2>/dev/null || true)
if [ -n "$cg" ]; then leader=$(ns_init "$cg" || true); fi
env=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
     LANG=C.UTF-8 TERM="${TERM:-dumb}")
if [ -n "$cg" ]; then cg_enter "$cg" "$$" 2>/dev/null || true; fi
if [ -z "$leader" ]; then
  [ "$(cat "$d/host.env" 2>/dev/null | sed -n 's/^ISOLATION=//p')" = none ] || die "cannot find PID 1 of '$host'"
  cd /
  exec "${env[@]}" "$@"
fi
exec nsenter --target "$leader" --all --wdns=/ "${env[@]}" "$@"
