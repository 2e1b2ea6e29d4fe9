#!/usr/bin/env bash
# sshd-up.sh N — start N loopback SSH test hosts sshd1..sshdN (fast; no init system inside).
#
# Host i is an `sshd -D` of the machine's own OpenSSH listening on 127.0.100.i, port
# TBH_SSHD_PORT_BASE+i-1 (22200 unless those are taken), with its own ed25519 host key, its own
# sandbox directory and key-only login for root, tbuddy (passwordless sudo) and tbuddy-pw
# (sudo asks for a password; it is in the inventory). Prints an Ansible YAML inventory on
# stdout and writes it to $TBH_STATE/sshd/inventory.yml, next to known_hosts (so
# StrictHostKeyChecking=yes works), ssh_config (`ssh -F .../ssh_config sshd1`), hosts.tsv
# and the client key id_ed25519. Stop with sshd-down.sh. Needs root.
#
# Env:
#   TBH_STATE            state root (/tmp/tbuddy-hosts); this script uses $TBH_STATE/sshd
#   TBH_ISOLATION        mount (default): each host runs in its own mount/UTS/IPC/PID namespaces
#                          with a copy-on-write overlay over each of TBH_PRIVATE_DIRS, so a
#                          file one host writes to /etc/app.conf is seen by that host only (and
#                          never by the machine); own hostname; users exist only inside.
#                        none: fallback where namespaces or overlayfs are not available (e.g.
#                          inside an unprivileged container): plain sshd processes sharing the
#                          machine's filesystem; the users are created on the machine and
#                          removed again by sshd-down.sh.
#   TBH_PRIVATE_DIRS     "/etc /root /home /opt /srv /usr/local /var/lib /var/log"
#   TBH_SSHD_PORT_BASE   auto    first port (host i listens on BASE+i-1); auto picks the first
#                                block of free ports among 22200, 22300, ... 29900
#   TBH_SSHD_NET         127.0.100   host i listens on $TBH_SSHD_NET.i
#   TBH_USER             ansible_user written to the inventory: root (default), tbuddy or tbuddy-pw
#   TBH_SSHD_PAM         no (default) / yes: UsePAM in each host's sshd_config
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

N=${1:-}
[[ "$N" =~ ^[0-9]+$ ]] && (( N >= 1 && N <= 200 )) || die "usage: sshd-up.sh N   (N = 1..200)"
STATE=$TBH_ROOT/sshd
ISOLATION=${TBH_ISOLATION:-mount}
PRIVATE_DIRS=${TBH_PRIVATE_DIRS:-/etc /root /home /opt /srv /usr/local /var/lib /var/log}
PORT_BASE=${TBH_SSHD_PORT_BASE:-auto}
NET=${TBH_SSHD_NET:-127.0.100}
USER_NOPW=tbuddy
USER_PW=tbuddy-pw
INV_USER=${TBH_USER:-root}
PAM=${TBH_SSHD_PAM:-no}
case "$ISOLATION" in mount|none) ;; *) die "TBH_ISOLATION must be mount or none (got '$ISOLATION')" ;; esac
case "$INV_USER" in root|"$USER_NOPW"|"$USER_PW") ;; *) die "TBH_USER must be root, $USER_NOPW or $USER_PW" ;; esac
case "$PAM" in yes|no) ;; *) die "TBH_SSHD_PAM must be yes or no" ;; esac
[ "$PORT_BASE" = auto ] || { [[ "$PORT_BASE" =~ ^[0-9]+$ ]] && (( PORT_BASE >= 1024 && PORT_BASE + N - 1 <= 65535 )); } \
  || die "bad TBH_SSHD_PORT_BASE '$PORT_BASE' (a port number or auto)"
[[ "$NET" =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "TBH_SSHD_NET must be 127.X.Y (got '$NET')"
[[ "$STATE" = /* ]] || die "TBH_STATE must be an absolute path"
need_cmd sshd openssh-server
need_cmd ssh openssh-client
need_cmd sudo sudo
need_cmd unshare util-linux
need_cmd ss iproute2
t0=$(now)

mkdir -p "$STATE"
chmod 755 "$TBH_ROOT" "$STATE"
exec 8>"$STATE/.lock"
flock -w 60 8 || die "another sshd-up/sshd-down holds $STATE/.lock"
trap 'remove_empty_state "$STATE"' EXIT

# refuse to start over a running set; clean up what a crashed run left
for d in "$STATE"/hosts/*/; do
  if host_running "$d"; then
    die "sshd test hosts are already running (state $STATE); run tests/hosts/sshd-down.sh first"
  fi
done
if [ -d "$STATE/hosts" ] || [ -f "$STATE/created-users" ]; then
  log "cleaning up state of an earlier run"
  exec 8>&-
  "$TBH_DIR/sshd-down.sh" >/dev/null
  mkdir -p "$STATE"; chmod 755 "$TBH_ROOT" "$STATE"
  exec 8>"$STATE/.lock"; flock -w 60 8
fi

if [ "$ISOLATION" = mount ]; then
  for dir in $PRIVATE_DIRS; do
    [[ "$dir" = /* ]] || die "TBH_PRIVATE_DIRS entries must be absolute paths (got '$dir')"
    case "$STATE/" in "${dir%/}/"*) die "TBH_STATE ($STATE) must not lie inside a private dir ($dir)" ;; esac
  done
  # preflight: can we make a private mount namespace with an overlay here?
  pf=$(mktemp -d "$STATE/.preflight.XXXXXX")
  mkdir -p "$pf/l" "$pf/u" "$pf/w" "$pf/m"
  if ! err=$(unshare --mount --pid --fork --propagation private -- \
        mount -t overlay tbh-preflight -o "lowerdir=$pf/l,upperdir=$pf/u,workdir=$pf/w" "$pf/m" 2>&1); then
    rm -rf "$pf"
    die "isolation 'mount' is not possible here (private mount+PID namespace with an overlayfs failed: $err); use TBH_ISOLATION=none for hosts that share the machine's filesystem"
  fi
  rm -rf "$pf"
fi

# ports: N consecutive free ones. auto = the first free block of 22200, 22300, ... 29900,
# so that test runs on one machine (other TBH_STATE) do not collide; a fixed base that is
# taken is an error, never a silent test against some other sshd
declare -A listening=()
while read -r port; do listening[$port]=1; done < <(ss -Hltn | awk '{ n = split($4, a, ":"); print a[n] }')
block_free() { local b=$1 i; for ((i = 0; i < N; i++)); do [ -z "${listening[$((b + i))]:-}" ] || return 1; done; }
if [ "$PORT_BASE" = auto ]; then
  for b in $(seq 22200 100 29900); do
    if block_free "$b"; then PORT_BASE=$b; break; fi
  done
  [ "$PORT_BASE" != auto ] || die "no block of $N free ports between 22200 and 29999"
elif ! block_free "$PORT_BASE"; then
  die "port(s) $PORT_BASE..$((PORT_BASE + N - 1)) not all free (set TBH_SSHD_PORT_BASE to a free range, or auto)"
fi

CGP=$(cg_prefix sshd "$STATE")
[ -n "$TBH_CG_MOUNTS" ] || warn "no writable cgroup hierarchy: sshd-down.sh can only find processes through the PID namespace (mode mount) or the process tree"

KEY=$STATE/id_ed25519
ensure_client_key "$KEY"
# sshd reads AuthorizedKeysFile as the target user: world-readable copies of the public key
install -d -m 755 "$STATE/keys"
for u in root "$USER_NOPW" "$USER_PW"; do install -m 644 "$KEY.pub" "$STATE/keys/$u"; done
PW_FILE=$STATE/become_password
[ -s "$PW_FILE" ] || { umask 077; random_password >"$PW_FILE"; umask 022; }
PASSWORD=$(cat "$PW_FILE")

# the privilege-separation directory every sshd needs; removed by sshd-down.sh if we made it
if [ ! -d /run/sshd ]; then install -d -m 755 /run/sshd; touch "$STATE/created-run-sshd"; fi

# mode none: the users must exist on the machine itself
setup_users_on_machine() {
  local u created=
  for u in "$USER_NOPW" "$USER_PW"; do
    if ! id "$u" >/dev/null 2>&1; then
      useradd --create-home --shell /bin/bash --user-group "$u"
      echo "$u" >>"$STATE/created-users"
      created+=" $u"
    fi
  done
  usermod -p '*' "$USER_NOPW"
  printf '%s:%s\n' "$USER_PW" "$PASSWORD" | chpasswd
  printf '%s ALL=(ALL:ALL) NOPASSWD: ALL\n%s ALL=(ALL:ALL) ALL\nDefaults:%s timestamp_timeout=0\n' \
    "$USER_NOPW" "$USER_PW" "$USER_PW" >/etc/sudoers.d/tbuddy-hosts
  chmod 0440 /etc/sudoers.d/tbuddy-hosts
  touch "$STATE/created-sudoers"
  [ -z "$created" ] || log "created users on this machine:$created (sshd-down.sh removes them)"
}
[ "$ISOLATION" = none ] && setup_users_on_machine

mkdir -p "$STATE/hosts"
stop_after_error() { exec 8>&-; "$TBH_DIR/sshd-down.sh" >/dev/null 2>&1 || true; }
TBH_ON_ERROR=stop_after_error
: >"$STATE/known_hosts.new"
start_host() {
  local i=$1 name=sshd$1 d=$STATE/hosts/sshd$1 addr=$NET.$1 port=$((PORT_BASE + $1 - 1))
  mkdir -p "$d/sandbox"
  ssh-keygen -q -t ed25519 -N '' -C "root@$name" -f "$d/ssh_host_ed25519_key"
  cat >"$d/sshd_config" <<EOF
# test host $name (tbuddy-deploy tests/hosts/sshd-up.sh)
ListenAddress $addr:$port
HostKey $d/ssh_host_ed25519_key
PidFile none
AuthorizedKeysFile $STATE/keys/%u
# the state dir may sit below a world-writable /tmp, which StrictModes would reject
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers root $USER_NOPW $USER_PW
UsePAM $PAM
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 100:30:200
MaxSessions 100
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
  cat >"$d/host.env" <<EOF
NAME=$name
ISOLATION=$ISOLATION
PRIVATE_DIRS="$PRIVATE_DIRS"
ADDR=$addr
USER_NOPW=$USER_NOPW
USER_PW=$USER_PW
PW_FILE=$PW_FILE
SANDBOX=$d/sandbox
EOF
  printf '%s %s %s %s\n' "$name" "$addr" "$port" "$d/sandbox" >"$d/endpoint"
  local pub; pub=$(cut -d' ' -f1-2 "$d/ssh_host_ed25519_key.pub")
  echo "[$addr]:$port,[$name]:$port $pub" >>"$STATE/known_hosts.new"

  local cmd=(/bin/bash "$TBH_DIR/sshd-host-init.sh" "$d")
  if [ "$ISOLATION" = mount ]; then
    cmd=(unshare --mount --uts --ipc --pid --fork --kill-child --mount-proc --propagation private -- "${cmd[@]}")
  fi
  # the subshell moves itself into the host's cgroup before it becomes the host, so every
  # process of the host (sshd, its sessions, daemons a test starts) is found by sshd-down.sh
  (
    if cg_enter "$CGP/$name" "$BASHPID" 2>/dev/null; then echo "$CGP/$name" >"$d/cgroup"; fi
    exec setsid "${cmd[@]}"
  ) </dev/null >"$d/sshd.log" 2>&1 8>&- &
  echo "$! $(proc_start $! || echo 0)" >"$d/launcher"
}
for i in $(seq 1 "$N"); do start_host "$i"; done
mv "$STATE/known_hosts.new" "$STATE/known_hosts"
cat "$STATE"/hosts/sshd*/endpoint | sort -V >"$STATE/hosts.tsv"
t_launch=$(since "$t0")

# ssh_config for humans and shell-level tests
{
  for i in $(seq 1 "$N"); do
    read -r name addr port _ <"$STATE/hosts/sshd$i/endpoint"
    cat <<EOF
Host $name
  HostName $addr
  Port $port
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

# ready = a real key login as root succeeds on every host
wait_host() {
  local name=$1 d=$STATE/hosts/$1 addr port deadline=$((SECONDS + 30)) lpid lstart
  read -r _ addr port _ <"$d/endpoint"
  read -r lpid lstart <"$d/launcher"
  until (exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null; do
    if ! alive "$lpid" "$lstart"; then
      log "$name: exited during start-up; its log ($d/sshd.log):"; sed 's/^/    /' "$d/sshd.log" >&2; return 1
    fi
    (( SECONDS < deadline )) || { log "$name: not listening on $addr:$port after 30s"; return 1; }
    sleep 0.05
  done
  until ssh -F "$STATE/ssh_config" -l root -o KexAlgorithms=curve25519-sha256 "$name" true 2>"$d/ssh-check.err"; do
    (( SECONDS < deadline )) || { log "$name: root login fails: $(tail -1 "$d/ssh-check.err")"; return 1; }
    sleep 0.2
  done
  rm -f "$d/ssh-check.err"
}
pids=()
for i in $(seq 1 "$N"); do wait_host "sshd$i" & pids+=($!); done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
if [ "$fail" != 0 ]; then
  log "start-up failed; stopping what was started"
  exec 8>&-
  "$TBH_DIR/sshd-down.sh" >/dev/null || true
  die "sshd test hosts did not come up (isolation=$ISOLATION)"
fi

{
  echo "# $N loopback sshd test hosts (isolation: $ISOLATION), from tests/hosts/sshd-up.sh;"
  echo "# stop them with tests/hosts/sshd-down.sh. No init system inside: no systemctl, no apt."
  echo "all:"
  echo "  children:"
  echo "    sshd:"
  echo "      hosts:"
  for i in $(seq 1 "$N"); do
    read -r name addr port sandbox <"$STATE/hosts/sshd$i/endpoint"
    echo "        $name:"
    echo "          ansible_host: $addr"
    echo "          ansible_port: $port"
    echo "          sandbox: $sandbox"
  done
  echo "      vars:"
  echo "        ansible_connection: ssh"
  echo "        ansible_user: $INV_USER"
  echo "        ansible_ssh_private_key_file: $KEY"
  echo "        ansible_ssh_common_args: '-o UserKnownHostsFile=$STATE/known_hosts -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'"
  echo "        ansible_python_interpreter: /usr/bin/python3"
  [ "$INV_USER" = "$USER_PW" ] && echo "        ansible_become_password: '$PASSWORD'"
  echo "        tbuddy_isolation: $ISOLATION"
  echo "        tbuddy_user: $USER_NOPW            # same key; passwordless sudo"
  echo "        tbuddy_pw_user: $USER_PW         # same key; sudo asks for tbuddy_pw_password"
  echo "        tbuddy_pw_password: '$PASSWORD'"
} >"$STATE/inventory.yml.new"
mv "$STATE/inventory.yml.new" "$STATE/inventory.yml"
log "$N host(s) up in $(since "$t0")s (launched in ${t_launch}s; isolation=$ISOLATION); inventory: $STATE/inventory.yml"
cat "$STATE/inventory.yml"
