//! A merchant chooses its notifications: only the chosen methods are delivered, the others are
//! logged `skipped` (never sent, retried or dead-lettered) until replayed; a method with its own
//! URL goes there, signed as usual, retries keeping the webhook-id.

use crate::helpers::*;
use notifier::Choice;
use paysys_platform::events;
use paysys_proto::{ListRequest, ReplayRequest};
use std::collections::BTreeMap;

/// (event kind, order) for each of the six methods.
const ALL_SIX: [(&str, &str); 6] = [
    (events::PAYMENT_SUCCEEDED, "order-new-payment"),
    (events::PAYMENT_FAILED, "order-payment-failed"),
    (events::SUBSCRIPTION_STARTED, "order-sub-start"),
    (events::SUBSCRIPTION_CHARGED, "order-sub-charged"),
    (
        events::SUBSCRIPTION_CHARGE_FAILED,
        "order-sub-charge-failed",
    ),
    (events::SUBSCRIPTION_CANCELLED, "order-sub-cancel"),
];

fn choice(events: &[&str], urls: &[(&str, &str)]) -> Choice {
    Choice::new(
        events.iter().map(|e| e.to_string()).collect(),
        urls.iter()
            .map(|(m, u)| (m.to_string(), u.to_string()))
            .collect::<BTreeMap<_, _>>(),
    )
    .expect("a valid choice")
}

fn methods(received: &[Received]) -> Vec<String> {
    let mut m: Vec<String> = received
        .iter()
        .map(|r| r.json()["method"].as_str().unwrap_or("").to_string())
        .collect();
    m.sort();
    m
}

#[tokio::test]
async fn a_merchant_gets_only_the_methods_it_chose_and_the_others_are_logged_skipped() {
    let app = spawn_app(&Options::default()).await;
    let merchant = Merchant::start(vec![], Reply::Status(200)).await;
    app.configure_choice(
        MERCHANT,
        &merchant.url,
        &choice(&["new_payment", "subscription_cancel"], &[]),
    )
    .await;

    for (kind, order) in ALL_SIX {
        app.publish(&event(kind, order)).await;
    }

    app.wait_for_status("order-new-payment", "delivered").await;
    app.wait_for_status("order-sub-cancel", "delivered").await;
    for (_, order) in &ALL_SIX[1..5] {
        let skipped = app.wait_for_status(order, "skipped").await;
        assert_eq!(skipped.attempts, 0, "{order}");
        assert!(
            skipped
                .last_error
                .as_deref()
                .unwrap_or("")
                .contains("does not receive"),
            "{skipped:?}"
        );
        assert!(
            app.attempt_statuses(&skipped.id).await.is_empty(),
            "{order}"
        );
    }
    // A later chosen notification is delivered: the worker has leased since the skipped ones
    // were logged, oldest first, and passed them over (never leased: no lease time set).
    app.publish(&event(events::PAYMENT_SUCCEEDED, "order-later"))
        .await;
    app.wait_for_status("order-later", "delivered").await;
    assert_eq!(
        app.count(
            "SELECT count(*) FROM notifications
              WHERE merchant_id = $1 AND status = 'skipped' AND next_attempt_at IS NOT NULL",
            MERCHANT
        )
        .await,
        0,
        "a skipped notification was leased"
    );
    assert_eq!(
        methods(&merchant.received()),
        vec!["new_payment", "new_payment", "subscription_cancel"]
    );
    for (_, order) in &ALL_SIX[1..5] {
        let n = app.notification(order).await.expect("still logged");
        assert_eq!((n.status.as_str(), n.attempts), ("skipped", 0), "{order}");
    }

    let listed = app
        .grpc()
        .await
        .list(ListRequest {
            merchant_id: MERCHANT.into(),
            status: "skipped".into(),
        })
        .await
        .expect("list skipped")
        .into_inner()
        .deliveries;
    let mut listed: Vec<_> = listed.iter().map(|d| d.method.clone()).collect();
    listed.sort();
    assert_eq!(
        listed,
        vec![
            "payment_failed",
            "subscription_charge_failed",
            "subscription_charge_success",
            "subscription_start"
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_method_with_its_own_url_is_delivered_there_signed_and_retried_with_the_same_id() {
    let app = spawn_app(&Options {
        schedule_secs: vec![0, 1, 1, 1],
        ..Options::default()
    })
    .await;
    let main = Merchant::start(vec![], Reply::Status(200)).await;
    let cancels = Merchant::start(vec![Reply::Status(503)], Reply::Status(200)).await;
    app.configure_choice(
        MERCHANT,
        &main.url,
        &choice(
            &["new_payment", "subscription_cancel"],
            &[("subscription_cancel", &cancels.url)],
        ),
    )
    .await;

    app.publish(&event(events::PAYMENT_SUCCEEDED, "order-paid"))
        .await;
    app.publish(&event(events::SUBSCRIPTION_CANCELLED, "order-cancelled"))
        .await;

    app.wait_for_status("order-paid", "delivered").await;
    let cancelled = app.wait_for_status("order-cancelled", "delivered").await;
    assert_eq!(methods(&main.received()), vec!["new_payment"]);
    let got = cancels.received();
    assert_eq!(got.len(), 2, "one failure, one success");
    for request in &got {
        assert_eq!(request.json()["method"], "subscription_cancel");
        assert_eq!(request.header("webhook-id"), cancelled.id);
        assert_eq!(
            request.body, got[0].body,
            "every attempt sends the same bytes"
        );
        standardwebhooks::Webhook::new(SECRET)
            .unwrap()
            .verify(&request.body, &request.headers)
            .expect("Standard Webhooks signature verifies");
    }
    assert_eq!(
        app.attempt_statuses(&cancelled.id).await,
        vec![Some(503), Some(200)]
    );
    app.stop().await;
}

#[tokio::test]
async fn replaying_a_skipped_notification_delivers_it_at_its_url() {
    let app = spawn_app(&Options::default()).await;
    let main = Merchant::start(vec![], Reply::Status(200)).await;
    let starts = Merchant::start(vec![], Reply::Status(200)).await;
    app.configure_choice(
        MERCHANT,
        &main.url,
        &choice(&["new_payment"], &[("subscription_start", &starts.url)]),
    )
    .await;

    app.publish(&event(events::SUBSCRIPTION_STARTED, "order-later"))
        .await;
    let skipped = app.wait_for_status("order-later", "skipped").await;

    app.grpc()
        .await
        .replay(ReplayRequest {
            id: skipped.id.clone(),
        })
        .await
        .expect("replay");

    let delivered = app.wait_for_status("order-later", "delivered").await;
    assert_eq!(delivered.id, skipped.id);
    assert_eq!(delivered.attempts, 1);
    let got = starts.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["method"], "subscription_start");
    assert_eq!(got[0].header("webhook-id"), skipped.id);
    standardwebhooks::Webhook::new(SECRET)
        .unwrap()
        .verify(&got[0].body, &got[0].headers)
        .expect("Standard Webhooks signature verifies");
    assert!(main.received().is_empty());
    app.stop().await;
}

/// Also the notifier's endpoint cache: the first event caches the endpoint, and only the
/// notification of the change (LISTEN/NOTIFY) makes the second event see the new choice (with a
/// listener that ignores notifications, this test fails: the second event is skipped).
#[tokio::test]
async fn saving_the_endpoint_again_replaces_the_choice() {
    let app = spawn_app(&Options::default()).await;
    let merchant = Merchant::start(vec![], Reply::Status(200)).await;
    app.configure_choice(MERCHANT, &merchant.url, &choice(&["new_payment"], &[]))
        .await;
    app.publish(&event(events::PAYMENT_FAILED, "order-before"))
        .await;
    app.wait_for_status("order-before", "skipped").await;

    // The plain upsert is the default choice: every method.
    app.configure_merchant(MERCHANT, &merchant.url).await;
    app.publish(&event(events::PAYMENT_FAILED, "order-after"))
        .await;
    app.wait_for_status("order-after", "delivered").await;
    assert_eq!(methods(&merchant.received()), vec!["payment_failed"]);
    assert_eq!(
        app.notification("order-before").await.map(|n| n.status),
        Some("skipped".to_string()),
        "a new choice does not touch notifications already logged"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_schema_refuses_a_choice_the_notifier_cannot_read() {
    let app = spawn_app(&Options::default()).await;
    app.configure_merchant(MERCHANT, "http://127.0.0.1:9/notify")
        .await;
    let bad_events =
        sqlx::query("UPDATE endpoints SET events = ARRAY['refund'] WHERE merchant_id = $1")
            .bind(MERCHANT)
            .execute(&app.pool)
            .await;
    assert!(bad_events.is_err(), "an unknown method in events");
    for urls in [
        r#"{"refund": "http://a/"}"#,
        r#"{"new_payment": 1}"#,
        r#"["http://a/"]"#,
    ] {
        let r = sqlx::query("UPDATE endpoints SET event_urls = $2::jsonb WHERE merchant_id = $1")
            .bind(MERCHANT)
            .bind(urls)
            .execute(&app.pool)
            .await;
        assert!(r.is_err(), "{urls}");
    }
    app.stop().await;
}
