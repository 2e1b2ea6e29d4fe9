#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Debian packages), then
# runs formatting and lint checks, the unit tests and every end-to-end test.
# Works with no stdin and CI=true; a missing prerequisite fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
exec </dev/null

if [ -x tests/hosts/install-deps.sh ]; then
  bash tests/hosts/install-deps.sh
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --no-fail-fast 2>&1 | tee target/test-output.log
