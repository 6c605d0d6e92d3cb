//! Test orders (`provider_fields["test"] = "true"`) are accounted in a test book that never
//! mixes with the live one: balances, statements and totals are per book, read over gRPC with
//! `test`, and debits equal credits in each book and currency.

use crate::helpers::{dead_letter_reason, payment, pln, recurring, spawn_app, test_order, TestApp};
use paysys_proto::Event;
use std::collections::BTreeMap;

/// Debits equal credits in every (book, currency), straight from the entries table.
async fn assert_every_book_balances(app: &TestApp) -> BTreeMap<(String, String), (i64, i64)> {
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT book, currency, SUM(debit)::BIGINT, SUM(credit)::BIGINT
         FROM entries GROUP BY book, currency ORDER BY book, currency",
    )
    .fetch_all(&app.pool)
    .await
    .expect("sum the entries");
    let mut sums = BTreeMap::new();
    for (book, currency, debits, credits) in rows {
        assert_eq!(debits, credits, "book {book} unbalanced in {currency}");
        sums.insert((book, currency.trim().to_string()), (debits, credits));
    }
    sums
}

#[tokio::test]
async fn a_test_charge_and_a_live_charge_of_one_merchant_land_in_different_books() {
    let app = spawn_app().await;
    let live = payment("1", "live-1", "1000014896266637", 1000);
    let test = test_order(payment("1", "test-1", "1000014896266638", 500));
    app.publish(&[live, test.clone()]).await;
    app.wait_consumed(&test).await;

    // The live book: the live order only, with the balances of its 1000 grosz alone.
    let statement = app.wait_statement("1", 1).await;
    let orders: Vec<(&str, bool)> = statement
        .iter()
        .map(|c| (c.order_id.as_str(), c.test))
        .collect();
    assert_eq!(orders, [("live-1", false)], "{statement:?}");
    let balances = app.balances("1").await;
    assert_eq!(balances.len(), 3, "{balances:?}");
    assert_eq!(balances[&pln("provider_receivable:mobiltek")], 1000);
    assert_eq!(balances[&pln("merchant_payable:1")], 970);
    assert_eq!(balances[&pln("platform_fee_revenue")], 30);
    assert_eq!(
        app.totals().await,
        BTreeMap::from([("PLN".into(), (1000, 1000))])
    );

    // `test` over gRPC: the test book, the test order only, the same chart of accounts.
    let statement = app.wait_statement_of("1", true, 1).await;
    assert_eq!(statement.len(), 1, "{statement:?}");
    let c = &statement[0];
    assert_eq!(
        (c.order_id.as_str(), c.amount, c.status.as_str(), c.test),
        ("test-1", 500, "posted", true)
    );
    let balances = app.balances_of("1", true).await;
    assert_eq!(balances.len(), 3, "{balances:?}");
    assert_eq!(balances[&pln("provider_receivable:mobiltek")], 500);
    assert_eq!(balances[&pln("merchant_payable:1")], 485);
    assert_eq!(balances[&pln("platform_fee_revenue")], 15);
    assert_eq!(
        app.totals_of(true).await,
        BTreeMap::from([("PLN".into(), (500, 500))])
    );

    // An order's history says which book it is in.
    let history = app.order_charges("1", "test-1").await;
    assert_eq!(history.len(), 1);
    assert!(history[0].test);
    assert!(!app.order_charges("1", "live-1").await[0].test);

    let sums = assert_every_book_balances(&app).await;
    assert_eq!(sums[&("live".into(), "PLN".into())], (1000, 1000));
    assert_eq!(sums[&("test".into(), "PLN".into())], (500, 500));
    app.stop().await;
}

#[tokio::test]
async fn a_test_charge_posts_once_in_its_book_however_often_it_is_delivered() {
    let app = spawn_app().await;
    let original = test_order(payment("1", "test-1", "777", 1000));
    // The provider re-notified: the same charge under a new event id.
    let replayed = test_order(payment("1", "test-1", "777", 1000));
    // The provider's live environment numbers its charges apart: the same number there is
    // another charge, in the live book.
    let live = payment("1", "live-1", "777", 2000);
    app.publish(&[
        original.clone(),
        original.clone(),
        replayed.clone(),
        live.clone(),
    ])
    .await;
    for e in [&original, &replayed, &live] {
        app.wait_consumed(e).await;
    }

    let test = app.statement_of("1", true).await;
    let orders: Vec<&str> = test.iter().map(|c| c.order_id.as_str()).collect();
    assert_eq!(orders, ["test-1"], "{test:?}");
    let live_statement = app.statement("1").await;
    let orders: Vec<&str> = live_statement.iter().map(|c| c.order_id.as_str()).collect();
    assert_eq!(orders, ["live-1"], "{live_statement:?}");
    assert_eq!(app.totals_of(true).await["PLN"], (1000, 1000));
    assert_eq!(app.totals().await["PLN"], (2000, 2000));
    let transfers: i64 = sqlx::query_scalar("SELECT count(*) FROM transfers WHERE book = 'test'")
        .fetch_one(&app.pool)
        .await
        .expect("count test transfers");
    assert_eq!(transfers, 1);
    app.stop().await;
}

#[tokio::test]
async fn debits_equal_credits_per_book_and_currency() {
    let app = spawn_app().await;
    let in_eur = |e: Event| Event {
        currency: "EUR".into(),
        provider: "mocopay".into(),
        ..e
    };
    let batch = vec![
        payment("50", "live-pln", "c-1", 1000),
        in_eur(payment("50", "live-eur", "c-2", 999)),
        test_order(payment("50", "test-pln", "c-3", 250)),
        test_order(in_eur(payment("50", "test-eur", "c-4", 199))),
        test_order(recurring("50", "test-sub", 1, 333, true)),
        // A failed test charge is recorded in the test book, never posted.
        test_order(recurring("50", "test-sub", 2, 333, false)),
    ];
    app.publish(&batch).await;
    for e in &batch {
        app.wait_consumed(e).await;
    }

    assert_eq!(
        app.totals().await,
        BTreeMap::from([("EUR".into(), (999, 999)), ("PLN".into(), (1000, 1000))])
    );
    assert_eq!(
        app.totals_of(true).await,
        BTreeMap::from([("EUR".into(), (199, 199)), ("PLN".into(), (583, 583))])
    );
    let sums = assert_every_book_balances(&app).await;
    assert_eq!(sums.len(), 4, "{sums:?}");

    let test = app.balances_of("50", true).await;
    assert_eq!(test[&pln("merchant_payable:50")], (250 - 7) + (333 - 9));
    assert_eq!(test[&("merchant_payable:50".into(), "EUR".into())], 199 - 5);
    let live = app.balances("50").await;
    assert_eq!(live[&pln("merchant_payable:50")], 970);
    assert_eq!(
        live[&("merchant_payable:50".into(), "EUR".into())],
        999 - 29
    );

    let history = app.order_charges("50", "test-sub").await;
    let seen: Vec<(u32, &str, bool)> = history
        .iter()
        .map(|c| (c.sequence, c.status.as_str(), c.test))
        .collect();
    assert_eq!(seen, [(1, "posted", true), (2, "failed", true)]);
    assert_eq!(app.statement_of("50", true).await.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn the_database_keeps_every_line_in_the_book_of_its_transfer() {
    let app = spawn_app().await;
    let mut tx = app.pool.begin().await.expect("begin");
    let id = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO transfers (id, event_id, charge_id, provider, merchant_id, order_id, channel_id,
                                kind, sequence, amount_minor, fee_minor, currency, occurred_at, book)
         VALUES ($1, $1, 'c-1', 'mobiltek', '1', 'o-1', '18912', 'one_time', 0, 1000, 30, 'PLN', now(), 'live')",
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .expect("insert a live transfer");
    // Balanced, but the lines claim the test book.
    let err = sqlx::query(
        "INSERT INTO entries (transfer_id, account, debit, credit, currency, book) VALUES
         ($1, 'provider_receivable:mobiltek', 1000, 0, 'PLN', 'test'),
         ($1, 'merchant_payable:1', 0, 1000, 'PLN', 'test')",
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .expect_err("lines outside their transfer's book are refused");
    assert!(err.to_string().contains("entries_transfer_book"), "{err}");
    drop(tx);
    assert!(app.totals().await.is_empty());
    assert!(app.totals_of(true).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_unreadable_test_mark_is_dead_lettered_not_guessed() {
    let app = spawn_app().await;
    let mut unclear = payment("1", "unclear", "c-unclear", 1000);
    unclear
        .provider_fields
        .insert("test".into(), "perhaps".into());
    let good = test_order(payment("1", "test-good", "c-good", 1000));
    app.publish(&[unclear.clone(), good.clone()]).await;

    let charges = app.wait_statement_of("1", true, 1).await;
    let orders: Vec<&str> = charges.iter().map(|c| c.order_id.as_str()).collect();
    assert_eq!(orders, ["test-good"]);
    let id = uuid::Uuid::parse_str(&unclear.event_id).expect("event id");
    assert_eq!(dead_letter_reason(&app.settings, id).await, "rejected");
    assert!(app.statement("1").await.is_empty());
    app.stop().await;
}
