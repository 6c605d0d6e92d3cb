//! Merchants' API secrets at rest: a keyed digest (finds the merchant) and a copy sealed for the
//! merchant's own row (the HMAC key), never the secret itself. Secrets stored in clear before
//! the upgrade are sealed when the edge starts. A sealed value copied to another merchant's row
//! authenticates nobody.

use crate::helpers::*;
use paysys_platform::{db, testing};
use rpc_edge::auth::sign_body;
use rpc_edge::store::SaveMerchantError;
use serde_json::{json, Value};

/// Every column of every merchant, as text.
async fn merchant_rows(edge: &TestEdge) -> Vec<String> {
    sqlx::query_scalar("SELECT row_to_json(m)::text FROM edge.merchants m ORDER BY id")
        .fetch_all(&edge.pool)
        .await
        .unwrap()
}

/// Whether `merchant` with `secret` gets in, by the parameter (with and without merchant_id)
/// and by a body signature.
async fn authenticates(edge: &TestEdge, merchant: &str, secret: &str) -> [bool; 3] {
    let by_param = edge
        .rpc(
            "get_channels_list",
            json!({ "merchant_id": merchant }),
            secret,
        )
        .await;
    // Without merchant_id the secret names the merchant; an unknown order proves it got in.
    let by_secret_alone = edge
        .rpc(
            "unsubscribe",
            json!({ "order_ext_id": "none-such" }),
            secret,
        )
        .await;
    let body = call(1, "get_channels_list", json!({ "merchant_id": merchant })).to_string();
    let (_, by_signature) = edge
        .post(&body, Some(&sign_body(secret, now(), body.as_bytes())))
        .await;
    let ok = |v: &Value| v["error"]["code"] != -32001;
    [ok(&by_param), ok(&by_secret_alone), ok(&by_signature)]
}

#[tokio::test]
async fn secrets_are_kept_digested_and_sealed_and_still_authenticate() {
    let edge = spawn_edge(&[]).await;
    let rows = merchant_rows(&edge).await;
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert!(
            !row.contains(SECRET) && !row.contains(OTHER_SECRET),
            "{row}"
        );
        let v: Value = serde_json::from_str(row).unwrap();
        assert_eq!(v["secret"], Value::Null, "{row}");
        assert!(
            v["secret_sealed"].as_str().unwrap().starts_with("v1."),
            "{row}"
        );
        assert_eq!(v["secret_digest"].as_str().unwrap().len(), 64, "{row}");
    }
    assert_eq!(authenticates(&edge, MERCHANT, SECRET).await, [true; 3]);
    assert_eq!(authenticates(&edge, OTHER, OTHER_SECRET).await, [true; 3]);
    assert_eq!(
        authenticates(&edge, OTHER, SECRET).await,
        [false, true, false]
    );

    // A second merchant cannot take a secret another has.
    let taken = rpc_edge::store::save_merchant(&edge.pool, &data_key(), "m-3", SECRET).await;
    assert!(
        matches!(taken, Err(SaveMerchantError::SecretTaken)),
        "{taken:?}"
    );
    edge.shutdown.trigger();
}

#[tokio::test]
async fn a_sealed_secret_copied_to_another_merchant_authenticates_nobody() {
    let edge = spawn_edge(&[]).await;
    // Merchant 2's row gets merchant 1's sealed secret: it does not open there.
    sqlx::query(
        "UPDATE edge.merchants SET secret_sealed = (SELECT secret_sealed FROM edge.merchants WHERE id = $1)
         WHERE id = $2",
    )
    .bind(MERCHANT)
    .bind(OTHER)
    .execute(&edge.pool)
    .await
    .unwrap();
    // (Without merchant_id, merchant 1's secret still names merchant 1, whose row is whole.)
    assert_eq!(
        authenticates(&edge, OTHER, SECRET).await,
        [false, true, false]
    );
    assert_eq!(authenticates(&edge, OTHER, OTHER_SECRET).await, [false; 3]);

    // And with merchant 1's digest moved over too, merchant 1's secret is nobody's.
    let digest: String =
        sqlx::query_scalar("SELECT secret_digest FROM edge.merchants WHERE id = $1")
            .bind(MERCHANT)
            .fetch_one(&edge.pool)
            .await
            .unwrap();
    sqlx::query("UPDATE edge.merchants SET secret_digest = 'moved-away' WHERE id = $1")
        .bind(MERCHANT)
        .execute(&edge.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE edge.merchants SET secret_digest = $2 WHERE id = $1")
        .bind(OTHER)
        .bind(&digest)
        .execute(&edge.pool)
        .await
        .unwrap();
    assert_eq!(authenticates(&edge, OTHER, SECRET).await, [false; 3]);
    edge.shutdown.trigger();
}

#[tokio::test]
async fn secrets_stored_in_clear_before_the_upgrade_are_sealed_at_start() {
    // The database as the previous release left it: plaintext secrets.
    let url = testing::expose(&testing::fresh_database().await.expect("database"));
    let all = sqlx::migrate!("../../migrations/edge");
    let before = sqlx::migrate::Migrator {
        migrations: std::borrow::Cow::Owned(
            all.migrations
                .iter()
                .filter(|m| m.version < 20261202000000)
                .cloned()
                .collect(),
        ),
        ..sqlx::migrate!("../../migrations/edge")
    };
    let settings = settings(&url, &[]).await;
    let pool = db::connect(&settings.database, "edge").await.unwrap();
    db::migrate(&pool, &before).await.unwrap();
    sqlx::query("INSERT INTO merchants (id, secret) VALUES ('legacy-1', 'legacy-secret-1'), ('legacy-2', 'legacy-secret-2')")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let edge = spawn_edge_on(&url, &[]).await;
    let rows = merchant_rows(&edge).await;
    assert_eq!(rows.len(), 4);
    for row in &rows {
        assert!(!row.contains("legacy-secret"), "{row}");
        assert!(row.contains("\"secret\":null"), "{row}");
    }
    assert_eq!(
        authenticates(&edge, "legacy-1", "legacy-secret-1").await,
        [true; 3]
    );
    assert_eq!(
        authenticates(&edge, "legacy-2", "legacy-secret-1").await,
        [false, true, false]
    );
    // Nothing writes plaintext any more.
    let plaintext =
        sqlx::query("INSERT INTO edge.merchants (id, secret) VALUES ('new', 'in-clear')")
            .execute(&edge.pool)
            .await;
    assert!(plaintext.is_err());
    edge.shutdown.trigger();
}
