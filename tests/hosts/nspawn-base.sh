#!/usr/bin/env bash
# nspawn-base.sh [--force] — build (once) the Debian 12 root filesystem the nspawn test hosts
# boot from. nspawn-up.sh calls it; run it ahead (e.g. in the background while cargo builds)
# to take the one-time ~1.5 min debootstrap off the critical path.
#
# The base is a plain directory ($TBH_BASE) plus a stamp file ($TBH_BASE.stamp) that records
# the recipe it was built from. When the stamp matches this script's recipe the script returns
# at once; --force (or a changed recipe) rebuilds it. It is never touched while a host's
# overlay uses it as its lower layer. Concurrent callers are serialised by a lock.
#
# Env: TBH_BASE    (/var/lib/machines/tbuddy-bookworm)
#      TBH_MIRROR  (http://deb.debian.org/debian; the security suite comes from the same host,
#                   path /debian-security)
# Needs root, debootstrap and the Debian mirror.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

BASE=${TBH_BASE:-/var/lib/machines/tbuddy-bookworm}
MIRROR=${TBH_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# bump RECIPE when anything below changes what ends up in the base
RECIPE=3
INCLUDE=systemd,systemd-sysv,dbus,libpam-systemd,openssh-server,sudo,python3,python3-apt,iproute2,iputils-ping,procps,ca-certificates,less
STAMP="recipe=$RECIPE suite=$SUITE mirror=$MIRROR include=$INCLUDE"

force=
case "${1:-}" in "") ;; --force) force=1 ;; *) die "usage: nspawn-base.sh [--force]" ;; esac
[[ "$BASE" = /* ]] || die "TBH_BASE must be an absolute path"

in_use() { awk -v b="lowerdir=$BASE," '$3 == "overlay" && index($4, b) { f = 1 } END { exit !f }' /proc/mounts; }
# debootstrap leaves proc/sys/dev mounted in the target when it fails
umount_below() {
  local m
  awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
}

mkdir -p "$(dirname "$BASE")"
exec 9>"$BASE.lock"
flock -w 1200 9 || die "timed out waiting for $BASE.lock (another base build?)"

if [ -z "$force" ] && [ -x "$BASE/lib/systemd/systemd" ] && [ "$(cat "$BASE.stamp" 2>/dev/null)" = "$STAMP" ]; then
  log "base is current: $BASE"
  exit 0
fi
if in_use; then die "$BASE is outdated or --force was given, but running test hosts use it: run nspawn-down.sh first"; fi
need_cmd debootstrap debootstrap
t0=$(now)

NEW=$BASE.new
umount_below "$NEW"; rm -rf "$NEW"
log "debootstrap $SUITE from $MIRROR (1.5-3.5 minutes on a 2-core machine)"
if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$NEW" "$MIRROR" >"$BASE.debootstrap.log" 2>&1; then
  tail -n 20 "$BASE.debootstrap.log" >&2
  umount_below "$NEW"
  die "debootstrap failed (full log: $BASE.debootstrap.log)"
fi
umount_below "$NEW"
log "debootstrap done in $(since "$t0")s; customising"

sec_mirror=${MIRROR%/debian}/debian-security
cat >"$NEW/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $sec_mirror $SUITE-security main
EOF

# identity is per host (nspawn-up.sh writes hostname, machine-id and host keys into each
# host's overlay); the base stays anonymous
rm -f "$NEW"/etc/ssh/ssh_host_*
: >"$NEW/etc/machine-id"
rm -f "$NEW/var/lib/dbus/machine-id"
echo localhost >"$NEW/etc/hostname"

# if a host was somehow booted without keys, make them rather than fail
cat >"$NEW/etc/systemd/system/tbuddy-ssh-hostkeys.service" <<'EOF'
[Unit]
Description=Create SSH host keys when missing (tbuddy test host)
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
EOF
ln -sf ../tbuddy-ssh-hostkeys.service "$NEW/etc/systemd/system/multi-user.target.wants/tbuddy-ssh-hostkeys.service"

cat >"$NEW/etc/ssh/sshd_config.d/tbuddy.conf" <<'EOF'
# tbuddy-deploy test host: key-only login
HostKey /etc/ssh/ssh_host_ed25519_key
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UseDNS no
MaxStartups 100:30:200
MaxSessions 100
EOF

# users: tbuddy (passwordless sudo) and tbuddy-pw (sudo asks for its password, which
# nspawn-up.sh sets per run); both log in with the client key only
chroot "$NEW" useradd --create-home --shell /bin/bash --uid 1000 --user-group tbuddy
chroot "$NEW" useradd --create-home --shell /bin/bash --uid 1001 --user-group tbuddy-pw
chroot "$NEW" usermod -p '*' tbuddy
cat >"$NEW/etc/sudoers.d/tbuddy-hosts" <<'EOF'
tbuddy ALL=(ALL:ALL) NOPASSWD: ALL
tbuddy-pw ALL=(ALL:ALL) ALL
Defaults:tbuddy-pw timestamp_timeout=0
EOF
chmod 0440 "$NEW/etc/sudoers.d/tbuddy-hosts"

# nothing that grabs the dpkg lock or does pointless work in the middle of a test
for u in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer; do
  chroot "$NEW" systemctl disable "$u" >/dev/null 2>&1 || true
done
chroot "$NEW" systemctl mask console-getty.service getty@tty1.service systemd-networkd-wait-online.service >/dev/null 2>&1 || true

# like a cloud image: no package lists or cached .debs; run `apt-get update` first
chroot "$NEW" apt-get clean
rm -rf "$NEW"/var/lib/apt/lists/* "$NEW"/var/cache/apt/*.bin "$NEW"/var/log/apt/* "$NEW"/var/log/*.log
mkdir -p "$NEW/var/lib/apt/lists/partial"

rm -rf "$BASE" "$BASE.stamp"
mv "$NEW" "$BASE"
echo "$STAMP" >"$BASE.stamp"
rm -f "$BASE.debootstrap.log"
log "base built in $(since "$t0")s: $BASE ($(du -sh "$BASE" | cut -f1))"
