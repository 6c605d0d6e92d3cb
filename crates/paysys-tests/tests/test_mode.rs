//! `"test": "True"` end to end: the order runs against the provider's test environment (the
//! sandbox here), the merchant's notifications carry `additional_data.test = "true"`,
//! `get_transaction_status` says `"test": true`, and the ledger accounts its charges in the test
//! book: the live statement, balances and totals never show them, `test` over gRPC does.

use paysys_proto::{BalanceRequest, Charge, StatementRequest, TotalsRequest};
use paysys_tests::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const PHONE: &str = "48519532621";

/// Seed 001's Teleaudio `set_subscription`, verbatim (it carries `"test": "True"`).
fn seed_001(trans_ext_id: &str) -> Value {
    json!({
        "trans_ext_id": trans_ext_id, "merchant_id": "19", "invoice_required": false,
        "payment": { "channel_id": "9041", "amount": "0", "currency": "PLN" },
        "articles": [{ "prod_id": "511", "sap_index": "45000437", "vat_rate": "23", "name": "test product", "quantity": "1", "price": "100",
            "config": [{ "name": "teleaudio_service_id", "value": "511" }] }],
        "customer": { "ext_id": "1234qwera", "name": "test", "firstname": "tester", "lastname": "testowski", "email": "test@test.pl",
            "street": "blotna", "city": "krakow", "phone": PHONE, "postcode": "31-620" },
        "test": "True", "next_url": "https://sympatia.onet.pl", "secret": MERCHANT_19.1
    })
}

fn redirect_of(resp: &Value) -> String {
    assert_eq!(resp["result"]["status"], "1", "unexpected answer: {resp}");
    resp["result"]["data"]["redirect_url"]
        .as_str()
        .expect("redirect_url")
        .to_string()
}

/// The merchant's statement of the test book (`test`) or the live one, waiting for `n` charges.
async fn statement_of(sys: &TestSystem, merchant: &str, test: bool, n: usize) -> Vec<Charge> {
    let mut client = sys.ledger().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let charges = client
            .statement(StatementRequest {
                merchant_id: merchant.into(),
                test,
            })
            .await
            .expect("Statement")
            .into_inner()
            .charges;
        if charges.len() >= n || Instant::now() > deadline {
            return charges;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// (account, currency) -> balance of the merchant in the test book (`test`) or the live one.
async fn balances_of(sys: &TestSystem, merchant: &str, test: bool) -> BTreeMap<String, i64> {
    sys.ledger()
        .await
        .balance(BalanceRequest {
            merchant_id: merchant.into(),
            test,
        })
        .await
        .expect("Balance")
        .into_inner()
        .accounts
        .into_iter()
        .map(|a| (format!("{} {}", a.account, a.currency), a.balance_minor))
        .collect()
}

/// Currency -> (debits, credits) of the test book (`test`) or the live one; they are equal.
async fn totals_of(sys: &TestSystem, test: bool) -> BTreeMap<String, (i64, i64)> {
    let totals: BTreeMap<String, (i64, i64)> = sys
        .ledger()
        .await
        .totals(TotalsRequest { test })
        .await
        .expect("Totals")
        .into_inner()
        .totals
        .into_iter()
        .map(|t| (t.currency, (t.debits, t.credits)))
        .collect();
    for (currency, (debits, credits)) in &totals {
        assert_eq!(
            debits, credits,
            "test book {test}: unbalanced in {currency}"
        );
    }
    totals
}

/// `get_transaction_status` of the merchant's order once it reached `state`.
async fn status_when(
    sys: &TestSystem,
    merchant: (&str, &str, &str),
    order: &str,
    state: &str,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let st = sys
            .rpc(
                "get_transaction_status",
                json!({"merchant_id": merchant.0, "secret": merchant.1, "trans_ext_id": order}),
            )
            .await;
        if st["result"]["data"]["state"] == state {
            return st["result"]["data"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "order {order} never became {state}: {st}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_payment_and_a_live_payment_of_one_merchant_are_kept_apart() {
    let sys = spawn_system().await;
    let live_order = "live-pay-1";
    let test_order = "test-pay-1";
    let mut test_req = seed_000_one_time(test_order);
    test_req["test"] = json!("True");
    test_req["articles"][0]["price"] = json!("20");

    let live_url = redirect_of(
        &sys.rpc("set_transaction_sync", seed_000_one_time(live_order))
            .await,
    );
    let test_url = redirect_of(&sys.rpc("set_transaction_sync", test_req.clone()).await);
    // An identical retry is the same test order; flipping `test` is another request.
    assert_eq!(
        redirect_of(&sys.rpc("set_transaction_sync", test_req.clone()).await),
        test_url
    );
    let mut flipped = test_req.clone();
    flipped["test"] = json!("False");
    let refused = sys.rpc("set_transaction_sync", flipped).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    assert!(
        refused["error"]["data"]["trans_ext_id"].is_string(),
        "{refused}"
    );

    sys.complete(&live_url, "success").await;
    sys.complete(&test_url, "success").await;

    // The merchant is told which payment was a test.
    let paid = sys.inbox.wait_for("1", "new_payment", 2).await;
    let of = |order: &str| {
        paid.iter()
            .find(|n| n.json["params"]["order_id"] == order)
            .unwrap_or_else(|| panic!("no new_payment for {order}"))
    };
    verify_standard_webhooks(of(test_order), MERCHANT_1.2);
    assert_eq!(
        of(test_order).json["params"]["additional_data"]["test"],
        "true"
    );
    assert_eq!(of(test_order).json["params"]["amount"], "20");
    assert!(
        of(live_order).json["params"]["additional_data"]["test"].is_null(),
        "{}",
        of(live_order).json
    );

    // get_transaction_status says which order is a test order.
    let st = status_when(&sys, MERCHANT_1, test_order, "paid").await;
    assert_eq!(st["test"], true, "{st}");
    let st = status_when(&sys, MERCHANT_1, live_order, "paid").await;
    assert_eq!(st["test"], false, "{st}");

    // Each book has its own order, and only its own.
    let test_statement = statement_of(&sys, "1", true, 1).await;
    let live_statement = statement_of(&sys, "1", false, 1).await;
    let orders = |s: &[Charge]| -> Vec<(String, i64, bool)> {
        s.iter()
            .map(|c| (c.order_id.clone(), c.amount, c.test))
            .collect()
    };
    assert_eq!(
        orders(&test_statement),
        [(test_order.to_string(), 20, true)]
    );
    assert_eq!(
        orders(&live_statement),
        [(live_order.to_string(), 10, false)]
    );
    let test_balances = balances_of(&sys, "1", true).await;
    assert_eq!(test_balances["provider_receivable:mobiltek PLN"], 20);
    assert_eq!(test_balances["merchant_payable:1 PLN"], 20);
    let live_balances = balances_of(&sys, "1", false).await;
    assert_eq!(live_balances["provider_receivable:mobiltek PLN"], 10);
    assert_eq!(live_balances["merchant_payable:1 PLN"], 10);
    assert_eq!(totals_of(&sys, true).await["PLN"], (20, 20));
    assert_eq!(totals_of(&sys, false).await["PLN"], (10, 10));
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_001_test_subscription_is_charged_in_the_test_book_only() {
    let sys = spawn_system().await;
    let order = "test_sym_tele_subs_11";
    let url = redirect_of(&sys.rpc("set_subscription", seed_001(order)).await);
    sys.complete(&url, "success").await;

    let start = sys.inbox.wait_for("19", "subscription_start", 1).await;
    verify_standard_webhooks(&start[0], MERCHANT_19.2);
    assert_eq!(start[0].json["params"]["additional_data"]["test"], "true");
    sys.inbox
        .wait_for("19", "subscription_charge_success", 1)
        .await;
    // The next period's charge is a test charge too.
    sys.advance(2_592_000).await;
    let charged = sys
        .inbox
        .wait_for("19", "subscription_charge_success", 2)
        .await;
    assert!(
        charged
            .iter()
            .all(|n| n.json["params"]["additional_data"]["test"] == "true"),
        "{:?}",
        charged.iter().map(|n| &n.json).collect::<Vec<_>>()
    );

    let st = status_when(&sys, MERCHANT_19, order, "active").await;
    assert_eq!(st["test"], true, "{st}");

    let test_statement = statement_of(&sys, "19", true, 2).await;
    let mut seen: Vec<(u32, bool)> = test_statement
        .iter()
        .map(|c| (c.sequence, c.test))
        .collect();
    seen.sort();
    assert_eq!(seen, [(1, true), (2, true)], "{test_statement:?}");
    assert!(test_statement
        .iter()
        .all(|c| c.order_id == order && c.provider == "teleaudio" && c.amount == 100));
    // The live book never saw it.
    assert!(statement_of(&sys, "19", false, 0).await.is_empty());
    assert!(balances_of(&sys, "19", false).await.is_empty());
    assert!(!totals_of(&sys, false).await.contains_key("PLN"));
    let test_balances = balances_of(&sys, "19", true).await;
    assert_eq!(test_balances["provider_receivable:teleaudio PLN"], 200);
    assert_eq!(totals_of(&sys, true).await["PLN"], (200, 200));
    sys.stop().await;
}
