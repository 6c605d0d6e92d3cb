//! Seed 000 end to end: a merchant pays once and subscribes through Mobiltek, the end user
//! completes at the sandbox, the merchant receives signed notifications, the ledger accounts
//! every charge exactly once.

use paysys_tests::*;
use serde_json::{json, Value};

fn redirect_of(resp: &Value) -> String {
    assert_eq!(resp["result"]["status"], "1", "unexpected answer: {resp}");
    assert_eq!(resp["result"]["data"]["action_type"], "REDIRECT_USER");
    resp["result"]["data"]["redirect_url"]
        .as_str()
        .expect("redirect_url")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_000_one_time_payment_is_notified_signed_and_posted_once() {
    let sys = spawn_system().await;
    let order = "cab3131a-dec7-49cc-8607-0121a61d3427";
    let resp = sys
        .rpc("set_transaction_sync", seed_000_one_time(order))
        .await;
    let url = redirect_of(&resp);
    // The PPE link in seed 000's shape: same parameters, same order, price in PLN, 128-hex hash.
    let query = url.split_once("/ppe?").expect("a PPE link").1;
    let keys: Vec<&str> = query
        .split('&')
        .map(|kv| kv.split('=').next().unwrap_or(""))
        .collect();
    assert_eq!(
        keys,
        [
            "msisdn",
            "transaction_id",
            "service_id",
            "price",
            "product",
            "user_ip",
            "user_id",
            "return_url",
            "error_url",
            "hash"
        ]
    );
    assert!(
        query.starts_with("msisdn=48501123123&transaction_id="),
        "{query}"
    );
    assert!(query.contains("&price=0.1&"), "{query}");
    let hash = query.rsplit_once("hash=").expect("hash").1;
    assert_eq!(hash.len(), 128, "{hash}");
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));

    // An identical retry returns the original answer.
    let again = sys
        .rpc("set_transaction_sync", seed_000_one_time(order))
        .await;
    assert_eq!(redirect_of(&again), url);

    sys.complete(&url, "success").await;
    let got = sys.inbox.wait_for("1", "new_payment", 1).await;
    let n = &got[0];
    verify_standard_webhooks(n, MERCHANT_1.2);
    assert_eq!(n.json["jsonrpc"], "2.0");
    let id = n.json["id"].as_str().expect("id");
    assert!(
        id.ends_with("new_payment") && id.len() > "new_payment".len(),
        "{id}"
    );
    let p = &n.json["params"];
    assert_eq!(p["order_id"], order);
    assert_eq!(p["amount"], "10");
    assert_eq!(p["currency"], "PLN");
    assert_eq!(p["user_id"], "1234qwera");
    assert_eq!(p["user_email"], "tomek@test.pl");
    assert_eq!(p["additional_data"]["mobiltek_msisdn"], "48501123123");
    let expected_sig = notifier::params_signature(MERCHANT_1.2, "new_payment", order, "10", "PLN")
        .expect("signature");
    assert_eq!(p["signature"], expected_sig);

    let charges = sys.statement("1", 1).await;
    assert_eq!(charges.len(), 1);
    assert_eq!(
        (
            charges[0].amount,
            charges[0].currency.as_str(),
            charges[0].kind.as_str()
        ),
        (10, "PLN", "one_time")
    );
    assert_eq!(charges[0].order_id, order);
    sys.assert_ledger_balanced().await;

    // The order's state followed the provider's events.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let st = sys
            .rpc(
                "get_transaction_status",
                json!({"merchant_id": "1", "secret": MERCHANT_1.1, "trans_ext_id": order}),
            )
            .await;
        if st["result"]["data"]["state"] == "paid" {
            assert_eq!(st["result"]["data"]["charges"][0]["amount"], 10);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "order never became paid: {st}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Nothing was delivered twice.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sys.inbox.of("1", "new_payment").len(), 1);
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_000_subscription_charges_by_the_clock_until_unsubscribed() {
    let sys = spawn_system().await;
    let order = "cab3131a-dec7-49cc-8607-0121a61d3427";
    let url = redirect_of(
        &sys.rpc("set_subscription", seed_000_subscription(order))
            .await,
    );
    sys.complete(&url, "success").await;
    let start = sys.inbox.wait_for("34801", "subscription_start", 1).await;
    assert_eq!(
        start[0].json["params"]["additional_data"]["mobiltek_notification_type"],
        "REGISTRATION"
    );
    verify_standard_webhooks(&start[0], MERCHANT_34801.2);
    sys.inbox
        .wait_for("34801", "subscription_charge_success", 1)
        .await;

    // Three periods later: three more charges, each notified and posted once.
    let period = 2_592_000u64;
    sys.advance(period).await;
    sys.advance(period).await;
    sys.advance(period).await;
    let charges = sys
        .inbox
        .wait_for("34801", "subscription_charge_success", 4)
        .await;
    assert_eq!(charges.len(), 4);
    let statement = sys.statement("34801", 4).await;
    assert_eq!(statement.len(), 4, "{statement:?}");
    let mut seqs: Vec<u32> = statement.iter().map(|c| c.sequence).collect();
    seqs.sort();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    assert!(statement
        .iter()
        .all(|c| c.kind == "recurring" && c.order_id == order));
    sys.assert_ledger_balanced().await;

    // Unsubscribe: Mobiltek's answer verbatim (seed 000), then the cancel notification.
    let un = sys.rpc("unsubscribe", json!({"merchant_id": "34801", "secret": MERCHANT_34801.1, "order_ext_id": order, "client_ip": "10.0.0.1"})).await;
    assert_eq!(un["result"]["status"], 1, "{un}");
    assert!(un["result"]["action_type"].is_null());
    let answer = un["result"]["result"].as_str().expect("answer");
    assert!(
        answer.starts_with("OK") && answer.contains("2302"),
        "{answer}"
    );
    sys.inbox.wait_for("34801", "subscription_cancel", 1).await;

    // No more charges after the cancellation.
    sys.advance(period * 3).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        sys.inbox.of("34801", "subscription_charge_success").len(),
        4
    );
    assert_eq!(sys.statement("34801", 4).await.len(), 4);

    // Unsubscribing again: the provider's error, verbatim, still status 1 as in seed 000.
    let again = sys.rpc("unsubscribe", json!({"merchant_id": "34801", "secret": MERCHANT_34801.1, "order_ext_id": order, "client_ip": "10.0.0.1"})).await;
    assert_eq!(
        again["result"]["result"], "ERROR\n4321:Subscriber not found",
        "{again}"
    );
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_provider_notifications_post_once() {
    let sys = spawn_system().await;
    sys.sandbox(
        "/_sandbox/faults",
        json!({"provider": "mobiltek", "mode": "duplicate_callbacks"}),
    )
    .await;
    let order = "dup-1";
    let url = redirect_of(
        &sys.rpc("set_transaction_sync", seed_000_one_time(order))
            .await,
    );
    sys.complete(&url, "success").await;
    sys.inbox.wait_for("1", "new_payment", 1).await;
    let charges = sys.statement("1", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(sys.statement("1", 1).await.len(), 1, "{charges:?}");
    assert_eq!(sys.inbox.of("1", "new_payment").len(), 1);
    sys.assert_ledger_balanced().await;
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_payment_is_notified_as_failed_and_not_posted() {
    let sys = spawn_system().await;
    let url = redirect_of(
        &sys.rpc("set_transaction_sync", seed_000_one_time("abandoned-1"))
            .await,
    );
    sys.complete(&url, "failure").await;
    let failed = sys.inbox.wait_for("1", "payment_failed", 1).await;
    assert_eq!(failed[0].json["params"]["order_id"], "abandoned-1");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(sys.statement("1", 0).await.is_empty());
    assert!(sys.inbox.of("1", "new_payment").is_empty());
    sys.stop().await;
}
