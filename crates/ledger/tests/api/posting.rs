//! A successful one-time payment becomes exactly one balanced transfer, however many times and
//! under however many event ids the provider's charge arrives.

use crate::helpers::{payment, pln, spawn_app};

#[tokio::test]
async fn a_one_time_payment_posts_one_balanced_transfer() {
    let app = spawn_app().await;

    app.publish(&[payment("1", "order-1", "1000014896266637", 1000)])
        .await;

    let charges = app.wait_statement("1", 1).await;
    assert_eq!(charges.len(), 1);
    let c = &charges[0];
    assert_eq!(
        (
            c.order_id.as_str(),
            c.amount,
            c.currency.as_str(),
            c.kind.as_str()
        ),
        ("order-1", 1000, "PLN", "one_time")
    );
    assert_eq!(
        (c.sequence, c.provider.as_str(), c.status.as_str()),
        (0, "mobiltek", "posted")
    );
    assert_eq!(c.charge_id, "1000014896266637");
    assert!(
        chrono::DateTime::parse_from_rfc3339(&c.occurred_at).is_ok(),
        "{}",
        c.occurred_at
    );

    let balances = app.balances("1").await;
    assert_eq!(balances.len(), 3, "{balances:?}");
    assert_eq!(balances[&pln("provider_receivable:mobiltek")], 1000);
    assert_eq!(balances[&pln("merchant_payable:1")], 970);
    assert_eq!(balances[&pln("platform_fee_revenue")], 30);
    assert_eq!(app.totals().await["PLN"], (1000, 1000));
    app.stop().await;
}

#[tokio::test]
async fn a_charge_posts_once_however_often_it_is_delivered() {
    let app = spawn_app().await;
    let original = payment("1", "order-1", "1000014896266637", 1000);
    // The provider re-notified: the adapter published the same charge under a new event id.
    let replayed = payment("1", "order-1", "1000014896266637", 1000);
    // Another provider may use the same number for a charge of its own: a different charge.
    let elsewhere = paysys_proto::Event {
        provider: "teleaudio".into(),
        ..payment("1", "order-2", "1000014896266637", 500)
    };

    app.publish(&[
        original.clone(),
        original.clone(),
        replayed.clone(),
        elsewhere.clone(),
    ])
    .await;
    app.wait_consumed(&original).await;
    app.wait_consumed(&replayed).await;
    app.wait_consumed(&elsewhere).await;

    let charges = app.statement("1").await;
    let orders: Vec<&str> = charges.iter().map(|c| c.order_id.as_str()).collect();
    assert_eq!(orders, ["order-1", "order-2"], "{charges:?}");
    let balances = app.balances("1").await;
    assert_eq!(balances[&pln("provider_receivable:mobiltek")], 1000);
    assert_eq!(balances[&pln("provider_receivable:teleaudio")], 500);
    assert_eq!(balances[&pln("merchant_payable:1")], 970 + 485);
    assert_eq!(balances[&pln("platform_fee_revenue")], 30 + 15);
    assert_eq!(app.totals().await["PLN"], (1500, 1500));
    app.stop().await;
}

#[tokio::test]
async fn the_database_refuses_an_unbalanced_transfer() {
    let app = spawn_app().await;
    let mut tx = app.pool.begin().await.expect("begin");
    let id = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO transfers (id, event_id, charge_id, provider, merchant_id, order_id, channel_id,
                                kind, sequence, amount_minor, fee_minor, currency, occurred_at)
         VALUES ($1, $1, 'c-1', 'mobiltek', '1', 'o-1', '18912', 'one_time', 0, 1000, 30, 'PLN', now())",
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .expect("insert transfer");
    // The fee line is missing: 1000 debited, 970 credited.
    sqlx::query(
        "INSERT INTO entries (transfer_id, account, debit, credit, currency) VALUES
         ($1, 'provider_receivable:mobiltek', 1000, 0, 'PLN'), ($1, 'merchant_payable:1', 0, 970, 'PLN')",
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .expect("insert entries");
    let err = tx.commit().await.expect_err("the commit is refused");
    assert!(err.to_string().contains("unbalanced"), "{err}");
    assert!(app.totals().await.is_empty());
    app.stop().await;
}

/// Issue 11: the balance rule holds per currency. A transfer whose PLN debit is "balanced" by a
/// RON credit, or a line in another currency than its transfer, is refused at commit.
#[tokio::test]
async fn the_database_refuses_lines_that_balance_only_across_currencies() {
    let app = spawn_app().await;
    let insert_transfer = |id: uuid::Uuid, currency: &'static str| {
        sqlx::query(
            "INSERT INTO transfers (id, event_id, charge_id, provider, merchant_id, order_id, channel_id,
                                    kind, sequence, amount_minor, fee_minor, currency, occurred_at)
             VALUES ($1, $1, $1::text, 'mobiltek', '1', 'o-1', '18912', 'one_time', 0, 1000, 0, $2, now())",
        )
        .bind(id)
        .bind(currency)
    };

    // A line in another currency than its transfer's.
    let mut tx = app.pool.begin().await.unwrap();
    let id = uuid::Uuid::now_v7();
    insert_transfer(id, "PLN").execute(&mut *tx).await.unwrap();
    let err = sqlx::query(
        "INSERT INTO entries (transfer_id, account, debit, credit, currency) VALUES
         ($1, 'provider_receivable:mobiltek', 1000, 0, 'PLN'), ($1, 'merchant_payable:1', 0, 1000, 'RON')",
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .expect_err("a RON line in a PLN transfer");
    assert!(
        err.to_string().contains("entries_transfer_currency"),
        "{err}"
    );
    drop(tx);

    // Mixed PLN and RON transfers each balanced: accepted, and the totals balance per currency.
    let mut tx = app.pool.begin().await.unwrap();
    for (currency, amount) in [("PLN", 1000i64), ("RON", 1234)] {
        let id = uuid::Uuid::now_v7();
        insert_transfer(id, currency)
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO entries (transfer_id, account, debit, credit, currency) VALUES
             ($1, 'provider_receivable:mobiltek', $2, 0, $3), ($1, 'merchant_payable:1', 0, $2, $3)",
        )
        .bind(id)
        .bind(amount)
        .bind(currency)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.expect("balanced per currency");
    let totals = app.totals().await;
    assert_eq!(totals.get("PLN"), Some(&(1000, 1000)), "{totals:?}");
    assert_eq!(totals.get("RON"), Some(&(1234, 1234)), "{totals:?}");
    app.stop().await;
}

/// The ledger's sessions plan each statement for the books as they are. PostgreSQL caches a
/// statement's generic plan; one cached while the books were small (a fresh database, before
/// autoanalyze) kept the foreign-key checks of every posting scanning the transfers once they
/// had grown. Here a lookup like those checks is prepared and run while the table is small,
/// the table then grows without new statistics, and the plan must still find a transfer by id.
#[tokio::test]
async fn a_statement_prepared_while_the_books_were_small_still_finds_a_transfer_by_id() {
    let app = spawn_app().await;
    let mut conn = app.pool.acquire().await.expect("a ledger session");
    sqlx::raw_sql("ALTER TABLE transfers SET (autovacuum_enabled = false)")
        .execute(&mut *conn)
        .await
        .unwrap();
    let grow = |from: i32, to: i32| {
        format!(
            "INSERT INTO transfers (id, event_id, charge_id, provider, merchant_id, order_id, channel_id,
                                    kind, sequence, amount_minor, fee_minor, currency, occurred_at)
             SELECT gen_random_uuid(), gen_random_uuid(), 'c-' || i, 'mobiltek', '1', 'o-' || i, '18912',
                    'one_time', 0, 1000, 30, 'PLN', now()
             FROM generate_series({from}, {to}) i"
        )
    };
    sqlx::raw_sql(&format!("{}; ANALYZE transfers", grow(1, 200)))
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::raw_sql(
        "PREPARE by_id(uuid, text) AS
             SELECT 1 FROM ONLY transfers x WHERE id = $1 AND book = $2 FOR KEY SHARE OF x",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    for _ in 0..8 {
        sqlx::raw_sql("EXECUTE by_id(gen_random_uuid(), 'live')")
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    sqlx::raw_sql(&grow(201, 30_000))
        .execute(&mut *conn)
        .await
        .unwrap();
    let plan: Vec<String> =
        sqlx::query_scalar("EXPLAIN EXECUTE by_id('00000000-0000-0000-0000-000000000000', 'live')")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    let plan = plan.join("\n");
    assert!(
        plan.contains("Index Scan using transfers_pkey")
            || plan.contains("Index Scan using transfers_id_book"),
        "a transfer is not found by its id in 30,000:\n{plan}"
    );
    drop(conn);
    app.stop().await;
}
