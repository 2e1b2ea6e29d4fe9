#!/usr/bin/env bash
# sshd-host-init.sh HOSTDIR — internal: prepares one loopback sshd test host and execs its sshd.
# Started by sshd-up.sh, in isolation mode `mount` as PID 1 of fresh mount/UTS/IPC/PID
# namespaces (so the overlays below are private to this host and vanish with it), in mode
# `none` directly on the machine. Reads HOSTDIR/host.env (written by sshd-up.sh).
set -euo pipefail
d=$1
# shellcheck source=/dev/null
. "$d/host.env"   # NAME ISOLATION PRIVATE_DIRS ADDR USER_NOPW USER_PW PW_FILE SANDBOX

if [ "$ISOLATION" = mount ]; then
  # private copy-on-write view of each directory: writes land in HOSTDIR/ovl/<n>/upper
  n=0
  for dir in $PRIVATE_DIRS; do
    n=$((n + 1))
    [ -d "$dir" ] || continue
    mkdir -p "$d/ovl/$n/upper" "$d/ovl/$n/work"
    echo "$dir" >"$d/ovl/$n/path"
    mount -t overlay "tbh-$NAME" -o "lowerdir=$dir,upperdir=$d/ovl/$n/upper,workdir=$d/ovl/$n/work" "$dir"
  done
  # root's shell start-up files as a fresh Debian install has them: the machine's own may
  # load slow tooling that would add hundreds of ms to every command sent to this host
  for f in bashrc profile; do
    [ -f "/usr/share/base-files/dot.$f" ] && cp "/usr/share/base-files/dot.$f" "/root/.$f"
  done
  hostname "$NAME"
  echo "$NAME" >/etc/hostname
  printf '%s\t%s\n' "$ADDR" "$NAME" >>/etc/hosts
fi

# users: USER_NOPW has passwordless sudo; USER_PW's sudo asks for the password in PW_FILE.
# Login is by key only (sshd's AuthorizedKeysFile points at the state dir), so the password
# is only ever used by sudo. In mode `mount` all of this lands in this host's private /etc and
# /home; in mode `none` sshd-up.sh has done it on the machine itself (see setup_users there).
if [ "$ISOLATION" = mount ]; then
  for u in "$USER_NOPW" "$USER_PW"; do
    id "$u" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --user-group "$u"
  done
  usermod -p '*' "$USER_NOPW"   # no password, but not "locked" (sshd refuses locked accounts)
  printf '%s:%s\n' "$USER_PW" "$(cat "$PW_FILE")" | chpasswd
  printf '%s ALL=(ALL:ALL) NOPASSWD: ALL\n%s ALL=(ALL:ALL) ALL\n' "$USER_NOPW" "$USER_PW" >/etc/sudoers.d/tbuddy-hosts
  chmod 0440 /etc/sudoers.d/tbuddy-hosts
  # sudo's timestamp lives in /run/sudo, shared with the machine: no caching of the password
  printf 'Defaults:%s timestamp_timeout=0\n' "$USER_PW" >>/etc/sudoers.d/tbuddy-hosts
fi
chown "$USER_NOPW:$USER_NOPW" "$SANDBOX"

exec /usr/sbin/sshd -D -e -f "$d/sshd_config"
