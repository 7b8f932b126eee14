#!/usr/bin/env bash
# `make test-schema`: schemathesis over the whole OpenAPI schema, against a live gunicorn that
# this script starts itself (config/gunicorn.conf.py, as `make run`) on a fresh, migrated SQLite
# database with a fixture, with three credentials: a common user's read token, the ingest token
# and an admin's read token (the demo login, a root: the admin routes and everything else). It
# fails on any 5xx and any conformance failure (settings and their exceptions, with reasons:
# tests/fuzz/schemathesis.toml).
# Nothing outlives it: the server is stopped and the database removed on every exit.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PY:-.venv/bin/python}
SCHEMATHESIS=${SCHEMATHESIS:-$(dirname "$PY")/schemathesis}
CONFIG=tests/fuzz/schemathesis.toml
# The fixture's history ends at a fixed instant, so that its logs do not depend on the date.
FIXTURE_NOW=1767225600  # 2026-01-01T00:00:00Z

work=$(mktemp -d "${TMPDIR:-/tmp}/tokenledger-schema.XXXXXX")
server=
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export TOKENLEDGER_VAR_DIR="$work" REQUEST_LOG=0 DJANGO_ENV=development DEBUG=0
unset DATABASE_URL DATABASE_REPLICA_URL

echo "--- fixture: migrated SQLite database, 2000 demo logs, three credentials"
"$PY" manage.py migrate --noinput --verbosity 0
"$PY" manage.py seed_demo --days 7 --events 2000 --seed 7 --now "$FIXTURE_NOW" --no-progress
"$PY" manage.py ensure_demo_login >/dev/null 2>&1

# credential USERNAME SCOPE: "<token> <user id>" (create_credential prints the token alone on
# stdout and names the user's id on stderr).
credential() {
    local token id
    token=$("$PY" manage.py create_credential "$1" --scope "$2" --name schemathesis 2>"$work/err")
    id=$(sed -n 's/.*(id \([0-9]*\)).*/\1/p' "$work/err")
    echo "$token $id"
}
read -r user_token user_id <<<"$(credential alice read)"
read -r ingest_token ingest_id <<<"$(credential demo ingest)"
read -r admin_token admin_id <<<"$(credential demo read)"

port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"$PY" -m gunicorn -c config/gunicorn.conf.py config.wsgi:application --bind "127.0.0.1:$port" \
    --workers 2 --threads 2 >"$work/gunicorn.log" 2>&1 &
server=$!

status=0
# fuzz ROLE [ARGUMENTS...]: one schemathesis run with ROLE's credential.
fuzz() {
    local role=$1 token_var="${1}_token" id_var="${1}_id"
    shift
    echo "--- schemathesis as the $role (user id ${!id_var}) $*"
    "$SCHEMATHESIS" --config-file "$CONFIG" run "$base/api/schema/" --wait-for-schema 60 \
        -H "Authorization: Bearer ${!token_var}" -H "New-Api-User: ${!id_var}" \
        --no-color "$@" || status=1
    if ! kill -0 "$server" 2>/dev/null; then
        echo "gunicorn stopped during the run:"; cat "$work/gunicorn.log"; exit 1
    fi
}
# Every phase for the admin, who may call every operation. The coverage phase (boundary and
# enum values of every parameter, about 8500 requests) is where the time goes, so the common user
# and the ingest token, whose answers differ in what they may see (403s, their own rows), get
# the example, fuzzing and stateful phases over the whole schema; the ingest token also gets the
# coverage phase on the one operation it may call. The admin runs last: its DELETE /api/log/
# removes logs that the other runs read.
fuzz user --phases examples,fuzzing,stateful
fuzz ingest --phases examples,fuzzing,stateful
fuzz ingest --phases coverage --include-operation-id logs_ingest
fuzz admin
if [ "$status" != 0 ]; then
    echo "schemathesis found failures (above); the end of the server's log:"
    tail -50 "$work/gunicorn.log"
fi
exit "$status"
