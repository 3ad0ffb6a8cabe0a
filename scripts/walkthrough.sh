#!/usr/bin/env bash
# The README's walkthrough, runnable as it stands: on one machine, a miner and a full node
# with a wallet, both connected only to a light relay between them, so everything they
# exchange passes through the relay. Two payments in a row from one address, both
# confirmed, the same balances on both wallet nodes. tests/it/readme.rs runs this script
# and checks that the README shows the same commands.
#
#   NODE=target/release/node bash scripts/walkthrough.sh
#
# Environment: NODE (the binary), DIR (where the data directories go; a new temporary
# directory by default), BASE_PORT (six ports from it are used; 29100 by default).
set -euo pipefail
cd "$(dirname "$0")/.."
# --- walkthrough (the README shows every line from here on) ---
NODE=${NODE:-target/release/node}
DIR=${DIR:-$(mktemp -d)}
BASE_PORT=${BASE_PORT:-29100}
RELAY=127.0.0.1:$((BASE_PORT + 0))
MINER=127.0.0.1:$((BASE_PORT + 1))
FULL=127.0.0.1:$((BASE_PORT + 2))

relay() { "$NODE" --profile configs/light-relay.toml --datadir "$DIR/relay" --set peers.listen=$RELAY --set rpc.listen=127.0.0.1:$((BASE_PORT + 3)) "$@"; }
miner() { "$NODE" --profile configs/miner.toml --datadir "$DIR/miner" --set peers.listen=$MINER --set rpc.listen=127.0.0.1:$((BASE_PORT + 4)) --set "peers.connect=[\"$RELAY\"]" --set miner.autostart=false --set miner.threads=1 "$@"; }
full()  { "$NODE" --profile configs/full.toml --datadir "$DIR/full" --set peers.listen=$FULL --set rpc.listen=127.0.0.1:$((BASE_PORT + 5)) --set "peers.connect=[\"$RELAY\"]" "$@"; }

# Waits up to a minute for a condition to hold.
wait_until() {
    for _ in $(seq 600); do
        eval "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "timed out waiting until $1" >&2
    return 1
}

# Waits up to a minute for a command to print what is expected.
expect() {
    local want=$1; shift
    for _ in $(seq 600); do
        [ "$("$@" 2>/dev/null)" = "$want" ] && return 0
        sleep 0.1
    done
    echo "timed out waiting for '$*' to print '$want'" >&2
    return 1
}

# On exit, stop the three nodes (each runs as a child of its background job).
trap 'for job in $(jobs -p); do pkill -TERM -P "$job"; done; wait' EXIT

# 1. Start the relay, then the miner and the full node, each connecting to the relay only.
relay >"$DIR/relay.log" 2>&1 &
miner >"$DIR/miner.log" 2>&1 &
full >"$DIR/full.log" 2>&1 &

# 2. Watch them connect: the relay has both as peers (it may also dial them back).
wait_until '[ "$(relay rpc getconnectioncount)" -ge 2 ]'
relay rpc getpeerinfo | grep '"addr": "'

# 3. A wallet address on each wallet node (the tutorial's createwallet).
FROM=$(miner rpc getnewaddress)
TO=$(full rpc getnewaddress)

# 4. Mine on one thread, paying FROM, until its first rewards mature (100 blocks).
miner rpc setgenerate true 1 "$FROM"
wait_until '[ "$(miner rpc getbalance "$FROM" 1)" != "0.00000000" ]'

# 5. Two payments in a row from the same address (the tutorial's send --from).
miner rpc sendfrom "$FROM" "$TO" 10
miner rpc sendfrom "$FROM" "$TO" 5

# 6. Both are confirmed by the next block, on every node.
expect 15.00000000 full rpc getbalance "$TO" 1
miner rpc setgenerate false
expect "$(miner rpc getbestblockhash)" full rpc getbestblockhash

# 7. The same balances on both wallet nodes (the tutorial's balance ADDR).
for address in "$FROM" "$TO"; do
    expect "$(miner rpc getbalance "$address" 1)" full rpc getbalance "$address" 1
    echo "$address: $(full rpc getbalance "$address" 1)"
done
echo "walkthrough complete"
