//! Mobiltek notifies the adapter: a signed notification becomes exactly one PaySystem event,
//! a repeated one has no effect, an unsigned or malformed one is refused and leaves no trace.

use crate::helpers::*;

fn payment<'a>(notification_id: &'a str, transaction_id: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("notification_id", notification_id),
        ("transaction_id", transaction_id),
        ("service_id", "30576"),
        ("msisdn", "48690112325"),
        ("operator_id", "26001"),
        ("type", "PAYMENT"),
        ("amount", "0.1"),
        ("charge_id", "mt-charge-1"),
        ("reason", ""),
        ("timestamp", "1700000000"),
    ]
}

/// A PAYMENT_FAILED for another order: its event proves every earlier one was published.
async fn marker(app: &mut TestApp, order: &str) {
    let tid = app.started(seed_one_time(order)).await;
    let mut f = payment("marker", &tid);
    f[5].1 = "PAYMENT_FAILED";
    assert_eq!(app.notify(&f).await, (200, "OK".into()));
}

#[tokio::test]
async fn a_signed_payment_yields_exactly_one_payment_succeeded() {
    let mut app = spawn_app().await;
    let tid = app.started(seed_one_time("order-1")).await;

    // Forged and tampered: 401, nothing stored.
    let mut forged = signed(SECRET, &payment("n-1", &tid));
    forged.last_mut().unwrap().1 = "0".repeat(128);
    assert_eq!(app.notify_form(&forged).await.0, 401);
    let mut tampered = signed(SECRET, &payment("n-1", &tid));
    tampered[6].1 = "100".into();
    assert_eq!(app.notify_form(&tampered).await.0, 401);
    let other_key = signed("not-the-secret", &payment("n-1", &tid));
    assert_eq!(app.notify_form(&other_key).await.0, 401);
    assert_eq!(app.count("SELECT count(*) FROM callbacks").await, 0);

    // The genuine one, twice (Mobiltek resends when it missed our answer): OK both times.
    for _ in 0..2 {
        assert_eq!(app.notify(&payment("n-1", &tid)).await, (200, "OK".into()));
    }
    marker(&mut app, "marker-1").await;
    let events = app.events_until_order("marker-1").await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["payment.succeeded", "payment.failed"]);

    let e = &events[0];
    assert_eq!(
        (e.merchant_id.as_str(), e.order_id.as_str()),
        ("1", "order-1")
    );
    assert_eq!(
        (e.provider.as_str(), e.channel_id.as_str()),
        ("mobiltek", "18912")
    );
    assert_eq!((e.amount_minor, e.currency.as_str()), (10, "PLN"));
    assert_eq!((e.charge_id.as_str(), e.sequence), ("mt-charge-1", 0));
    assert_eq!(e.user_email, "tomek@test.pl");
    assert_eq!(e.provider_fields["mobiltek_msisdn"], "48690112325");
    assert_eq!(e.provider_fields["mobiltek_operator_id"], "26001");
    assert_eq!(e.provider_fields["mobiltek_notification_type"], "PAYMENT");
    assert!(uuid::Uuid::parse_str(&e.event_id).is_ok());

    let state: String = sqlx::query_scalar("SELECT state FROM orders WHERE reference = $1")
        .bind(&tid)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(state, "paid");
    app.stop().await;
}

#[tokio::test]
async fn a_subscription_lifecycle_becomes_its_events_in_order() {
    let mut app = spawn_app().await;
    let tid = app.started(seed_subscription("sub-1")).await;
    let note =
        |id: &'static str, kind: &'static str, amount: &'static str, charge: &'static str| {
            let mut f = payment(id, "");
            f[1].1 = "";
            f[3].1 = "48501123123";
            f[5].1 = kind;
            f[6].1 = amount;
            f[7].1 = charge;
            if kind == "CHARGE_FAILED" {
                f[8].1 = "insufficient funds";
            }
            f
        };
    let steps = [
        note("s-1", "REGISTRATION", "", ""),
        note("s-2", "CHARGE", "0.10", "ch-1"),
        note("s-3", "CHARGE", "0.10", "ch-2"),
        note("s-4", "CHARGE_FAILED", "0.10", "ch-3"),
        note("s-5", "UNREGISTRATION", "", ""),
    ];
    for (i, mut fields) in steps.into_iter().enumerate() {
        fields[1].1 = &tid;
        assert_eq!(app.notify(&fields).await, (200, "OK".into()), "{fields:?}");
        if i == 1 {
            // A validly signed charge of another amount than the subscription's price is not
            // believed: refused, kept as a discrepancy, no event.
            let mut dearer = note("s-2b", "CHARGE", "0.25", "ch-x");
            dearer[1].1 = &tid;
            let (status, body) = app.notify(&dearer).await;
            assert_eq!(status, 400, "{body}");
            assert!(body.contains("amount 0.25 PLN"), "{body}");
        }
    }
    assert_eq!(
        app.count(
            "SELECT count(*) FROM discrepancies WHERE claim = 'charged' AND amount_minor = 25"
        )
        .await,
        1
    );
    let mut events = Vec::new();
    for _ in 0..5 {
        events.push(app.next_event().await);
    }
    let summary: Vec<(&str, u32, i64, &str)> = events
        .iter()
        .map(|e| {
            (
                e.kind.as_str(),
                e.sequence,
                e.amount_minor,
                e.charge_id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("subscription.started", 0, 10, ""),
            ("subscription.charged", 1, 10, "ch-1"),
            ("subscription.charged", 2, 10, "ch-2"),
            ("subscription.charge_failed", 3, 10, "ch-3"),
            ("subscription.cancelled", 0, 10, ""),
        ]
    );
    assert_eq!(events[3].failure_reason, "insufficient funds");
    assert!(events
        .iter()
        .all(|e| e.order_id == "sub-1" && e.merchant_id == "34801"));
    assert_eq!(
        events[0].provider_fields["mobiltek_notification_type"],
        "REGISTRATION"
    );
    let (state, charges): (String, i32) =
        sqlx::query_as("SELECT state, charges_count FROM orders WHERE reference = $1")
            .bind(&tid)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), charges), ("cancelled", 2));
    app.stop().await;
}

#[tokio::test]
async fn malformed_or_misdirected_notifications_are_refused_with_a_reason() {
    let mut app = spawn_app().await;
    let tid = app.started(seed_one_time("order-2")).await;

    let unknown = payment("u-1", "9999999999999999");
    let (status, body) = app.notify(&unknown).await;
    assert_eq!(status, 404);
    assert!(body.contains("transaction_id"), "{body}");

    let mut no_amount = payment("u-2", &tid);
    no_amount[6].1 = "";
    let (status, body) = app.notify(&no_amount).await;
    assert_eq!(status, 400);
    assert!(body.contains("amount"), "{body}");

    // A float-looking amount is not rounded: more than two decimals is refused.
    let mut fractional = payment("u-3", &tid);
    fractional[6].1 = "0.105";
    assert_eq!(app.notify(&fractional).await.0, 400);

    // A subscription notification for a one-time payment.
    let mut wrong_kind = payment("u-4", &tid);
    wrong_kind[5].1 = "CHARGE";
    let (status, body) = app.notify(&wrong_kind).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("charged callback does not apply to a one-time payment"),
        "{body}"
    );

    // Only the misfit was recorded, as refused, and kept for operators.
    assert_eq!(
        app.count("SELECT count(*) FROM callbacks WHERE outcome = 'applied'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM discrepancies WHERE dedup_key = 'u-4'")
            .await,
        1
    );
    marker(&mut app, "marker-2").await;
    let events = app.events_until_order("marker-2").await;
    assert_eq!(
        events.len(),
        1,
        "refused notifications caused events: {events:?}"
    );
    app.stop().await;
}
