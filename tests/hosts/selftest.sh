#!/usr/bin/env bash
# selftest.sh [sshd|nspawn|all] [N] — check the test-host harness end to end on this machine:
# bring hosts up, log in as every user, check sudo, isolation, egress, exec.sh, then bring them
# down and check that nothing is left (processes, cgroups, mounts, netns, bridge, nft table,
# kernel settings, state). Prints one line per check and ends with "selftest: P passed, F
# failed"; exits non-zero when a check failed. Default: all, with N=3 sshd and 2 nspawn hosts.
# Env: as the up scripts (TBH_STATE, TBH_ISOLATION, ...). Needs root.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
what=${1:-all}
case "$what" in sshd|nspawn|all) ;; *) die "usage: selftest.sh [sshd|nspawn|all] [N]" ;; esac
H=$TBH_DIR
passed=0 failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
# check DESCRIPTION CMD...: the command must succeed
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
# expect DESCRIPTION WANT CMD...: the command's trimmed stdout must equal WANT
expect() {
  local what=$1 want=$2 got; shift 2
  got=$("$@" 2>&1 | tr -d '\r' | tail -n 1) || true
  if [ "$got" = "$want" ]; then ok "$what"; else bad "$what (wanted '$want', got '$got')"; fi
}

# leftovers common to both kinds: processes whose command line mentions the state dir,
# cgroups, state directory
no_leftovers() {
  local kind=$1 p found='' m
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = "$$" ] && continue
    if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "$TBH_ROOT/$kind/"; then found+=" ${p#/proc/}"; fi
  done
  check "$kind: no process left that refers to $TBH_ROOT/$kind" test -z "$found"
  local cgs=() prefix; prefix=$(cg_prefix "$kind" "$TBH_ROOT/$kind")
  for m in $TBH_CG_MOUNTS; do [ -e "$m/$prefix" ] && cgs+=("$m/$prefix"); done
  check "$kind: no cgroup left" test ${#cgs[@]} = 0
  check "$kind: state directory removed" test ! -e "$TBH_ROOT/$kind"
}

users_and_sudo() {  # users_and_sudo KIND HOST...
  local kind=$1 h; shift
  local pw; pw=$(cat "$TBH_ROOT/$kind/become_password")
  for h in "$@"; do
    expect "$h: root login" 0 "$H/ssh.sh" "$h" -l root id -u
    expect "$h: tbuddy login + passwordless sudo" "tbuddy 0" "$H/ssh.sh" "$h" -l tbuddy 'echo "$(id -un) $(sudo -n id -u)"'
    expect "$h: tbuddy-pw: sudo -n refused" refused "$H/ssh.sh" "$h" -l tbuddy-pw 'sudo -n true 2>/dev/null && echo allowed || echo refused'
    expect "$h: tbuddy-pw: sudo with the password" 0 "$H/ssh.sh" "$h" -l tbuddy-pw "echo '$pw' | sudo -S -p '' id -u"
    expect "$h: wrong password refused" refused "$H/ssh.sh" "$h" -l tbuddy-pw "echo wrong | sudo -S -p '' true 2>/dev/null && echo allowed || echo refused"
    expect "$h: server offers publickey only" "Permission denied (publickey)." bash -c \
      "ssh -F '$TBH_ROOT/$kind/ssh_config' -o PubkeyAuthentication=no -l tbuddy-pw '$h' true 2>&1 | sed 's/^.*: //'"
  done
}

# StrictHostKeyChecking=yes with exactly the inventory's connection variables
inventory_login() {  # inventory_login KIND HOST
  local kind=$1 h=$2 inv=$TBH_ROOT/$1/inventory.yml addr port key args
  addr=$(awk -v h="        $h:" '$0 == h { f = 1; next } f && /ansible_host:/ { print $2; exit }' "$inv")
  port=$(awk -v h="        $h:" '$0 == h { f = 1; next } f && /ansible_port:/ { print $2; exit }' "$inv")
  key=$(awk '/ansible_ssh_private_key_file:/ { print $2; exit }' "$inv")
  args=$(sed -n "s/^ *ansible_ssh_common_args: '\(.*\)'$/\1/p" "$inv")
  # shellcheck disable=SC2086
  expect "$h: login with the inventory's variables (StrictHostKeyChecking=yes)" ok \
    ssh -o BatchMode=yes -i "$key" -p "$port" $args "root@$addr" echo ok
}

users_on_machine() { echo "$(id -u tbuddy 2>/dev/null || echo -) $(id -u tbuddy-pw 2>/dev/null || echo -)"; }

test_sshd() {
  local n=${1:-3} t inv i
  local users_before; users_before=$(users_on_machine)
  log "sshd: up $n"
  t=$(now)
  if ! inv=$("$H/sshd-up.sh" "$n"); then bad "sshd-up.sh $n"; "$H/sshd-down.sh" || true; return; fi
  ok "sshd-up.sh $n ($(since "$t")s)"
  expect "sshd: inventory printed = inventory.yml" same bash -c "diff <(echo \"\$1\") '$TBH_ROOT/sshd/inventory.yml' >/dev/null && echo same" _ "$inv"
  expect "sshd: $n hosts in the inventory" "$n" bash -c "grep -c 'ansible_host:' '$TBH_ROOT/sshd/inventory.yml'"
  local hosts=(); for i in $(seq 1 "$n"); do hosts+=("sshd$i"); done
  local port1; port1=$(awk '/ansible_port:/ { print $2; exit }' "$TBH_ROOT/sshd/inventory.yml")
  inventory_login sshd sshd1
  users_and_sudo sshd "${hosts[@]}"
  local iso; iso=$(sed -n 's/^ *tbuddy_isolation: //p' "$TBH_ROOT/sshd/inventory.yml")
  if [ "$iso" = mount ] && [ "$n" -ge 2 ]; then
    expect "sshd1: own hostname" sshd1 "$H/ssh.sh" sshd1 hostname
    "$H/ssh.sh" sshd1 'echo from-sshd1 >/etc/tbuddy-selftest.conf'
    expect "sshd1: sees its /etc/tbuddy-selftest.conf" from-sshd1 "$H/ssh.sh" sshd1 cat /etc/tbuddy-selftest.conf
    for i in $(seq 2 "$n"); do
      expect "sshd$i: does not see sshd1's /etc file" absent "$H/ssh.sh" "sshd$i" 'test -e /etc/tbuddy-selftest.conf && echo present || echo absent'
    done
    check "machine: does not see sshd1's /etc file" test ! -e /etc/tbuddy-selftest.conf
    expect "exec.sh sshd1 reads the file without ssh" from-sshd1 "$H/exec.sh" sshd1 cat /etc/tbuddy-selftest.conf
  fi
  local sb; sb=$(awk '/sandbox:/ { print $2; exit }' "$TBH_ROOT/sshd/inventory.yml")
  expect "sshd1: tbuddy can write its sandbox" ok "$H/ssh.sh" sshd1 -l tbuddy "touch '$sb/x' && echo ok"
  # a daemon a test leaves behind must be stopped by sshd-down.sh as well
  "$H/ssh.sh" sshd1 -l tbuddy 'setsid sleep 3600 </dev/null >/dev/null 2>&1 &'
  log "sshd: down"
  t=$(now)
  if "$H/sshd-down.sh"; then ok "sshd-down.sh ($(since "$t")s)"; else bad "sshd-down.sh"; fi
  no_leftovers sshd
  check "sshd: ports $port1.. free again" test -z "$(for i in $(seq 0 $((n - 1))); do ss -Hltn "sport = :$((port1 + i))"; done)"
  expect "machine: users as before (tbuddy, tbuddy-pw)" "$users_before" users_on_machine
}

# systemd-nspawn processes on the machine (others' too: only new ones count)
nspawn_pids() { local p; for p in /proc/[0-9]*; do [ "$(readlink "$p/exe" 2>/dev/null)" = /usr/bin/systemd-nspawn ] && echo "${p#/proc/}"; done; return 0; }

test_nspawn() {
  local n=${1:-2} t i ipf ino
  ipf=$(cat /proc/sys/net/ipv4/ip_forward); ino=$(cat /proc/sys/fs/inotify/max_user_instances)
  local nspawn_before; nspawn_before=$(nspawn_pids)
  log "nspawn: up $n"
  t=$(now)
  if ! "$H/nspawn-up.sh" "$n" >/dev/null; then bad "nspawn-up.sh $n"; "$H/nspawn-down.sh" || true; return; fi
  ok "nspawn-up.sh $n ($(since "$t")s)"
  local hosts=(); for i in $(seq 1 "$n"); do hosts+=("nspawn$i"); done
  inventory_login nspawn nspawn1
  for i in $(seq 1 "$n"); do
    expect "nspawn$i: systemctl is-system-running" running "$H/ssh.sh" "nspawn$i" systemctl is-system-running
    expect "nspawn$i: hostname" "nspawn$i" "$H/ssh.sh" "nspawn$i" hostname
  done
  users_and_sudo nspawn "${hosts[@]}"
  expect "exec.sh nspawn1: PID 1 is systemd" systemd "$H/exec.sh" nspawn1 cat /proc/1/comm
  expect "exec.sh passes the exit status" 3 bash -c "'$H/exec.sh' nspawn1 sh -c 'exit 3'; echo \$?"
  "$H/ssh.sh" nspawn1 'echo one >/etc/tbuddy-selftest.conf'
  [ "$n" -ge 2 ] && expect "nspawn2: does not see nspawn1's /etc file" absent "$H/ssh.sh" nspawn2 'test -e /etc/tbuddy-selftest.conf && echo present || echo absent'
  expect "tbuddy_root shows nspawn1's files on the machine" one cat "$TBH_ROOT/nspawn/hosts/nspawn1/root/etc/tbuddy-selftest.conf"
  [ "$n" -ge 2 ] && expect "nspawn1 reaches nspawn2's sshd" open "$H/ssh.sh" nspawn1 "timeout 5 bash -c 'exec 3<>/dev/tcp/nspawn2/22' && echo open"
  t=$(now)
  expect "nspawn1: apt-get update through the mirror-only NAT" 0 "$H/ssh.sh" nspawn1 'apt-get update -q >/tmp/apt.log 2>&1; echo $?'
  log "apt-get update took $(since "$t")s"
  expect "nspawn1: other ports on the mirror address are blocked" blocked "$H/ssh.sh" nspawn1 \
    "timeout 3 bash -c 'exec 3<>/dev/tcp/$(awk '{print $2}' "$TBH_ROOT/nspawn/egress" | cut -d, -f1)/22' 2>/dev/null && echo open || echo blocked"
  expect "nspawn1: no DNS inside" none "$H/ssh.sh" nspawn1 'getent hosts example.org >/dev/null && echo resolved || echo none'
  "$H/ssh.sh" nspawn1 -l tbuddy 'nohup sleep 3600 </dev/null >/dev/null 2>&1 &'
  log "nspawn: down"
  t=$(now)
  if "$H/nspawn-down.sh"; then ok "nspawn-down.sh ($(since "$t")s)"; else bad "nspawn-down.sh"; fi
  no_leftovers nspawn
  check "nspawn: no overlay or netns mount left" test -z "$(grep -E 'tbh-|/tbuddy-hosts/' /proc/mounts || true)"
  local nss=(/run/netns/tbh-*)
  check "nspawn: no tbh-* network namespace" test ${#nss[@]} = 0
  check "nspawn: bridge tbh-br0 removed" bash -c '! ip link show tbh-br0'
  check "nspawn: no tbh-* veth left" test -z "$(ip -o link | grep ' tbh-' || true)"
  check "nspawn: nft table tbuddy_hosts removed" bash -c '! nft list table ip tbuddy_hosts'
  expect "nspawn: ip_forward restored" "$ipf" cat /proc/sys/net/ipv4/ip_forward
  expect "nspawn: inotify limit restored" "$ino" cat /proc/sys/fs/inotify/max_user_instances
  check "nspawn: no systemd-nspawn process of ours left" test -z "$(nspawn_pids | grep -vxF -f <(echo "$nspawn_before") || true)"
}

case "$what" in
  sshd) test_sshd "${2:-3}" ;;
  nspawn) test_nspawn "${2:-2}" ;;
  all) test_sshd 3; test_nspawn 2 ;;
esac
echo "selftest: $passed passed, $failed failed"
if [ "$failed" != 0 ]; then exit 1; fi
