#!/usr/bin/env bash
# `make down`: stops what `make up` started (SIGTERM, then waits for the drain): every service
# and, when `PROMETHEUS=1 make up` started it, Prometheus (.run/pids/prometheus.pid; its data
# stays in .run/prometheus/data).
set -uo pipefail
cd "$(dirname "$0")/.."
for pidfile in .run/pids/*.pid; do
  [ -f "$pidfile" ] || continue
  name=$(basename "$pidfile" .pid); pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "[down] stopped $name"
  fi
  rm -f "$pidfile"
done
