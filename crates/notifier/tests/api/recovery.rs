//! A notifier that dies while a merchant is answering loses nothing: the lease taken before the
//! POST keeps other notifiers off the delivery in flight, then makes it due again, and the
//! surviving notifier delivers it.

use crate::helpers::*;
use paysys_platform::events;

#[tokio::test]
async fn a_notifier_killed_mid_delivery_loses_nothing() {
    // Short request timeout and lease margin keep the lease (and this test) short.
    let opts = Options {
        request_timeout_ms: 5000,
        lease_margin_ms: 500,
        ..Options::default()
    };
    // The first delivers one notification at a time: once its only slot hangs, every other
    // delivery is the second notifier's.
    let mut first = spawn_app(&Options {
        concurrency: 1,
        ..opts.clone()
    })
    .await;
    let merchant = Merchant::start(vec![Reply::Hang], Reply::Status(200)).await;
    first.configure_merchant(MERCHANT, &merchant.url).await;

    first
        .publish(&event(events::SUBSCRIPTION_STARTED, "order-crash"))
        .await;
    merchant.wait_for(1).await;

    // A second notifier on the same database and queue leaves the leased delivery alone, and the
    // first does not send it again while it waits. Evidence that the second went over the log
    // during the lease: it delivers a later notification of another order.
    let second = spawn_app_on(first.env.clone(), &opts).await;
    second
        .publish(&event(events::SUBSCRIPTION_STARTED, "order-later"))
        .await;
    second.wait_for_status("order-later", "delivered").await;
    let crash_posts = |got: &[Received]| {
        got.iter()
            .filter(|r| r.json()["params"]["order_id"] == "order-crash")
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        crash_posts(&merchant.received()).len(),
        1,
        "no second POST during the lease"
    );

    // Crash: every task of the notifier is dropped with the request in flight.
    first.handle.abort();
    assert!((&mut first.handle).await.unwrap_err().is_cancelled());
    let leased = first
        .notification("order-crash")
        .await
        .expect("notification");
    assert_eq!(leased.status, "pending");
    assert_eq!(
        leased.attempts, 0,
        "the interrupted attempt was never recorded"
    );

    let delivered = second.wait_for_status("order-crash", "delivered").await;

    let got = crash_posts(&merchant.received());
    assert_eq!(got.len(), 2);
    assert_eq!(delivered.id, leased.id);
    assert!(got.iter().all(|r| r.header("webhook-id") == leased.id));
    assert_eq!(got[0].body, got[1].body, "the retry sends the same bytes");
    assert_eq!(
        second.attempt_statuses(&delivered.id).await,
        vec![Some(200)]
    );
    second.stop().await;
}

/// The notifier's sessions plan each statement for the log as it is (as the ledger's, whose
/// test shows the mechanism). With plans cached while the log was small, make bench's month
/// read 117 million index entries for 60,000 notifications (the lease's per-order check) and
/// took 65 s for 20,000 renewals; planned each time, 46 s and no such reads.
#[tokio::test]
async fn the_notifier_plans_each_statement_for_the_log_as_it_is() {
    let app = spawn_app(&Options::default()).await;
    let mode: String = sqlx::query_scalar("SHOW plan_cache_mode")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(mode, "force_custom_plan");
    app.stop().await;
}
