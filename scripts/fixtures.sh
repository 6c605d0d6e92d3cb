#!/usr/bin/env bash
# The merchants and channels of the seed examples (000: merchant 1 channel 18912, merchant 34801
# channel 18913; 001: merchant 19 channel 9041; 002: merchant 19 webbilling channel 9042) plus a
# demo merchant. Their notifications go to
# the sandbox's merchant inbox so `make demo` can show them. Idempotent (add = upsert).
set -euo pipefail
PAYSYS=${1:-target/debug/paysys}
INBOX=http://127.0.0.1:9090/_sandbox/merchants
add_merchant() { "$PAYSYS" merchant add --id "$1" --secret "$2" --notify-url "$INBOX/$1/notifications" --notify-secret "$3" >/dev/null; }
add_merchant 1     merchant-1-secret     whsec_bWVyY2hhbnQtMS1ub3RpZnktc2VjcmV0
add_merchant 34801 merchant-34801-secret whsec_bWVyY2hhbnQtMzQ4MDEtbm90aWZ5LXNlY3JldA==
add_merchant 19    merchant-19-secret    whsec_bWVyY2hhbnQtMTktbm90aWZ5LXNlY3JldA==
add_merchant demo  demo-merchant-secret  whsec_ZGVtby1tZXJjaGFudC1ub3RpZnktc2VjcmV0
"$PAYSYS" channel add --id 18912 --provider mobiltek --kind one_time --merchant 1 --config service_id=30576 >/dev/null
"$PAYSYS" channel add --id 18913 --provider mobiltek --kind subscription --merchant 34801 --config service_id=30577 >/dev/null
"$PAYSYS" channel add --id 9041 --provider teleaudio --kind subscription --merchant 19 >/dev/null
"$PAYSYS" channel add --id 9042 --provider teleaudio --kind one_time --merchant 19 >/dev/null
"$PAYSYS" channel add --id 100 --provider mobiltek --kind one_time --merchant demo --config service_id=30576 >/dev/null
"$PAYSYS" channel add --id 101 --provider mobiltek --kind subscription --merchant demo --config service_id=30577 >/dev/null
"$PAYSYS" channel add --id 102 --provider teleaudio --kind subscription --merchant demo --config teleaudio_service_id=511 >/dev/null
"$PAYSYS" channel add --id 103 --provider teleaudio --kind one_time --merchant demo >/dev/null
echo "[up] fixtures loaded: merchants 1, 34801, 19, demo; channels 18912, 18913, 9041, 9042, 100-103"
