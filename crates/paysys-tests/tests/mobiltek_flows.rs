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
    // Computed outside Rust: printf '%s' 'new_payment|cab3131a-dec7-49cc-8607-0121a61d3427|10|PLN'
    //   | openssl dgst -sha256 -hmac merchant-1-notify-secret (MERCHANT_1's whsec_, decoded).
    assert_eq!(
        p["signature"],
        "f2d09a6f2efe220a1f409a671c5f60df5217172dfb1f593eaad42bccf786a30d"
    );

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
    // Nothing was delivered twice: the order's only notification is settled, sent once.
    assert_eq!(
        sys.settled_notifications("1", order).await,
        [("new_payment".to_string(), "delivered".to_string(), 1)]
    );
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

    // No more charges after the cancellation: Mobiltek (the sandbox, which delivers what falls
    // due before it answers) charged nothing in three periods.
    let adv = sys.advance(period * 3).await;
    assert_eq!(adv["charges"], 0, "{adv}");
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
    let done = sys.complete(&url, "success").await;
    sys.inbox.wait_for("1", "new_payment", 1).await;
    let charges = sys.statement("1", 1).await;
    // Evidence first: the sandbox sent both copies, each acknowledged, before it answered; the
    // adapter stored one (its event is written with it); that one event's notification is
    // settled.
    let state: Value = sys
        .http
        .get(format!("{}/_sandbox/state", sys.sandbox_url))
        .send()
        .await
        .expect("sandbox")
        .json()
        .await
        .expect("JSON");
    let acknowledged = state["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .filter(|d| d["reference"] == done["transaction_id"] && d["status"] == 200)
        .count();
    assert_eq!(acknowledged, 2, "{state}");
    assert_eq!(sys.stored_callbacks("mobiltek", order).await, 1);
    assert_eq!(
        sys.settled_notifications("1", order).await,
        [("new_payment".to_string(), "delivered".to_string(), 1)]
    );
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
    // Evidence first: the ledger recorded the failure (it handled the event), and the order's
    // only notification is the failure, settled.
    sys.wait_failed_charge("1", "abandoned-1").await;
    assert_eq!(
        sys.settled_notifications("1", "abandoned-1").await,
        [("payment_failed".to_string(), "delivered".to_string(), 1)]
    );
    assert!(sys.statement("1", 0).await.is_empty());
    assert!(sys.inbox.of("1", "new_payment").is_empty());
    sys.stop().await;
}
