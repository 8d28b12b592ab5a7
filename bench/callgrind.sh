#!/usr/bin/env bash
# Instructions per session check: `bash bench/callgrind.sh` reproduces the instruction counts in
# docs/benchmarks.md. Unlike requests per second, an instruction count does not move with what
# else the machine does (valgrind counts, it does not time), so it compares two builds exactly.
#
# It seeds BENCH_SESSIONS (5,000) sessions, starts `tsuzuki serve` under
# `valgrind --tool=callgrind`, warms it up with wrk (bench/wrk/check.lua, cookies rotating over
# 1,000 sessions, every answer checked), zeroes the counters, runs wrk for BENCH_DURATION (10 s),
# dumps the counters and divides the instructions by the requests wrk counted. Then the same for
# the bare hyper server (bench/bare-server). User space only: the kernel's share is not counted.
# Knobs: BENCH_SESSIONS, BENCH_DURATION, BENCH_PORT (18490), BENCH_SKIP_BUILD=1 with BENCH_BIN=DIR,
# BENCH_KEEP=DIR to keep the dumps (`callgrind_annotate --inclusive=yes DIR/tsuzuki.out` says where
# the instructions go).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SESSIONS=${BENCH_SESSIONS:-5000}
DURATION=${BENCH_DURATION:-10}
PORT=${BENCH_PORT:-18490}
BARE_PORT=$((PORT + 1))
CONNS=16

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

for tool in valgrind wrk; do
    command -v "$tool" >/dev/null || die "$tool is missing (Debian packages valgrind, wrk)"
done
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
    log "building release binaries (tsuzuki, bare-server, seed)"
    cargo build --release --quiet -p tsuzuki -p bare-server -p seed || die "cargo build --release failed"
fi
for b in tsuzuki bare-server seed; do [[ -x $BIN/$b ]] || die "$BIN/$b is missing"; done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tzcallgrind.XXXXXX")
# Exported, not passed through `env`: valgrind would profile `env` and not what it runs.
export TSUZUKI_DATA_DIR="$WORK/data" TSUZUKI_LISTEN="127.0.0.1:$PORT" TSUZUKI_LOG__LEVEL=warn \
    TSUZUKI_SESSION__IDLE_TIMEOUT=12h TSUZUKI_SESSION__ABSOLUTE_LIFETIME=12h
seed_sessions "$SESSIONS"

# One server under callgrind: instructions per answered request. Arguments: label, a URL that
# answers 200 once it is ready, the URL to load, the user every answer must carry ("" for none),
# then the command to run.
measure() {
    local label=$1 ready=$2 url=$3 user=$4
    shift 4
    taskset -c $SERVER_CORE valgrind --tool=callgrind --callgrind-out-file="$WORK/$label.%p" \
        "$@" >"$WORK/$label.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_http "$ready" 120 || die "$label did not start under valgrind: $(tail -5 "$WORK/$label.log")"
    BENCH_TOKENS=$WORK/seed/tokens taskset -c $LOADER_CORE wrk -t1 -c$CONNS -d3s \
        -s "$ROOT/bench/wrk/check.lua" "$url" >/dev/null
    callgrind_control -z "$pid" >"$WORK/$label.control" 2>&1 ||
        die "$label: callgrind_control -z failed: $(cat "$WORK/$label.control")"
    local out
    out=$(BENCH_TOKENS=$WORK/seed/tokens BENCH_USER=$user BENCH_LABEL=$label \
        taskset -c $LOADER_CORE wrk -t1 -c$CONNS -d"${DURATION}s" -s "$ROOT/bench/wrk/check.lua" "$url" |
        grep '^WRK')
    callgrind_control -d "$pid" >"$WORK/$label.control" 2>&1 ||
        die "$label: callgrind_control -d failed: $(cat "$WORK/$label.control")"
    sleep 1
    local requests ok instructions
    requests=$(kv "$out" requests) ok=$(kv "$out" ok)
    [[ $requests -gt 0 && $requests == "$ok" ]] || die "$label: not every answer was right: $out"
    [[ -f $WORK/$label.$pid.1 ]] || die "$label: callgrind wrote no dump"
    instructions=$(awk '/^summary:/ { print $2 }' "$WORK/$label.$pid.1")
    if [[ -n ${BENCH_KEEP:-} ]]; then
        mkdir -p "$BENCH_KEEP" && cp "$WORK/$label.$pid.1" "$BENCH_KEEP/$label.out"
    fi
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    ROWS+="| $label | $requests | $((instructions / requests)) |"$'\n'
}

ROWS=""
measure tsuzuki "http://127.0.0.1:$PORT/readyz" "http://127.0.0.1:$PORT/auth/check" "$USER_ID" "$BIN/tsuzuki" serve
measure bare "http://127.0.0.1:$BARE_PORT/" "http://127.0.0.1:$BARE_PORT/" "" "$BIN/bare-server" "$BARE_PORT"
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')
| server | requests counted | instructions per request (user space) |
| --- | --- | --- |
${ROWS%$'\n'}"
