#!/usr/bin/env bash
# The Job paysys-db-roles (../db-roles-job.yaml): runs db-roles.sh (a byte-identical copy of
# scripts/db-roles.sh, checked by deploy/check.py) against the database with the passwords of
# the services' own Secrets, so the roles and the Secrets agree. Nothing is generated here.
#
# In:  PAYSYS_DB_ADMIN_URL  (Secret paysys-db-admin) an administrator's URL of any database
#      $URL_DIR/<role>      each service's PAYSYS__DATABASE__URL, file named after its role
#                           (projected from the Secrets paysys-<deployment>, nothing else of them)
#      ROLE_PREFIX          default paysys_ (as `make up`); tests give a unique one
# The database name comes from the URLs (all must name the same one). A URL still holding
# REPLACE, naming another role than its file, or without a password stops the Job before any
# change. Passwords are taken as they appear in the URL: use URL-safe ones (hex, from
# `openssl rand -hex 24`); one with % (percent-encoding) or \ is refused rather than guessed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
URL_DIR=${URL_DIR:-/etc/paysys/database-urls}
PREFIX=${ROLE_PREFIX:-paysys_}
fail() { echo "db-roles-job: $*" >&2; exit 1; }
# The roles db-roles.sh makes: <prefix><schema> for each service:schema of its SERVICES.
services=$(sed -n 's/^SERVICES="\(.*\)"$/\1/p' "$here/db-roles.sh")
[ -n "$services" ] || fail "no SERVICES line in $here/db-roles.sh"
ROLES=""
for pair in $services; do ROLES="$ROLES $PREFIX${pair##*:}"; done

: "${PAYSYS_DB_ADMIN_URL:?db-roles-job: PAYSYS_DB_ADMIN_URL is not set (Secret paysys-db-admin)}"
case $PAYSYS_DB_ADMIN_URL in *REPLACE*) fail "PAYSYS_DB_ADMIN_URL still holds a REPLACE placeholder (Secret paysys-db-admin)";; esac

pwdir=$(mktemp -d)
trap 'rm -rf "$pwdir"' EXIT
db=""
for role in $ROLES; do
  f="$URL_DIR/$role"
  [ -s "$f" ] || fail "no database URL for $role in $f"
  url=$(cat "$f")
  case $url in *REPLACE*) fail "the database URL of $role still holds a REPLACE placeholder";; esac
  rest=${url#*://}
  userinfo=${rest%%@*}
  [ "$userinfo" != "$rest" ] || fail "the database URL of $role has no user"
  user=${userinfo%%:*}
  [ "$user" = "$role" ] || fail "the database URL in $f is for role '$user', not $role"
  [ "$userinfo" != "$user" ] || fail "the database URL of $role has no password"
  pw=${userinfo#*:}
  [ -n "$pw" ] || fail "the database URL of $role has an empty password"
  case $pw in *%*|*\\*) fail "the password of $role is percent-encoded or holds a backslash; use a URL-safe one (openssl rand -hex 24)";; esac
  path=${rest#*/}
  [ "$path" != "$rest" ] || fail "the database URL of $role names no database"
  name=${path%%\?*}
  [ -z "$db" ] || [ "$db" = "$name" ] || fail "the database URL of $role names database '$name', the others '$db'"
  db=$name
  (umask 077; printf '%s' "$pw" >"$pwdir/$role")
done

bash "$here/db-roles.sh" "$PAYSYS_DB_ADMIN_URL" "$db" "$PREFIX" "$pwdir"
echo "db-roles-job: roles of database $db are in place"
