#!/usr/bin/env bash
# Runs every check CI runs: formatting, clippy with warnings as errors, and all tests.
# It installs what the tests need first, so it passes on a fresh machine, and ends with
# one line of passed and failed test counts.
set -euo pipefail
cd "$(dirname "$0")/.."

# The discovery interop tests talk to the Python `kademlia` package the tutorial uses.
if ! python3 -c 'import kademlia' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check 'kademlia==2.2.3'
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# Every test binary runs even when one fails, so one failure does not hide others.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
