#!/usr/bin/env bash
# The forward-auth benchmark of issue #6: `bash bench/proxy.sh` reproduces the figure in
# docs/benchmarks.md ("Through nginx"). A benchmark, not a test: it fails only when the
# measurement is invalid (a response that is not a 200 for the seeded user, a process that does
# not start, a missing tool), never because the target is missed.
#
# What it does, on this machine (loopback only, every run bounded):
#   1. installs wrk and nginx (Debian) if missing and builds the release binaries;
#   2. seeds a fresh SQLite data directory with one user and BENCH_SESSIONS sessions;
#   3. starts, all pinned to core 0: the upstream application (bench/bare-server, "200 ok"),
#      tsuzuki, and one nginx worker with four servers — one proxying to the upstream as it is,
#      one protecting it with the recipe in docs/proxies/nginx/ (auth_request to tsuzuki's
#      /auth/request for every request, the identity headers passed on), one whose
#      auth_request the upstream itself answers, and (information, not a recipe) one where nginx
#      caches each yes for 2 s per cookie and URL;
#   4. wrk (pinned to core 1) in alternating rounds against the nginx servers: requests
#      rotate over 1,000 seeded session cookies; every response must be a 200, and through the
#      protected server it must carry the seeded user's id (added to the response by the bench's
#      nginx configuration from the identity tsuzuki gave);
#   5. prints the median of the rounds' ratios (with auth / without), the rates; and, for
#      information, the same ratio for an auth_request answered at once by the upstream itself
#      (what nginx's subrequest costs by itself, whoever answers it) and with nginx's cache (with
#      the share of requests that still reached tsuzuki).
# Knobs: BENCH_DURATION (10 s per round), BENCH_ROUNDS (5), BENCH_SESSIONS (10000),
# BENCH_CONNECTIONS (64), BENCH_PORT (18480: tsuzuki; +1 upstream, +2 nginx plain, +3 nginx
# with auth, +4 nginx with the null auth server, +5 nginx with its cache, +6 the null auth
# server itself), BENCH_SKIP_BUILD=1 with BENCH_BIN=DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-5}
SESSIONS=${BENCH_SESSIONS:-10000}
CONNS=${BENCH_CONNECTIONS:-64}
PORT=${BENCH_PORT:-18480}
UP_PORT=$((PORT + 1))
PLAIN_PORT=$((PORT + 2))
AUTH_PORT=$((PORT + 3))
NULL_PORT=$((PORT + 4))
CACHED_PORT=$((PORT + 5))
NULL_AUTH_PORT=$((PORT + 6))
RESULTS=$ROOT/bench/results

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

(( $(nproc --all) >= 2 )) || die "needs at least 2 cores"
for tool in wrk nginx; do
    if ! command -v "$tool" >/dev/null && [[ ! -x /usr/sbin/$tool ]]; then
        log "installing $tool (Debian)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y "$tool" >/dev/null 2>&1 || die "cannot install $tool"
        pkill -x "$tool" 2>/dev/null || true
    fi
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
    log "building release binaries (tsuzuki, bare-server, seed)"
    cargo build --release --quiet -p tsuzuki -p bare-server -p seed || die "cargo build --release failed"
fi
for b in tsuzuki bare-server seed; do [[ -x $BIN/$b ]] || die "$BIN/$b is missing"; done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tzproxy.XXXXXX")
mkdir -p "$WORK/bin" "$RESULTS"
cp "$BIN/tsuzuki" "$WORK/bin/tz-server"
cp "$BIN/bare-server" "$BIN/seed" "$WORK/bin/"
BIN=$WORK/bin

env=(
    TSUZUKI_DATA_DIR="$WORK/data"
    TSUZUKI_LISTEN="127.0.0.1:$PORT"
    TSUZUKI_LOG__LEVEL=warn
    TSUZUKI_SESSION__IDLE_TIMEOUT=12h
    TSUZUKI_SESSION__ABSOLUTE_LIFETIME=12h
    TSUZUKI_HTTP__TRUSTED_PROXIES=127.0.0.1
)
log "seeding $SESSIONS sessions"
mkdir -p "$WORK/seed"
env "${env[@]}" timeout 600 "$BIN/seed" --sessions "$SESSIONS" --sample 1000 \
    --password "$PASSWORD" --out "$WORK/seed" >"$WORK/seed.log" 2>&1 ||
    die "seeding failed: $(tail -5 "$WORK/seed.log")"
USER_ID=$(cat "$WORK/seed/user_id")
TOKENS=$WORK/seed/tokens

env "${env[@]}" taskset -c $SERVER_CORE "$BIN/tz-server" serve >"$WORK/tsuzuki.log" 2>&1 &
PIDS+=("$!")
wait_http "http://127.0.0.1:$PORT/readyz" 30 || die "tsuzuki did not start: $(tail -5 "$WORK/tsuzuki.log")"
taskset -c $SERVER_CORE "$BIN/bare-server" "$UP_PORT" >"$WORK/upstream.log" 2>&1 &
PIDS+=("$!")
wait_http "http://127.0.0.1:$UP_PORT/" 10 || die "the upstream did not start"
# The auth server that says yes at once: the same bare server, answering without a body as
# tsuzuki's yes does (nginx reconnects after every auth answer that has a body).
taskset -c $SERVER_CORE "$BIN/bare-server" "$NULL_AUTH_PORT" --empty >"$WORK/null-auth.log" 2>&1 &
PIDS+=("$!")
wait_http "http://127.0.0.1:$NULL_AUTH_PORT/" 10 || die "the null auth server did not start"

mkdir -p "$WORK/nginx"
# nginx's workers run as another user when started by root: they must reach the answer cache
# below (711: through, not list).
chmod 711 "$WORK"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    upstream tsuzuki { server 127.0.0.1:$PORT; keepalive 64; }
    upstream app { server 127.0.0.1:$UP_PORT; keepalive 64; }
    upstream null_auth { server 127.0.0.1:$NULL_AUTH_PORT; keepalive 64; }
    proxy_cache_path $WORK/nginx/answers levels=1:2 keys_zone=answers:1m max_size=16m inactive=1m use_temp_path=off;
    # Without forward-auth: the same upstream, the same proxy settings.
    server {
        listen 127.0.0.1:$PLAIN_PORT;
        location / {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://app;
        }
    }
    # (Information) auth_request to an "auth server" that answers 200 at once (the bare server
    # with an empty body): what nginx's subrequest costs by itself, whatever answers it.
    server {
        listen 127.0.0.1:$NULL_PORT;
        location = /.null-auth {
            internal;
            proxy_pass http://null_auth;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }
        location / {
            auth_request /.null-auth;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://app;
        }
    }
    # With forward-auth, by the recipe as it is.
    server {
        listen 127.0.0.1:$AUTH_PORT;
        include $ROOT/docs/proxies/nginx/tsuzuki-server.conf;
        location / {
            include $ROOT/docs/proxies/nginx/tsuzuki-protect.conf;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # For the benchmark's own check that each answer was for the seeded user.
            # Lower case: wrk's header table is case-sensitive, and check.lua asks so.
            add_header x-tsuzuki-user-id \$tsuzuki_user_id always;
            proxy_pass http://app;
        }
    }
    # (Information, not a recipe) the same, but nginx keeps each yes for 2 s per cookie and URL
    # (proxy_cache): what caching the answer in nginx would buy. Not offered as a recipe: it
    # delays revocations by that long, stores the cookie in clear as the cache key, and (see
    # docs/benchmarks.md) does not make nginx faster.
    server {
        listen 127.0.0.1:$CACHED_PORT;
        location = /.tsuzuki/auth {
            internal;
            proxy_pass http://tsuzuki/auth/request;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URL \$scheme://\$http_host\$request_uri;
            proxy_set_header X-Original-Method \$request_method;
            proxy_cache answers;
            proxy_cache_key \$http_cookie\$request_uri;
            proxy_cache_valid 200 2s;
            proxy_ignore_headers Cache-Control Expires;
        }
        location @tsuzuki_sign_in { return 401; }
        location / {
            include $ROOT/docs/proxies/nginx/tsuzuki-protect.conf;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            add_header x-tsuzuki-user-id \$tsuzuki_user_id always;
            proxy_pass http://app;
        }
    }
}
EOF
taskset -c $SERVER_CORE "$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" \
    -g 'daemon off;' >"$WORK/nginx/stderr.log" 2>&1 &
PIDS+=("$!")
NPID=$!
wait_http "http://127.0.0.1:$PLAIN_PORT/" 10 || die "nginx did not start: $(cat "$WORK/nginx/error.log")"
probe=$(curl -s -o /dev/null -D - --max-time 2 -H "Cookie: tsuzuki_session=$(head -1 "$TOKENS")" \
    "http://127.0.0.1:$AUTH_PORT/" | tr -d '\r')
grep -qi "^x-tsuzuki-user-id: $USER_ID\$" <<<"$probe" || die "the protected server does not let a seeded session through: $probe"
probe=$(curl -s -o /dev/null -D - --max-time 2 -H "Cookie: tsuzuki_session=$(head -1 "$TOKENS")" \
    "http://127.0.0.1:$CACHED_PORT/" | tr -d '\r')
grep -qi "^x-tsuzuki-user-id: $USER_ID\$" <<<"$probe" || die "the cached protected server does not let a seeded session through: $probe"
# tsuzuki's own count of the checks it answered: with the answer cache, how many reached it.
checks() {
    local n
    n=$(curl -sf --max-time 2 "http://127.0.0.1:$PORT/metrics" | awk '$1 == "tsuzuki_session_checks_total{outcome=\"valid\"}" { print $2 }')
    [[ $n =~ ^[0-9]+$ ]] || die "cannot read tsuzuki_session_checks_total from tsuzuki's /metrics"
    echo "$n"
}

log "warm-up (3 s each)"
run_wrk warmup-plain "http://127.0.0.1:$PLAIN_PORT/" "$TOKENS" "" 3 "$NPID" >/dev/null
run_wrk warmup-auth "http://127.0.0.1:$AUTH_PORT/" "$TOKENS" "$USER_ID" 3 "$NPID" >/dev/null
run_wrk warmup-cached "http://127.0.0.1:$CACHED_PORT/" "$TOKENS" "$USER_ID" 3 "$NPID" >/dev/null

plain=() auth=() null=() ratios=() null_ratios=() share=() cached=() cached_ratios=() asked=()
for r in $(seq "$ROUNDS"); do
    wait_quiet "plain round $r"
    p=$(run_wrk "plain-$r" "http://127.0.0.1:$PLAIN_PORT/" "$TOKENS" "" "$DURATION" "$NPID")
    log "  $p"
    wait_quiet "null-auth round $r"
    z=$(run_wrk "null-$r" "http://127.0.0.1:$NULL_PORT/" "$TOKENS" "" "$DURATION" "$NPID")
    log "  $z"
    null+=("$(kv "$z" rps)")
    null_ratios+=("$(awk -v a="$(kv "$z" rps)" -v p="$(kv "$p" rps)" 'BEGIN { printf "%.3f", a / p }')")
    wait_quiet "auth round $r"
    a=$(run_wrk "auth-$r" "http://127.0.0.1:$AUTH_PORT/" "$TOKENS" "$USER_ID" "$DURATION" "$NPID")
    log "  $a"
    plain+=("$(kv "$p" rps)") auth+=("$(kv "$a" rps)")
    ratios+=("$(awk -v a="$(kv "$a" rps)" -v p="$(kv "$p" rps)" 'BEGIN { printf "%.3f", a / p }')")
    auth_lines+=("$a") plain_lines+=("$p")
    share+=("$(awk -v a="$(kv "$a" rps)" -v z="$(kv "$z" rps)" 'BEGIN { printf "%.3f", a / z }')")
    wait_quiet "cached round $r"
    c0=$(checks)
    c=$(run_wrk "cached-$r" "http://127.0.0.1:$CACHED_PORT/" "$TOKENS" "$USER_ID" "$DURATION" "$NPID")
    c1=$(checks)
    log "  $c (checks answered by tsuzuki: $((c1 - c0)))"
    cached+=("$(kv "$c" rps)") cached_lines+=("$c")
    cached_ratios+=("$(awk -v c="$(kv "$c" rps)" -v p="$(kv "$p" rps)" 'BEGIN { printf "%.3f", c / p }')")
    asked+=("$(awk -v n="$((c1 - c0))" -v q="$(kv "$c" requests)" 'BEGIN { printf "%.3f", n / q }')")
done
cached_ratio=$(printf '%s\n' "${cached_ratios[@]}" | median)
ratio=$(printf '%s\n' "${ratios[@]}" | median)
summary="$(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc --all) cores
| nginx → upstream, without forward-auth (median of $ROUNDS × ${DURATION} s, wrk -t1 -c$CONNS) | $(printf '%s\n' "${plain[@]}" | median) req/s |
| nginx → tsuzuki /auth/request + upstream (same) | $(printf '%s\n' "${auth[@]}" | median) req/s |
| ratio with / without (median of the rounds' ratios: ${ratios[*]}) | $ratio (target ≥ 0.7: $(awk -v r="$ratio" 'BEGIN { print (r >= 0.7 ? "met" : "**missed**") }')) |
| (information) nginx caching each yes for 2 s (proxy_cache) → tsuzuki + upstream | $(printf '%s\n' "${cached[@]}" | median) req/s, ratio $cached_ratio (rounds: ${cached_ratios[*]}); tsuzuki answered a share of $(printf '%s\n' "${asked[@]}" | median) of them |
| (information) nginx → an auth server answering 200 at once + upstream | $(printf '%s\n' "${null[@]}" | median) req/s, ratio $(printf '%s\n' "${null_ratios[@]}" | median) (rounds: ${null_ratios[*]}) |
| (information) tsuzuki against the auth server answering at once (median of the rounds' ratios: ${share[*]}) | $(printf '%s\n' "${share[@]}" | median) |
| p99 with forward-auth (median of rounds) | $(col p99_us "${auth_lines[@]}" | awk '{ printf "%.2f ms", $1 / 1000 }'); with the answer cache $(col p99_us "${cached_lines[@]}" | awk '{ printf "%.2f ms", $1 / 1000 }'); without $(col p99_us "${plain_lines[@]}" | awk '{ printf "%.2f ms", $1 / 1000 }') |"
echo "$summary" | tee "$RESULTS/latest-proxy.md"
