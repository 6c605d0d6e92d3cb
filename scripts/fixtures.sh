#!/usr/bin/env bash
# The merchants and channels of the seed examples (000: merchant 1 channel 18912, merchant 34801
# channel 18913; 001: merchant 19 channel 9041; 002: merchant 19 webbilling channel 9042; 003
# has no merchant ids: Netopia merchant 40, channels 7001/7002; 004 neither: MoCoPay merchant 50,
# channels 8001/8002 with the seed's product ids) plus a demo merchant. Their notifications go to
# the sandbox's merchant inbox so `make demo` can show them. Idempotent (add = upsert).
set -euo pipefail
PAYSYS=${1:-target/debug/paysys}
INBOX=http://127.0.0.1:9090/_sandbox/merchants
# Secrets go in on stdin, not argv (which every user of the machine can read): the API secret's
# line, then the notification secret's; stored digested and sealed with [secrets] data_key.
add_merchant() { printf '%s\n%s\n' "$2" "$3" | "$PAYSYS" merchant add --id "$1" --secret - --notify-url "$INBOX/$1/notifications" --notify-secret - >/dev/null; }
add_merchant 1     merchant-1-secret     whsec_bWVyY2hhbnQtMS1ub3RpZnktc2VjcmV0
add_merchant 34801 merchant-34801-secret whsec_bWVyY2hhbnQtMzQ4MDEtbm90aWZ5LXNlY3JldA==
add_merchant 19    merchant-19-secret    whsec_bWVyY2hhbnQtMTktbm90aWZ5LXNlY3JldA==
add_merchant 40    merchant-40-secret    whsec_bWVyY2hhbnQtNDAtbm90aWZ5LXNlY3JldA==
add_merchant 50    merchant-50-secret    whsec_bWVyY2hhbnQtNTAtbm90aWZ5LXNlY3JldA==
add_merchant demo  demo-merchant-secret  whsec_ZGVtby1tZXJjaGFudC1ub3RpZnktc2VjcmV0
"$PAYSYS" channel add --id 18912 --provider mobiltek --kind one_time --merchant 1 --config service_id=30576 >/dev/null
"$PAYSYS" channel add --id 18913 --provider mobiltek --kind subscription --merchant 34801 --config service_id=30577 >/dev/null
"$PAYSYS" channel add --id 9041 --provider teleaudio --kind subscription --merchant 19 --config teleaudio_service_id=511 >/dev/null
"$PAYSYS" channel add --id 9042 --provider teleaudio --kind one_time --merchant 19 >/dev/null
# Netopia mobilPay (seed 003): the seller account is the channel's `signature`.
"$PAYSYS" channel add --id 7001 --provider netopia --kind one_time --currency RON --merchant 40 --config signature=SAND-BOX0-SELL-ER00-0001 >/dev/null
"$PAYSYS" channel add --id 7002 --provider netopia --kind subscription --currency RON --merchant 40 --config signature=SAND-BOX0-SELL-ER00-0001 >/dev/null
# MoCoPay (seed 004): the product id `pid`; its price is set at MoCoPay ([sandbox.mocopay.products]).
"$PAYSYS" channel add --id 8001 --provider mocopay --kind one_time --currency EUR --merchant 50 --config pid=CHMIBSUB >/dev/null
"$PAYSYS" channel add --id 8002 --provider mocopay --kind subscription --currency EUR --merchant 50 --config pid=PP27638049 >/dev/null
"$PAYSYS" channel add --id 100 --provider mobiltek --kind one_time --merchant demo --config service_id=30576 >/dev/null
"$PAYSYS" channel add --id 101 --provider mobiltek --kind subscription --merchant demo --config service_id=30577 >/dev/null
"$PAYSYS" channel add --id 102 --provider teleaudio --kind subscription --merchant demo --config teleaudio_service_id=511 >/dev/null
"$PAYSYS" channel add --id 103 --provider teleaudio --kind one_time --merchant demo >/dev/null
"$PAYSYS" channel add --id 104 --provider netopia --kind one_time --currency RON --merchant demo --config signature=SAND-BOX0-SELL-ER00-0001 >/dev/null
"$PAYSYS" channel add --id 105 --provider netopia --kind subscription --currency RON --merchant demo --config signature=SAND-BOX0-SELL-ER00-0001 >/dev/null
"$PAYSYS" channel add --id 106 --provider mocopay --kind one_time --currency EUR --merchant demo --config pid=CHMIBSUB >/dev/null
"$PAYSYS" channel add --id 107 --provider mocopay --kind subscription --currency EUR --merchant demo --config pid=PP27638049 >/dev/null
echo "[up] fixtures loaded: merchants 1, 34801, 19, 40, 50, demo; channels 18912, 18913, 9041, 9042, 7001, 7002, 8001, 8002, 100-107"
