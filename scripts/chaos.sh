#!/usr/bin/env bash
# `make chaos`: the fault suite (README "Chaos"). Builds every binary, makes sure PostgreSQL and
# RabbitMQ run, then runs paysys-chaos, which starts the real services on free ports with their
# own database and broker names (never a `make up`'s), drives a mixed load and injects faults in
# turn, PostgreSQL and RabbitMQ stops included; it prints a table and exits non-zero when
# anything was lost, doubled or stuck. `CHAOS_SHORT=1` (or `--short`) is the short version
# `make test` runs. PostgreSQL and RabbitMQ are started again whatever happens (the binary does
# it on exit, panic and signals; this script once more on its own exit).
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-debug}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
restore() {
  if ! port_open 5672 && command -v rabbitmqctl >/dev/null 2>&1; then
    echo "[chaos] RabbitMQ not answering: rabbitmqctl start_app"
    rabbitmqctl start_app >/dev/null 2>&1 || true
    rabbitmqctl await_startup >/dev/null 2>&1 || true
  fi
  if ! port_open 5432; then
    echo "[chaos] PostgreSQL not answering: starting it"
  fi
  bash scripts/infra.sh >/dev/null 2>&1 || echo "[chaos] scripts/infra.sh failed: check PostgreSQL and RabbitMQ"
}
trap restore EXIT

bash scripts/infra.sh
if [ "$PROFILE" = release ]; then cargo build --release --bins; else cargo build --bins; fi
BIN="${CARGO_TARGET_DIR:-target}/$PROFILE"
"$BIN/paysys-chaos" "$@"
