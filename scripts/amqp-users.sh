#!/usr/bin/env bash
# Least privilege in RabbitMQ (issue 9 point 5): one user per service, allowed to declare and
# read only its own queues (plus the shared events exchange, dead-letter exchange and dead-letter
# queue every consumer declares) and to publish only the routing keys it produces:
#   rpc-edge      commands to provider.<name>.commands (through the default exchange, which
#                 RabbitMQ checks by exchange, not by queue); no events
#   adapters      payment.* and subscription.* events on the events exchange
#   ledger, notifier  nothing
# Idempotent (users are updated, passwords kept). Needs rabbitmqctl on the broker's node.
#
# usage: scripts/amqp-users.sh [EXCHANGE] [QUEUE_PREFIX] [USER_PREFIX] [PASSWORD_DIR] [SERVICES...]
#   EXCHANGE      events exchange, default paysys.events (tests: their prefixed one)
#   QUEUE_PREFIX  prefix of every queue name, default "" (tests: their unique prefix)
#   USER_PREFIX   user names are <prefix><service>, default "paysys-"
#   PASSWORD_DIR  where each user's generated password is kept (<dir>/<user>), default .run/amqp
#   SERVICES      default: rpc-edge ledger notifier provider-mobiltek provider-teleaudio
#                 provider-netopia provider-mocopay
# Prints one line per service: "<service> <user>".
set -euo pipefail
EXCHANGE=${1:-paysys.events}; QP=${2:-}; UP=${3:-paysys-}; PWDIR=${4:-.run/amqp}
shift $(( $# < 4 ? $# : 4 ))
SERVICES=${*:-rpc-edge ledger notifier provider-mobiltek provider-teleaudio provider-netopia provider-mocopay}
VHOST=${AMQP_VHOST:-/}
esc() { printf '%s' "$1" | sed 's/[.[\*^$()+?{}|\\-]/\\&/g'; }
E=$(esc "$EXCHANGE"); Q=$(esc "$QP")
mkdir -p "$PWDIR"; chmod 700 "$PWDIR"
ctl() { rabbitmqctl -q "$@" >/dev/null; }

for service in $SERVICES; do
  user="$UP${service#provider-}"
  case $service in
    rpc-edge)  own="${Q}edge\\.events|${Q}provider\\.[a-z0-9_-]+\\.commands"
               publish_to="amq\\.default"; keys='^$' ;;
    ledger)    own="${Q}ledger\\.events"; publish_to=""; keys='^$' ;;
    notifier)  own="${Q}notifier\\.events"; publish_to=""; keys='^$' ;;
    provider-*) own="${Q}provider\\.${service#provider-}\\.commands"; publish_to="$E"
               keys='^(payment|subscription)\.[a-z_]+$' ;;
    *) echo "amqp-users.sh: unknown service $service" >&2; exit 64 ;;
  esac
  shared="$E|$E\\.dlx|${Q}$E\\.dead"
  configure="^($shared|$own)\$"
  # A queue that dead-letters needs write on the dead-letter exchange (RabbitMQ checks it when
  # the queue is declared with x-dead-letter-exchange).
  write="^($E\\.dlx|${Q}$E\\.dead|$own${publish_to:+|$publish_to})\$"
  read="^($E|$E\\.dlx|${Q}$E\\.dead|$own)\$"
  pwfile="$PWDIR/$user"
  [ -s "$pwfile" ] || (umask 077; openssl rand -hex 24 >"$pwfile")
  pw=$(cat "$pwfile")
  if rabbitmqctl -q list_users 2>/dev/null | awk '{print $1}' | grep -qx "$user"; then
    ctl change_password "$user" "$pw"
  else
    ctl add_user "$user" "$pw"
  fi
  ctl set_permissions -p "$VHOST" "$user" "$configure" "$write" "$read"
  ctl set_topic_permissions -p "$VHOST" "$user" "$EXCHANGE" "$keys" '.*'
  echo "$service $user"
done
