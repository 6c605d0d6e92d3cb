#!/usr/bin/env bash
# `make demo`: against a running `make up`, walks every flow end to end as the demo merchant:
# Mobiltek one-time payment and subscription (charged by the sandbox clock, then cancelled),
# Teleaudio subscription and webbilling (asynchronous set_transaction, SMS code, confirm), a
# Netopia card payment and recurring card payment (price changed over SOAP, ending after
# payments_no), MoCoPay one-time payment and subscription, and prints the notifications it
# received, the orders' states and its ledger statement and balances.
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

# Netopia and MoCoPay orders: their own currency and price (MoCoPay's price is the product's,
# set at MoCoPay: [sandbox.mocopay.products] in config/default.toml).
priced_params() { # trans_ext_id channel currency price [payment.config JSON]
  local cfg=${5:-}; [ -n "$cfg" ] || cfg='{}'
  cat <<JSON
{"trans_ext_id":"$1","merchant_id":"$MERCHANT","secret":"$SECRET","payment":{"channel_id":"$2","currency":"$3","config":$cfg},
 "articles":[{"prod_id":"55555","name":"demo product","quantity":"1","price":"$4"}],
 "customer":{"ext_id":"demo-user","email":"demo@example.com","firstname":"Ion","lastname":"Popescu","phone":"40712345678"},
 "client_ip":"127.0.0.1","next_url":"http://example.com/thanks"}
JSON
}
complete() { # redirect_url outcome [extra JSON fields]
  curl -fsS -H 'Content-Type: application/json' -d "{\"redirect_url\":\"$1\",\"outcome\":\"$2\"${3:-}}" "$SANDBOX/_sandbox/complete"; echo
}
advance() { curl -fsS -H 'Content-Type: application/json' -d "{\"seconds\":$1}" "$SANDBOX/_sandbox/clock/advance"; echo; }

step "5. Netopia card payment on channel 104: the sealed order, the card page, the approved test card"
resp=$(rpc "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"set_transaction_sync\",\"params\":$(priced_params "demo-ncard-$run_id" 104 RON 1234)}")
echo "$resp"
complete "$(echo "$resp" | json 'd["result"]["data"]["redirect_url"]')" success ',"card":"9900004810225098"'
wait_inbox $((before + 12))

step "6. Netopia recurring card payment on channel 105: 3 payments every 30 days; the price changes after the first"
resp=$(rpc "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"set_subscription\",\"params\":$(priced_params "demo-nsub-$run_id" 105 RON 2500 '{"payments_no":"3","interval_day":"30"}')}")
echo "$resp"
complete "$(echo "$resp" | json 'd["result"]["data"]["redirect_url"]')" success
wait_inbox $((before + 14))
echo "   modify_subscription_price to 30.00 RON (mobilPay SOAP modifyRecurrencePrice):"
rpc "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"modify_subscription_price\",\"params\":{\"merchant_id\":\"$MERCHANT\",\"secret\":\"$SECRET\",\"order_ext_id\":\"demo-nsub-$run_id\",\"price\":3000}}"; echo
advance 2592000
advance 2592000
wait_inbox $((before + 17))

step "7. MoCoPay one-time payment on channel 106 (product CHMIBSUB), then its status through verifyPayment"
resp=$(rpc "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"set_transaction_sync\",\"params\":$(priced_params "demo-mpay-$run_id" 106 EUR 199)}")
echo "$resp"
complete "$(echo "$resp" | json 'd["result"]["data"]["redirect_url"]')" success
wait_inbox $((before + 18))
rpc "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"get_transaction_status\",\"params\":{\"merchant_id\":\"$MERCHANT\",\"secret\":\"$SECRET\",\"trans_ext_id\":\"demo-mpay-$run_id\"}}" | json 'd["result"]["data"]["provider_view"]'

step "8. MoCoPay subscription on channel 107 (product PP27638049): started, charged, renewed after 30 days"
resp=$(rpc "{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"set_subscription\",\"params\":$(priced_params "demo-msub-$run_id" 107 EUR 500)}")
echo "$resp"
complete "$(echo "$resp" | json 'd["result"]["data"]["redirect_url"]')" success
advance 2592000
wait_inbox $((before + 21))

step "notifications received by merchant $MERCHANT in this run (signed: webhook-id/timestamp/signature headers)"
curl -fsS "$SANDBOX/_sandbox/merchants/$MERCHANT/notifications" | python3 -c "
import json,sys
for n in json.load(sys.stdin)['notifications'][$before:]:
    b=json.loads(n['body']); p=b['params']
    print(f\"  {b['method']:<28} order {p['order_id']:<24} amount {p['amount']:>5} {p['currency']}  webhook-id {n['headers'].get('webhook-id','?')}\")"

step "order status"
for o in demo-pay demo-sub demo-tsub demo-wb demo-ncard demo-nsub demo-mpay demo-msub; do
  printf '   %-10s %s\n' "$o" "$(rpc "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"get_transaction_status\",\"params\":{\"merchant_id\":\"$MERCHANT\",\"secret\":\"$SECRET\",\"trans_ext_id\":\"$o-$run_id\"}}" | json 'd["result"]["data"]["state"]')"
done

step "ledger statement of merchant $MERCHANT, live book (the \"test\": \"True\" orders are in the test book)"
"$PAYSYS" ledger statement --merchant "$MERCHANT"
step "ledger statement of merchant $MERCHANT, test book"
"$PAYSYS" ledger statement --merchant "$MERCHANT" --test
step "ledger balances of merchant $MERCHANT (live, then test)"
"$PAYSYS" ledger balance --merchant "$MERCHANT"
"$PAYSYS" ledger balance --merchant "$MERCHANT" --test
step "ledger invariant, per book and currency"
"$PAYSYS" ledger totals
"$PAYSYS" ledger totals --test
