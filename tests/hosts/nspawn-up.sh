#!/usr/bin/env bash
# nspawn-up.sh N — boot N Debian 12 test hosts nspawn1..nspawnN with systemd as PID 1.
#
# Each host is a systemd-nspawn container: a copy-on-write overlay over one shared base
# rootfs (built once by nspawn-base.sh: debootstrap, ~1.5 min, cached), its own network
# namespace with eth0 = $TBH_NSPAWN_NET.(10+i) on bridge tbh-br0, real systemd, journald,
# sshd on port 22 and apt. Users: root, tbuddy (passwordless sudo), tbuddy-pw (sudo asks for
# the password in the inventory); login with the client key only. The script returns when every
# host accepts an SSH login and `systemctl is-system-running --wait` has returned `running`.
#
# Egress: the hosts reach each other and the machine over the bridge; the only traffic
# forwarded beyond it is TCP 80/443 to the Debian mirror's addresses (for apt; nft table
# ip tbuddy_hosts, masquerade). They have no DNS: the mirror's name is in each /etc/hosts.
#
# Prints an Ansible YAML inventory on stdout and writes it to $TBH_STATE/nspawn/inventory.yml,
# with known_hosts, ssh_config, hosts.tsv and the client key next to it. Each host's merged
# root filesystem is visible on the machine at $TBH_STATE/nspawn/hosts/NAME/root (inventory var
# tbuddy_root). Stop with nspawn-down.sh; run commands without SSH with exec.sh. Needs root.
#
# Env:
#   TBH_STATE         state root (/tmp/tbuddy-hosts); this script uses $TBH_STATE/nspawn
#   TBH_BASE          base rootfs (/var/lib/machines/tbuddy-bookworm), see nspawn-base.sh
#   TBH_MIRROR        http://deb.debian.org/debian (its host is the only egress allowed)
#   TBH_NSPAWN_NET    198.18.7  (/24 on tbh-br0, inside the 198.18.0.0/15 benchmark range)
#   TBH_NSPAWN_EGRESS apt (default) / none (no forwarding at all; apt inside cannot work)
#   TBH_USER          ansible_user in the inventory: root (default), tbuddy or tbuddy-pw
#   TBH_BOOT_TIMEOUT  120 (seconds to wait for each host)
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

N=${1:-}
[[ "$N" =~ ^[0-9]+$ ]] && (( N >= 1 && N <= 100 )) || die "usage: nspawn-up.sh N   (N = 1..100)"
STATE=$TBH_ROOT/nspawn
BASE=${TBH_BASE:-/var/lib/machines/tbuddy-bookworm}
MIRROR=${TBH_MIRROR:-http://deb.debian.org/debian}
NET=${TBH_NSPAWN_NET:-198.18.7}
EGRESS=${TBH_NSPAWN_EGRESS:-apt}
INV_USER=${TBH_USER:-root}
BOOT_TIMEOUT=${TBH_BOOT_TIMEOUT:-120}
BR=tbh-br0
NFT_TABLE=tbuddy_hosts
[[ "$NET" =~ ^198\.1[89]\.([0-9]{1,3})$ ]] && (( BASH_REMATCH[1] <= 255 )) \
  || die "TBH_NSPAWN_NET must be 198.18.X or 198.19.X (got '$NET')"
case "$EGRESS" in apt|none) ;; *) die "TBH_NSPAWN_EGRESS must be apt or none" ;; esac
case "$INV_USER" in root|tbuddy|tbuddy-pw) ;; *) die "TBH_USER must be root, tbuddy or tbuddy-pw" ;; esac
[[ "$STATE" = /* ]] || die "TBH_STATE must be an absolute path"
need_cmd systemd-nspawn systemd-container
need_cmd ip iproute2
need_cmd ssh openssh-client
need_cmd nsenter util-linux
need_cmd openssl openssl
[ "$EGRESS" = none ] || need_cmd nft nftables
[ -n "$TBH_CG_MOUNTS" ] || die "no cgroup hierarchy under /sys/fs/cgroup: systemd-nspawn cannot run here"
t0=$(now)

mkdir -p "$STATE"
chmod 755 "$TBH_ROOT" "$STATE"
exec 8>"$STATE/.lock"
flock -w 60 8 || die "another nspawn-up/nspawn-down holds $STATE/.lock"
trap 'remove_empty_state "$STATE"' EXIT
for d in "$STATE"/hosts/*/; do
  host_running "$d" && die "nspawn test hosts are already running (state $STATE); run tests/hosts/nspawn-down.sh first"
done
leftover=("$STATE"/*)
if [ ${#leftover[@]} -gt 0 ]; then
  log "cleaning up state of an earlier run"
  exec 8>&-
  "$TBH_DIR/nspawn-down.sh" >/dev/null
  mkdir -p "$STATE"; chmod 755 "$TBH_ROOT" "$STATE"
  exec 8>"$STATE/.lock"; flock -w 60 8
fi
ip link show "$BR" >/dev/null 2>&1 && die "bridge $BR exists but no nspawn state in $STATE: another TBH_STATE's hosts are up? (only one nspawn set per machine)"

# 1. base rootfs (returns at once when it is current)
"$TBH_DIR/nspawn-base.sh" 8>&-
t_base=$(since "$t0")

stop_after_error() { exec 8>&-; "$TBH_DIR/nspawn-down.sh" >/dev/null 2>&1 || true; }
TBH_ON_ERROR=stop_after_error

# 2. shared: client key, sudo password, bridge, egress, limits
KEY=$STATE/id_ed25519
ensure_client_key "$KEY"
PUB=$(cat "$KEY.pub")
PW_FILE=$STATE/become_password
[ -s "$PW_FILE" ] || { umask 077; random_password >"$PW_FILE"; umask 022; }
PASSWORD=$(cat "$PW_FILE")
PW_HASH=$(openssl passwd -6 -stdin <"$PW_FILE")

[ -e /run/netns ] || touch "$STATE/created-run-netns"
[ -e /run/systemd ] || touch "$STATE/created-run-systemd"
[ -e /run/systemd/nspawn ] || touch "$STATE/created-run-nspawn"
ip link add "$BR" type bridge
touch "$STATE/created-bridge"
ip addr add "$NET.1/24" dev "$BR"
ip link set "$BR" up

mirror_host=$(printf '%s\n' "$MIRROR" | sed -E 's|^[a-z]+://([^/:]+).*|\1|')
mirror_ips=
if [ "$EGRESS" = apt ]; then
  mirror_ips=$(getent ahostsv4 "$mirror_host" | awk '{print $1}' | sort -u | paste -sd, -) || true
  [ -n "$mirror_ips" ] || die "cannot resolve the Debian mirror $mirror_host (needed for apt in the hosts; TBH_NSPAWN_EGRESS=none to go without)"
  cat /proc/sys/net/ipv4/ip_forward >"$STATE/ip_forward.orig"
  echo 1 >/proc/sys/net/ipv4/ip_forward
  # forward only new TCP 80/443 connections from the bridge to the mirror (and their
  # replies); everything else from or to the bridge that would leave it is dropped
  nft -f - <<EOF
table ip $NFT_TABLE {
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "$BR" oifname "$BR" accept
    iifname "$BR" ip daddr { $mirror_ips } tcp dport { 80, 443 } accept
    oifname "$BR" ct state established,related accept
    iifname "$BR" counter drop
    oifname "$BR" counter drop
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr $NET.0/24 ip daddr { $mirror_ips } oifname != "$BR" masquerade
  }
}
EOF
  touch "$STATE/created-nft"
  echo "$mirror_host $mirror_ips" >"$STATE/egress"
fi

# every container's systemd runs as the machine's uid 0 and takes a few inotify instances;
# the default limit (128) stops the ~23rd container from booting
want=$((256 + 16 * N)); cur=$(cat /proc/sys/fs/inotify/max_user_instances)
if (( cur < want )); then
  echo "$cur $want" >"$STATE/inotify.orig"
  echo "$want" >/proc/sys/fs/inotify/max_user_instances
fi

CGP=$(cg_prefix nspawn "$STATE")
mkdir -p "$STATE/hosts"

# /etc/hosts of every host: all hosts, and the mirror (there is no DNS inside)
etc_hosts() {
  local name=$1 j
  printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' "$name"
  for j in $(seq 1 "$N"); do printf '%s\tnspawn%s\n' "$NET.$((10 + j))" "$j"; done
  if [ -n "$mirror_ips" ]; then printf '%s\t%s\n' "${mirror_ips%%,*}" "$mirror_host"; fi
}

# 3. per host: overlay, identity, network namespace, boot
: >"$STATE/known_hosts.new"
start_host() {
  local i=$1 name=nspawn$1 d=$STATE/hosts/nspawn$1 ip=$NET.$((10 + $1)) ns=tbh-nspawn$1 veth=tbh-ve$1
  local r=$d/root
  mkdir -p "$d/upper" "$d/work" "$r"
  mount -t overlay "tbh-$name" -o "lowerdir=$BASE,upperdir=$d/upper,workdir=$d/work" "$r"
  echo "$name" >"$r/etc/hostname"
  tr -d '-' </proc/sys/kernel/random/uuid >"$r/etc/machine-id"
  etc_hosts "$name" >"$r/etc/hosts"
  echo "# no DNS inside tbuddy test hosts; see /etc/hosts" >"$r/etc/resolv.conf"
  ssh-keygen -q -t ed25519 -N '' -C "root@$name" -f "$r/etc/ssh/ssh_host_ed25519_key"
  echo "$ip,$name $(cut -d' ' -f1-2 "$r/etc/ssh/ssh_host_ed25519_key.pub")" >>"$STATE/known_hosts.new"
  local u home uid
  for u in root tbuddy tbuddy-pw; do
    if [ "$u" = root ]; then home=/root uid=0; else home=/home/$u uid=$(awk -F: -v u="$u" '$1 == u {print $3}' "$r/etc/passwd"); fi
    install -d -m 700 -o "$uid" -g "$uid" "$r$home/.ssh"
    echo "$PUB" >"$r$home/.ssh/authorized_keys"
    chown "$uid:$uid" "$r$home/.ssh/authorized_keys"; chmod 600 "$r$home/.ssh/authorized_keys"
  done
  echo "tbuddy-pw:$PW_HASH" | chpasswd -e -R "$r"
  install -d -m 755 -o 1000 -g 1000 "$r/srv/sandbox"

  ip netns add "$ns"
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  ip link set "$veth" master "$BR" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via "$NET.1"
  printf '%s %s %s %s %s\n' "$name" "$ip" 22 "$ns" "$veth" >"$d/endpoint"
  : >"$d/console.log"
  (
    if cg_enter "$CGP/$name" "$BASHPID" 2>/dev/null; then echo "$CGP/$name" >"$d/cgroup"; else exit 1; fi
    exec setsid "$TBH_DIR/nspawn-supervise.sh" "$name" "$d" "$ns"
  ) </dev/null >>"$d/console.log" 2>&1 8>&- &
  echo "$! $(proc_start $! || echo 0)" >"$d/launcher"
}
for i in $(seq 1 "$N"); do start_host "$i"; done
mv "$STATE/known_hosts.new" "$STATE/known_hosts"
cat "$STATE"/hosts/*/endpoint | awk '{print $1, $2, $3}' | sort -V >"$STATE/hosts.tsv"
t_launch=$(since "$t0")
{
  for i in $(seq 1 "$N"); do
    cat <<EOF
Host nspawn$i
  HostName $NET.$((10 + i))
  User $INV_USER
  IdentityFile $KEY
  IdentitiesOnly yes
  UserKnownHostsFile $STATE/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 10
EOF
  done
} >"$STATE/ssh_config"

# 4. ready = SSH login as root works and systemd has finished booting
wait_host() {
  local name=$1 d=$STATE/hosts/$1 ip lpid lstart state deadline=$((SECONDS + BOOT_TIMEOUT))
  read -r _ ip _ <"$d/endpoint"
  read -r lpid lstart <"$d/launcher"
  until (exec 3<>"/dev/tcp/$ip/22") 2>/dev/null; do
    if ! alive "$lpid" "$lstart"; then
      log "$name: the container exited during boot; end of $d/console.log:"; tail -n 15 "$d/console.log" | sed 's/^/    /' >&2; return 1
    fi
    (( SECONDS < deadline )) || { log "$name: no sshd on $ip:22 after ${BOOT_TIMEOUT}s; see $d/console.log"; return 1; }
    sleep 0.1
  done
  until state=$(ssh -F "$STATE/ssh_config" -l root -o KexAlgorithms=curve25519-sha256 "$name" \
                  "timeout $BOOT_TIMEOUT systemctl is-system-running --wait" 2>"$d/ssh-check.err"); do
    case "$state" in degraded|maintenance|stopping|offline) break ;; esac
    (( SECONDS < deadline )) || { log "$name: ssh login/boot check fails: ${state:-$(tail -n 1 "$d/ssh-check.err")}"; return 1; }
    sleep 0.2
  done
  rm -f "$d/ssh-check.err"
  if [ "$state" != running ]; then
    log "$name: systemd reports '$state'; failed units: $(ssh -F "$STATE/ssh_config" -l root "$name" 'systemctl --failed --no-legend --plain | cut -d" " -f1 | paste -sd" "' 2>/dev/null)"
    return 1
  fi
}
pids=()
for i in $(seq 1 "$N"); do wait_host "nspawn$i" & pids+=($!); done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
if [ "$fail" != 0 ]; then
  if [ "${TBH_KEEP_ON_FAILURE:-0}" = 1 ]; then die "nspawn test hosts did not come up (kept for inspection: TBH_KEEP_ON_FAILURE=1)"; fi
  log "start-up failed; stopping what was started"
  TBH_ON_ERROR=; stop_after_error
  die "nspawn test hosts did not come up"
fi

{
  echo "# $N systemd-nspawn test hosts (Debian 12, systemd PID 1), from tests/hosts/nspawn-up.sh;"
  echo "# stop them with tests/hosts/nspawn-down.sh. Run 'apt-get update' before installing packages."
  echo "all:"
  echo "  children:"
  echo "    nspawn:"
  echo "      hosts:"
  for i in $(seq 1 "$N"); do
    echo "        nspawn$i:"
    echo "          ansible_host: $NET.$((10 + i))"
    echo "          ansible_port: 22"
    echo "          tbuddy_root: $STATE/hosts/nspawn$i/root"
  done
  echo "      vars:"
  echo "        ansible_connection: ssh"
  echo "        ansible_user: $INV_USER"
  echo "        ansible_ssh_private_key_file: $KEY"
  echo "        ansible_ssh_common_args: '-o UserKnownHostsFile=$STATE/known_hosts -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'"
  echo "        ansible_python_interpreter: /usr/bin/python3"
  [ "$INV_USER" = tbuddy-pw ] && echo "        ansible_become_password: '$PASSWORD'"
  echo "        sandbox: /srv/sandbox"
  echo "        tbuddy_user: tbuddy            # same key; passwordless sudo"
  echo "        tbuddy_pw_user: tbuddy-pw         # same key; sudo asks for tbuddy_pw_password"
  echo "        tbuddy_pw_password: '$PASSWORD'"
} >"$STATE/inventory.yml.new"
mv "$STATE/inventory.yml.new" "$STATE/inventory.yml"
log "$N host(s) up in $(since "$t0")s (base check ${t_base}s, launched at ${t_launch}s); inventory: $STATE/inventory.yml"
cat "$STATE/inventory.yml"
