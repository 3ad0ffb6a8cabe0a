#!/usr/bin/env bash
# Runs every check CI runs: formatting, clippy with warnings as errors, and all tests.
# It installs what the tests need first, so it passes on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

# The discovery interop tests talk to the Python `kademlia` package the tutorial uses.
if ! python3 -c 'import kademlia' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check 'kademlia==2.2.3'
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
