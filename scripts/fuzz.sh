#!/usr/bin/env bash
# Runs the coverage-guided fuzz targets in fuzz/ one after the other, each for SECONDS
# (600 by default), and prints per target the executions, executions per second and
# whether a crash was found. Not part of scripts/test.sh: it needs the nightly toolchain
# and cargo-fuzz, and takes as long as it is asked to.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      # every target when none is named
#
# Each target starts from its seeds in fuzz/corpus/TARGET (kept small, in the repository)
# and from what earlier runs found, in fuzz/target/corpus/TARGET (not committed). A crash
# leaves its input in fuzz/artifacts/TARGET/ and its log in fuzz/target/logs/TARGET.log;
# replay it with `cargo +nightly fuzz run -a TARGET fuzz/artifacts/TARGET/crash-...`.
#
# Environment: NICE (niceness of the build and the runs, 19 by default: the machine is
# shared), FUZZ_ARGS (more libFuzzer flags for every target, such as -jobs=2).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

if [[ ${1:-} =~ ^[0-9]+$ ]]; then
    seconds=$1
    shift
else
    seconds=600
fi
nice=(nice -n "${NICE:-19}")

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal

# Every [[bin]] of fuzz/Cargo.toml is a target: a new one is picked up as it is added.
if (($# > 0)); then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

# libFuzzer flags of one target, past the common ones. Any single allocation over
# -malloc_limit_mb is reported as a crash: from inputs of a few KiB, nothing the node
# decodes may ask for more (the P2P codec's largest is one 4 MB payload).
flags_of() {
    case $1 in
        # Datagrams up to one past the 8,213-byte limit.
        kademlia_datagram) echo "-max_len=8214" ;;
        # Spec files are about 2 KiB; the keys and value shapes as a dictionary.
        chain_spec) echo "-max_len=8192 -dict=$PWD/chain_spec.dict" ;;
        *) echo "" ;;
    esac
}

mkdir -p target/logs
summary=()
failed=0
for target in "${targets[@]}"; do
    log=target/logs/$target.log
    mkdir -p "target/corpus/$target" "corpus/$target" "artifacts/$target"
    echo "== $target: ${seconds} s (log: fuzz/$log)"
    # Sanitizer (address, the default) and debug assertions: an overflow is a crash too.
    if ! "${nice[@]}" cargo +nightly fuzz build --debug-assertions "$target" >"$log" 2>&1; then
        line=$(printf '%-20s %s' "$target" "BUILD FAILED (see fuzz/$log)")
        echo "$line"
        summary+=("$line")
        failed=1
        continue
    fi
    # shellcheck disable=SC2046 # the flags are words
    if "${nice[@]}" cargo +nightly fuzz run --debug-assertions "$target" \
        "target/corpus/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -malloc_limit_mb=16 -rss_limit_mb=2048 \
        -print_final_stats=1 $(flags_of "$target") ${FUZZ_ARGS:-} >>"$log" 2>&1; then
        outcome="no crash"
    else
        # libFuzzer names the input it saved: crash-, oom-, leak- or timeout-HASH.
        unit=$(grep -m1 -oE 'Test unit written to [^ ]+' "$log" | sed 's/.* //' || true)
        outcome="CRASH: ${unit:-see fuzz/$log}"
        failed=1
    fi
    execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
    rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
    if [[ -z $execs ]]; then
        # No final stats (killed): the last status line's count.
        execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    fi
    cov=$(grep -oE '^#[0-9]+.*cov: [0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+$' || true)
    line=$(printf '%-20s %12s execs %8s exec/s  %-10s %s' "$target" "${execs:-?}" "${rate:-?}" "${cov:-}" "$outcome")
    echo "$line"
    summary+=("$line")
done

echo
echo "== fuzzing summary (${seconds} s per target)"
printf '%s\n' "${summary[@]}"
exit "$failed"
