//! Seeds 001 and 002 end to end: a Teleaudio subscription renewed by Teleaudio until cancelled,
//! and webbilling: an asynchronous `set_transaction`, the SMS code, `confirm_teleaudio_payment`
//! with the seed's exact answers. And the independence of adapters: with provider-teleaudio
//! down, Mobiltek keeps working and Teleaudio orders are still accepted, then processed once.

use paysys_tests::*;
use serde_json::{json, Value};

const PHONE: &str = "48519532621";
/// provider-teleaudio's command queue (without the test system's prefix).
const COMMANDS: &str = "provider.teleaudio.commands";

/// Seed 001's request, verbatim, with the merchant's secret.
fn seed_001(trans_ext_id: &str) -> Value {
    json!({
        "trans_ext_id": trans_ext_id, "merchant_id": "19", "invoice_required": false,
        "payment": { "channel_id": "9041", "amount": "0", "currency": "PLN" },
        "articles": [{ "prod_id": "511", "sap_index": "45000437", "vat_rate": "23", "name": "test product", "quantity": "1", "price": "100",
            "config": [{ "name": "teleaudio_service_id", "value": "511" }] }],
        "customer": { "ext_id": "1234qwera", "name": "test", "firstname": "tester", "lastname": "testowski", "email": "test@test.pl",
            "street": "blotna", "city": "krakow", "phone": PHONE, "postcode": "31-620" },
        "test": "True", "next_url": "https://sympatia.onet.pl", "secret": MERCHANT_19.1
    })
}

/// Seed 002's `set_transaction`: the webbilling channel, phone required.
fn seed_002(trans_ext_id: &str) -> Value {
    json!({
        "trans_ext_id": trans_ext_id, "merchant_id": "19",
        "payment": { "channel_id": "9042", "amount": "0", "currency": "PLN", "config": {} },
        "articles": [{ "prod_id": "512", "name": "premium article", "quantity": "1", "price": "250" }],
        "customer": { "ext_id": "user-7", "email": "reader@test.pl", "phone": PHONE },
        "client_ip": "127.0.0.1", "secret": MERCHANT_19.1
    })
}

async fn confirm(sys: &TestSystem, order: &str, code: &str) -> Value {
    sys.rpc(
        "confirm_teleaudio_payment",
        json!({"merchant_id": "19", "secret": MERCHANT_19.1, "trans_ext_id": order, "code": code}),
    )
    .await
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_001_subscription_is_renewed_by_teleaudio_until_unsubscribed() {
    let sys = spawn_system().await;
    // The channel's service is the operator's: an article naming another one is refused.
    let mut other_service = seed_001("test_sym_tele_subs_other");
    other_service["articles"][0]["config"] =
        json!([{ "name": "teleaudio_service_id", "value": "99999" }]);
    let e = sys.rpc("set_subscription", other_service).await;
    assert_eq!(e["error"]["code"], -32602, "{e}");
    assert!(
        e["error"]["data"]["articles[0].config.teleaudio_service_id"].is_string(),
        "{e}"
    );
    assert_eq!(sys.order_count().await, 0);
    let order = "test_sym_tele_subs_11";
    let resp = sys.rpc("set_subscription", seed_001(order)).await;
    assert_eq!(resp["result"]["status"], "1", "{resp}");
    let url = resp["result"]["data"]["redirect_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(url.contains("/teleaudio/confirm/"), "{url}");
    assert_eq!(sys.http.get(&url).send().await.unwrap().status(), 200);
    sys.complete(&url, "success").await;
    let start = sys.inbox.wait_for("19", "subscription_start", 1).await;
    verify_standard_webhooks(&start[0], MERCHANT_19.2);
    assert_eq!(
        start[0].json["params"]["additional_data"]["teleaudio_service_id"],
        "511"
    );
    sys.inbox
        .wait_for("19", "subscription_charge_success", 1)
        .await;
    sys.advance(2_592_000).await;
    sys.advance(2_592_000).await;
    let charges = sys
        .inbox
        .wait_for("19", "subscription_charge_success", 3)
        .await;
    assert!(charges.iter().all(|c| c.json["params"]["amount"] == "100"));
    // Seed 001 sends "test": "True": its charges are in the test book, none in the live one.
    let statement = sys.statement_of_book("19", true, 3).await;
    assert!(sys.statement("19", 0).await.is_empty());
    let mut seqs: Vec<u32> = statement.iter().map(|c| c.sequence).collect();
    seqs.sort();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert!(statement
        .iter()
        .all(|c| c.provider == "teleaudio" && c.kind == "recurring" && c.amount == 100));

    let un = sys.rpc("unsubscribe", json!({"merchant_id": "19", "secret": MERCHANT_19.1, "order_ext_id": order, "client_ip": "10.0.0.1"})).await;
    assert_eq!(un["result"]["status"], 1, "{un}");
    let answer: Value = serde_json::from_str(un["result"]["result"].as_str().unwrap())
        .expect("Teleaudio's answer, verbatim");
    assert_eq!(answer["status"], "OK");
    sys.inbox.wait_for("19", "subscription_cancel", 1).await;
    // Teleaudio (the sandbox, which delivers what falls due before it answers) charged nothing
    // in three more periods.
    let adv = sys.advance(3 * 2_592_000).await;
    assert_eq!(adv["charges"], 0, "{adv}");
    assert_eq!(sys.inbox.of("19", "subscription_charge_success").len(), 3);
    sys.assert_ledger_balanced().await;
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_002_webbilling_is_accepted_at_once_and_confirmed_with_the_sms_code() {
    let sys = spawn_system().await;
    // The phone is required up front, and nothing is stored without it.
    let mut no_phone = seed_002("wb-0");
    no_phone["customer"]
        .as_object_mut()
        .unwrap()
        .remove("phone");
    let e = sys.rpc("set_transaction", no_phone).await;
    assert_eq!(e["error"]["code"], -32602);
    assert!(e["error"]["data"]["customer.phone"].is_string(), "{e}");
    assert_eq!(sys.order_count().await, 0);

    // The webbilling channel is asynchronous and code-confirmed: set_transaction_sync is refused,
    // no SMS is sent and nothing is stored.
    let sync = sys.rpc("set_transaction_sync", seed_002("wb-sync")).await;
    assert_eq!(sync["error"]["code"], -32602, "{sync}");
    assert!(
        sync["error"]["data"]["payment.channel_id"]
            .as_str()
            .unwrap_or("")
            .contains("use set_transaction"),
        "{sync}"
    );
    assert_eq!(sys.order_count().await, 0);

    let accepted = sys.rpc("set_transaction", seed_002("wb-1")).await;
    assert_eq!(accepted["result"]["status"], "1", "{accepted}");
    // An identical retry is the same acceptance, not a second payment.
    assert_eq!(
        sys.rpc("set_transaction", seed_002("wb-1")).await["result"],
        accepted["result"]
    );
    let code = sys.wait_sms_code(PHONE, 1).await;

    // Seed 002's exact answers.
    assert_eq!(
        confirm(&sys, "wb-1", &wrong(&code)).await["result"],
        json!({"status": "-1", "result": "400 - BADTOKEN", "action_type": ""})
    );
    assert_eq!(
        confirm(&sys, "nope", &code).await["result"],
        json!({"status": "-1", "result": "400 - BADTRANSACTION", "action_type": ""})
    );
    assert_eq!(
        confirm(&sys, "wb-1", &code).await["result"],
        json!({"status": "1", "result": "", "action_type": ""})
    );
    let paid = sys.inbox.wait_for("19", "new_payment", 1).await;
    assert_eq!(paid[0].json["params"]["amount"], "250");
    assert_eq!(paid[0].json["params"]["order_id"], "wb-1");
    assert_eq!(sys.statement("19", 1).await.len(), 1);
    // One SMS for one payment, whatever was retried.
    assert_eq!(sys.sms(PHONE).await.len(), 1);
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_third_wrong_code_fails_the_payment_for_good() {
    let sys = spawn_system().await;
    sys.rpc("set_transaction", seed_002("wb-3")).await;
    let code = sys.wait_sms_code(PHONE, 1).await;
    let bad = wrong(&code);
    assert_eq!(
        confirm(&sys, "wb-3", &bad).await["result"]["result"],
        "400 - BADTOKEN"
    );
    assert_eq!(
        confirm(&sys, "wb-3", &bad).await["result"]["result"],
        "400 - BADTOKEN"
    );
    assert_eq!(
        confirm(&sys, "wb-3", &bad).await["result"],
        json!({"status": "-1", "result": "400 - TRYEXCEEDED", "action_type": ""})
    );
    // For good: even the right code no longer pays.
    assert_eq!(confirm(&sys, "wb-3", &code).await["result"]["status"], "-1");
    let failed = sys.inbox.wait_for("19", "payment_failed", 1).await;
    assert_eq!(
        failed[0].json["params"]["additional_data"]["failure_reason"],
        "TRYEXCEEDED"
    );
    // Evidence first: the ledger recorded the failure (it handled the event), and the order's
    // only notification is the failure, settled.
    sys.wait_failed_charge("19", "wb-3").await;
    assert_eq!(
        sys.settled_notifications("19", "wb-3").await,
        [("payment_failed".to_string(), "delivered".to_string(), 1)]
    );
    assert!(
        sys.statement("19", 0).await.is_empty(),
        "a failed payment was posted"
    );
    assert!(sys.inbox.of("19", "new_payment").is_empty());
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmation_racing_the_queued_command_is_never_badtransaction() {
    let sys = spawn_system().await;
    sys.rpc("set_transaction", seed_002("wb-race")).await;
    // Immediately: the command may still be in its queue; the edge then starts the payment itself.
    let first = confirm(&sys, "wb-race", "000000").await;
    assert_ne!(first["result"]["result"], "400 - BADTRANSACTION", "{first}");
    let code = sys.wait_sms_code(PHONE, 1).await;
    if code != "000000" {
        assert_eq!(
            confirm(&sys, "wb-race", &code).await["result"]["status"],
            "1"
        );
    }
    sys.inbox.wait_for("19", "new_payment", 1).await;
    // Evidence first: the queued command was handled. It left the edge's outbox and its queue,
    // and once provider-teleaudio stopped (finishing the message in hand) it is not back in the
    // queue: it was acknowledged.
    sys.wait_outbox_empty("edge").await;
    sys.wait_queue_ready(COMMANDS, 0).await;
    sys.stop_teleaudio().await;
    assert_eq!(
        sys.queue_ready(COMMANDS).await,
        0,
        "the command was not handled"
    );
    assert_eq!(
        sys.sms(PHONE).await.len(),
        1,
        "the payment was started twice"
    );
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_teleaudio_down_mobiltek_works_and_teleaudio_orders_wait_then_run_once() {
    let sys = spawn_system().await;
    sys.stop_teleaudio().await;

    // Mobiltek is not affected.
    let resp = sys
        .rpc("set_transaction_sync", seed_000_one_time("indep-mobiltek"))
        .await;
    let url = resp["result"]["data"]["redirect_url"]
        .as_str()
        .expect("Mobiltek answers")
        .to_string();
    sys.complete(&url, "success").await;
    sys.inbox.wait_for("1", "new_payment", 1).await;

    // Teleaudio orders are still accepted; nothing reaches Teleaudio yet.
    for i in 0..3 {
        let r = sys
            .rpc("set_transaction", seed_002(&format!("indep-{i}")))
            .await;
        assert_eq!(r["result"]["status"], "1", "{r}");
    }
    // A confirmation now cannot be checked, but it is not BADTRANSACTION: retry later.
    let early = confirm(&sys, "indep-0", "123456").await;
    assert_eq!(early["error"]["code"], -32603, "{early}");
    // Evidence first: the three commands wait in their queue, which nobody consumes.
    sys.wait_outbox_empty("edge").await;
    sys.wait_queue_ready(COMMANDS, 3).await;
    assert!(sys.sms(PHONE).await.is_empty());

    // The adapter comes back: every queued command is processed, once. Evidence first: one SMS
    // per order, and no command left waiting (a start is idempotent per order).
    sys.start_teleaudio().await;
    sys.wait_sms_code(PHONE, 3).await;
    sys.wait_queue_ready(COMMANDS, 0).await;
    let msgs = sys.sms(PHONE).await;
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    // The SMS order follows the command order only loosely: try each code on each order.
    let mut paid = 0;
    for i in 0..3 {
        for n in 1..=3 {
            let c = sys.wait_sms_code(PHONE, n).await;
            let r = confirm(&sys, &format!("indep-{i}"), &c).await;
            if r["result"]["status"] == "1" {
                paid += 1;
                break;
            }
        }
    }
    assert_eq!(paid, 3);
    sys.inbox.wait_for("19", "new_payment", 3).await;
    assert_eq!(sys.statement("19", 3).await.len(), 3);
    sys.stop().await;
}
