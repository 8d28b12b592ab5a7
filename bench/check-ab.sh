#!/usr/bin/env bash
# The maximum-rate session check of bench/run.sh, for two builds in alternating rounds:
#     bash bench/check-ab.sh OLD/tsuzuki NEW/tsuzuki
# reproduces the A/B figures quoted in docs/benchmarks.md ("What changed in the check"). A
# single run's rate moves by ±10 % on a shared machine; rounds that alternate the two builds on
# the same data and the same cores, counted per CPU-second the server process got, show whether
# a change moved it.
#
# Each round, for each binary in turn: start it pinned to core 0 on one seeded data directory,
# warm up with wrk, then wrk -t1 -c64 for BENCH_DURATION (10 s) with cookies rotating over 1,000
# sessions and every answer checked (bench/wrk/check.lua). Prints a row per round and the
# medians. Knobs: BENCH_ROUNDS (5), BENCH_DURATION, BENCH_PORT (18497), BENCH_BIN (for seed).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[[ $# == 2 ]] || { echo "usage: bash bench/check-ab.sh OLD_TSUZUKI NEW_TSUZUKI" >&2; exit 2; }
ROUNDS=${BENCH_ROUNDS:-5}
DURATION=${BENCH_DURATION:-10}
PORT=${BENCH_PORT:-18497}
CONNS=64

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

for b in "$1" "$2" "$BIN/seed"; do [[ -x $b ]] || die "$b is missing"; done
command -v wrk >/dev/null || die "wrk is missing (Debian package wrk)"
ab_setup tzcheckab

echo "| round | build | req/s | req per CPU-second | p99 |"
echo "| --- | --- | --- | --- | --- |"
OLD_LINES=() NEW_LINES=()
for r in $(seq "$ROUNDS"); do
    for build in old new; do
        if [[ $build == old ]]; then server=$1; else server=$2; fi
        wait_quiet "round $r"
        start_warm "$server"
        pid=$SERVER_PID
        line=$(run_wrk "ab-$r" "$URL/auth/check" "$WORK/seed/tokens" "$USER_ID" "$DURATION" "$pid")
        if [[ $build == old ]]; then OLD_LINES+=("$line"); else NEW_LINES+=("$line"); fi
        printf '| %s | %s | %s | %s | %.2f ms |\n' "$r" "$server" "$(kv " $line" rps)" \
            "$(kv " $line" per_cpu_rps)" "$(awk -v u="$(kv " $line" p99_us)" 'BEGIN { print u / 1000 }')"
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
done
echo
echo "medians: $1 $(col rps "${OLD_LINES[@]}") req/s, $(col per_cpu_rps "${OLD_LINES[@]}") per CPU-s;" \
    "$2 $(col rps "${NEW_LINES[@]}") req/s, $(col per_cpu_rps "${NEW_LINES[@]}") per CPU-s"
