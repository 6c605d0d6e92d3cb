#!/usr/bin/env bash
# Least privilege in PostgreSQL (issue 9 point 5): one login role per service, owning only its
# own schema; nobody else (PUBLIC) may use that schema, so e.g. only rpc-edge reads
# edge.merchants. Each service then runs its migrations as its own role. Idempotent: on a
# database whose schemas were made by an admin earlier (an older `make up`), the schemas and
# everything in them are handed over to the service roles.
#
# usage: scripts/db-roles.sh ADMIN_URL DATABASE [ROLE_PREFIX] [PASSWORD_DIR]
#   ADMIN_URL     a superuser URL of any database of the cluster, e.g. postgres://postgres@127.0.0.1:5432/postgres
#   DATABASE      the PaySystem database, e.g. paysys
#   ROLE_PREFIX   role names are <prefix><service>, default "paysys_" (tests use a unique one)
#   PASSWORD_DIR  where each role's generated password is kept (<dir>/<role>), default .run/db
# Prints one line per service: "<service> <role> <schema>".
set -euo pipefail
ADMIN_URL=$1; DB=$2; PREFIX=${3:-paysys_}; PWDIR=${4:-.run/db}
# service:schema
SERVICES="rpc-edge:edge ledger:ledger notifier:notifier provider-mobiltek:mobiltek provider-teleaudio:teleaudio provider-netopia:netopia provider-mocopay:mocopay"
case "$DB$PREFIX" in *[!a-zA-Z0-9_]*) echo "db-roles.sh: DATABASE and ROLE_PREFIX must be [a-zA-Z0-9_]" >&2; exit 64;; esac
mkdir -p "$PWDIR"; chmod 700 "$PWDIR"
DB_URL="${ADMIN_URL%/*}/$DB"
psql -X -q -v ON_ERROR_STOP=1 "$DB_URL" -c "REVOKE ALL ON DATABASE $DB FROM PUBLIC; REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
for pair in $SERVICES; do
  service=${pair%%:*}; schema=${pair##*:}; role="$PREFIX$schema"
  pwfile="$PWDIR/$role"
  [ -s "$pwfile" ] || (umask 077; openssl rand -hex 24 >"$pwfile")
  pw=$(cat "$pwfile")
  psql -X -q -v ON_ERROR_STOP=1 -v role="$role" -v pw="$pw" -v schema="$schema" -v db="$DB" "$DB_URL" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', :'role', :'pw') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', :'db', :'role') \gexec
SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', :'schema', :'role') \gexec
SELECT format('ALTER SCHEMA %I OWNER TO %I', :'schema', :'role') \gexec
SELECT format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', :'schema') \gexec
-- What an admin made there before: tables (and their sequences), views, functions, types.
SELECT format('ALTER TABLE %I.%I OWNER TO %I', n.nspname, c.relname, :'role')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :'schema' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \gexec
SELECT format('ALTER SEQUENCE %I.%I OWNER TO %I', n.nspname, c.relname, :'role')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :'schema' AND c.relkind = 'S'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')) \gexec
SELECT format('ALTER ROUTINE %I.%I(%s) OWNER TO %I', n.nspname, p.proname,
              pg_get_function_identity_arguments(p.oid), :'role')
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = :'schema' \gexec
SELECT format('ALTER TYPE %I.%I OWNER TO %I', n.nspname, t.typname, :'role')
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname = :'schema' AND t.typtype IN ('e', 'd', 'c')
   AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c') \gexec
SQL
  echo "$service $role $schema"
done
