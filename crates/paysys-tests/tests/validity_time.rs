//! Seed 001's `payment.validity_time`: a payment not finished in time expires (the order is
//! `expired`, the merchant gets `payment_failed` with failure_reason `expired`), and money the
//! provider still reports afterwards is never lost: accounted once and notified as
//! `new_payment` with `late`.

use paysys_tests::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_payment_expires_and_late_money_is_still_accounted() {
    let sys = spawn_system().await;
    let mut p = seed_000_one_time("expiring-1");
    p["payment"]["validity_time"] = json!("1");
    let started = sys.rpc("set_transaction_sync", p).await;
    let url = started["result"]["data"]["redirect_url"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"))
        .to_string();

    let failed = sys.inbox.wait_for("1", "payment_failed", 1).await;
    let params = &failed[0].json["params"];
    assert_eq!(params["order_id"], "expiring-1");
    assert_eq!(params["additional_data"]["failure_reason"], "expired");
    let status = sys
        .rpc(
            "get_transaction_status",
            json!({"merchant_id": "1", "secret": MERCHANT_1.1, "trans_ext_id": "expiring-1"}),
        )
        .await;
    assert_eq!(status["result"]["data"]["state"], "expired", "{status}");
    assert_eq!(
        sys.statement("1", 0).await.len(),
        0,
        "nothing is posted on expiry"
    );

    // The user pays anyway, after the expiry: the money is accounted and notified, late.
    sys.complete(&url, "success").await;
    let paid = sys.inbox.wait_for("1", "new_payment", 1).await;
    assert_eq!(paid[0].json["params"]["order_id"], "expiring-1");
    assert_eq!(paid[0].json["params"]["additional_data"]["late"], "true");
    assert_eq!(sys.statement("1", 1).await.len(), 1);
    sys.assert_ledger_balanced().await;

    // A bad validity_time is named.
    let mut bad = seed_000_one_time("expiring-2");
    bad["payment"]["validity_time"] = json!("0");
    let e = sys.rpc("set_transaction_sync", bad).await;
    assert!(
        e["error"]["data"]["payment.validity_time"].is_string(),
        "{e}"
    );
    sys.stop().await;
}
