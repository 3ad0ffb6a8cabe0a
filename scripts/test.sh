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
# The zmq plugin's test subscribes with pyzmq (libzmq), as bitcoind's listeners do.
if ! python3 -c 'import zmq' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check 'pyzmq>=25'
fi

# The explorer's test drives a real browser: Debian's headless Chromium.
if ! command -v chromium >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi

# The observability tests run a real Prometheus server and promtool (Debian's package).
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus
fi

# The book (docs/): mdBook from crates.io (Debian has no package), pinned, without the
# `serve` and `watch` features this script does not use, which halves its build.
MDBOOK_VERSION=0.4.52
if ! mdbook --version 2>/dev/null | grep -qx "mdbook v$MDBOOK_VERSION"; then
    cargo install --locked mdbook --version "$MDBOOK_VERSION" --no-default-features --features search
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# The book renders every chapter (a missing one is an error: create-missing = false);
# tests/it/docs.rs checks its links and tests/it/reference.rs its generated pages.
mdbook build docs

# Every test binary runs even when one fails, so one failure does not hide others.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
