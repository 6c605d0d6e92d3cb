//! The `edge` schema: merchants, channels, orders and their events.

use paysys_platform::sealed::DataKey;
use serde_json::Value;
use sqlx::{PgPool, Row};

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub merchant_id: String,
    pub provider: String,
    pub kind: String,
    pub currency: String,
    pub config: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub merchant_id: String,
    pub trans_ext_id: String,
    pub method: String,
    pub channel_id: String,
    pub provider: String,
    pub kind: String,
    pub amount_minor: i64,
    pub currency: String,
    pub fingerprint: String,
    pub response: Option<Value>,
    pub status: String,
    /// `"test": "True"`: run against the provider's test environment, accounted in the test book.
    pub test: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

pub struct NewOrder<'a> {
    pub merchant_id: &'a str,
    pub trans_ext_id: &'a str,
    pub method: &'a str,
    pub channel: &'a Channel,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub fingerprint: &'a str,
    /// The request's `test` (also part of the fingerprint, so a retry cannot change it).
    pub test: bool,
}

/// Purpose of the keyed digest of merchants' API secrets (`edge.merchants.secret_digest`).
pub const SECRET_DIGEST_PURPOSE: &str = "edge.merchants.secret";

/// What the sealed copy of a merchant's API secret is bound to: its own row.
pub fn secret_context(merchant_id: &str) -> String {
    format!("edge.merchants.secret:{merchant_id}")
}

/// What `edge.merchants` keeps of a merchant's API secret (never the secret itself).
#[derive(Debug, Clone)]
pub struct MerchantCredentials {
    pub id: String,
    /// `DataKey::digest(secret, SECRET_DIGEST_PURPOSE)`.
    pub digest: String,
    /// `DataKey::seal(secret, secret_context(id))`.
    pub sealed: String,
}

fn credentials_from(r: &sqlx::postgres::PgRow) -> MerchantCredentials {
    MerchantCredentials {
        id: r.get("id"),
        digest: r.get("secret_digest"),
        sealed: r.get("secret_sealed"),
    }
}

/// The credentials of merchant `id` (a row still in plaintext has none: it is converted when
/// rpc-edge starts).
pub async fn merchant_credentials(
    pool: &PgPool,
    id: &str,
) -> sqlx::Result<Option<MerchantCredentials>> {
    let r = sqlx::query(
        "SELECT id, secret_digest, secret_sealed FROM merchants
         WHERE id = $1 AND secret_digest IS NOT NULL AND secret_sealed IS NOT NULL",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(r.as_ref().map(credentials_from))
}

/// The merchant whose secret has this digest (secrets are unique).
pub async fn merchant_by_digest(
    pool: &PgPool,
    digest: &str,
) -> sqlx::Result<Option<MerchantCredentials>> {
    let r = sqlx::query(
        "SELECT id, secret_digest, secret_sealed FROM merchants
         WHERE secret_digest = $1 AND secret_sealed IS NOT NULL",
    )
    .bind(digest)
    .fetch_optional(pool)
    .await?;
    Ok(r.as_ref().map(credentials_from))
}

#[derive(Debug, thiserror::Error)]
pub enum SaveMerchantError {
    /// The unique digest index: a secret names its merchant, so no two merchants share one.
    #[error("another merchant already has this API secret; every merchant needs its own")]
    SecretTaken,
    #[error("no data key: rpc_edge::Application::build installs secrets.data_key for upsert_merchant (or call save_merchant with the key)")]
    NoKey,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Adds or updates a merchant (operator CLI, fixtures, tests): its API secret digested and
/// sealed with `key`, nothing in clear.
pub async fn save_merchant<'e>(
    ex: impl sqlx::PgExecutor<'e>,
    key: &DataKey,
    id: &str,
    secret: &str,
) -> Result<(), SaveMerchantError> {
    sqlx::query(
        "INSERT INTO edge.merchants (id, secret, secret_digest, secret_sealed) VALUES ($1, NULL, $2, $3)
         ON CONFLICT (id) DO UPDATE SET secret = NULL, secret_digest = EXCLUDED.secret_digest,
           secret_sealed = EXCLUDED.secret_sealed, updated_at = now()",
    )
    .bind(id)
    .bind(key.digest(secret, SECRET_DIGEST_PURPOSE))
    .bind(key.seal(secret, &secret_context(id)))
    .execute(ex)
    .await
    .map_err(secret_taken)?;
    Ok(())
}

fn secret_taken(e: sqlx::Error) -> SaveMerchantError {
    match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("merchants_secret_digest_unique") => {
            SaveMerchantError::SecretTaken
        }
        _ => SaveMerchantError::Database(e),
    }
}

/// The data key of the rpc-edge built in this process, for [`upsert_merchant`].
static PROCESS_KEY: std::sync::OnceLock<DataKey> = std::sync::OnceLock::new();

/// Makes `key` the one [`upsert_merchant`] uses; a process runs with one data key.
pub fn install_data_key(key: &DataKey) -> Result<(), String> {
    let installed = PROCESS_KEY.get_or_init(|| key.clone());
    // Same key, same digest of anything.
    if installed.digest("", "paysys.same-key") == key.digest("", "paysys.same-key") {
        Ok(())
    } else {
        Err("secrets.data_key differs from the one this process already runs rpc-edge with".into())
    }
}

/// [`save_merchant`] with the data key of the rpc-edge built in this process (the end-to-end
/// test harness, which has the edge's pool but not its settings).
pub async fn upsert_merchant<'e>(
    ex: impl sqlx::PgExecutor<'e>,
    id: &str,
    secret: &str,
) -> Result<(), SaveMerchantError> {
    let key = PROCESS_KEY.get().ok_or(SaveMerchantError::NoKey)?;
    save_merchant(ex, key, id, secret).await
}

/// Digests and seals every merchant secret still in plaintext (rows from before
/// `20261202000100_merchant_secrets_at_rest`) and clears the plaintext, in one transaction; the
/// number of rows converted. Run at start, after the migrations.
pub async fn seal_legacy_merchants(pool: &PgPool, key: &DataKey) -> anyhow::Result<u64> {
    use anyhow::Context;
    let mut tx = pool.begin().await?;
    let legacy: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, secret FROM merchants WHERE secret IS NOT NULL ORDER BY id FOR UPDATE",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (id, secret) in &legacy {
        sqlx::query(
            "UPDATE merchants SET secret = NULL, secret_digest = $2, secret_sealed = $3, updated_at = now()
             WHERE id = $1",
        )
        .bind(id)
        .bind(key.digest(secret, SECRET_DIGEST_PURPOSE))
        .bind(key.seal(secret, &secret_context(id)))
        .execute(&mut *tx)
        .await
        .map_err(secret_taken)
        .with_context(|| format!("sealing the API secret of merchant {id}"))?;
    }
    tx.commit().await?;
    Ok(legacy.len() as u64)
}

/// Remembers an accepted signature (the SHA-256 of its MAC) until `expires_at`; false when it
/// was already remembered: a replay. Each insert also prunes some rows that expired before
/// `prune_before`, so the table holds about one window of signatures.
pub async fn remember_signature(
    pool: &PgPool,
    signature_hash: &str,
    expires_at: chrono::DateTime<chrono::Utc>,
    prune_before: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "WITH pruned AS (
             DELETE FROM accepted_signatures WHERE signature_hash IN (
                 SELECT signature_hash FROM accepted_signatures WHERE expires_at < $3
                 ORDER BY expires_at LIMIT 100 FOR UPDATE SKIP LOCKED))
         INSERT INTO accepted_signatures (signature_hash, expires_at) VALUES ($1, $2)
         ON CONFLICT (signature_hash) DO NOTHING",
    )
    .bind(signature_hash)
    .bind(expires_at)
    .bind(prune_before)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

fn channel_from(r: &sqlx::postgres::PgRow) -> Channel {
    let config: sqlx::types::Json<std::collections::BTreeMap<String, Value>> = r.get("config");
    Channel {
        id: r.get("id"),
        merchant_id: r.get("merchant_id"),
        provider: r.get("provider"),
        kind: r.get("kind"),
        currency: r.get::<String, _>("currency"),
        config: config
            .0
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string()),
                )
            })
            .collect(),
    }
}

/// A channel of this merchant (another merchant's channel is as unknown as a missing one).
pub async fn channel(pool: &PgPool, merchant_id: &str, id: &str) -> sqlx::Result<Option<Channel>> {
    let row = sqlx::query("SELECT id, merchant_id, provider, kind, currency, config FROM channels WHERE id = $1 AND merchant_id = $2")
        .bind(id)
        .bind(merchant_id)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(channel_from))
}

pub async fn channels_of(pool: &PgPool, merchant_id: &str) -> sqlx::Result<Vec<Channel>> {
    let rows = sqlx::query("SELECT id, merchant_id, provider, kind, currency, config FROM channels WHERE merchant_id = $1 ORDER BY id")
        .bind(merchant_id)
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(channel_from).collect())
}

fn order_from(r: &sqlx::postgres::PgRow) -> Order {
    Order {
        merchant_id: r.get("merchant_id"),
        trans_ext_id: r.get("trans_ext_id"),
        method: r.get("method"),
        channel_id: r.get("channel_id"),
        provider: r.get("provider"),
        kind: r.get("kind"),
        amount_minor: r.get("amount_minor"),
        currency: r.get("currency"),
        fingerprint: r.get("fingerprint"),
        response: r
            .get::<Option<sqlx::types::Json<Value>>, _>("response")
            .map(|j| j.0),
        status: r.get("status"),
        test: r.get("test"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

const ORDER_COLUMNS: &str = "merchant_id, trans_ext_id, method, channel_id, provider, kind, amount_minor, currency, fingerprint, response, status, test, created_at, updated_at";

/// Inserts the order, or returns the existing one with the same (merchant, trans_ext_id).
pub async fn insert_or_get_order(pool: &PgPool, o: NewOrder<'_>) -> sqlx::Result<(bool, Order)> {
    let inserted = sqlx::query(&format!(
        "INSERT INTO orders (merchant_id, trans_ext_id, method, channel_id, provider, kind, amount_minor, currency, fingerprint, status, test)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10)
         ON CONFLICT (merchant_id, trans_ext_id) DO NOTHING RETURNING {ORDER_COLUMNS}"
    ))
    .bind(o.merchant_id)
    .bind(o.trans_ext_id)
    .bind(o.method)
    .bind(&o.channel.id)
    .bind(&o.channel.provider)
    .bind(&o.channel.kind)
    .bind(o.amount_minor)
    .bind(o.currency)
    .bind(o.fingerprint)
    .bind(o.test)
    .fetch_optional(pool)
    .await?;
    if let Some(r) = inserted {
        return Ok((true, order_from(&r)));
    }
    let existing = order(pool, o.merchant_id, o.trans_ext_id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok((false, existing))
}

pub async fn order(
    pool: &PgPool,
    merchant_id: &str,
    trans_ext_id: &str,
) -> sqlx::Result<Option<Order>> {
    let r = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE merchant_id = $1 AND trans_ext_id = $2"
    ))
    .bind(merchant_id)
    .bind(trans_ext_id)
    .fetch_optional(pool)
    .await?;
    Ok(r.as_ref().map(order_from))
}

/// Drops an order claimed but never answered (its adapter refused the input before anything
/// happened at the provider), so bad input leaves nothing behind.
pub async fn forget_unanswered_order(
    pool: &PgPool,
    merchant_id: &str,
    trans_ext_id: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "DELETE FROM orders WHERE merchant_id = $1 AND trans_ext_id = $2 AND response IS NULL
         AND NOT EXISTS (SELECT 1 FROM order_events e WHERE e.merchant_id = $1 AND e.trans_ext_id = $2)",
    )
    .bind(merchant_id)
    .bind(trans_ext_id)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn save_response(
    pool: &PgPool,
    merchant_id: &str,
    trans_ext_id: &str,
    response: &Value,
    provider_ref: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE orders SET response = $3, provider_ref = $4, updated_at = now() WHERE merchant_id = $1 AND trans_ext_id = $2")
        .bind(merchant_id)
        .bind(trans_ext_id)
        .bind(sqlx::types::Json(response))
        .bind(provider_ref)
        .execute(pool)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct OrderEvent {
    pub kind: String,
    pub amount: i64,
    pub currency: String,
    pub sequence: i32,
    pub charge_id: String,
    pub failure_reason: String,
    pub occurred_at: String,
}

pub async fn order_events(
    pool: &PgPool,
    merchant_id: &str,
    trans_ext_id: &str,
) -> sqlx::Result<Vec<OrderEvent>> {
    let rows = sqlx::query(
        "SELECT kind, amount_minor, currency, sequence, charge_id, failure_reason, occurred_at FROM order_events
         WHERE merchant_id = $1 AND trans_ext_id = $2 ORDER BY occurred_at, sequence",
    )
    .bind(merchant_id)
    .bind(trans_ext_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| OrderEvent {
            kind: r.get("kind"),
            amount: r.get("amount_minor"),
            currency: r.get("currency"),
            sequence: r.get("sequence"),
            charge_id: r.get("charge_id"),
            failure_reason: r.get("failure_reason"),
            occurred_at: r
                .get::<chrono::DateTime<chrono::Utc>, _>("occurred_at")
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })
        .collect())
}

/// Adds or updates a channel of a merchant.
pub async fn upsert_channel<'e>(
    ex: impl sqlx::PgExecutor<'e>,
    id: &str,
    merchant_id: &str,
    provider: &str,
    kind: &str,
    currency: &str,
    config: &serde_json::Map<String, Value>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO edge.channels (id, merchant_id, provider, kind, currency, config) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET merchant_id = EXCLUDED.merchant_id, provider = EXCLUDED.provider,
         kind = EXCLUDED.kind, currency = EXCLUDED.currency, config = EXCLUDED.config",
    )
    .bind(id)
    .bind(merchant_id)
    .bind(provider)
    .bind(kind)
    .bind(currency)
    .bind(sqlx::types::Json(config))
    .execute(ex)
    .await?;
    Ok(())
}

/// Stores an asynchronous order (status `accepted`, its answer and its start request) and the
/// provider command in ONE transaction; an existing (merchant, trans_ext_id) is returned as is,
/// with no second command.
pub async fn insert_async_order(
    pool: &PgPool,
    o: NewOrder<'_>,
    response: &Value,
    start: &paysys_proto::StartRequest,
    queue: &str,
) -> sqlx::Result<Order> {
    use prost::Message;
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(&format!(
        "INSERT INTO orders (merchant_id, trans_ext_id, method, channel_id, provider, kind, amount_minor, currency, fingerprint, status, response, start_request, test)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'accepted', $10, $11, $12)
         ON CONFLICT (merchant_id, trans_ext_id) DO NOTHING RETURNING {ORDER_COLUMNS}"
    ))
    .bind(o.merchant_id)
    .bind(o.trans_ext_id)
    .bind(o.method)
    .bind(&o.channel.id)
    .bind(&o.channel.provider)
    .bind(&o.channel.kind)
    .bind(o.amount_minor)
    .bind(o.currency)
    .bind(o.fingerprint)
    .bind(sqlx::types::Json(response))
    .bind(start.encode_to_vec())
    .bind(o.test)
    .fetch_optional(&mut *tx)
    .await?;
    let order = match inserted {
        Some(r) => {
            let command_id = uuid::Uuid::now_v7();
            let command = paysys_proto::ProviderCommand {
                command_id: command_id.to_string(),
                kind: "start".into(),
                start: Some(start.clone()),
            };
            // The default exchange routes by queue name.
            paysys_platform::outbox::enqueue(
                &mut tx,
                "",
                queue,
                command_id,
                &command.encode_to_vec(),
            )
            .await?;
            order_from(&r)
        }
        None => {
            let r = sqlx::query(&format!(
                "SELECT {ORDER_COLUMNS} FROM orders WHERE merchant_id = $1 AND trans_ext_id = $2"
            ))
            .bind(o.merchant_id)
            .bind(o.trans_ext_id)
            .fetch_one(&mut *tx)
            .await?;
            order_from(&r)
        }
    };
    tx.commit().await?;
    Ok(order)
}

/// The start request kept with an asynchronous order.
pub async fn start_request(
    pool: &PgPool,
    merchant_id: &str,
    trans_ext_id: &str,
) -> sqlx::Result<Option<paysys_proto::StartRequest>> {
    use prost::Message;
    let bytes: Option<Option<Vec<u8>>> = sqlx::query_scalar(
        "SELECT start_request FROM orders WHERE merchant_id = $1 AND trans_ext_id = $2",
    )
    .bind(merchant_id)
    .bind(trans_ext_id)
    .fetch_optional(pool)
    .await?;
    Ok(bytes
        .flatten()
        .and_then(|b| paysys_proto::StartRequest::decode(b.as_slice()).ok()))
}
