//! The seeds' requests work as written, plus the secret: seed 000's `unsubscribe` and seed 002's
//! `confirm_teleaudio_payment` carry no `merchant_id`; the secret (unique per merchant) names
//! the merchant. A wrong secret is unauthorized; a secret never reaches another merchant's order.

use paysys_tests::*;
use serde_json::{json, Value};

fn seed_002(trans_ext_id: &str) -> Value {
    json!({
        "trans_ext_id": trans_ext_id, "merchant_id": "19",
        "payment": { "channel_id": "9042", "amount": "0", "currency": "PLN", "config": {} },
        "articles": [{ "prod_id": "512", "name": "premium article", "quantity": "1", "price": "250" }],
        "customer": { "ext_id": "user-7", "email": "reader@test.pl", "phone": "48519532621" },
        "client_ip": "127.0.0.1", "secret": MERCHANT_19.1
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_requests_without_merchant_id_are_named_by_their_secret() {
    let sys = spawn_system().await;

    // Seed 000's unsubscribe, verbatim (order_ext_id, client_ip) plus the secret.
    let started = sys
        .rpc("set_subscription", seed_000_subscription("verbatim-sub"))
        .await;
    assert_eq!(started["result"]["status"], "1", "{started}");
    let unsubscribed = sys
        .rpc(
            "unsubscribe",
            json!({"order_ext_id": "verbatim-sub", "client_ip": "10.0.0.1", "secret": MERCHANT_34801.1}),
        )
        .await;
    // Seed 000: the subscription was never confirmed, so Mobiltek does not know the subscriber.
    assert_eq!(
        unsubscribed["result"],
        json!({"status": 1, "result": "ERROR\n4321:Subscriber not found", "action_type": null}),
        "{unsubscribed}"
    );

    // Seed 002's confirm_teleaudio_payment, verbatim (trans_ext_id, code) plus the secret.
    sys.rpc("set_transaction", seed_002("verbatim-wb")).await;
    let code = sys.wait_sms_code("48519532621", 1).await;
    let confirmed = sys
        .rpc(
            "confirm_teleaudio_payment",
            json!({"trans_ext_id": "verbatim-wb", "code": code, "secret": MERCHANT_19.1}),
        )
        .await;
    assert_eq!(
        confirmed["result"],
        json!({"status": "1", "result": "", "action_type": ""}),
        "{confirmed}"
    );
    let status = sys
        .rpc(
            "get_transaction_status",
            json!({"trans_ext_id": "verbatim-wb", "secret": MERCHANT_19.1}),
        )
        .await;
    assert_eq!(status["result"]["data"]["merchant_id"], "19", "{status}");

    // A wrong secret is unauthorized; merchant 1's secret does not reach merchant 19's order.
    let wrong = sys
        .rpc(
            "get_transaction_status",
            json!({"trans_ext_id": "verbatim-wb", "secret": "not-a-secret"}),
        )
        .await;
    assert_eq!(wrong["error"]["code"], -32001, "{wrong}");
    let foreign = sys
        .rpc(
            "get_transaction_status",
            json!({"trans_ext_id": "verbatim-wb", "secret": MERCHANT_1.1}),
        )
        .await;
    assert_eq!(foreign["error"]["code"], -32602, "{foreign}");
    assert!(
        foreign["error"]["data"]["trans_ext_id"].is_string(),
        "{foreign}"
    );
    // Without merchant_id and without a secret, merchant_id is required.
    let nobody = sys
        .rpc(
            "get_transaction_status",
            json!({"trans_ext_id": "verbatim-wb"}),
        )
        .await;
    assert_eq!(nobody["error"]["code"], -32602, "{nobody}");
    sys.stop().await;
}
