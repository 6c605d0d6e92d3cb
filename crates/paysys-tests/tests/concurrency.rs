//! Issue 11 point 6, what had no test: the same `trans_ext_id` sent concurrently, and the same
//! provider callback delivered many times at the same instant. Each must have one effect: one
//! order, one answer; one charge, one posting, one notification.

use futures::future::join_all;
use paysys_tests::*;
use serde_json::Value;
use sqlx::Connection;

const SECRET: &str = "mobiltek-sandbox-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_trans_ext_id_sent_sixteen_times_at_once_makes_one_order_and_one_answer() {
    let sys = spawn_system().await;
    let answers: Vec<Value> = join_all(
        (0..16).map(|_| sys.rpc("set_transaction_sync", seed_000_one_time("same-at-once"))),
    )
    .await;
    let first = &answers[0]["result"];
    assert_eq!(first["status"], "1", "{}", answers[0]);
    for a in &answers {
        assert_eq!(
            &a["result"], first,
            "every concurrent retry gets the one answer: {a}"
        );
    }
    let orders: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM orders WHERE merchant_id = '1' AND trans_ext_id = 'same-at-once'",
    )
    .fetch_one(&sys.edge_pool)
    .await
    .unwrap();
    assert_eq!(orders, 1);
    // The provider was asked once: one order at the adapter.
    let mut db = sqlx::PgConnection::connect(&sys.database_url)
        .await
        .unwrap();
    let at_adapter: i64 =
        sqlx::query_scalar("SELECT count(*) FROM mobiltek.orders WHERE order_id = 'same-at-once'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(at_adapter, 1);
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_callback_delivered_sixteen_times_at_the_same_instant_posts_and_notifies_once() {
    let sys = spawn_system().await;
    let resp = sys
        .rpc(
            "set_transaction_sync",
            seed_000_one_time("callback-at-once"),
        )
        .await;
    let url = resp["result"]["data"]["redirect_url"]
        .as_str()
        .expect("redirect")
        .to_string();
    let tid = url
        .split("transaction_id=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("transaction_id")
        .to_string();
    let fields = [
        ("notification_id", "n-at-once"),
        ("transaction_id", tid.as_str()),
        ("service_id", "30576"),
        ("msisdn", "48501123123"),
        ("operator_id", "26001"),
        ("type", "PAYMENT"),
        ("amount", "0.1"),
        ("charge_id", "c-at-once"),
        ("reason", ""),
        ("timestamp", "1700000000"),
    ];
    let get = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| *f == k)
            .map(|(_, v)| v.to_string())
            .unwrap_or_default()
    };
    let mut form: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    form.push((
        "hash".into(),
        provider_mobiltek::wire::notification_hash(SECRET, get),
    ));
    let notify = format!("{}/mobiltek/notify", sys.mobiltek_url);
    let statuses: Vec<u16> = join_all((0..16).map(|_| {
        let (http, notify, form) = (sys.http.clone(), notify.clone(), form.clone());
        async move {
            http.post(&notify)
                .form(&form)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    }))
    .await;
    // Every delivery is acknowledged (a duplicate is not an error to Mobiltek)...
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    // ...and, every one of them answered, applied once: one charge, one stored callback.
    let mut db = sqlx::PgConnection::connect(&sys.database_url)
        .await
        .unwrap();
    let charges: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mobiltek.charges c JOIN mobiltek.orders o USING (reference)
          WHERE o.order_id = 'callback-at-once'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(charges, 1);
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mobiltek.callbacks c JOIN mobiltek.orders o USING (reference)
          WHERE o.order_id = 'callback-at-once'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(stored, 1);
    // Downstream: one posting, one notification.
    let posted = sys.statement("1", 1).await;
    assert_eq!(posted.len(), 1, "{posted:?}");
    let got = sys.inbox.wait_for("1", "new_payment", 1).await;
    assert_eq!(got.len(), 1);
    sys.assert_ledger_balanced().await;
    sys.stop().await;
}
