#!/usr/bin/env bash
# The benchmark command (BENCHMARKS.md). Runs Marketlog's scenarios and the raw sled
# group-commit limit of ../shared/peer/run.sh on this machine and prints one JSON line per
# run plus `ratio` lines (only the ratios count).
#   tests/bench.sh [--quick] [--only SCENARIO]
#
# This disk's fsync speed drifts by 2-4x within minutes, so a limit measured once at the start
# says little about a run eight minutes later. Every one of our runs is therefore sandwiched
# between two runs of the sled limit at the same concurrency, and its ratio is taken against
# the mean of those two neighbours (`marketlog-bench --report`).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEER=${PEER:-$ROOT/../shared/peer/run.sh}
QUICK=0
ONLY=""
ARGS=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) QUICK=1; ARGS+=("$1") ;;
        --only) ONLY=${2:?--only needs a scenario}; shift ;;
        *) ARGS+=("$1") ;;
    esac
    shift
done
SECS=8
[[ $QUICK == 1 ]] && SECS=1

cargo build --release --quiet -p marketlog-tests --bin marketlog-bench >&2
BIN=$ROOT/target/release/marketlog-bench
ALL=$(mktemp)
trap 'rm -f "$ALL"' EXIT

have_peer=0
if [[ -x $PEER ]]; then
    have_peer=1
else
    echo "bench.sh: $PEER not found; ratios against the peer are skipped" >&2
fi
# peer sled|cqrs "LEVELS": one run of the reference at those concurrency levels.
peer() {
    [[ $have_peer == 1 ]] || return 0
    ONLY=$1 CONCURRENCY=$2 BENCH_SECONDS=$SECS "$PEER" | tee -a "$ALL"
}
# ours SCENARIO [LEVELS]: one run of our scenario.
ours() {
    local levels=()
    [[ $# -gt 1 ]] && levels=(--concurrency "$2")
    "$BIN" "${ARGS[@]}" --seconds "$SECS" --only "$1" "${levels[@]}" | tee -a "$ALL"
}
want() { [[ -z $ONLY || $ONLY == "$1" ]]; }

# cqrs-es + postgres-es once (it installs PostgreSQL from Debian if missing); the full run only.
# PEER_ONLY=sled skips it, PEER_ONLY=cqrs forces it in --quick.
PEER_ONLY=${PEER_ONLY:-$([[ $QUICK == 1 ]] && echo sled || echo all)}
if [[ $PEER_ONLY != sled ]] && want command_inprocess; then
    peer cqrs "1 16 64"
fi
if want log_append; then
    for c in 1 16 64 256; do
        peer sled "$c"
        ours log_append "$c"
        peer sled "$c"
    done
fi
# The scenarios at 64 share their neighbours: limit, scenario, limit, scenario, …, limit.
first=1
for s in log_append_multi command_inprocess http_commands; do
    if want "$s"; then
        [[ $first == 1 ]] && peer sled 64
        first=0
        if [[ $s == command_inprocess ]]; then ours "$s" 1,16,64; else ours "$s"; fi
        peer sled 64
    fi
done
"$BIN" --report "$ALL"
