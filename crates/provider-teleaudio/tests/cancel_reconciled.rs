//! Cancellation has one meaning: an unsubscribe Teleaudio answers with OK makes the subscription
//! `cancelling` at once (a charge reported meanwhile is accounted as late, not as a renewal);
//! when Teleaudio never confirms, a reconciliation after `[adapter]
//! cancel_confirm_timeout_secs` ends it and the merchant gets subscription_cancel. Real
//! PostgreSQL and RabbitMQ; a fake Teleaudio that never calls back.

use axum::routing::post;
use axum::Json;
use paysys_platform::{testing, Shutdown};
use paysys_proto::payment_provider_client::PaymentProviderClient;
use paysys_proto::{Customer, OrderKind, StartRequest, UnsubscribeRequest};
use provider_teleaudio::{Application, Settings};
use std::time::{Duration, Instant};

const SECRET: &str = "teleaudio-test-secret";

async fn state(pool: &sqlx::PgPool) -> String {
    sqlx::query_scalar("SELECT state FROM orders WHERE order_id = 'sub-cancel'")
        .fetch_one(pool)
        .await
        .unwrap()
}

fn signed(body: serde_json::Value) -> (String, String) {
    let body = body.to_string();
    let sig = paysys_platform::signing::hmac_sha256_hex(SECRET.as_bytes(), body.as_bytes());
    (body, sig)
}

#[tokio::test]
async fn an_unconfirmed_cancellation_is_cancelling_then_reconciled() {
    let fake = axum::Router::new()
        .route(
            "/subscriptions",
            post(|| async {
                Json(serde_json::json!({"subscription_id": "ta-sub-1", "confirm_url": "http://teleaudio.test/confirm/ta-sub-1"}))
            }),
        )
        .route(
            "/subscriptions/{id}/cancel",
            post(|| async { Json(serde_json::json!({"status": "OK"})) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, fake).await });

    let db = testing::fresh_database().await.expect("database");
    let settings: Settings = testing::settings(
        &testing::expose(&db),
        &[
            ("teleaudio.listen", "127.0.0.1:0".into()),
            ("teleaudio.base_url", fake_url.as_str().into()),
            ("teleaudio.secret", SECRET.into()),
            ("adapter.cancel_confirm_timeout_secs", 1.into()),
        ],
    );
    let shutdown = Shutdown::new();
    let app = Application::build(settings, shutdown.clone())
        .await
        .unwrap();
    let (port, callback_port, pool) = (app.port(), app.callback_port(), app.pool());
    tokio::spawn(app.run_until_stopped());
    let mut grpc = PaymentProviderClient::new(
        paysys_platform::grpc::connect(
            &format!("http://127.0.0.1:{port}"),
            &paysys_platform::testing::internal_token(),
        )
        .await
        .unwrap(),
    );
    grpc.start(StartRequest {
        merchant_id: "19".into(),
        order_id: "sub-cancel".into(),
        channel_id: "9041".into(),
        kind: OrderKind::Subscription as i32,
        amount_minor: 100,
        currency: "PLN".into(),
        customer: Some(Customer {
            phone: "48519532621".into(),
            ..Default::default()
        }),
        article_config: [("teleaudio_service_id".to_string(), "511".to_string())].into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let reference: String =
        sqlx::query_scalar("SELECT reference FROM orders WHERE order_id = 'sub-cancel'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let http = reqwest::Client::new();
    let post = |body: serde_json::Value| {
        let (body, sig) = signed(body);
        http.post(format!("http://127.0.0.1:{callback_port}/teleaudio/notify"))
            .header("content-type", "application/json")
            .header("x-teleaudio-signature", sig)
            .body(body)
            .send()
    };
    let cb = |id: &str, kind: &str| {
        serde_json::json!({"event_id": id, "type": kind, "reference": reference, "provider_id": "ta-sub-1",
            "msisdn": "48519532621", "amount": 100, "currency": "PLN", "charge_id": format!("c-{id}"), "timestamp": 1})
    };
    assert_eq!(
        post(cb("e-1", "SUBSCRIPTION_STARTED"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(state(&pool).await, "active");

    let answer = grpc
        .unsubscribe(UnsubscribeRequest {
            merchant_id: "19".into(),
            order_id: "sub-cancel".into(),
            client_ip: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(answer.ok, "{}", answer.provider_answer);
    assert_eq!(state(&pool).await, "cancelling");

    // A charge Teleaudio reports meanwhile happened: accounted, but late, not a renewal.
    assert_eq!(
        post(cb("e-2", "CHARGE_SUCCESS")).await.unwrap().status(),
        200
    );
    let late: bool = sqlx::query_scalar("SELECT late FROM charges WHERE charge_id = 'c-e-2'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(late);

    // Teleaudio never confirms: the reconciliation ends it after the configured second.
    let deadline = Instant::now() + Duration::from_secs(15);
    while state(&pool).await != "cancelled" {
        assert!(Instant::now() < deadline, "not reconciled in 15 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reason: String = sqlx::query_scalar(
        "SELECT claim FROM callbacks WHERE dedup_key LIKE 'cancel-reconciled:%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(reason, "cancelled");
    shutdown.trigger();
}
