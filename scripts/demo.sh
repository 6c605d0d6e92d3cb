#!/usr/bin/env bash
# `make demo`: against a running `make up`, walks every flow end to end as the demo merchant:
# Mobiltek one-time payment and subscription (charged by the sandbox clock, then cancelled),
# Teleaudio subscription and webbilling (asynchronous set_transaction, SMS code, confirm), and
# prints the notifications it received and its ledger statement and balances.
set -euo pipefail
cd "$(dirname "$0")/.."
EDGE=${EDGE:-http://127.0.0.1:8080/}
SANDBOX=${SANDBOX:-http://127.0.0.1:9090}
PAYSYS=${PAYSYS:-${CARGO_TARGET_DIR:-target}/debug/paysys}
MERCHANT=demo SECRET=demo-merchant-secret
run_id=$(date +%s)
curl -fsS "$SANDBOX/readyz" >/dev/null || { echo "nothing runs on $SANDBOX: run 'make up' first"; exit 1; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
rpc() { curl -fsS -H 'Content-Type: application/json' -d "$1" "$EDGE"; }
order_params() { # trans_ext_id channel
  cat <<JSON
{"trans_ext_id":"$1","merchant_id":"$MERCHANT","secret":"$SECRET","payment":{"channel_id":"$2","currency":"PLN"},
 "articles":[{"prod_id":"55555","sap_index":"45000437","vat_rate":"23","name":"demo product","quantity":"1","price":"250"}],
 "customer":{"ext_id":"demo-user","email":"demo@example.com","phone":"48501123123","country":"PL"},
 "client_ip":"127.0.0.1","test":"True","next_url":"http://example.com/thanks"}
JSON
}
step() { printf '\n== %s\n' "$*"; }
inbox_count() { curl -fsS "$SANDBOX/_sandbox/merchants/$MERCHANT/notifications" | json 'len(d["notifications"])'; }
wait_inbox() { # count
  for _ in $(seq 1 100); do [ "$(inbox_count)" -ge "$1" ] && return 0; sleep 0.1; done
  echo "(waited 10 s for $1 notifications)"
}
before=$(inbox_count)

step "1. one-time payment: set_transaction_sync on channel 100 (Mobiltek)"
resp=$(rpc "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"set_transaction_sync\",\"params\":$(order_params "demo-pay-$run_id" 100)}")
echo "$resp"
url=$(echo "$resp" | json 'd["result"]["data"]["redirect_url"]')
step "   the user confirms at the (sandbox) Mobiltek page"
curl -fsS -H 'Content-Type: application/json' -d "{\"redirect_url\":\"$url\",\"outcome\":\"success\"}" "$SANDBOX/_sandbox/complete"; echo
wait_inbox $((before + 1))

step "2. subscription: set_subscription on channel 101 (Mobiltek), confirmed, then two periods pass"
resp=$(rpc "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"set_subscription\",\"params\":$(order_params "demo-sub-$run_id" 101)}")
echo "$resp"
url=$(echo "$resp" | json 'd["result"]["data"]["redirect_url"]')
curl -fsS -H 'Content-Type: application/json' -d "{\"redirect_url\":\"$url\",\"outcome\":\"success\"}" "$SANDBOX/_sandbox/complete"; echo
for _ in 1 2; do
  curl -fsS -H 'Content-Type: application/json' -d '{"seconds":2592000}' "$SANDBOX/_sandbox/clock/advance"; echo
done
step "   unsubscribe (Mobiltek's answer verbatim)"
rpc "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"unsubscribe\",\"params\":{\"merchant_id\":\"$MERCHANT\",\"secret\":\"$SECRET\",\"order_ext_id\":\"demo-sub-$run_id\",\"client_ip\":\"127.0.0.1\"}}"; echo
wait_inbox $((before + 6))

step "3. Teleaudio subscription (seed 001 shape) on channel 102: confirmed, one period passes, cancelled"
tele_params=$(order_params "demo-tsub-$run_id" 102 | sed 's/"price":"250"/"price":"100","config":[{"name":"teleaudio_service_id","value":"511"}]/; s/48501123123/48519532621/')
resp=$(rpc "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"set_subscription\",\"params\":$tele_params}")
echo "$resp"
url=$(echo "$resp" | json 'd["result"]["data"]["redirect_url"]')
curl -fsS -H 'Content-Type: application/json' -d "{\"redirect_url\":\"$url\",\"outcome\":\"success\"}" "$SANDBOX/_sandbox/complete"; echo
curl -fsS -H 'Content-Type: application/json' -d '{"seconds":2592000}' "$SANDBOX/_sandbox/clock/advance"; echo
rpc "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"unsubscribe\",\"params\":{\"merchant_id\":\"$MERCHANT\",\"secret\":\"$SECRET\",\"order_ext_id\":\"demo-tsub-$run_id\"}}"; echo
wait_inbox $((before + 10))

step "4. Teleaudio webbilling (seed 002) on channel 103: accepted at once, SMS code, a wrong code, the right one"
wb_params=$(order_params "demo-wb-$run_id" 103 | sed 's/48501123123/48519532621/')
sms_before=$(curl -fsS "$SANDBOX/_sandbox/sms?phone=48519532621" | json 'len(d["messages"])')
rpc "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"set_transaction\",\"params\":$wb_params}"; echo
code=""; last=""
for _ in $(seq 1 100); do
  last=$(curl -fsS "$SANDBOX/_sandbox/sms?phone=48519532621" | json 'd["messages"][-1]["text"] if len(d["messages"]) > '"$sms_before"' else ""')
  [ -n "$last" ] && { code=$(echo "$last" | grep -o '[0-9]\{6\}' | head -1); break; }
  sleep 0.1
done
echo "   SMS to 48519532621: $last"
confirm() { rpc "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"confirm_teleaudio_payment\",\"params\":{\"merchant_id\":\"$MERCHANT\",\"secret\":\"$SECRET\",\"trans_ext_id\":\"demo-wb-$run_id\",\"code\":\"$1\"}}"; echo; }
echo "   wrong code:"; confirm 000000
echo "   right code:"; confirm "$code"
wait_inbox $((before + 11))

step "notifications received by merchant $MERCHANT in this run (signed: webhook-id/timestamp/signature headers)"
curl -fsS "$SANDBOX/_sandbox/merchants/$MERCHANT/notifications" | python3 -c "
import json,sys
for n in json.load(sys.stdin)['notifications'][$before:]:
    b=json.loads(n['body']); p=b['params']
    print(f\"  {b['method']:<28} order {p['order_id']:<24} amount {p['amount']:>5} {p['currency']}  webhook-id {n['headers'].get('webhook-id','?')}\")"

step "order status"
for o in demo-pay demo-sub demo-tsub demo-wb; do
  printf '   %-10s %s\n' "$o" "$(rpc "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"get_transaction_status\",\"params\":{\"merchant_id\":\"$MERCHANT\",\"secret\":\"$SECRET\",\"trans_ext_id\":\"$o-$run_id\"}}" | json 'd["result"]["data"]["state"]')"
done

step "ledger statement of merchant $MERCHANT"
"$PAYSYS" ledger statement --merchant "$MERCHANT"
step "ledger balances of merchant $MERCHANT"
"$PAYSYS" ledger balance --merchant "$MERCHANT"
step "ledger invariant"
"$PAYSYS" ledger totals
