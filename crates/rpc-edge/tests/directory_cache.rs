//! Merchants' credentials and channels cached in memory (`rpc_edge::directory`), emptied by
//! PostgreSQL `NOTIFY`, seen through the public JSON-RPC API of a running edge on its own
//! database:
//! - a merchant seen once is served from memory: with `edge.merchants` and `edge.channels`
//!   renamed away (DDL notifies nobody, and every read of them fails), its requests still get
//!   through, while an unknown or not yet seen merchant asks the database (and fails), and a
//!   replayed signature is still refused (replay protection is never cached);
//! - a rotated secret works at once, even when no notification ever comes (cached credentials
//!   that do not verify are read again), and the old one is refused once the notification is in;
//! - a changed, moved or deleted channel is seen once the notification is in, and a change that
//!   makes a channel fit works at once;
//! - what is cached for one merchant is never served to another;
//! - while the listener's session is gone nothing is served from memory, and once it is back
//!   changes are heard again.
//!
//! Each test first waits until the cache demonstrably serves, so a cache that never listens (or
//! never hears) fails them.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use helpers::*;
use rpc_edge::auth::sign_body;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// How long a notification may take to arrive (it takes milliseconds).
const HEARD_WITHIN: Duration = Duration::from_secs(5);

/// Request ids, so that no two signed bodies are alike (a body signed twice in one second would
/// be the same signature: a replay).
static IDS: AtomicI64 = AtomicI64::new(1);

fn next_id() -> i64 {
    IDS.fetch_add(1, Ordering::Relaxed)
}

/// What an answer says, in a word.
fn outcome(v: &Value) -> &'static str {
    let Some(code) = v["error"]["code"].as_i64() else {
        return "ok";
    };
    let data = &v["error"]["data"];
    let says = |field: &str, what: &str| data[field].as_str().is_some_and(|s| s.contains(what));
    match code {
        -32001 => "unauthorized",
        -32603
            if v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("database error")) =>
        {
            "database"
        }
        // Authenticated, then the order (made up) is not found.
        -32602
            if says("trans_ext_id", "no such order") || says("order_ext_id", "no such order") =>
        {
            "in"
        }
        // The channel was found and fits; only the (zero) amount is refused.
        -32602 if says("articles", "greater than zero") => "fits",
        -32602 if says("payment.channel_id", "no such channel") => "no channel",
        -32602 if says("payment.channel_id", "channel") => "wrong kind",
        -32602 if says("payment.currency", "takes") => "wrong currency",
        _ => panic!("unexpected answer {v}"),
    }
}

/// `merchant` with `secret`, by each way in: the parameter with merchant_id, the secret alone
/// (which names the merchant by its digest), and a body signature.
async fn signs_in(edge: &TestEdge, merchant: &str, secret: &str) -> [&'static str; 3] {
    let by_param = edge
        .rpc(
            "get_transaction_status",
            json!({ "merchant_id": merchant, "trans_ext_id": "none-such" }),
            secret,
        )
        .await;
    let by_secret_alone = edge
        .rpc(
            "unsubscribe",
            json!({ "order_ext_id": "none-such" }),
            secret,
        )
        .await;
    let body = call(
        next_id(),
        "get_transaction_status",
        json!({ "merchant_id": merchant, "trans_ext_id": "none-such" }),
    )
    .to_string();
    let (_, by_signature) = edge
        .post(&body, Some(&sign_body(secret, now(), body.as_bytes())))
        .await;
    [
        outcome(&by_param),
        outcome(&by_secret_alone),
        outcome(&by_signature),
    ]
}

/// A one-time payment of nothing by `merchant` on `channel` in `currency`: refused after the
/// channel was found and checked (`fits`), or why not (nothing is stored, no adapter asked).
async fn pay(
    edge: &TestEdge,
    merchant: &str,
    secret: &str,
    channel: &str,
    currency: &str,
) -> &'static str {
    let mut p = payment(&format!("dc-{}", next_id()));
    p["merchant_id"] = json!(merchant);
    p["payment"] = json!({ "channel_id": channel, "currency": currency });
    p["articles"][0]["price"] = json!("0");
    outcome(&edge.rpc("set_transaction_sync", p, secret).await)
}

/// Renames `edge.merchants` and `edge.channels` away (true) or back (false): while away every
/// read of them fails. DDL fires no trigger, so the edge hears nothing of it.
async fn tables_away(edge: &TestEdge, away: bool) {
    let sql = if away {
        "ALTER TABLE edge.merchants RENAME TO merchants_away;
         ALTER TABLE edge.channels RENAME TO channels_away;"
    } else {
        "ALTER TABLE edge.merchants_away RENAME TO merchants;
         ALTER TABLE edge.channels_away RENAME TO channels;"
    };
    sqlx::raw_sql(sql)
        .execute(&edge.pool)
        .await
        .expect("rename");
}

/// Waits until `merchant` (and its `channel`, in PLN, if given) is served from memory: used,
/// then used again with the tables away. The cache serves nothing until its listener is
/// connected, which the edge does in the background.
async fn wait_until_cached(edge: &TestEdge, merchant: &str, secret: &str, channel: Option<&str>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert_eq!(signs_in(edge, merchant, secret).await, ["in"; 3]);
        if let Some(c) = channel {
            assert_eq!(pay(edge, merchant, secret, c, "PLN").await, "fits");
        }
        tables_away(edge, true).await;
        let signed = signs_in(edge, merchant, secret).await;
        let paid = match channel {
            Some(c) => pay(edge, merchant, secret, c, "PLN").await,
            None => "fits",
        };
        tables_away(edge, false).await;
        if signed == ["in"; 3] && paid == "fits" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{merchant} is never served from memory: {signed:?} {paid}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `f` until it gives `want`, failing after [`HEARD_WITHIN`].
async fn eventually<T, F, Fut>(what: &str, want: T, mut f: F)
where
    T: PartialEq + std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = Instant::now() + HEARD_WITHIN;
    loop {
        let got = f().await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still {got:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `f` in a transaction whose triggers do not fire: a change the edge hears nothing of.
async fn unheard(edge: &TestEdge, f: impl AsyncFnOnce(&mut sqlx::PgConnection)) {
    let mut tx = edge.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    f(&mut *tx).await;
    tx.commit().await.unwrap();
}

async fn set_channel(pool: &sqlx::PgPool, merchant: &str, kind: &str, currency: &str) {
    rpc_edge::store::upsert_channel(
        pool,
        CHANNEL,
        merchant,
        "mobiltek",
        kind,
        currency,
        &serde_json::Map::new(),
    )
    .await
    .expect("channel");
}

#[tokio::test]
async fn a_merchant_seen_once_is_served_from_memory_and_strangers_ask_the_database() {
    let edge = spawn_edge(&[]).await;
    wait_until_cached(&edge, MERCHANT, SECRET, Some(CHANNEL)).await;

    tables_away(&edge, true).await;
    // Served from memory, by each way in, with its channel.
    assert_eq!(signs_in(&edge, MERCHANT, SECRET).await, ["in"; 3]);
    assert_eq!(pay(&edge, MERCHANT, SECRET, CHANNEL, "PLN").await, "fits");
    // Nobody else is in memory: an unknown merchant, and one not used yet, ask the database.
    assert_eq!(
        signs_in(&edge, "m-unknown", "whatever").await,
        ["database"; 3]
    );
    assert_eq!(signs_in(&edge, OTHER, OTHER_SECRET).await, ["database"; 3]);
    // A signature is remembered in the database, not in memory: the same body twice is a
    // replay, refused.
    let body = call(
        next_id(),
        "get_transaction_status",
        json!({ "merchant_id": MERCHANT, "trans_ext_id": "none-such" }),
    )
    .to_string();
    let signature = sign_body(SECRET, now(), body.as_bytes());
    assert_eq!(outcome(&edge.post(&body, Some(&signature)).await.1), "in");
    assert_eq!(
        outcome(&edge.post(&body, Some(&signature)).await.1),
        "unauthorized"
    );
    // A wrong secret is never refused on the cache's word: the database is asked (and fails).
    assert_eq!(
        signs_in(&edge, MERCHANT, "not-the-secret").await,
        ["database"; 3]
    );
    tables_away(&edge, false).await;

    // Any change to the directory, even another merchant's, empties the memory once heard.
    wait_until_cached(&edge, MERCHANT, SECRET, Some(CHANNEL)).await;
    sqlx::query("UPDATE edge.merchants SET updated_at = now() WHERE id = $1")
        .bind(OTHER)
        .execute(&edge.pool)
        .await
        .unwrap();
    eventually("the change is heard", ["database"; 3], || async {
        tables_away(&edge, true).await;
        let signed = signs_in(&edge, MERCHANT, SECRET).await;
        tables_away(&edge, false).await;
        signed
    })
    .await;

    // The caches report their hits on /metrics.
    let metrics = edge
        .http
        .get(format!("{}metrics", edge.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for cache in [
        "edge_merchant_credentials",
        "edge_merchant_credentials_by_digest",
        "edge_channels",
    ] {
        let series = format!("paysys_cache_lookups_total{{cache=\"{cache}\",outcome=\"hit\"}}");
        assert!(metrics.contains(&series), "no {series} in:\n{metrics}");
    }
    edge.shutdown.trigger();
}

#[tokio::test]
async fn a_rotated_secret_works_at_once_and_the_old_one_stops_once_the_change_is_heard() {
    let edge = spawn_edge(&[]).await;
    wait_until_cached(&edge, MERCHANT, SECRET, None).await;

    // Rotated (and notified): the new secret works at once, by every way in.
    let key = data_key();
    rpc_edge::store::save_merchant(&edge.pool, &key, MERCHANT, "rotated-once")
        .await
        .unwrap();
    assert_eq!(signs_in(&edge, MERCHANT, "rotated-once").await, ["in"; 3]);
    // The old one is refused by every way in once the change is heard (without the notification
    // its digest would keep naming the merchant from memory).
    eventually("the old secret is refused", ["unauthorized"; 3], || {
        signs_in(&edge, MERCHANT, SECRET)
    })
    .await;

    // Rotated again, and no notification will ever come: the new secret still works at once,
    // because credentials that do not verify are read again, never refused from memory.
    wait_until_cached(&edge, MERCHANT, "rotated-once", None).await;
    unheard(&edge, async |c| {
        rpc_edge::store::save_merchant(c, &key, MERCHANT, "rotated-twice")
            .await
            .unwrap();
    })
    .await;
    assert_eq!(signs_in(&edge, MERCHANT, "rotated-twice").await, ["in"; 3]);
    edge.shutdown.trigger();
}

#[tokio::test]
async fn a_changed_or_deleted_channel_is_seen_once_the_change_is_heard() {
    let edge = spawn_edge(&[]).await;
    wait_until_cached(&edge, MERCHANT, SECRET, Some(CHANNEL)).await;

    // A change that makes the channel fit works at once, even unheard: a cached channel that
    // does not fit is read again.
    unheard(&edge, async |c| {
        sqlx::query("UPDATE edge.channels SET currency = 'EUR' WHERE id = $1")
            .bind(CHANNEL)
            .execute(c)
            .await
            .unwrap();
    })
    .await;
    assert_eq!(pay(&edge, MERCHANT, SECRET, CHANNEL, "EUR").await, "fits");

    // A change that takes something away is seen once heard (until then the cached EUR
    // one-time channel would still fit).
    set_channel(&edge.pool, MERCHANT, "subscription", "EUR").await;
    eventually("the channel's new kind is seen", "wrong kind", || {
        pay(&edge, MERCHANT, SECRET, CHANNEL, "EUR")
    })
    .await;
    set_channel(&edge.pool, MERCHANT, "one_time", "PLN").await;
    assert_eq!(pay(&edge, MERCHANT, SECRET, CHANNEL, "PLN").await, "fits");
    wait_until_cached(&edge, MERCHANT, SECRET, Some(CHANNEL)).await;
    set_channel(&edge.pool, MERCHANT, "one_time", "EUR").await;
    eventually(
        "the channel's new currency is seen",
        "wrong currency",
        || pay(&edge, MERCHANT, SECRET, CHANNEL, "PLN"),
    )
    .await;

    // Deleted.
    set_channel(&edge.pool, MERCHANT, "one_time", "PLN").await;
    wait_until_cached(&edge, MERCHANT, SECRET, Some(CHANNEL)).await;
    sqlx::query("DELETE FROM edge.channels WHERE id = $1")
        .bind(CHANNEL)
        .execute(&edge.pool)
        .await
        .unwrap();
    eventually("the deleted channel is gone", "no channel", || {
        pay(&edge, MERCHANT, SECRET, CHANNEL, "PLN")
    })
    .await;
    edge.shutdown.trigger();
}

#[tokio::test]
async fn what_is_cached_for_one_merchant_is_never_served_to_another() {
    let edge = spawn_edge(&[]).await;
    wait_until_cached(&edge, MERCHANT, SECRET, Some(CHANNEL)).await;
    wait_until_cached(&edge, OTHER, OTHER_SECRET, None).await;

    // Merchant 1's channel, in memory, is not merchant 2's; nor are merchant 1's credentials.
    assert_eq!(
        pay(&edge, OTHER, OTHER_SECRET, CHANNEL, "PLN").await,
        "no channel"
    );
    assert_eq!(
        signs_in(&edge, OTHER, SECRET).await,
        ["unauthorized", "in", "unauthorized"]
    );
    tables_away(&edge, true).await;
    // With the tables away: merchant 2 is served its own credentials from memory, but asks the
    // database for channel (m-2, c-1), which it is never given from merchant 1's entry.
    assert_eq!(
        pay(&edge, OTHER, OTHER_SECRET, CHANNEL, "PLN").await,
        "database"
    );
    assert_eq!(pay(&edge, MERCHANT, SECRET, CHANNEL, "PLN").await, "fits");
    tables_away(&edge, false).await;

    // The channel moves to merchant 2: once heard, merchant 1 no longer has it, merchant 2 does.
    set_channel(&edge.pool, OTHER, "one_time", "PLN").await;
    eventually(
        "the moved channel is merchant 2's",
        ("no channel", "fits"),
        || async {
            (
                pay(&edge, MERCHANT, SECRET, CHANNEL, "PLN").await,
                pay(&edge, OTHER, OTHER_SECRET, CHANNEL, "PLN").await,
            )
        },
    )
    .await;
    edge.shutdown.trigger();
}

#[tokio::test]
async fn while_its_listener_is_gone_nothing_is_served_from_memory() {
    let edge = spawn_edge(&[]).await;
    wait_until_cached(&edge, MERCHANT, SECRET, Some(CHANNEL)).await;
    // The server ends the listener's session (the notifications of the gap would be lost).
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_one(&edge.pool)
    .await
    .unwrap();
    assert_eq!(killed, 1, "one listener session");
    eventually("memory is not trusted", ["database"; 3], || async {
        tables_away(&edge, true).await;
        let signed = signs_in(&edge, MERCHANT, SECRET).await;
        tables_away(&edge, false).await;
        signed
    })
    .await;
    // It connects again, on a connection of its own, and serves again.
    wait_until_cached(&edge, MERCHANT, SECRET, Some(CHANNEL)).await;
    set_channel(&edge.pool, MERCHANT, "one_time", "EUR").await;
    eventually("a change is heard again", "wrong currency", || {
        pay(&edge, MERCHANT, SECRET, CHANNEL, "PLN")
    })
    .await;
    edge.shutdown.trigger();
}
