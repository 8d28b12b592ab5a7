# Shared by the bench/*.sh scripts: the cores, the seeded account and where the binaries are;
# logging, clean-up of started processes, CPU accounting, waiting for a quiet machine, seeding,
# the A/B scripts' set-up, and wrk runs whose every response is checked. Expects ROOT to be set
# before it is sourced, and CONNS (and PORT for ab_setup) before its functions run.

# The server (and everything it starts) on one core, every load generator on the other.
SERVER_CORE=0
LOADER_CORE=1
# The account bench/seed creates; the sign-in bursts sign in as it.
EMAIL=bench@example.com
PASSWORD=bench-correct-horse-battery-staple
BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release}

log() { echo "[bench $(date +%T)] $*" >&2; }
die() {
    echo >&2
    echo "bench: FAILED: $*" >&2
    [[ -n ${WORK:-} ]] && echo "bench: logs kept in $WORK" >&2 && KEEP_WORK=1
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Processes and clean-up
PIDS=()
WORK=""
KEEP_WORK=0
PG_DB=""
cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -CONT "$pid" 2>/dev/null || true
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [[ -n $PG_DB ]]; then
        psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    if [[ -n $WORK && $KEEP_WORK == 0 && $status == 0 ]]; then rm -rf "$WORK"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Helpers

# "key=value" out of a results line.
kv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1" | head -1; }

# CPU accounting between two snapshots of /proc/stat and of the server process's own CPU time
# (all in clock ticks). A snapshot: core busy, steal, total for the server core, the same for the
# loader core, then the server process's user+system ticks.
snap() { # server pid
    local pt=0
    [[ -r /proc/$1/stat ]] && pt=$(awk '{ print $14 + $15 }' "/proc/$1/stat")
    awk -v s="cpu$SERVER_CORE" -v l="cpu$LOADER_CORE" -v pt="$pt" '
        $1 == s { sb = $2 + $3 + $4 + $7 + $8; ss = $9; st = sb + ss + $5 + $6 }
        $1 == l { lb = $2 + $3 + $4 + $7 + $8; ls = $9; lt = lb + ls + $5 + $6 }
        END { print sb, ss, st, lb, ls, lt, pt }' /proc/stat
}
# Percentages between two snapshots: server core busy; of it, the server process and the rest
# ("other": network soft interrupts not charged to the process, and any other program that ran
# there); time stolen by the hypervisor from both cores; loader core busy.
cpu_report() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        st = y[3] - x[3]; lt = y[6] - x[6]; if (st <= 0) st = 1; if (lt <= 0) lt = 1
        sb = y[1] - x[1]; pt = y[7] - x[7]; o = sb - pt; if (o < 0) o = 0
        printf "server_core_busy=%.0f server_proc_cpu=%.0f other_cpu=%.0f steal=%.0f loader_core_busy=%.0f server_cpu_s=%.2f", \
            100 * sb / st, 100 * pt / st, 100 * o / st, \
            100 * ((y[2] - x[2]) + (y[5] - x[5])) / (st + lt), 100 * (y[4] - x[4]) / lt, pt / 100 }'
}

# Wait, at most BENCH_QUIET_WAIT seconds, until both cores are idle (under 10 % busy over one
# second) and the hypervisor steals under 5 % of their time: the machine is shared (a compile
# next to a measurement ruins it) and may be a VM on a busy host.
QUIET_WAIT=${BENCH_QUIET_WAIT:-120}
BUSY_MEASUREMENTS=()
wait_quiet() { # label
    local deadline=$((SECONDS + QUIET_WAIT)) a b busy
    while :; do
        a=$(snap 0); sleep 1; b=$(snap 0)
        busy=$(awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ")
            s = y[3] - x[3]; l = y[6] - x[6]; if (s <= 0) s = 1; if (l <= 0) l = 1
            p = 100 * (y[1] - x[1]) / s; q = 100 * (y[4] - x[4]) / l
            r = 100 * ((y[2] - x[2]) + (y[5] - x[5])) / (s + l)
            printf "%.0f %.0f %.0f", p, q, r }')
        read -r b0 b1 st <<<"$busy"
        if (( b0 < 10 && b1 < 10 && st < 5 )); then return 0; fi
        if (( SECONDS >= deadline )); then
            log "  the machine is still busy (core $SERVER_CORE ${b0} %, core $LOADER_CORE ${b1} %, steal ${st} %) after ${QUIET_WAIT} s; measuring $1 anyway"
            BUSY_MEASUREMENTS+=("$1")
            return 0
        fi
    done
}

wait_http() { # url, seconds
    local deadline=$((SECONDS + $2))
    until curl -sf -o /dev/null --max-time 1 "$1"; do
        (( SECONDS < deadline )) || return 1
        sleep 0.1
    done
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Run wrk (closed loop, maximum rate) pinned to the loader core, check every response, and print
# the WRK results line with the two cores' busy percentages appended.
# Args: label url tokens-file expected-user seconds server-pid
run_wrk() {
    local label=$1 url=$2 tokens=$3 user=$4 secs=$5 spid=$6 out line s0 s1
    out=$WORK/wrk-$label.txt
    s0=$(snap "$spid")
    BENCH_LABEL=$label BENCH_TOKENS=$tokens BENCH_USER=$user \
        timeout $((secs + 30)) taskset -c $LOADER_CORE \
        wrk -t1 -c"$CONNS" -d"${secs}s" --timeout 5s -s "$ROOT/bench/wrk/check.lua" "$url" \
        >"$out" 2>&1 || die "wrk ($label) failed: $(tail -5 "$out")"
    s1=$(snap "$spid")
    line=$(grep '^WRK ' "$out") || die "wrk ($label) printed no results: $(tail -5 "$out")"
    local requests ok bad wrong sock
    requests=$(kv "$line" requests); ok=$(kv "$line" ok); bad=$(kv "$line" bad_status)
    wrong=$(kv "$line" wrong_user); sock=$(kv "$line" socket_errors)
    # The informational cache-churn run may report socket errors (they are shown) without failing.
    [[ ${ALLOW_SOCKET_ERRORS:-0} == 1 && $sock != 0 ]] && log "  $label: $sock socket errors (reported, not fatal here)" && sock=0
    if [[ $bad != 0 || $wrong != 0 || $sock != 0 || $ok != "$requests" || $requests == 0 ]]; then
        die "wrk ($label): of $requests responses counted, $ok were 200 for $EMAIL; $bad not 200, $wrong with a wrong user id, $sock socket errors. $(grep first_problem "$out" || true)"
    fi
    local cpu
    cpu=$(cpu_report "$s0" "$s1")
    # Requests per second of CPU the server process actually got: unlike req/s, this does not
    # move when the hypervisor steals the core or another program shares it.
    echo "$line $cpu per_cpu_rps=$(awk -v n="$requests" -v c="$(kv " $cpu" server_cpu_s)" 'BEGIN { printf "%.0f", (c > 0 ? n / c : 0) }')"
}

# Seed COUNT sessions of the bench account into $TSUZUKI_DATA_DIR (bench/seed); their first 1,000
# tokens go to $WORK/seed/tokens and the account's id to USER_ID.
seed_sessions() { # count
    log "seeding $1 sessions"
    mkdir -p "$WORK/seed"
    "$BIN/seed" --sessions "$1" --sample 1000 --password "$PASSWORD" --out "$WORK/seed" \
        >"$WORK/seed.log" 2>&1 || die "seeding failed: $(tail -5 "$WORK/seed.log")"
    USER_ID=$(cat "$WORK/seed/user_id")
}

# The start of an A/B script: a work directory named after PREFIX, the servers' environment
# (data there, listening on PORT, lifetimes no run outlives), 5,000 seeded sessions; sets URL.
ab_setup() { # prefix
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    export TSUZUKI_DATA_DIR="$WORK/data" TSUZUKI_LISTEN="127.0.0.1:$PORT" TSUZUKI_LOG__LEVEL=warn \
        TSUZUKI_SESSION__IDLE_TIMEOUT=12h TSUZUKI_SESSION__ABSOLUTE_LIFETIME=12h
    seed_sessions 5000
    URL=http://127.0.0.1:$PORT
}

# Start a tsuzuki binary pinned to the server core on ab_setup's data, wait until it is ready and
# warm it up with 2 s of checks; its pid goes to SERVER_PID.
start_warm() { # binary
    taskset -c $SERVER_CORE "$1" serve >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_http "$URL/readyz" 30 || die "$1 did not start: $(tail -5 "$WORK/server.log")"
    BENCH_TOKENS=$WORK/seed/tokens taskset -c $LOADER_CORE wrk -t1 -c"$CONNS" -d2s \
        -s "$ROOT/bench/wrk/check.lua" "$URL/auth/check" >/dev/null
}

# The median of key k over results lines.
col() { local k=$1 l; shift; for l in "$@"; do kv " $l" "$k"; done | median; }
