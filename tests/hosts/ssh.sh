#!/usr/bin/env bash
# ssh.sh HOST [SSH-ARGS...] [CMD] — ssh into a test host with the generated ssh_config:
# known host key checked, client key, BatchMode. Default user as in the inventory (root);
# `ssh.sh sshd1 -l tbuddy sudo -n true`. Env: TBH_STATE (/tmp/tbuddy-hosts).
TBH_KEEP_STDIN=1
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ $# -ge 1 ] || die "usage: ssh.sh HOST [SSH-ARGS...] [CMD]"
for kind in nspawn sshd; do
  if [ -d "$TBH_ROOT/$kind/hosts/$1" ]; then exec ssh -F "$TBH_ROOT/$kind/ssh_config" "$@"; fi
done
die "no test host '$1' under $TBH_ROOT (is it up? TBH_STATE right?)"
