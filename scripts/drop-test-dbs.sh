#!/usr/bin/env bash
# Drops the databases integration tests left behind (paysys_test_<uuid>); each test makes its
# own and does not drop it, so CI clears them before a run. Never touches `paysys`.
set -uo pipefail
ADMIN=${PAYSYS_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
dbs=$(psql "$ADMIN" -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'paysys\_test\_%'" 2>/dev/null) || exit 0
n=0
for db in $dbs; do psql "$ADMIN" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 && n=$((n + 1)); done
echo "[ci] dropped $n leftover test databases"
