#!/usr/bin/env bash
# `make up`: PostgreSQL and RabbitMQ (provisioned if missing), the database, a build, every
# service plus the provider sandbox started in the background (logs in .run/logs), health
# waited for, the seed fixtures loaded, and a map of what runs where. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-debug}
RUN=.run; mkdir -p "$RUN/logs" "$RUN/pids"
log() { printf '[up] %s\n' "$*"; }

bash scripts/infra.sh

DB_URL=${PAYSYS__DATABASE__URL:-postgres://postgres:postgres@127.0.0.1:5432/paysys}
ADMIN_URL="${DB_URL%/*}/postgres"
if ! psql "$ADMIN_URL" -tAc "SELECT 1 FROM pg_database WHERE datname = 'paysys'" | grep -q 1; then
  log "creating database paysys"; psql "$ADMIN_URL" -qc "CREATE DATABASE paysys"
fi

log "building ($PROFILE)"
if [ "$PROFILE" = release ]; then cargo build --release --bins; else cargo build --bins; fi
BIN="${CARGO_TARGET_DIR:-target}/$PROFILE"

# Netopia's envelope keys for the sandbox (never committed, never production's): mobilPay's key
# pair (the sandbox opens orders with the private key, the adapter seals for the certificate)
# and the seller's (the adapter opens IPNs, the sandbox seals them for the certificate).
KEYS="$RUN/netopia"; mkdir -p "$KEYS"
identity() { # name common-name
  if [ -s "$KEYS/$1-private-key.pem" ] && [ -s "$KEYS/$1-certificate.pem" ]; then return; fi
  log "generating the sandbox's $1 key and certificate in $KEYS"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$2" \
    -keyout "$KEYS/$1-private-key.pem" -out "$KEYS/$1-certificate.pem" 2>/dev/null
  chmod 600 "$KEYS/$1-private-key.pem"
}
identity netopia "mobilPay sandbox"
identity seller "PaySystem seller (sandbox)"

# name port
SERVICES=(
  "provider-sandbox 9090"
  "ledger 8111"
  "notifier 8110"
  "provider-mobiltek 8101"
  "provider-teleaudio 8102"
  "provider-netopia 8103"
  "provider-mocopay 8104"
  "rpc-edge 8080"
)
export PAYSYS__DATABASE__URL="$DB_URL"
# Running means: the pid is alive, not a zombie, and the service answers /readyz. A pid that is
# alive but does not answer (hung, or a stale pid reused) is stopped and started again.
alive() { # pid
  kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}
ready() { curl -fsS --max-time 2 "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; }
for entry in "${SERVICES[@]}"; do
  set -- $entry; name=$1; port=$2
  pidfile="$RUN/pids/$name.pid"
  if [ -f "$pidfile" ] && alive "$(cat "$pidfile")"; then
    pid=$(cat "$pidfile")
    up=0; for _ in 1 2 3 4 5; do if ready "$port"; then up=1; break; fi; sleep 1; done
    if [ $up = 1 ]; then log "$name already running (pid $pid)"; continue; fi
    log "$name (pid $pid) does not answer /readyz: restarting it"
    kill "$pid" 2>/dev/null || true; sleep 1; kill -9 "$pid" 2>/dev/null || true
  fi
  log "starting $name on :$port"
  nohup "$BIN/$name" >>"$RUN/logs/$name.log" 2>&1 &
  echo $! >"$pidfile"
done

for entry in "${SERVICES[@]}"; do
  set -- $entry; name=$1; port=$2
  for i in $(seq 1 60); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
    if ! alive "$(cat "$RUN/pids/$name.pid")"; then
      log "$name exited; last log lines:"; tail -20 "$RUN/logs/$name.log"; exit 1
    fi
    [ "$i" = 60 ] && { log "$name not ready after 60 s (see $RUN/logs/$name.log)"; exit 1; }
    sleep 1
  done
  log "$name ready"
done

bash scripts/fixtures.sh "$BIN/paysys"

cat <<MAP

PaySystem is up.
  rpc-edge           http://127.0.0.1:8080/   merchant JSON-RPC 2.0 (+ gRPC PaySystem), /metrics /readyz
  provider-sandbox   http://127.0.0.1:9090/   simulated providers + /_sandbox control
  provider-mobiltek  127.0.0.1:8101           gRPC PaymentProvider + POST /mobiltek/notify
  provider-teleaudio 127.0.0.1:8102           gRPC PaymentProvider + POST /teleaudio/notify + queue provider.teleaudio.commands
  provider-netopia   127.0.0.1:8103           gRPC PaymentProvider + POST /netopia/ipn + GET /netopia/pay/{ref}
  provider-mocopay   127.0.0.1:8104           gRPC PaymentProvider + GET /mocopay/notify + GET /mocopay/return
  notifier           127.0.0.1:8110           gRPC Notifier (delivery log, replay)
  ledger             127.0.0.1:8111           gRPC Ledger (balances, statements)
  PostgreSQL         ${DB_URL##*@} (schemas edge, mobiltek, teleaudio, netopia, mocopay, notifier, ledger)
  RabbitMQ           amqp://127.0.0.1:5672 exchange paysys.events
  logs               $RUN/logs/   stop with: make down
  fixtures           merchants 1, 34801, 19, 40, 50, demo (secrets in README); channels 18912, 18913, 9041, 9042, 7001, 7002, 8001, 8002, 100-107
MAP
