//! A merchant's balances and statement show its own charges only, while the totals cover all.

use crate::helpers::{payment, pln, spawn_app};

#[tokio::test]
async fn a_merchant_sees_only_its_own_charges() {
    let app = spawn_app().await;
    let a = payment("merchant-a", "a-1", "charge-a", 1000);
    let b = payment("merchant-b", "b-1", "charge-b", 5000);
    app.publish(&[a, b.clone()]).await;
    app.wait_consumed(&b).await;

    let statement_a = app.wait_statement("merchant-a", 1).await;
    assert_eq!(statement_a.len(), 1, "{statement_a:?}");
    assert_eq!(
        (statement_a[0].order_id.as_str(), statement_a[0].amount),
        ("a-1", 1000)
    );
    let balances_a = app.balances("merchant-a").await;
    assert_eq!(balances_a.len(), 3, "{balances_a:?}");
    assert_eq!(balances_a[&pln("provider_receivable:mobiltek")], 1000);
    assert_eq!(balances_a[&pln("merchant_payable:merchant-a")], 970);
    assert_eq!(balances_a[&pln("platform_fee_revenue")], 30);

    let balances_b = app.balances("merchant-b").await;
    assert_eq!(balances_b[&pln("provider_receivable:mobiltek")], 5000);
    assert!(!balances_b.contains_key(&pln("merchant_payable:merchant-a")));
    assert!(app.order_charges("merchant-b", "a-1").await.is_empty());
    assert!(app.statement("merchant-c").await.is_empty());

    assert_eq!(app.totals().await["PLN"], (6000, 6000));
    app.stop().await;
}

#[tokio::test]
async fn queries_name_a_missing_field() {
    let app = spawn_app().await;
    let err = app
        .grpc()
        .await
        .subscription_charges(paysys_proto::SubscriptionChargesRequest {
            merchant_id: "34801".into(),
            order_id: String::new(),
        })
        .await
        .expect_err("an empty order_id is refused");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("order_id"), "{}", err.message());
    app.stop().await;
}
