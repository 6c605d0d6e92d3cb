//! Notification secrets at rest: sealed for the merchant's own row, never in clear, and still
//! signing every notification. A sealed secret copied to another merchant's row signs nothing
//! (that merchant's notifications are dead-lettered as having a bad secret, replayable once
//! fixed); a secret stored in clear before the upgrade is sealed when the notifier starts.

use crate::helpers::*;
use paysys_platform::{db, events};
use paysys_proto::Event;

const OTHER: &str = "40";
const OTHER_SECRET: &str = "whsec_b3RoZXItbWVyY2hhbnQtc2VjcmV0";

async fn endpoint_row(app: &TestApp, merchant_id: &str) -> serde_json::Value {
    let row: String =
        sqlx::query_scalar("SELECT row_to_json(e)::text FROM endpoints e WHERE merchant_id = $1")
            .bind(merchant_id)
            .fetch_one(&app.pool)
            .await
            .expect("endpoint row");
    let base64 = SECRET.trim_start_matches("whsec_");
    assert!(!row.contains(base64), "the secret is in clear: {row}");
    serde_json::from_str(&row).expect("JSON row")
}

fn verifies(received: &Received, secret: &str) -> bool {
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&received.body, &received.headers)
        .is_ok()
}

#[tokio::test]
async fn notification_secrets_are_stored_sealed_and_still_sign() {
    let app = spawn_app(&Options::default()).await;
    let merchant = Merchant::start(vec![], Reply::Status(200)).await;
    app.configure_merchant(MERCHANT, &merchant.url).await;
    let row = endpoint_row(&app, MERCHANT).await;
    assert_eq!(row["secret"], serde_json::Value::Null);
    assert!(row["secret_sealed"].as_str().unwrap().starts_with("v1."));

    app.publish(&event(events::PAYMENT_SUCCEEDED, "sealed-1"))
        .await;
    let got = merchant.wait_for(1).await;
    assert!(
        verifies(&got[0], SECRET),
        "signed with the merchant's secret"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_sealed_secret_copied_to_another_merchant_signs_nothing() {
    let app = spawn_app(&Options::default()).await;
    let merchant = Merchant::start(vec![], Reply::Status(200)).await;
    app.configure_merchant(MERCHANT, &merchant.url).await;
    notifier::upsert_endpoint(&app.pool, OTHER, &merchant.url, OTHER_SECRET)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE endpoints SET secret_sealed = (SELECT secret_sealed FROM endpoints WHERE merchant_id = $1)
         WHERE merchant_id = $2",
    )
    .bind(MERCHANT)
    .bind(OTHER)
    .execute(&app.pool)
    .await
    .unwrap();

    app.publish(&Event {
        merchant_id: OTHER.into(),
        ..event(events::PAYMENT_SUCCEEDED, "copied-1")
    })
    .await;
    let dead = app.wait_for_status("copied-1", "dead").await;
    assert!(
        dead.last_error.as_deref().unwrap_or("").contains("secret"),
        "{dead:?}"
    );
    // The merchant whose secret it is still gets its own, signed with it.
    app.publish(&event(events::PAYMENT_SUCCEEDED, "own-1"))
        .await;
    let got = merchant.wait_for(1).await;
    assert_eq!(got.len(), 1, "nothing was sent for the copied secret");
    assert!(verifies(&got[0], SECRET));
    app.stop().await;
}

#[tokio::test]
async fn a_secret_stored_in_clear_before_the_upgrade_is_sealed_at_start() {
    // The database as the previous release left it: the secret in clear.
    let env = Env::new().await;
    let all = sqlx::migrate!("../../migrations/notifier");
    let before = sqlx::migrate::Migrator {
        migrations: std::borrow::Cow::Owned(
            all.migrations
                .iter()
                .filter(|m| m.version < 20261202000000)
                .cloned()
                .collect(),
        ),
        ..sqlx::migrate!("../../migrations/notifier")
    };
    let settings = env.settings(&Options::default());
    let pool = db::connect(&settings.database, "notifier").await.unwrap();
    db::migrate(&pool, &before).await.unwrap();
    let merchant = Merchant::start(vec![], Reply::Status(200)).await;
    sqlx::query("INSERT INTO endpoints (merchant_id, url, secret) VALUES ($1, $2, $3)")
        .bind(MERCHANT)
        .bind(&merchant.url)
        .bind(SECRET)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let app = spawn_app_on(env, &Options::default()).await;
    let row = endpoint_row(&app, MERCHANT).await;
    assert_eq!(row["secret"], serde_json::Value::Null);
    app.publish(&event(events::PAYMENT_SUCCEEDED, "legacy-1"))
        .await;
    let got = merchant.wait_for(1).await;
    assert!(verifies(&got[0], SECRET));
    // Nothing writes plaintext any more.
    let plaintext =
        sqlx::query("UPDATE endpoints SET secret = 'whsec_aW4tY2xlYXI=' WHERE merchant_id = $1")
            .bind(MERCHANT)
            .execute(&app.pool)
            .await;
    assert!(plaintext.is_err());
    app.stop().await;
}
