//! An event the ledger cannot account for is dead-lettered at once (not retried) and does not
//! hold up the events behind it.

use crate::helpers::{dead_letter_reason, payment, spawn_app};

#[tokio::test]
async fn a_poison_event_is_dead_lettered_and_does_not_block_the_queue() {
    let app = spawn_app().await;
    let no_charge_id = payment("1", "order-bad", "", 1000);
    let negative = payment("1", "order-neg", "c-neg", -1000);
    let good = payment("1", "order-good", "c-good", 1000);

    app.publish(&[no_charge_id.clone(), negative.clone(), good.clone()])
        .await;

    let charges = app.wait_statement("1", 1).await;
    let orders: Vec<&str> = charges.iter().map(|c| c.order_id.as_str()).collect();
    assert_eq!(orders, ["order-good"]);
    for bad in [&no_charge_id, &negative] {
        let id = uuid::Uuid::parse_str(&bad.event_id).expect("event id");
        // `rejected`, not `delivery_limit`: poison is not retried 20 times first.
        assert_eq!(dead_letter_reason(&app.settings, id).await, "rejected");
    }
    app.assert_balanced().await;
    app.stop().await;
}
