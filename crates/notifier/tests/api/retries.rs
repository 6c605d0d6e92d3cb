//! A merchant that fails is retried on the persisted schedule with the same webhook-id, is
//! dead-lettered after the last attempt, and replay delivers once it recovers.

use crate::helpers::*;
use paysys_platform::events;
use paysys_proto::{ListRequest, ReplayRequest};

#[tokio::test]
async fn a_failing_merchant_is_retried_with_the_same_webhook_id_until_it_answers() {
    let app = spawn_app(&Options {
        schedule_secs: vec![0, 1, 1, 1],
        ..Options::default()
    })
    .await;
    let merchant = Merchant::start(
        vec![Reply::Status(500), Reply::Status(500)],
        Reply::Status(200),
    )
    .await;
    app.configure_merchant(MERCHANT, &merchant.url).await;

    app.publish(&event(events::PAYMENT_SUCCEEDED, "order-retry"))
        .await;

    let delivered = app.wait_for_status("order-retry", "delivered").await;
    let got = merchant.received();
    assert_eq!(got.len(), 3);
    for request in &got {
        assert_eq!(request.header("webhook-id"), delivered.id);
        assert_eq!(
            request.body, got[0].body,
            "every attempt sends the same bytes"
        );
        standardwebhooks::Webhook::new(SECRET)
            .unwrap()
            .verify(&request.body, &request.headers)
            .expect("each attempt is signed");
    }
    assert_eq!(delivered.attempts, 3);
    assert_eq!(
        app.attempt_statuses(&delivered.id).await,
        vec![Some(500), Some(500), Some(200)]
    );
}

#[tokio::test]
async fn a_merchant_that_always_fails_is_dead_lettered_and_replay_delivers_once_it_recovers() {
    let app = spawn_app(&Options {
        schedule_secs: vec![0, 1, 1, 1],
        ..Options::default()
    })
    .await;
    let merchant = Merchant::start(vec![], Reply::Status(500)).await;
    app.configure_merchant(MERCHANT, &merchant.url).await;

    app.publish(&event(events::PAYMENT_FAILED, "order-dead"))
        .await;

    let dead = app.wait_for_status("order-dead", "dead").await;
    assert_eq!(dead.attempts, 4, "one attempt per schedule entry");
    assert_eq!(merchant.received().len(), 4);
    assert!(
        dead.last_error.as_deref().unwrap_or("").contains("500"),
        "{:?}",
        dead.last_error
    );

    let mut grpc = app.grpc().await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", app.port))
        .unwrap()
        .connect()
        .await
        .expect("connect to gRPC health");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "paysys.v1.Notifier".into(),
        })
        .await
        .expect("health check")
        .into_inner();
    assert_eq!(
        serving.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let listed = grpc
        .list(ListRequest {
            merchant_id: MERCHANT.into(),
            status: "dead".into(),
        })
        .await
        .expect("list")
        .into_inner()
        .deliveries;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, dead.id);
    assert_eq!(listed[0].method, "payment_failed");
    assert_eq!(listed[0].attempts, 4);
    let delivered_ones = grpc
        .list(ListRequest {
            merchant_id: MERCHANT.into(),
            status: "delivered".into(),
        })
        .await
        .expect("list")
        .into_inner()
        .deliveries;
    assert!(delivered_ones.is_empty());
    let bad_status = grpc
        .list(ListRequest {
            merchant_id: String::new(),
            status: "lost".into(),
        })
        .await
        .expect_err("an unknown status is refused");
    assert_eq!(bad_status.code(), tonic::Code::InvalidArgument);

    merchant.answer_from_now_on(Reply::Status(204));
    let replayed = grpc
        .replay(ReplayRequest {
            id: dead.id.clone(),
        })
        .await
        .expect("replay")
        .into_inner();
    assert!(replayed.scheduled);

    let delivered = app.wait_for_status("order-dead", "delivered").await;
    assert_eq!(delivered.attempts, 1, "replay starts a fresh schedule");
    let got = merchant.received();
    assert_eq!(got.len(), 5);
    assert!(got.iter().all(|r| r.header("webhook-id") == dead.id));
    assert_eq!(app.attempt_statuses(&dead.id).await.len(), 5);

    let unknown = grpc
        .replay(ReplayRequest {
            id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect_err("unknown id");
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    let malformed = grpc
        .replay(ReplayRequest { id: "nope".into() })
        .await
        .expect_err("malformed id");
    assert_eq!(malformed.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn notifications_of_one_order_arrive_in_the_order_their_events_happened() {
    let app = spawn_app(&Options {
        schedule_secs: vec![0, 1, 1, 1],
        ..Options::default()
    })
    .await;
    // The merchant fails the first request: the start must be retried before the charge goes.
    let merchant = Merchant::start(vec![Reply::Status(500)], Reply::Status(200)).await;
    app.configure_merchant(MERCHANT, &merchant.url).await;
    let start = event(events::SUBSCRIPTION_STARTED, "order-fifo");
    let charge = event(events::SUBSCRIPTION_CHARGED, "order-fifo");
    app.publish(&start).await;
    app.publish(&charge).await;
    let got = merchant.wait_for(3).await;
    let methods: Vec<String> = got
        .iter()
        .map(|r| r.json()["method"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        methods,
        vec![
            "subscription_start",
            "subscription_start",
            "subscription_charge_success"
        ],
        "a later notification of the same order overtook an earlier one"
    );
}
