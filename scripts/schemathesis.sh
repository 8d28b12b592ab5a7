#!/usr/bin/env bash
# Property-based tests of the JSON API against its own OpenAPI document (issue #6 item 3):
# schemathesis (PyPI) generates requests from GET /api/openapi.json of a live `tsuzuki serve`
# and checks every answer: no 5xx, the status, content type and body the document promises.
# Two runs: one as a signed-in person (session cookie), one as the operator (admin bearer).
#
# Called by scripts/test; runs on its own too (after `cargo build -p tsuzuki`). Needs python3
# with venv/pip and the PyPI index. Without them it says so loudly and skips, unless
# TSUZUKI_REQUIRE_TOOLS=1 (CI), which makes that a failure. Bounded: each run has an outer
# `timeout` (80 s; a run takes 20–40 s here), and scripts/test bounds the whole script at four
# minutes, installation included.
set -euo pipefail
cd "$(dirname "$0")/.."

# 4.32.5 runs on Python 3.9+. The whole environment is pinned in schemathesis-requirements.txt,
# and the venv is named after that file's hash, so that changing a pin installs afresh.
SCHEMATHESIS_VERSION=4.32.5
REQUIREMENTS=scripts/schemathesis-requirements.txt
BIN="${TSUZUKI_TEST_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/tsuzuki}"
LOCK_HASH="$(sha256sum "$REQUIREMENTS" | cut -c1-12)"
VENV="${TSUZUKI_SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tsuzuki/schemathesis-$SCHEMATHESIS_VERSION-$LOCK_HASH}"
# Per operation and run; with about 40 operations this keeps each run near a minute.
EXAMPLES="${TSUZUKI_SCHEMATHESIS_EXAMPLES:-25}"
EMAIL=schemathesis@example.com

skip() {
  if [ "${TSUZUKI_REQUIRE_TOOLS:-}" = 1 ]; then
    echo "scripts/schemathesis.sh: FAILED: schemathesis cannot run: $1 (TSUZUKI_REQUIRE_TOOLS=1)" >&2
    exit 1
  fi
  echo
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!!! SKIPPED: schemathesis against the OpenAPI document: $1"
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  exit 0
}

[ -x "$BIN" ] || skip "no tsuzuki binary at $BIN (cargo build -p tsuzuki)"
command -v python3 >/dev/null || skip "python3 not found"
grep -q "^schemathesis==$SCHEMATHESIS_VERSION\$" "$REQUIREMENTS" \
  || skip "$REQUIREMENTS does not pin schemathesis==$SCHEMATHESIS_VERSION"
if ! [ -f "$VENV/.complete" ] || ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "scripts/schemathesis.sh: installing schemathesis $SCHEMATHESIS_VERSION and its pinned dependencies (PyPI) into $VENV…"
  rm -rf "$VENV"
  python3 -m venv "$VENV" >/dev/null 2>&1 || skip "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$REQUIREMENTS" \
    || skip "pip install -r $REQUIREMENTS failed (is PyPI reachable?)"
  touch "$VENV/.complete"
fi

work="$(mktemp -d)"
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
# Killed by an outer timeout: still stop the server and remove its data.
trap 'exit 143' TERM INT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
# A throwaway operator token; only its SHA-256 goes into the configuration, as in production.
token="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
digest="$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)"
password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
cat >"$work/tsuzuki.toml" <<EOF
listen = "127.0.0.1:$port"
public_url = "$base"
data_dir = "$work/data"

[admin]
token_sha256 = "$digest"

[registration]
enabled = true
EOF

# The server reads every TSUZUKI_* variable: none of the caller's may leak into this run.
unset_config=()
for name in $(env | grep -o '^TSUZUKI_[A-Z0-9_]*' | grep -v '^TSUZUKI_\(TEST\|REQUIRE\)_' || true); do
  unset_config+=(-u "$name")
done

printf '%s\n' "$password" \
  | env "${unset_config[@]}" "$BIN" --config "$work/tsuzuki.toml" user add "$EMAIL" --password-stdin >/dev/null
# Not through a shell function: `$!` must be the server itself (env execs it), or the cleanup
# would stop a subshell and leave the server running.
env "${unset_config[@]}" "$BIN" --config "$work/tsuzuki.toml" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; echo "scripts/schemathesis.sh: FAILED: tsuzuki did not start" >&2; exit 1; }
  sleep 0.1
done

# A session the way any client gets one: POST /api/sign-in, the cookie from Set-Cookie.
cookie="$(curl -fsS -o /dev/null -D - -H 'content-type: application/json' \
  --data "{\"email\":\"$EMAIL\",\"password\":\"$password\"}" "$base/api/sign-in" \
  | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(tsuzuki_session=[^;]*\).*/\1/p')"
[ -n "$cookie" ] || { echo "scripts/schemathesis.sh: FAILED: no session cookie from /api/sign-in" >&2; exit 1; }

# Half of the generated `{user}` path values name the real account, so that the operator run
# reaches disable, enable, reset-factors and revoke themselves, not only their 404.
cat >"$work/schemathesis.toml" <<EOF
[dictionaries.accounts]
values = ["$EMAIL"]

[parameters]
"path.user" = { dictionary = "accounts", probability = 0.5 }
EOF

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
st() {
  # --mode all: valid and invalid requests alike; an invalid one must get a documented 4xx.
  # From the scratch directory: schemathesis keeps a `.schemathesis/` cache where it runs.
  # One worker: with two, one thread's hypothesis changes the interpreter's recursion limit while
  # the other parses source, and CPython 3.11.7 aborts the parse ("SystemError: AST constructor
  # recursion depth mismatch"; seen on 2026-12-02, in one run of two).
  (cd "$work" && timeout 80 "$VENV/bin/st" --config-file "$work/schemathesis.toml" run "$base/api/openapi.json" --url "$base" --checks "$checks" \
    --mode all --phases examples,coverage,fuzzing --max-examples "$EXAMPLES" --seed 6 \
    --workers 1 --request-timeout 10 --no-color "$@")
}

status=0
echo "== schemathesis as a signed-in person (session cookie)"
# The operations that can end this very session are left to the operator run, where they
# answer 401: here they would sign the cookie out halfway and leave the rest untested
# (schemathesis reuses values from earlier answers, so it does find the session's own handle
# for /api/devices/revoke).
st -H "Cookie: $cookie" --exclude-tag admin \
  --exclude-path /api/sign-out --exclude-path /api/sign-out-everywhere --exclude-path /api/password \
  --exclude-path /api/devices/revoke \
  || status=$?
# Still signed in: the run above exercised the signed-in code paths, not only 401s.
curl -fsS -o /dev/null -H "Cookie: $cookie" "$base/api/session" \
  || { echo "scripts/schemathesis.sh: FAILED: the session ended during the signed-in run" >&2; status=1; }
echo "== schemathesis as the operator (admin bearer token)"
st -H "Authorization: Bearer $token" || status=$?

if [ "$status" != 0 ]; then
  echo "scripts/schemathesis.sh: FAILED (exit $status); the server's log:" >&2
  grep -E 'ERROR|panicked' "$work/server.log" | tail -n 20 >&2 || true
  exit "$status"
fi
grep -q 'panicked' "$work/server.log" && { echo "scripts/schemathesis.sh: FAILED: a handler panicked" >&2; exit 1; }
echo "scripts/schemathesis.sh: passed"
