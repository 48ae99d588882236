#!/usr/bin/env bash
# The benchmark command (BENCHMARKS.md). Runs the raw sled group-commit limit of
# ../shared/peer/run.sh and Marketlog's scenarios back to back on this machine and prints
# one JSON line per scenario plus `ratio` lines (only the ratios count).
#   tests/bench.sh [--quick] [--only SCENARIO]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEER=${PEER:-$ROOT/../shared/peer/run.sh}
QUICK=0
ARGS=()
for a in "$@"; do
    [[ $a == --quick ]] && QUICK=1
    ARGS+=("$a")
done
SECS=8
[[ $QUICK == 1 ]] && SECS=1

cargo build --release --quiet -p marketlog-tests --bin marketlog-bench >&2
PEER_OUT=$(mktemp)
trap 'rm -f "$PEER_OUT"' EXIT
# The quick form measures only the sled limit; the full run also cqrs-es + postgres-es
# (which installs PostgreSQL from Debian if it is missing). PEER_ONLY=sled|cqrs|all overrides.
PEER_ONLY=${PEER_ONLY:-$([[ $QUICK == 1 ]] && echo sled || echo all)}
if [[ -x $PEER ]]; then
    ONLY=$PEER_ONLY CONCURRENCY="1 16 64 256" BENCH_SECONDS=$SECS "$PEER" | tee "$PEER_OUT"
else
    echo "bench.sh: $PEER not found; ratios against the peer are skipped" >&2
fi
"$ROOT/target/release/marketlog-bench" --peer "$PEER_OUT" "${ARGS[@]}"
