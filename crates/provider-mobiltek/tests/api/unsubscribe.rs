//! A merchant unsubscribes: the adapter asks Mobiltek once, signed, and hands back Mobiltek's
//! plain-text answer verbatim (seed 000); a Mobiltek that fails or hangs is a clear UNAVAILABLE,
//! never an automatic retry.

use crate::helpers::*;
use axum::http::StatusCode;
use paysys_proto::UnsubscribeRequest;
use std::time::Duration;

fn unsubscribe(order_id: &str) -> UnsubscribeRequest {
    UnsubscribeRequest {
        merchant_id: "34801".into(),
        order_id: order_id.into(),
        client_ip: "10.0.0.1".into(),
    }
}

#[tokio::test]
async fn mobiltek_answers_come_back_verbatim() {
    let mobiltek = FakeMobiltek::spawn().await;
    let app = spawn_app_with(&mobiltek.base_url, 10_000).await;
    let tid = app.started(seed_subscription("sub-1")).await;
    let mut grpc = app.grpc().await;

    let ok = grpc
        .unsubscribe(unsubscribe("sub-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.provider_answer, "OK\n2302:Subscriber unregistered");
    assert!(ok.ok);

    // The request Mobiltek got: the subscription's identity, signed.
    let sent = mobiltek.received();
    assert_eq!(sent.len(), 1);
    let f = &sent[0];
    assert_eq!(f["service_id"], "30576");
    assert_eq!(f["transaction_id"], tid);
    assert_eq!(f["msisdn"], "48501123123");
    let canonical = format!("service_id=30576&transaction_id={tid}&msisdn=48501123123");
    assert_eq!(
        f["hash"],
        paysys_platform::signing::hmac_sha512_hex(SECRET.as_bytes(), canonical.as_bytes())
    );

    // Seed 000's error answer, exactly as Mobiltek wrote it.
    mobiltek.answer(
        StatusCode::OK,
        "ERROR\n4321:Subscriber not found",
        Duration::ZERO,
    );
    let err = grpc
        .unsubscribe(unsubscribe("sub-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(err.provider_answer, "ERROR\n4321:Subscriber not found");
    assert!(!err.ok);
    // "OK" with another code is not a success either (seed 000: the code must be 2302).
    mobiltek.answer(
        StatusCode::OK,
        "OK\n2303:Already unregistered",
        Duration::ZERO,
    );
    let other = grpc
        .unsubscribe(unsubscribe("sub-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (other.provider_answer.as_str(), other.ok),
        ("OK\n2303:Already unregistered", false)
    );
    app.stop().await;
}

#[tokio::test]
async fn only_a_known_subscription_can_be_unsubscribed() {
    let mobiltek = FakeMobiltek::spawn().await;
    let app = spawn_app_with(&mobiltek.base_url, 10_000).await;
    let mut one_time = seed_one_time("pay-1");
    one_time.merchant_id = "34801".into();
    app.started(one_time).await;
    let mut grpc = app.grpc().await;
    for order in ["no-such-order", "pay-1"] {
        let err = grpc.unsubscribe(unsubscribe(order)).await.expect_err(order);
        assert_eq!(err.code(), tonic::Code::NotFound, "{order}");
    }
    // Another merchant's subscription is not found either.
    app.started(seed_subscription("sub-2")).await;
    let mut foreign = unsubscribe("sub-2");
    foreign.merchant_id = "1".into();
    assert_eq!(
        grpc.unsubscribe(foreign).await.unwrap_err().code(),
        tonic::Code::NotFound
    );
    assert!(mobiltek.received().is_empty(), "Mobiltek was asked");
    app.stop().await;
}

#[tokio::test]
async fn a_failing_or_hanging_mobiltek_is_unavailable_and_not_retried() {
    let mobiltek = FakeMobiltek::spawn().await;
    let app = spawn_app_with(&mobiltek.base_url, 500).await;
    app.started(seed_subscription("sub-3")).await;
    let mut grpc = app.grpc().await;

    mobiltek.answer(
        StatusCode::INTERNAL_SERVER_ERROR,
        "ERROR\n5000:Internal error",
        Duration::ZERO,
    );
    let err = grpc.unsubscribe(unsubscribe("sub-3")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert!(err.message().contains("Mobiltek"), "{}", err.message());
    assert!(err.message().contains("500"), "{}", err.message());
    assert_eq!(
        mobiltek.received().len(),
        1,
        "a non-idempotent call was retried"
    );

    mobiltek.answer(
        StatusCode::OK,
        "OK\n2302:Subscriber unregistered",
        Duration::from_secs(3),
    );
    let started = std::time::Instant::now();
    let err = grpc.unsubscribe(unsubscribe("sub-3")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert!(
        err.message().contains("no answer within"),
        "{}",
        err.message()
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout was not applied"
    );
    assert_eq!(
        mobiltek.received().len(),
        2,
        "a non-idempotent call was retried"
    );
    app.stop().await;
}
