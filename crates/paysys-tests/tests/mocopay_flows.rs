//! Seed 004 end to end: a merchant (50) pays once (channel 8001, pid CHMIBSUB, 1.99 EUR) and
//! subscribes (channel 8002, pid PP27638049, 5.00 EUR every 30 days) through MoCoPay; the user
//! finishes at the sandbox's checkout; MoCoPay's notifications are believed only after
//! verifyPayment agrees, so replays post nothing twice and forgeries post nothing at all;
//! `get_transaction_status` asks MoCoPay (and says when it could not); `unsubscribe` is refused
//! clearly (MoCoPay has no cancel method); the user's return changes nothing.

use paysys_tests::*;
use provider_mocopay::{
    CallbackRedirect, SessionStatus, SessionType, TransactionNotification, TransactionStatus,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const MERCHANT: &str = "50";
/// 30 days: PP27638049's period in config/default.toml.
const PERIOD: u64 = 2_592_000;

/// A one-time payment on channel 8001 at CHMIBSUB's price (1.99 EUR) unless told otherwise.
fn one_time(order: &str, price: &str) -> Value {
    json!({
        "trans_ext_id": order, "merchant_id": MERCHANT, "secret": MERCHANT_50.1,
        "payment": { "channel_id": "8001", "currency": "EUR" },
        "articles": [{ "prod_id": "CHMIBSUB", "name": "premium article", "quantity": "1", "price": price }],
        "customer": { "ext_id": "reader-7", "email": "reader@example.com", "phone": "385991112222" },
        "client_ip": "203.0.113.7", "next_url": "https://merchant.example/back"
    })
}

/// A subscription on channel 8002 at PP27638049's price (5.00 EUR).
fn subscription(order: &str) -> Value {
    json!({
        "trans_ext_id": order, "merchant_id": MERCHANT, "secret": MERCHANT_50.1,
        "payment": { "channel_id": "8002", "currency": "EUR" },
        "articles": [{ "prod_id": "PP27638049", "name": "weekly horoscope", "quantity": "1", "price": "500" }],
        "customer": { "ext_id": "reader-8", "email": "fan@example.com" },
        "client_ip": "203.0.113.8", "next_url": "https://merchant.example/subscribed"
    })
}

fn redirect_of(sys: &TestSystem, resp: &Value) -> String {
    assert_eq!(resp["result"]["status"], "1", "unexpected answer: {resp}");
    assert_eq!(resp["result"]["data"]["action_type"], "REDIRECT_USER");
    let url = resp["result"]["data"]["redirect_url"]
        .as_str()
        .expect("redirect_url")
        .to_string();
    // MoCoPay's redirectUrl: the sandbox's checkout page.
    assert!(
        url.starts_with(&format!("{}/mocopay/checkout/", sys.sandbox_url)),
        "{url}"
    );
    url
}

async fn status(sys: &TestSystem, order: &str) -> Value {
    let st = sys
        .rpc(
            "get_transaction_status",
            json!({"merchant_id": MERCHANT, "secret": MERCHANT_50.1, "trans_ext_id": order}),
        )
        .await;
    assert_eq!(st["result"]["status"], "1", "{st}");
    st["result"]["data"].clone()
}

/// The order's state once the edge has applied the events (a notification can reach the merchant
/// before rpc-edge consumed the same event): waits up to 20 s for `want`.
async fn state_becomes(sys: &TestSystem, order: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = status(sys, order).await["state"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if state == want || Instant::now() > deadline {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The merchant's posted (not failed) charges, waiting for `n`.
async fn posted(sys: &TestSystem, n: usize) -> Vec<paysys_proto::Charge> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let charges: Vec<_> = sys
            .statement(MERCHANT, n)
            .await
            .into_iter()
            .filter(|c| c.status == "posted")
            .collect();
        if charges.len() >= n || Instant::now() > deadline {
            return charges;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `additional_data[key]` of a merchant notification.
fn data(r: &Received, key: &str) -> String {
    r.json["params"]["additional_data"][key]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// GETs a URL without following redirects: (status, Location).
async fn browse(url: &str) -> (u16, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client.get(url).send().await.expect("reachable");
    let location = r
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or("")
        .to_string();
    (r.status().as_u16(), location)
}

/// A transaction notification as MoCoPay would send it to the adapter's notify route.
fn notification(
    sys: &TestSystem,
    transaction_id: &str,
    session_id: &str,
    status: TransactionStatus,
) -> String {
    TransactionNotification {
        transaction_id: transaction_id.into(),
        session_id: session_id.into(),
        request_id: String::new(),
        reference_id: String::new(),
        session_type: SessionType::Subscription,
        status,
        amount: 500,
        currency_code: "EUR".into(),
        series: None,
        user_id: String::new(),
        phone: String::new(),
        mcc: String::new(),
        mnc: String::new(),
        service_code: String::new(),
        pid: "PP27638049".into(),
        lang: String::new(),
        time: String::new(),
        reason: String::new(),
    }
    .url(&format!("{}/mocopay/notify", sys.mocopay_url))
    .expect("a well-formed notification")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_payment_is_posted_once_and_an_abandoned_one_fails() {
    let sys = spawn_system().await;
    let url = redirect_of(
        &sys,
        &sys.rpc("set_transaction_sync", one_time("moco-1", "199"))
            .await,
    );
    let page = sys
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("CHMIBSUB") && page.contains("1.99 EUR"),
        "{page}"
    );

    let done = sys.complete(&url, "success").await;
    assert_eq!(
        done["notifications"],
        json!(["session:PaymentComplete", "transaction:success"])
    );
    let paid = sys.inbox.wait_for(MERCHANT, "new_payment", 1).await;
    verify_standard_webhooks(&paid[0], MERCHANT_50.2);
    let p = &paid[0].json["params"];
    assert_eq!(
        (
            p["order_id"].as_str(),
            p["amount"].as_str(),
            p["currency"].as_str()
        ),
        (Some("moco-1"), Some("199"), Some("EUR"))
    );
    assert_eq!(data(&paid[0], "mocopay_pid"), "CHMIBSUB");
    assert_eq!(
        data(&paid[0], "mocopay_transaction_id"),
        done["transaction_id"].as_str().unwrap()
    );
    let charges = posted(&sys, 1).await;
    assert_eq!(charges.len(), 1);
    assert_eq!(
        (
            charges[0].amount,
            charges[0].currency.as_str(),
            charges[0].kind.as_str()
        ),
        (199, "EUR", "one_time")
    );
    assert_eq!(charges[0].provider, "mocopay");

    // Abandoned at the checkout: payment_failed, nothing posted.
    let url = redirect_of(
        &sys,
        &sys.rpc("set_transaction_sync", one_time("moco-2", "199"))
            .await,
    );
    let done = sys.complete(&url, "failure").await;
    assert_eq!(done["notifications"], json!(["session:Cancelled"]));
    let failed = sys.inbox.wait_for(MERCHANT, "payment_failed", 1).await;
    assert_eq!(failed[0].json["params"]["order_id"], "moco-2");

    // A price other than the product's: MoCoPay charges the product's, the adapter refuses it.
    let url = redirect_of(
        &sys,
        &sys.rpc("set_transaction_sync", one_time("moco-3", "250"))
            .await,
    );
    let done = sys.complete(&url, "success").await;
    // Refused for good (4xx: MoCoPay never resends it), recorded as a discrepancy.
    assert_eq!(done["deliveries"][1]["status"], 400, "{done}");
    assert!(
        done["deliveries"][1]["error"]
            .as_str()
            .unwrap_or("")
            .contains("amount"),
        "{done}"
    );
    assert_eq!(status(&sys, "moco-3").await["state"], "pending");

    assert_eq!(sys.inbox.of(MERCHANT, "new_payment").len(), 1);
    assert_eq!(posted(&sys, 1).await.len(), 1);
    sys.assert_ledger_balanced().await;
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_is_charged_each_period_once_per_transaction_and_forgeries_post_nothing() {
    let sys = spawn_system().await;
    let order = "moco-sub-1";
    let url = redirect_of(
        &sys,
        &sys.rpc("set_subscription", subscription(order)).await,
    );
    let done = sys.complete(&url, "success").await;
    assert_eq!(
        done["notifications"],
        json!(["session:Authorized", "transaction:success"])
    );
    let session_id = done["session_id"].as_str().unwrap().to_string();
    let start = sys.inbox.wait_for(MERCHANT, "subscription_start", 1).await;
    assert_eq!(start[0].json["params"]["order_id"], order);
    sys.inbox
        .wait_for(MERCHANT, "subscription_charge_success", 1)
        .await;

    sys.advance(PERIOD).await;
    let charged = sys
        .inbox
        .wait_for(MERCHANT, "subscription_charge_success", 2)
        .await;
    let second = charged
        .iter()
        .find(|c| data(c, "charge_sequence") == "2")
        .expect("charge 2");
    let second_txn = data(second, "mocopay_transaction_id");

    // MoCoPay repeats charge 2's notification: answered, not posted again.
    let replay = sys
        .http
        .get(notification(
            &sys,
            &second_txn,
            &session_id,
            TransactionStatus::Success,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 200);

    // A renewal fails (the user's operator refuses), then the next one succeeds.
    sys.sandbox(
        "/mocopay/_sandbox/renewals",
        json!({"redirect_url": url, "charges": "fail"}),
    )
    .await;
    sys.advance(PERIOD).await;
    let failed = sys
        .inbox
        .wait_for(MERCHANT, "subscription_charge_failed", 1)
        .await;
    assert_eq!(data(&failed[0], "charge_sequence"), "3");
    let failed_txn = data(&failed[0], "mocopay_transaction_id");

    // Forgeries: success claimed for the failed charge, and a charge MoCoPay never made.
    let forged = sys
        .http
        .get(notification(
            &sys,
            &failed_txn,
            &session_id,
            TransactionStatus::Success,
        ))
        .send()
        .await
        .unwrap();
    assert!(
        forged.status().is_success(),
        "verifyPayment says failed: nothing new"
    );
    let invented = "0123456789abcdef0123456789abcdef";
    let forged = sys
        .http
        .get(notification(
            &sys,
            invented,
            &session_id,
            TransactionStatus::Success,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        401,
        "verifyPayment knows no such transaction"
    );

    sys.sandbox(
        "/mocopay/_sandbox/renewals",
        json!({"session_id": session_id, "charges": "succeed"}),
    )
    .await;
    sys.advance(PERIOD).await;
    let charged = sys
        .inbox
        .wait_for(MERCHANT, "subscription_charge_success", 3)
        .await;
    let mut seqs: Vec<String> = charged.iter().map(|c| data(c, "charge_sequence")).collect();
    seqs.sort();
    assert_eq!(seqs, ["1", "2", "3"]);
    assert!(charged.iter().all(|c| c.json["params"]["amount"] == "500"));

    // Exactly one posting per MoCoPay transaction.
    let charges = posted(&sys, 3).await;
    assert_eq!(charges.len(), 3, "{charges:?}");
    let mut ids: Vec<&str> = charges.iter().map(|c| c.charge_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    assert!(
        ids.contains(&format!("mocopay:{second_txn}").as_str()),
        "{ids:?}"
    );
    assert!(!ids
        .iter()
        .any(|i| i.contains(&failed_txn) || i.contains(invented)));
    assert!(charges
        .iter()
        .all(|c| c.kind == "recurring" && c.amount == 500 && c.currency == "EUR"));
    assert_eq!(
        sys.inbox.of(MERCHANT, "subscription_charge_success").len(),
        3
    );
    assert_eq!(
        sys.inbox.of(MERCHANT, "subscription_charge_failed").len(),
        1
    );
    sys.assert_ledger_balanced().await;
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_asks_mocopay_and_says_when_it_could_not() {
    let sys = spawn_system().await;
    let order = "moco-sub-2";
    let url = redirect_of(
        &sys,
        &sys.rpc("set_subscription", subscription(order)).await,
    );
    sys.complete(&url, "success").await;
    sys.inbox
        .wait_for(MERCHANT, "subscription_charge_success", 1)
        .await;

    let view = status(&sys, order).await["provider_view"].clone();
    assert_eq!(view["fresh"], true, "{view}");
    assert_eq!(view["state"], "active");
    assert_eq!(view["charges_count"], 1);
    assert_eq!(view["charges"][0]["amount"], 500);
    assert_eq!(
        view["charges"][0]["outcome"]
            .as_str()
            .map(|o| !o.is_empty()),
        Some(true),
        "{view}"
    );

    sys.sandbox(
        "/_sandbox/faults",
        json!({"provider": "mocopay", "mode": "error"}),
    )
    .await;
    let view = status(&sys, order).await["provider_view"].clone();
    assert_eq!(view["fresh"], false, "{view}");
    assert!(
        view["note"]
            .as_str()
            .unwrap_or("")
            .contains("could not be asked"),
        "{view}"
    );
    assert_eq!(view["state"], "active", "the stored state: {view}");
    sys.sandbox(
        "/_sandbox/faults",
        json!({"provider": "mocopay", "mode": "none"}),
    )
    .await;
    assert_eq!(status(&sys, order).await["provider_view"]["fresh"], true);

    // MoCoPay cannot cancel: a clear -32602 naming the order.
    let un = sys
        .rpc(
            "unsubscribe",
            json!({"merchant_id": MERCHANT, "secret": MERCHANT_50.1,
                   "order_ext_id": order, "client_ip": "10.0.0.1"}),
        )
        .await;
    assert_eq!(un["error"]["code"], -32602, "{un}");
    let why = un["error"]["data"]["order_ext_id"].as_str().unwrap_or("");
    assert!(why.contains("MoCoPay has no cancel method"), "{un}");
    assert_eq!(state_becomes(&sys, order, "active").await, "active");
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_return_goes_to_the_merchant_and_changes_nothing() {
    let sys = spawn_system().await;
    // A payment the user has not finished: the return claims it is complete.
    let url = redirect_of(
        &sys,
        &sys.rpc("set_transaction_sync", one_time("moco-4", "199"))
            .await,
    );
    let request_id = url.rsplit('/').next().unwrap().to_string();
    let state: Value = sys
        .http
        .get(format!("{}/_sandbox/state", sys.sandbox_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reference = state["mocopay"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["request_id"] == request_id.as_str())
        .and_then(|s| s["reference_id"].as_str())
        .expect("the checkout's referenceId")
        .to_string();
    let forged = CallbackRedirect {
        request_id: request_id.clone(),
        session_id: "0123456789abcdef0123456789abcdef".into(),
        reference_id: reference,
        status: Some(SessionStatus::PaymentComplete),
    }
    .url(&format!("{}/mocopay/return", sys.mocopay_url))
    .expect("a return URL");
    assert_eq!(
        browse(&forged).await,
        (302, "https://merchant.example/back".to_string())
    );
    let st = status(&sys, "moco-4").await;
    assert_eq!(st["state"], "pending", "{st}");
    assert_eq!(st["charges"], json!([]));

    // The real return, after paying, also just goes back to the merchant.
    let done = sys.complete(&url, "success").await;
    sys.inbox.wait_for(MERCHANT, "new_payment", 1).await;
    let location = done["callback_location"]
        .as_str()
        .expect("callbackUrl location");
    assert!(
        location.starts_with(&format!("{}/mocopay/return?", sys.mocopay_url)),
        "{location}"
    );
    assert_eq!(
        browse(location).await,
        (302, "https://merchant.example/back".to_string())
    );
    assert_eq!(posted(&sys, 1).await.len(), 1);
    assert_eq!(sys.inbox.of(MERCHANT, "new_payment").len(), 1);
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_order_is_paid_in_mocopays_test_currency() {
    let sys = spawn_system().await;
    let mut req = one_time("moco-test-1", "199");
    req["test"] = json!("True");
    let url = redirect_of(&sys, &sys.rpc("set_transaction_sync", req).await);
    sys.complete(&url, "success").await;
    let paid = sys.inbox.wait_for(MERCHANT, "new_payment", 1).await;
    assert_eq!(data(&paid[0], "test"), "true");
    assert_eq!(paid[0].json["params"]["currency"], "EUR");
    let state: Value = sys
        .http
        .get(format!("{}/_sandbox/state", sys.sandbox_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["mocopay"]["sessions"][0]["currency_code"], "TES");
    assert_eq!(state_becomes(&sys, "moco-test-1", "paid").await, "paid");
    sys.stop().await;
}
