//! The Mobiltek adapter believes only what Mobiltek signed, names what is wrong, and passes
//! failures on: failed recurring charges are notified and recorded without posting, a
//! misbehaving Mobiltek reaches the merchant as a clear error.

use paysys_tests::*;
use serde_json::{json, Value};

const SECRET: &str = "mobiltek-sandbox-secret";

fn form(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| *f == k)
            .map(|(_, v)| v.to_string())
            .unwrap_or_default()
    };
    let hash = provider_mobiltek::wire::notification_hash(SECRET, get);
    let mut out: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    out.push(("hash".into(), hash));
    out
}

async fn transaction_id(sys: &TestSystem, order: &str) -> String {
    let resp = sys
        .rpc("set_transaction_sync", seed_000_one_time(order))
        .await;
    let url = resp["result"]["data"]["redirect_url"]
        .as_str()
        .expect("redirect")
        .to_string();
    url.split("transaction_id=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("transaction_id")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_authenticated_before_anything_is_believed() {
    let sys = spawn_system().await;
    let tid = transaction_id(&sys, "auth-notify-1").await;
    let notify = format!("{}/mobiltek/notify", sys.mobiltek_url);
    let fields = [
        ("notification_id", "n-1"),
        ("transaction_id", tid.as_str()),
        ("service_id", "30576"),
        ("msisdn", "48501123123"),
        ("operator_id", "26001"),
        ("type", "PAYMENT"),
        ("amount", "0.1"),
        ("charge_id", "c-1"),
        ("reason", ""),
        ("timestamp", "1700000000"),
    ];
    // A forged hash: refused, nothing stored or notified.
    let mut forged = form(&fields);
    forged.last_mut().unwrap().1 = "0".repeat(128);
    let r = sys.http.post(&notify).form(&forged).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // A tampered amount under the original hash: refused.
    let mut tampered = form(&fields);
    tampered[6].1 = "100".into();
    assert_eq!(
        sys.http
            .post(&notify)
            .form(&tampered)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // Signed but naming an unknown transaction, or missing the amount: refused with the reason.
    let mut unknown = fields;
    unknown[1].1 = "9999999999999999";
    assert_eq!(
        sys.http
            .post(&notify)
            .form(&form(&unknown))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let mut no_amount = fields;
    no_amount[6].1 = "";
    let r = sys
        .http
        .post(&notify)
        .form(&form(&no_amount))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("amount"));
    // The adapter answered each after deciding, and stored none of them: it writes events only
    // with a stored callback, so none can reach the merchant or the ledger.
    assert_eq!(sys.stored_callbacks("mobiltek", "auth-notify-1").await, 0);

    // The genuine one, twice: one effect.
    for _ in 0..2 {
        let r = sys
            .http
            .post(&notify)
            .form(&form(&fields))
            .send()
            .await
            .unwrap();
        assert_eq!(
            (r.status().as_u16(), r.text().await.unwrap()),
            (200, "OK".to_string())
        );
    }
    sys.inbox.wait_for("1", "new_payment", 1).await;
    assert_eq!(sys.statement("1", 1).await.len(), 1);
    // Evidence first: one stored callback (the second was a repeat), whose one notification is
    // settled; then nothing else reached the merchant, refused notifications included.
    assert_eq!(sys.stored_callbacks("mobiltek", "auth-notify-1").await, 1);
    assert_eq!(
        sys.settled_notifications("1", "auth-notify-1").await,
        [("new_payment".to_string(), "delivered".to_string(), 1)]
    );
    let all: Vec<String> = sys
        .inbox
        .all()
        .iter()
        .map(|r| r.method().to_string())
        .collect();
    assert_eq!(
        all,
        ["new_payment"],
        "a refused notification reached the merchant"
    );
    assert_eq!(sys.statement("1", 0).await.len(), 1);
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_redirect_link_is_refused_by_the_provider() {
    let sys = spawn_system().await;
    let resp = sys
        .rpc("set_transaction_sync", seed_000_one_time("link-1"))
        .await;
    let url = resp["result"]["data"]["redirect_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(sys.http.get(&url).send().await.unwrap().status(), 200);
    let cheaper = url.replace("price=0.1", "price=0.01");
    assert_eq!(sys.http.get(&cheaper).send().await.unwrap().status(), 403);
    let r = sys
        .http
        .post(format!("{}/_sandbox/complete", sys.sandbox_url))
        .json(&json!({"redirect_url": cheaper, "outcome": "success"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = sys
        .http
        .post(format!("{}/_sandbox/complete", sys.sandbox_url))
        .json(&json!({"redirect_url": url, "outcome": "maybe"}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["field"], "outcome");
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_recurring_charges_are_notified_and_recorded_without_posting() {
    let sys = spawn_system().await;
    let order = "sub-fail-1";
    let resp = sys
        .rpc("set_subscription", seed_000_subscription(order))
        .await;
    let url = resp["result"]["data"]["redirect_url"]
        .as_str()
        .unwrap()
        .to_string();
    sys.sandbox(
        "/_sandbox/complete",
        json!({"redirect_url": url, "outcome": "success", "charges": "fail"}),
    )
    .await;
    sys.inbox
        .wait_for("34801", "subscription_charge_success", 1)
        .await;
    let adv = sys.advance(2 * 2_592_000).await;
    assert_eq!(adv["charges"], 2);
    let failed = sys
        .inbox
        .wait_for("34801", "subscription_charge_failed", 2)
        .await;
    assert_eq!(
        failed[0].json["params"]["additional_data"]["failure_reason"],
        "insufficient funds"
    );
    let mut ledger = sys.ledger().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let history = loop {
        let h = ledger
            .subscription_charges(paysys_proto::SubscriptionChargesRequest {
                merchant_id: "34801".into(),
                order_id: order.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .charges;
        if h.len() >= 3 || std::time::Instant::now() > deadline {
            break h;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let statuses: Vec<&str> = history.iter().map(|c| c.status.as_str()).collect();
    assert_eq!(statuses, vec!["posted", "failed", "failed"], "{history:?}");
    assert_eq!(sys.statement("34801", 1).await.len(), 1);
    sys.assert_ledger_balanced().await;
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_mobiltek_reaches_the_merchant_as_a_clear_error() {
    let sys = spawn_system().await;
    let order = "sub-err-1";
    let resp = sys
        .rpc("set_subscription", seed_000_subscription(order))
        .await;
    let url = resp["result"]["data"]["redirect_url"]
        .as_str()
        .unwrap()
        .to_string();
    sys.complete(&url, "success").await;
    sys.sandbox(
        "/_sandbox/faults",
        json!({"provider": "mobiltek", "mode": "error"}),
    )
    .await;
    let params = json!({"merchant_id": "34801", "secret": MERCHANT_34801.1, "order_ext_id": order, "client_ip": "10.0.0.1"});
    let un = sys.rpc("unsubscribe", params.clone()).await;
    assert_eq!(un["error"]["code"], -32603, "{un}");
    assert!(un["error"]["message"]
        .as_str()
        .unwrap()
        .contains("mobiltek"));
    // Mobiltek recovers; the merchant retries and gets the real answer.
    sys.sandbox(
        "/_sandbox/faults",
        json!({"provider": "mobiltek", "mode": "none"}),
    )
    .await;
    let un = sys.rpc("unsubscribe", params).await;
    assert!(
        un["result"]["result"]
            .as_str()
            .unwrap()
            .starts_with("OK\n2302"),
        "{un}"
    );
    let r = sys
        .http
        .post(format!("{}/_sandbox/faults", sys.sandbox_url))
        .json(&json!({"provider": "paypal", "mode": "error"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    sys.stop().await;
}
