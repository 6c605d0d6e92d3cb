//! A webbilling start that Teleaudio refuses for good (4xx) ends the order as failed, with the
//! failure accounted and its event written, instead of a dead-lettered command and an order
//! stuck "accepted". Real PostgreSQL and RabbitMQ; a fake Teleaudio that refuses.

use axum::http::StatusCode;
use axum::routing::post;
use paysys_platform::broker::{Outgoing, Publisher};
use paysys_platform::{testing, Shutdown};
use paysys_proto::{Customer, OrderKind, ProviderCommand, StartRequest};
use provider_teleaudio::{Application, Settings};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_start_teleaudio_refuses_fails_the_order_and_tells_the_merchant() {
    let fake = axum::Router::new().route(
        "/webbilling",
        post(|| async {
            (
                StatusCode::BAD_REQUEST,
                r#"{"status":"ERROR","code":"400","message":"msisdn blocked"}"#,
            )
        }),
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
        ],
    );
    let shutdown = Shutdown::new();
    let app = Application::build(settings.clone(), shutdown.clone())
        .await
        .expect("adapter");
    let pool = app.pool();
    tokio::spawn(app.run_until_stopped());

    let queue = settings.amqp.queue("provider.teleaudio.commands");
    let command = ProviderCommand {
        command_id: uuid::Uuid::now_v7().to_string(),
        kind: "start".into(),
        start: Some(StartRequest {
            merchant_id: "19".into(),
            order_id: "wb-refused".into(),
            channel_id: "9042".into(),
            kind: OrderKind::OneTime as i32,
            amount_minor: 250,
            currency: "PLN".into(),
            customer: Some(Customer {
                phone: "48519532621".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
    };
    let payload = prost::Message::encode_to_vec(&command);
    let publisher = Publisher::new(settings.amqp.clone(), vec![queue.clone()], shutdown.clone());
    let headers = BTreeMap::new();
    let sent = publisher
        .publish_batch(&[Outgoing {
            exchange: "",
            routing_key: &queue,
            message_id: uuid::Uuid::now_v7(),
            payload: &payload,
            headers: &headers,
        }])
        .await
        .expect("publish");
    assert_eq!(sent, vec![true]);

    let deadline = Instant::now() + Duration::from_secs(20);
    let state = loop {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM orders WHERE order_id = 'wb-refused'")
                .fetch_optional(&pool)
                .await
                .unwrap();
        if state.as_deref() == Some("failed") || Instant::now() > deadline {
            break state;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(state.as_deref(), Some("failed"));
    let (outcome, charges): (String, i64) = sqlx::query_as(
        "SELECT c.outcome, (SELECT count(*) FROM charges) FROM charges c JOIN orders o USING (reference)
         WHERE o.order_id = 'wb-refused'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((outcome.as_str(), charges), ("failed", 1));
    let reason: String = sqlx::query_scalar(
        "SELECT body->>'start_refused' FROM callbacks WHERE dedup_key LIKE 'start-refused:%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(reason.contains("msisdn blocked"), "{reason}");
    shutdown.trigger();
}
