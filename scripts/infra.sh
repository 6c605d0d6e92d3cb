#!/usr/bin/env bash
# Makes sure PostgreSQL and RabbitMQ answer on 127.0.0.1 (5432, 5672): leaves running ones alone,
# starts stopped ones, installs missing ones with apt (Debian), or uses `docker compose` when a
# Docker engine runs and nothing is installed. Safe to run any number of times.
set -euo pipefail

log() { printf '[infra] %s\n' "$*"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  local port=$1 name=$2 i
  for i in $(seq 1 90); do port_open "$port" && return 0; sleep 1; done
  log "$name did not open port $port"; return 1
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@"
}
docker_engine() { command -v docker >/dev/null && docker info >/dev/null 2>&1; }

ensure_postgres() {
  if port_open 5432; then log "PostgreSQL already running"; return; fi
  if ! command -v pg_ctlcluster >/dev/null; then
    if docker_engine; then
      log "starting PostgreSQL with docker compose"; docker compose up -d postgres
      wait_port 5432 PostgreSQL; return
    fi
    log "installing PostgreSQL"; apt_install postgresql
    installed_pg=1
  fi
  local ver; ver=$(ls /etc/postgresql | sort -V | tail -1)
  log "starting PostgreSQL $ver"
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  wait_port 5432 PostgreSQL
  if [ "${installed_pg:-0}" = 1 ]; then
    # A fresh Debian cluster asks TCP clients for a password: give the postgres role the one
    # in config/default.toml (trust-configured machines ignore it).
    as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\""
  fi
}

ensure_rabbitmq() {
  if port_open 5672; then log "RabbitMQ already running"; return; fi
  if ! command -v rabbitmq-server >/dev/null; then
    if docker_engine; then
      log "starting RabbitMQ with docker compose"; docker compose up -d rabbitmq
      wait_port 5672 RabbitMQ; return
    fi
    log "installing RabbitMQ"; apt_install rabbitmq-server
  fi
  if ! port_open 5672; then
    log "starting RabbitMQ"
    as_root rabbitmq-server -detached || true
  fi
  wait_port 5672 RabbitMQ
}

ensure_postgres
ensure_rabbitmq
