#!/usr/bin/env bash
# The benchmark command (BENCHMARKS.md). Runs Marketlog's scenarios and the peers of
# ../shared/peer/run.sh (the raw sled group-commit limit; cqrs-es + postgres-es in the full
# run) on this machine and prints one JSON line per run plus `ratio` lines (only the ratios
# count).
#   tests/bench.sh [--quick] [--only SCENARIO]
# Extra arguments go to marketlog-bench (e.g. --fixture DIR to reuse a kept 1M fixture).
#
# This disk's fsync speed drifts by 2-4x within minutes, so a reference measured once at the
# start says little about a run eight minutes later. Every run of ours that has a target is
# therefore sandwiched between two runs of its reference (the sled limit at the same
# concurrency, cqrs-es, `log_append` at 64 or `http_floor`), and its ratio is taken against
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

# replay-tool too: the `history` scenario times the real `replay-tool history` on the fixture.
cargo build --release --quiet -p marketlog-tests --bin marketlog-bench -p replay-tool >&2
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/marketlog-bench
REPLAY_TOOL=${CARGO_TARGET_DIR:-$ROOT/target}/release/replay-tool
ALL=$(mktemp)
trap 'rm -f "$ALL"' EXIT

have_peer=0
if [[ -x $PEER ]]; then
    have_peer=1
else
    echo "bench.sh: $PEER not found; ratios against the peer are skipped" >&2
fi
# peer sled|cqrs "LEVELS": one run of the reference at those concurrency levels. The peer
# builds into and runs from its own target/ dir, so our CARGO_TARGET_DIR must not reach it.
peer() {
    [[ $have_peer == 1 ]] || return 0
    env -u CARGO_TARGET_DIR ONLY=$1 CONCURRENCY=$2 BENCH_SECONDS=$SECS "$PEER" | tee -a "$ALL"
}
# ours SCENARIO [LEVELS]: one run of our scenario.
ours() {
    local levels=()
    [[ $# -gt 1 ]] && levels=(--concurrency "$2")
    "$BIN" "${ARGS[@]}" --seconds "$SECS" --only "$1" "${levels[@]}" | tee -a "$ALL"
}
want() { [[ -z $ONLY || $ONLY == "$1" ]]; }

# cqrs-es + postgres-es runs in the full run only (it installs PostgreSQL from Debian if
# missing); PEER_ONLY=sled skips it, PEER_ONLY=cqrs forces it in --quick.
PEER_ONLY=${PEER_ONLY:-$([[ $QUICK == 1 ]] && echo sled || echo all)}
cqrs() { [[ $PEER_ONLY != sled ]] && peer cqrs "$1"; return 0; }

if want log_append; then
    for c in 1 16 256; do
        peer sled "$c"
        ours log_append "$c"
        peer sled "$c"
    done
fi
# At 64 log_append is also the reference of log_append_multi, so the two alternate: limit,
# log_append, limit, log_append_multi, log_append, limit.
if want log_append || want log_append_multi; then
    want log_append && peer sled 64
    ours log_append 64
    if want log_append_multi; then
        want log_append && peer sled 64
        ours log_append_multi
        ours log_append 64
    fi
    want log_append && peer sled 64
fi
# command_inprocess: at 1 against the sled limit at 1, at 64 against cqrs-es (no target at 16).
if want command_inprocess; then
    peer sled 1
    ours command_inprocess 1
    peer sled 1
    ours command_inprocess 16
    cqrs 64
    ours command_inprocess 64
    cqrs 64
fi
# http_commands against the floor of the same server stack, one on either side.
if want http_commands || want http_floor; then
    ours http_floor
    if want http_commands; then
        ours http_commands
        ours http_floor
    fi
fi
# coupon_claim_race: claims on one campaign queue on its stock stream (ADR 0006); no peer.
if want coupon_claim_race; then
    "$BIN" "${ARGS[@]}" --only coupon_claim_race | tee -a "$ALL"
fi
# The scenarios on one shared fixture (1M place-and-pay events, 20k with --quick), built once
# and used by all of them in one invocation, in this order: disk, rebuild, read_model_memory,
# history (HTTP and the replay-tool CLI), restart, scale (10k, then the fixture),
# http_reads_under_write. They have absolute targets (`target` lines) or, for scale, a ratio
# to its smallest log; no peer.
FIXTURE_SCENARIOS=(disk rebuild read_model_memory history restart scale http_reads_under_write)
fixture_only=()
for s in "${FIXTURE_SCENARIOS[@]}"; do want "$s" && fixture_only+=("$s"); done
if [[ ${#fixture_only[@]} -gt 0 ]]; then
    only=$(IFS=,; echo "${fixture_only[*]}")
    "$BIN" "${ARGS[@]}" --seconds "$SECS" --only "$only" --replay-tool "$REPLAY_TOOL" | tee -a "$ALL"
fi
"$BIN" --report "$ALL"
