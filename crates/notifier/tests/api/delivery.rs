//! A merchant hears about its payments: one signed JSON-RPC request per event (seed 000 shape),
//! never two for a redelivered event, and a late-configured merchant can still get it.

use crate::helpers::*;
use paysys_platform::events;
use paysys_proto::ReplayRequest;
use serde_json::json;

const ORDER: &str = "cab3131a-dec7-49cc-8607-0121a61d3427";

/// `params.signature` of seed 000's new_payment for [`ORDER`], computed outside Rust:
/// `printf '%s' 'new_payment|cab3131a-dec7-49cc-8607-0121a61d3427|10|PLN' | openssl dgst -sha256
/// -mac HMAC -macopt hexkey:$(printf '%s' MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw | base64 -d | xxd -p -c 256)`
/// (the key is the decoded [`SECRET`]).
const NEW_PAYMENT_SIGNATURE: &str =
    "7f9b43fb49ead6a747bf366abf01a330742a3672f4548451c91d8d2d0b0e62eb";
/// The same command over `subscription_charge_success|order-sub|10|PLN`.
const CHARGE_SIGNATURE: &str = "bf7bdbc1ef8e28ccf80a094854b2cf449c2d9e3710f1b99151eee7ce9563f4a8";

#[tokio::test]
async fn a_payment_reaches_the_merchant_as_one_signed_jsonrpc_request() {
    let app = spawn_app(&Options::default()).await;
    let merchant = Merchant::start(vec![], Reply::Status(200)).await;
    app.configure_merchant(MERCHANT, &merchant.url).await;
    let before = chrono::Utc::now().timestamp();

    app.publish(&event(events::PAYMENT_SUCCEEDED, ORDER)).await;

    let got = merchant.wait_for(1).await;
    let delivered = app.wait_for_status(ORDER, "delivered").await;
    let request = &got[0];
    let body = request.json();
    let id = body["id"].as_str().expect("id is a string");
    let ts: i64 = id
        .strip_suffix("new_payment")
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("id {id:?} is not <unix-ts>new_payment"));
    assert!(ts >= before && ts <= chrono::Utc::now().timestamp(), "{ts}");
    let signature = NEW_PAYMENT_SIGNATURE;
    assert_eq!(
        body,
        json!({
            "jsonrpc": "2.0",
            "id": id,
            "method": "new_payment",
            "params": {
                "user_id": "1234qwera",
                "user_email": "tomek@test.pl",
                "amount": "10",
                "currency": "PLN",
                "order_id": ORDER,
                "signature": signature,
                "additional_data": {
                    "mobiltek_msisdn": "48690112325",
                    "mobiltek_operator_id": "26003",
                    "mobiltek_notification_type": "PAYMENT"
                }
            }
        })
    );
    assert_eq!(
        notifier::params_signature(SECRET, "new_payment", ORDER, "10", "PLN").as_deref(),
        Ok(signature),
        "the crate's helper computes the same signature"
    );

    assert_eq!(request.header("content-type"), "application/json");
    assert_eq!(request.header("webhook-id"), delivered.id);
    standardwebhooks::Webhook::new(SECRET)
        .unwrap()
        .verify(&request.body, &request.headers)
        .expect("Standard Webhooks signature verifies");
    assert!(
        standardwebhooks::Webhook::new("whsec_c29tZSBvdGhlciBzZWNyZXQ=")
            .unwrap()
            .verify(&request.body, &request.headers)
            .is_err(),
        "another merchant's secret does not verify"
    );
    assert_eq!(delivered.attempts, 1);
    assert_eq!(app.attempt_statuses(&delivered.id).await, vec![Some(200)]);

    // Nothing more arrives. Evidence first: a later event of the same order is delivered,
    // which the worker does only once no earlier notification of the order is pending (per
    // order, first in first out), so the first can no longer be retried.
    let later = event(events::PAYMENT_FAILED, ORDER);
    app.publish(&later).await;
    eventually("the later notification of the order", || async {
        (app.count(
            "SELECT count(*) FROM notifications WHERE event_id = $1::uuid AND status = 'delivered'",
            &later.event_id,
        )
        .await
            == 1)
            .then_some(())
    })
    .await;
    let got = merchant.received();
    let ids: Vec<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_eq!(
        ids[0], delivered.id,
        "exactly one POST of the first: {ids:?}"
    );
    assert_ne!(
        ids[1], delivered.id,
        "exactly one POST of the first: {ids:?}"
    );
    assert_eq!(got[1].json()["method"], "payment_failed");
    app.stop().await;
}

#[tokio::test]
async fn a_redelivered_event_notifies_once_and_unknown_kinds_are_skipped() {
    // One message at a time, so when the last event is notified every earlier one was handled.
    let app = spawn_app(&Options {
        prefetch: 1,
        ..Options::default()
    })
    .await;
    let merchant = Merchant::start(vec![], Reply::Status(200)).await;
    app.configure_merchant(MERCHANT, &merchant.url).await;
    let unknown = event("payment.refunded", "order-refunded");
    let twice = event(events::SUBSCRIPTION_STARTED, "order-twice");
    let last = event(events::SUBSCRIPTION_CANCELLED, "order-last");

    app.publish(&unknown).await;
    app.publish(&twice).await;
    app.publish(&twice).await;
    app.publish(&last).await;

    app.wait_for_status("order-last", "delivered").await;
    app.wait_for_status("order-twice", "delivered").await;
    assert_eq!(
        app.count(
            "SELECT count(*) FROM notifications WHERE event_id = $1::uuid",
            &twice.event_id
        )
        .await,
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM notifications WHERE order_id <> $1",
            ""
        )
        .await,
        2,
        "the unknown kind made no notification"
    );
    let posts_for = |order: &str| {
        merchant
            .received()
            .iter()
            .filter(|r| r.json()["params"]["order_id"] == order)
            .count()
    };
    assert_eq!(posts_for("order-twice"), 1);
    assert_eq!(posts_for("order-last"), 1);
    let methods: Vec<String> = merchant
        .received()
        .iter()
        .map(|r| r.json()["method"].as_str().unwrap().to_string())
        .collect();
    assert!(
        methods.contains(&"subscription_start".to_string()),
        "{methods:?}"
    );
    assert!(
        methods.contains(&"subscription_cancel".to_string()),
        "{methods:?}"
    );
}

#[tokio::test]
async fn a_merchant_without_a_url_gets_a_dead_notification_replayable_once_configured() {
    let app = spawn_app(&Options::default()).await;
    let charge = paysys_proto::Event {
        sequence: 2,
        ..event(events::SUBSCRIPTION_CHARGED, "order-sub")
    };

    app.publish(&charge).await;

    let dead = app.wait_for_status("order-sub", "dead").await;
    assert_eq!(
        dead.last_error.as_deref(),
        Some("merchant 34801 has no notification URL")
    );

    let merchant = Merchant::start(vec![], Reply::Status(200)).await;
    app.configure_merchant(MERCHANT, &merchant.url).await;
    app.grpc()
        .await
        .replay(ReplayRequest {
            id: dead.id.clone(),
        })
        .await
        .expect("replay");

    app.wait_for_status("order-sub", "delivered").await;
    let got = merchant.received();
    assert_eq!(got.len(), 1);
    let body = got[0].json();
    assert_eq!(body["method"], "subscription_charge_success");
    assert_eq!(body["params"]["additional_data"]["charge_sequence"], "2");
    assert_eq!(body["params"]["signature"], CHARGE_SIGNATURE);
    assert_eq!(got[0].header("webhook-id"), dead.id);
    standardwebhooks::Webhook::new(SECRET)
        .unwrap()
        .verify(&got[0].body, &got[0].headers)
        .expect("Standard Webhooks signature verifies");
}
