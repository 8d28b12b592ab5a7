#!/usr/bin/env bash
# The sign-in burst of bench/run.sh, for two builds in alternating rounds:
#     bash bench/burst-ab.sh OLD/tsuzuki NEW/tsuzuki
# reproduces the alternating burst rounds quoted in docs/benchmarks.md ("Targets"). On a shared
# machine a single run's p99 moves by a factor of four; rounds that alternate the two builds on
# the same data and the same cores show whether a change moved it.
#
# Each round, for each binary in turn: start it pinned to core 0 on one seeded data directory,
# warm up with wrk, keep BENCH_BURST_CONNECTIONS (4) correct-password sign-ins in flight with
# wrk (bench/wrk/signin.lua) and meanwhile send session checks at BENCH_RATE (16,000/s) with
# bench/loadgen (open loop, every answer checked), then print the checks' p99 and p99.9 and the
# sign-ins that succeeded. Knobs: BENCH_ROUNDS (3), BENCH_RATE, BENCH_DURATION (10 s),
# BENCH_BURST_CONNECTIONS, BENCH_PORT (18495), BENCH_BIN (for seed and loadgen).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[[ $# == 2 ]] || { echo "usage: bash bench/burst-ab.sh OLD_TSUZUKI NEW_TSUZUKI" >&2; exit 2; }
ROUNDS=${BENCH_ROUNDS:-3}
RATE=${BENCH_RATE:-16000}
DURATION=${BENCH_DURATION:-10}
BURST=${BENCH_BURST_CONNECTIONS:-4}
PORT=${BENCH_PORT:-18495}
CONNS=64

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

for b in "$1" "$2" "$BIN/seed" "$BIN/loadgen"; do [[ -x $b ]] || die "$b is missing"; done
command -v wrk >/dev/null || die "wrk is missing (Debian package wrk)"
ab_setup tzburst

echo "| round | build | check p99 | check p99.9 | sign-ins ok |"
echo "| --- | --- | --- | --- | --- |"
for r in $(seq "$ROUNDS"); do
    for server in "$1" "$2"; do
        start_warm "$server"
        pid=$SERVER_PID
        BENCH_EMAIL=$EMAIL BENCH_PASSWORD=$PASSWORD taskset -c $LOADER_CORE wrk -t1 -c"$BURST" \
            -d"$((DURATION + 3))s" -s "$ROOT/bench/wrk/signin.lua" "$URL/" >"$WORK/signin.out" 2>&1 &
        burst=$!
        sleep 1
        line=$(timeout $((DURATION + 30)) taskset -c $LOADER_CORE "$BIN/loadgen" \
            --url "$URL/auth/check" --rate "$RATE" --duration "$DURATION" --warmup 1 \
            --connections 32 --tokens "$WORK/seed/tokens" --expect-user "$USER_ID" \
            --label "burst-$r" 2>&1 | grep '^LOADGEN') || die "loadgen printed no results"
        wait "$burst" || true
        [[ $(kv "$line" requests) == "$(kv "$line" ok)" ]] || die "not every check was right: $line"
        signins=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' "$WORK/signin.out" | head -1)
        printf '| %s | %s | %.2f ms | %.2f ms | %s |\n' "$r" "$server" \
            "$(awk -v u="$(kv "$line" p99_us)" 'BEGIN { print u / 1000 }')" \
            "$(awk -v u="$(kv "$line" p999_us)" 'BEGIN { print u / 1000 }')" "${signins:-?}"
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
done
