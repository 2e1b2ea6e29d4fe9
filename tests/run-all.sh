#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Debian packages),
# starts loopback SSH test hosts and systemd-nspawn Debian hosts, then runs
# formatting and lint checks, the unit tests and every end-to-end test, and
# stops the hosts again.
# Works with no stdin and CI=true; a missing prerequisite fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
exec </dev/null

bash tests/hosts/install-deps.sh
# The nspawn hosts' base is built (first use only) while cargo compiles.
bash tests/hosts/nspawn-base.sh >/dev/null & base=$!

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== build"
cargo test --no-run --quiet

# Test hosts live in a state directory of this run only.
export TBH_STATE
TBH_STATE=$(mktemp -d /tmp/tbuddy-tests.XXXXXX)
cleanup() {
  bash tests/hosts/sshd-down.sh >/dev/null 2>&1 || true
  bash tests/hosts/nspawn-down.sh >/dev/null 2>&1 || true
  rm -rf "$TBH_STATE"
}
trap cleanup EXIT
echo "== starting sshd test hosts"
bash tests/hosts/sshd-up.sh 2 >/dev/null
inventory="$TBH_STATE/sshd/inventory.yml"
field() { awk -v k="$1:" '$1 == k { print $2; exit }' "$inventory" | tr -d "'\""; }
export TBUDDY_TEST_SSH_INVENTORY="$inventory"
export TBUDDY_SSH_TEST_HOST; TBUDDY_SSH_TEST_HOST=$(field ansible_host)
export TBUDDY_SSH_TEST_PORT; TBUDDY_SSH_TEST_PORT=$(field ansible_port)
export TBUDDY_SSH_TEST_USER=root
export TBUDDY_SSH_TEST_KEY; TBUDDY_SSH_TEST_KEY=$(field ansible_ssh_private_key_file)
export TBUDDY_SSH_TEST_KNOWN_HOSTS="$TBH_STATE/sshd/known_hosts"
# A login user with passwordless sudo (the corpus runs over SSH as it with become).
export TBUDDY_SSH_TEST_SUDO_USER; TBUDDY_SSH_TEST_SUDO_USER=$(field tbuddy_user)
# A login user whose sudo needs a password: become without one must fail clearly.
export TBUDDY_SSH_TEST_UNPRIV_USER; TBUDDY_SSH_TEST_UNPRIV_USER=$(field tbuddy_pw_user)

echo "== starting nspawn test hosts"
wait "$base"
bash tests/hosts/nspawn-up.sh 6 >/dev/null
export TBUDDY_TEST_NSPAWN_INVENTORY="$TBH_STATE/nspawn/inventory.yml"

echo "== cargo test (unit, local, corpus, ssh, systemd hosts)"
cargo test --no-fail-fast -- --include-ignored
