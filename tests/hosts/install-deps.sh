#!/usr/bin/env bash
# install-deps.sh — install the Debian packages the test hosts and the test suite need, on a
# Debian 12 machine, as root, without any question and without starting any service.
#
#   tests/hosts/install-deps.sh          # quick no-op (well under a second) when all are present
#
# Packages: openssh-server openssh-client sudo debootstrap systemd-container iproute2 nftables
# zstd postgresql python3-venv python3-psycopg2 (+ util-linux, debian-archive-keyring,
# ca-certificates, openssl).
# Env: TBH_EXTRA_PACKAGES   more packages to install in the same apt run
#
# * PID 1 is not systemd on the CI machines, so a package's init script would really start its
#   daemon (openssh-server would start a host sshd on port 22, postgresql its main cluster).
#   A policy-rc.d that forbids every start is put in place for the install (and removed
#   afterwards if it was not there before).
# * PostgreSQL: a drop-in /etc/postgresql-common/createcluster.d/tbuddy-no-main-cluster.conf
#   (create_main_cluster = off) keeps the package from creating the default cluster at all;
#   the tests create and start throwaway clusters of their own. An existing cluster is left
#   alone (and is not started).
# * apt waits up to 10 minutes for a lock held by another apt, and refreshes stale package
#   lists once (apt-get update) when the install fails or a package has no candidate.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
t0=$(now)

PACKAGES=(openssh-server openssh-client sudo debootstrap systemd-container iproute2 nftables zstd
          postgresql python3-venv python3-psycopg2 ansible-core util-linux debian-archive-keyring ca-certificates openssl)
# shellcheck disable=SC2206
PACKAGES+=(${TBH_EXTRA_PACKAGES:-})

missing=()
while read -r pkg status; do
  [ "$status" = installed ] || missing+=("$pkg")
done < <(for p in "${PACKAGES[@]}"; do
           printf '%s %s\n' "$p" "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || echo absent)"
         done)
if [ ${#missing[@]} = 0 ]; then
  log "all ${#PACKAGES[@]} packages present ($(since "$t0")s)"
  exit 0
fi
log "installing: ${missing[*]}"

# never let a package start a daemon on this machine
POLICY=/usr/sbin/policy-rc.d
made_policy=
restore_policy() { if [ -n "$made_policy" ]; then rm -f "$POLICY"; made_policy=; fi; }
TBH_ON_ERROR=restore_policy
trap restore_policy EXIT
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# temporary, from tbuddy-deploy tests/hosts/install-deps.sh\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  made_policy=1
elif ! grep -q 'exit 101' "$POLICY"; then
  warn "$POLICY exists and may allow services to start; leaving it as it is"
fi

# no default PostgreSQL cluster (tests make their own); only matters on first install
mkdir -p /etc/postgresql-common/createcluster.d
cat >/etc/postgresql-common/createcluster.d/tbuddy-no-main-cluster.conf <<'EOF'
# from tbuddy-deploy tests/hosts/install-deps.sh: tests create their own throwaway clusters
create_main_cluster = off
EOF

export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a
APT_OPTS=(-y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef
          -o Dpkg::Options::=--force-confold --no-install-recommends)
apt_log=$(mktemp /tmp/tbuddy-install-deps.XXXXXX)
apt_update() { log "apt-get update"; apt-get update -q -o DPkg::Lock::Timeout=600 >>"$apt_log" 2>&1; }

# a package without a candidate means the lists are missing or stale
for p in "${missing[@]}"; do
  if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]'; then apt_update || true; break; fi
done
if ! apt-get install "${APT_OPTS[@]}" "${missing[@]}" >>"$apt_log" 2>&1; then
  log "apt-get install failed ($(grep -m1 '^E:' "$apt_log" || echo 'see below')); refreshing the lists and retrying"
  apt_update || true
  if ! apt-get install "${APT_OPTS[@]}" "${missing[@]}" >>"$apt_log" 2>&1; then
    tail -n 25 "$apt_log" >&2
    rm -f "$apt_log"
    die "could not install: ${missing[*]}"
  fi
fi
rm -f "$apt_log"

still=()
for p in "${missing[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || still+=("$p")
done
[ ${#still[@]} = 0 ] || die "still not installed after apt-get: ${still[*]}"
restore_policy
log "installed ${#missing[@]} package(s) in $(since "$t0")s"
