//! A subscription's charges: each successful one is posted as a recurring charge, a failed one
//! is only recorded, and the order's history shows both by sequence.

use crate::helpers::{payment, pln, recurring, spawn_app};

#[tokio::test]
async fn subscription_charges_and_a_failure_make_the_order_history() {
    let app = spawn_app().await;
    // 999 grosz at 3 % is a fee of 29.97, rounded down to 29.
    let charges = [
        recurring("34801", "sub-1", 1, 999, true),
        recurring("34801", "sub-1", 2, 999, true),
        recurring("34801", "sub-1", 3, 999, false),
        recurring("34801", "sub-1", 4, 999, true),
    ];
    // A one-time payment of the same merchant is not part of the subscription's history.
    let other_order = payment("34801", "one-off", "777", 1000);
    let mut batch = charges.to_vec();
    batch.push(other_order.clone());
    app.publish(&batch).await;
    app.wait_consumed(&other_order).await;

    let statement = app.wait_statement("34801", 4).await;
    let recurring: Vec<(u32, &str, i64)> = statement
        .iter()
        .filter(|c| c.order_id == "sub-1")
        .map(|c| (c.sequence, c.kind.as_str(), c.amount))
        .collect();
    assert_eq!(
        recurring,
        [
            (1, "recurring", 999),
            (2, "recurring", 999),
            (4, "recurring", 999)
        ]
    );
    assert!(statement.iter().all(|c| c.status == "posted"));

    let history = app.order_charges("34801", "sub-1").await;
    let seen: Vec<(u32, &str)> = history
        .iter()
        .map(|c| (c.sequence, c.status.as_str()))
        .collect();
    assert_eq!(
        seen,
        [(1, "posted"), (2, "posted"), (3, "failed"), (4, "posted")]
    );
    assert_eq!(history[2].charge_id, "sub-1-charge-3");
    assert!(history
        .iter()
        .all(|c| c.kind == "recurring" && c.amount == 999));

    let balances = app.balances("34801").await;
    assert_eq!(
        balances[&pln("provider_receivable:mobiltek")],
        3 * 999 + 1000
    );
    assert_eq!(
        balances[&pln("merchant_payable:34801")],
        3 * (999 - 29) + 970
    );
    assert_eq!(balances[&pln("platform_fee_revenue")], 3 * 29 + 30);
    app.assert_balanced().await;
    app.stop().await;
}
