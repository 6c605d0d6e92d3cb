#!/usr/bin/env bash
# Drops the databases integration tests left behind (paysys_test_<uuid>); each test makes its
# own and does not drop it, so CI clears them before a run. Never touches `paysys`.
set -uo pipefail
ADMIN=${PAYSYS_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
dbs=$(psql "$ADMIN" -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'paysys\_test\_%'" 2>/dev/null) || exit 0
n=0
for db in $dbs; do psql "$ADMIN" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 && n=$((n + 1)); done
echo "[ci] dropped $n leftover test databases"
# Roles and broker users a least-privilege test left behind when it failed midway (prefixed
# t<10 or 12 hex>_ / -); `make up`'s paysys_* roles and paysys-* users are never touched.
roles=$(psql "$ADMIN" -tAc "SELECT rolname FROM pg_roles WHERE rolname ~ '^t[0-9a-f]{10}_[a-z]+$'" 2>/dev/null) || roles=""
for r in $roles; do psql "$ADMIN" -qc "DROP ROLE IF EXISTS \"$r\"" >/dev/null 2>&1; done
if command -v rabbitmqctl >/dev/null 2>&1; then
  for u in $(rabbitmqctl -q list_users 2>/dev/null | awk '$1 ~ /^t[0-9a-f]{12}-[a-z-]+$/ {print $1}'); do
    rabbitmqctl -q delete_user "$u" >/dev/null 2>&1
  done
fi
