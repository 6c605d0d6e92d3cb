//! Seed 003 end to end: a merchant takes card payments and card subscriptions through Netopia
//! mobilPay. The end user pays at the sandbox's card page (driven by `/_sandbox/complete`),
//! mobilPay's IPNs reach the adapter sealed for the seller, the merchant receives signed
//! notifications, the ledger posts every charge once, and the recurrence runs on the sandbox
//! clock: `payments_no` / `interval_day`, a 3-D Secure card that cannot recur, replayed and
//! forged IPNs, and the SOAP recurrence changes (`modify_subscription_price`,
//! `move_subscription_payment`, `unsubscribe`).

use paysys_tests::*;
use provider_netopia::wire::{
    Action, Cipher, Envelope, Ipn, Notify, OpeningKey, Order, PaymentError, SealingKey,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const DAY: u64 = 86_400;

/// A merchant 40 order on a Netopia channel: one article at `price` minor units (RON).
fn order_params(trans_ext_id: &str, channel: &str, price: i64, config: Value) -> Value {
    let mut payment = json!({ "channel_id": channel, "currency": "RON" });
    if !config.is_null() {
        payment["config"] = config;
    }
    json!({
        "trans_ext_id": trans_ext_id, "merchant_id": MERCHANT_40.0, "secret": MERCHANT_40.1,
        "payment": payment,
        "articles": [ { "prod_id": "p-1", "name": "Abonament lunar", "quantity": "1", "price": price.to_string() } ],
        "customer": { "ext_id": "cust-40", "firstname": "Ana Maria", "lastname": "Popescu", "email": "ana@example.ro",
            "phone": "40722000000", "street": "Str. Lunga 1", "city": "Brasov", "postcode": "500001", "country": "RO" },
        "client_ip": "127.0.0.1", "test": "False", "next_url": "http://shop.example/back"
    })
}

fn redirect_of(resp: &Value) -> String {
    assert_eq!(resp["result"]["status"], "1", "unexpected answer: {resp}");
    resp["result"]["data"]["redirect_url"]
        .as_str()
        .expect("redirect_url")
        .to_string()
}

/// Starts a payment and returns its redirect URL (the adapter's page posting to mobilPay).
async fn start(sys: &TestSystem, method: &str, params: Value) -> String {
    let url = redirect_of(&sys.rpc(method, params).await);
    assert!(
        url.starts_with(&format!("{}/netopia/pay/", sys.netopia_url)),
        "{url}"
    );
    url
}

/// The user finishes the card page: `extra` adds `card`, `outcome`, `charges`.
async fn pay(sys: &TestSystem, redirect_url: &str, extra: Value) -> Value {
    let mut body = json!({ "redirect_url": redirect_url, "outcome": "success" });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    sys.sandbox("/_sandbox/complete", body).await
}

fn params(n: &Received) -> &Value {
    &n.json["params"]
}

fn for_order<'a>(got: &'a [Received], order: &str) -> Vec<&'a Received> {
    got.iter()
        .filter(|n| params(n)["order_id"] == order)
        .collect()
}

/// The ledger's charge history of one order (posted and failed), waiting until there are `n`.
async fn history(sys: &TestSystem, order: &str, n: usize) -> Vec<paysys_proto::Charge> {
    let mut ledger = sys.ledger().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = ledger
            .subscription_charges(paysys_proto::SubscriptionChargesRequest {
                merchant_id: MERCHANT_40.0.into(),
                order_id: order.into(),
            })
            .await
            .expect("charge history")
            .into_inner()
            .charges;
        if h.len() >= n || Instant::now() > deadline {
            return h;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn posted(h: &[paysys_proto::Charge]) -> Vec<(u32, i64)> {
    h.iter()
        .filter(|c| c.status == "posted")
        .map(|c| (c.sequence, c.amount))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_payment_is_approved_once_and_a_declined_one_posts_nothing() {
    let sys = spawn_system().await;
    // Declined first (card 9900576270414197: error 35).
    let declined = "nt-declined-1";
    let url = start(
        &sys,
        "set_transaction_sync",
        order_params(declined, "7001", 1234, Value::Null),
    )
    .await;
    let v = pay(&sys, &url, json!({"card": "9900576270414197"})).await;
    assert_eq!(v["notifications"], json!(["confirmed:35"]), "{v}");
    let failed = sys.inbox.wait_for("40", "payment_failed", 1).await;
    let f = params(&failed[0]);
    assert_eq!(f["order_id"], declined);
    assert_eq!(f["additional_data"]["netopia_error_code"], "35");
    assert!(
        f["additional_data"]["failure_reason"]
            .as_str()
            .unwrap_or("")
            .contains("(35)"),
        "{f}"
    );
    let h = history(&sys, declined, 1).await;
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].status, "failed", "recorded, never posted");

    // Approved with the default card.
    let paid = "nt-paid-1";
    let url = start(
        &sys,
        "set_transaction_sync",
        order_params(paid, "7001", 1234, Value::Null),
    )
    .await;
    let v = pay(&sys, &url, json!({})).await;
    assert_eq!(v["notifications"], json!(["confirmed"]), "{v}");
    assert_eq!(v["approved"], true);
    let got = sys.inbox.wait_for("40", "new_payment", 1).await;
    verify_standard_webhooks(&got[0], MERCHANT_40.2);
    let p = params(&got[0]);
    assert_eq!(p["order_id"], paid);
    assert_eq!(p["amount"], "1234");
    assert_eq!(p["currency"], "RON");
    assert_eq!(p["user_email"], "ana@example.ro");
    assert_eq!(p["additional_data"]["card_pan_masked"], "9****5098");
    assert_eq!(p["additional_data"]["netopia_action"], "confirmed");

    let charges = sys.statement("40", 1).await;
    assert_eq!(charges.len(), 1, "{charges:?}");
    assert_eq!(
        (
            charges[0].order_id.as_str(),
            charges[0].amount,
            charges[0].currency.as_str()
        ),
        (paid, 1234, "RON")
    );
    assert_eq!(posted(&history(&sys, declined, 1).await), []);

    // The user who leaves the card page: payment_failed too.
    let left = "nt-left-1";
    let url = start(
        &sys,
        "set_transaction_sync",
        order_params(left, "7001", 990, Value::Null),
    )
    .await;
    let v = pay(&sys, &url, json!({"outcome": "failure"})).await;
    assert_eq!(v["notifications"], json!(["canceled:99"]), "{v}");
    let failed = sys.inbox.wait_for("40", "payment_failed", 2).await;
    assert_eq!(for_order(&failed, left).len(), 1);
    sys.assert_ledger_balanced().await;
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_of_three_payments_is_charged_every_interval_then_completes() {
    let sys = spawn_system().await;
    let order = "nt-sub-3";
    let url = start(
        &sys,
        "set_subscription",
        order_params(
            order,
            "7002",
            500,
            json!({"payments_no": "3", "interval_day": "30"}),
        ),
    )
    .await;
    let v = pay(&sys, &url, json!({})).await;
    assert_eq!(v["current_payment_count"], 1, "{v}");
    let started = sys.inbox.wait_for("40", "subscription_start", 1).await;
    assert_eq!(params(&started[0])["order_id"], order);
    let charged = sys
        .inbox
        .wait_for("40", "subscription_charge_success", 1)
        .await;
    assert_eq!(
        params(&charged[0])["additional_data"]["charge_sequence"],
        "1"
    );

    // Not yet due a day early; then charges 2 and 3, one interval apart.
    assert_eq!(sys.advance(29 * DAY).await["charges"], 0);
    assert_eq!(sys.advance(DAY).await["charges"], 1);
    sys.inbox
        .wait_for("40", "subscription_charge_success", 2)
        .await;
    assert_eq!(sys.advance(30 * DAY).await["charges"], 1);
    let charged = sys
        .inbox
        .wait_for("40", "subscription_charge_success", 3)
        .await;
    let sequences: Vec<&str> = charged
        .iter()
        .map(|n| {
            params(n)["additional_data"]["charge_sequence"]
                .as_str()
                .unwrap_or("")
        })
        .collect();
    assert_eq!(sequences, ["1", "2", "3"]);
    let ended = sys.inbox.wait_for("40", "subscription_cancel", 1).await;
    let reason = params(&ended[0])["additional_data"]["end_reason"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(reason.contains("completed"), "{:?}", params(&ended[0]));

    // payments_no reached: mobilPay charges no more.
    assert_eq!(sys.advance(90 * DAY).await["charges"], 0);
    let h = history(&sys, order, 3).await;
    assert_eq!(posted(&h), [(1, 500), (2, 500), (3, 500)], "{h:?}");
    let st = sys
        .rpc(
            "get_transaction_status",
            json!({"merchant_id": "40", "secret": MERCHANT_40.1, "trans_ext_id": order}),
        )
        .await;
    let view = &st["result"]["data"]["provider_view"];
    assert_eq!(view["payments_no"], 3, "{st}");
    assert_eq!(view["charges_count"], 3, "{st}");
    assert_eq!(view["state"], "completed", "{st}");
    // The edge's own state follows the events (consumed on their own time): completed, not
    // cancelled.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let st = sys
            .rpc(
                "get_transaction_status",
                json!({"merchant_id": "40", "secret": MERCHANT_40.1, "trans_ext_id": order}),
            )
            .await;
        let state = st["result"]["data"]["state"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if state == "completed" {
            break;
        }
        assert!(
            state == "active" && std::time::Instant::now() < deadline,
            "the edge says {state}: {st}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(sys.inbox.of("40", "subscription_charge_success").len(), 3);
    sys.assert_ledger_balanced().await;
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recurrence_settings_are_required_and_checked() {
    let sys = spawn_system().await;
    let fields = |resp: &Value| -> Vec<String> {
        assert_eq!(resp["error"]["code"], -32602, "expected -32602, got {resp}");
        let mut keys: Vec<String> = resp["error"]["data"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    };
    let both = [
        "payment.config.interval_day".to_string(),
        "payment.config.payments_no".to_string(),
    ];
    let missing = sys
        .rpc(
            "set_subscription",
            order_params("nt-bad-1", "7002", 500, Value::Null),
        )
        .await;
    assert_eq!(fields(&missing), both);
    let bad = sys
        .rpc(
            "set_subscription",
            order_params(
                "nt-bad-2",
                "7002",
                500,
                json!({"payments_no": "three", "interval_day": "0"}),
            ),
        )
        .await;
    assert_eq!(fields(&bad), both);
    let only_interval = sys
        .rpc(
            "set_subscription",
            order_params("nt-bad-3", "7002", 500, json!({"interval_day": 30})),
        )
        .await;
    assert_eq!(fields(&only_interval), ["payment.config.payments_no"]);
    // Refused input stores nothing: not at the edge, not at the adapter.
    assert_eq!(sys.order_count().await, 0, "bad input must store nothing");
    // A corrected request may reuse the id.
    start(
        &sys,
        "set_subscription",
        order_params(
            "nt-bad-3",
            "7002",
            500,
            json!({"payments_no": "3", "interval_day": 30}),
        ),
    )
    .await;
    // Numbers or decimal strings, as every parameter.
    start(
        &sys,
        "set_subscription",
        order_params(
            "nt-good-1",
            "7002",
            500,
            json!({"payments_no": 2, "interval_day": "7"}),
        ),
    )
    .await;
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_d_secure_card_pays_once_and_never_recurs() {
    let sys = spawn_system().await;
    let order = "nt-3ds-1";
    let url = start(
        &sys,
        "set_subscription",
        order_params(
            order,
            "7002",
            500,
            json!({"payments_no": "0", "interval_day": "30"}),
        ),
    )
    .await;
    let v = pay(&sys, &url, json!({"card": "3ds"})).await;
    assert_eq!(v["current_payment_count"], 0, "{v}");
    let got = sys.inbox.wait_for("40", "new_payment", 1).await;
    let p = params(&got[0]);
    assert_eq!(p["order_id"], order);
    assert_eq!(p["amount"], "500");
    assert!(
        p["additional_data"]["netopia_recurrence"]
            .as_str()
            .unwrap_or("")
            .contains("3-D Secure"),
        "{p}"
    );
    // A month and more later: mobilPay had nothing scheduled.
    assert_eq!(sys.advance(31 * DAY).await["charges"], 0);
    assert_eq!(sys.advance(31 * DAY).await["charges"], 0);
    assert_eq!(posted(&history(&sys, order, 1).await), [(0, 500)]);
    assert!(sys.inbox.of("40", "subscription_start").is_empty());
    assert!(sys.inbox.of("40", "subscription_charge_success").is_empty());
    sys.assert_ledger_balanced().await;
    sys.stop().await;
}

/// POSTs an IPN form to the adapter; returns its `<crc>` answer.
async fn post_ipn(sys: &TestSystem, form: &[(&str, String)]) -> String {
    sys.http
        .post(format!("{}/netopia/ipn", sys.netopia_url))
        .form(form)
        .send()
        .await
        .expect("adapter reachable")
        .text()
        .await
        .expect("an answer")
}

/// What a browser finds behind the redirect URL: the order the adapter sealed for mobilPay.
async fn sealed_order(sys: &TestSystem, redirect_url: &str) -> Order {
    let html = sys
        .http
        .get(redirect_url)
        .send()
        .await
        .expect("the pay page")
        .text()
        .await
        .expect("html");
    let form = provider_sandbox::netopia::browser::parse_form(&html).expect("a form");
    let envelope = Envelope::from_form(&form.fields).expect("an envelope");
    let opening = OpeningKey::from_pem(&sys.netopia_keys.netopia_private_key_pem).expect("key");
    let xml = opening.open(&envelope).expect("sealed for mobilPay");
    Order::from_xml(std::str::from_utf8(&xml).expect("utf-8")).expect("an order")
}

/// An approved IPN for `order` with `purchase` and `processed_minor`, sealed for `certificate`.
fn ipn_form(
    order: &Order,
    purchase: &str,
    processed_minor: i64,
    certificate: &str,
) -> Vec<(&'static str, String)> {
    recurring_ipn_form(order, purchase, None, processed_minor, certificate)
}

/// As [`ipn_form`]; with `charge` Some(n), mobilPay's recurring charge n (its
/// `current_payment_count`, stamped now).
fn recurring_ipn_form(
    order: &Order,
    purchase: &str,
    charge: Option<u32>,
    processed_minor: i64,
    certificate: &str,
) -> Vec<(&'static str, String)> {
    let mut notify = Notify::new(Action::Confirmed, PaymentError::approved());
    notify.purchase = Some(purchase.into());
    if let Some(n) = charge {
        notify.current_payment_count = Some(n);
        notify.timestamp = Some(chrono::Utc::now().naive_utc());
    }
    notify.processed_amount = Some(paysys_platform::money::Money::new(
        processed_minor,
        order.invoice.amount.currency,
    ));
    notify.pan_masked = Some("9****5098".into());
    let ipn = Ipn {
        order: order.clone(),
        notify,
    };
    SealingKey::from_certificate_pem(certificate)
        .expect("certificate")
        .seal(ipn.to_xml().expect("xml").as_bytes(), Cipher::Aes256Cbc)
        .expect("sealed")
        .form_fields()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_forged_and_misfitting_ipns_post_nothing_twice() {
    let sys = spawn_system().await;
    let id = "nt-replay-1";
    let url = start(
        &sys,
        "set_transaction_sync",
        order_params(id, "7001", 1234, Value::Null),
    )
    .await;
    let order = sealed_order(&sys, &url).await;
    let seller = sys.netopia_keys.seller_certificate_pem.clone();

    // Sealed for another certificate, or truncated: refused for good, before anything is read.
    let stranger = provider_netopia::test_keys::generate_test_identity("stranger").expect("key");
    let forged = ipn_form(&order, "p-forged", 1234, &stranger.certificate_pem);
    let answer = post_ipn(&sys, &forged).await;
    assert!(answer.contains("error_type=\"2\""), "{answer}");
    let mut truncated = ipn_form(&order, "p-trunc", 1234, &seller);
    let cut = truncated[1].1.len() / 2;
    truncated[1].1.truncate(cut);
    let answer = post_ipn(&sys, &truncated).await;
    assert!(answer.contains("error_type=\"2\""), "{answer}");

    // Validly sealed with the wrong amount: refused and kept as a discrepancy.
    let answer = post_ipn(&sys, &ipn_form(&order, "p-wrong", 1, &seller)).await;
    assert!(answer.contains("error_type=\"2\""), "{answer}");
    let discrepancies: i64 =
        sqlx::query_scalar("SELECT count(*) FROM netopia.discrepancies WHERE reference = $1")
            .bind(&order.id)
            .fetch_one(&sys.edge_pool)
            .await
            .expect("netopia.discrepancies");
    assert_eq!(discrepancies, 1);

    // The right one, replayed three times: each answered with its crc, posted once.
    let good = ipn_form(&order, "p-good", 1234, &seller);
    let fields: HashMap<String, String> = good
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let opened = OpeningKey::from_pem(&sys.netopia_keys.seller_private_key_pem)
        .expect("seller key")
        .open(&Envelope::from_form(&fields).expect("envelope"))
        .expect("opens");
    let crc = Ipn::from_bytes(&opened).expect("ipn").notify.crc;
    for _ in 0..3 {
        let answer = post_ipn(&sys, &good).await;
        assert!(answer.ends_with(&format!("<crc>{crc}</crc>")), "{answer}");
    }
    let got = sys.inbox.wait_for("40", "new_payment", 1).await;
    assert_eq!(params(&got[0])["order_id"], id);
    let h = history(&sys, id, 1).await;
    assert_eq!(posted(&h), [(0, 1234)], "{h:?}");
    assert_eq!(h[0].charge_id, "netopia:p-good");
    assert_eq!(sys.statement("40", 1).await.len(), 1);
    assert_eq!(sys.inbox.of("40", "new_payment").len(), 1);
    assert!(sys.inbox.of("40", "payment_failed").is_empty());
    sys.assert_ledger_balanced().await;
    sys.stop().await;
}

/// mobilPay made recurring charge n at the old price while `modify_subscription_price` was on
/// its way (found by `make chaos`): its IPN, arriving after the change, is believed once, as the
/// next charge, and posted at what was charged; a second charge at the old price is refused and
/// kept as a discrepancy; the new price is posted after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_that_raced_a_price_change_is_posted_once_at_what_was_charged() {
    let sys = spawn_system().await;
    let id = "nt-race-1";
    let url = start(
        &sys,
        "set_subscription",
        order_params(
            id,
            "7002",
            500,
            json!({"payments_no": 0, "interval_day": 30}),
        ),
    )
    .await;
    let order = sealed_order(&sys, &url).await;
    pay(&sys, &url, json!({})).await;
    sys.inbox
        .wait_for("40", "subscription_charge_success", 1)
        .await;
    let r = sys
        .rpc(
            "modify_subscription_price",
            json!({"merchant_id": "40", "secret": MERCHANT_40.1, "order_ext_id": id, "price": "700"}),
        )
        .await;
    assert_eq!(r["result"]["status"], 1, "{r}");
    let seller = sys.netopia_keys.seller_certificate_pem.clone();
    let charge = |purchase: &str, n: u32, minor: i64| {
        recurring_ipn_form(&order, purchase, Some(n), minor, &seller)
    };
    // Charge 2 at the old price: believed once, posted at 5.00.
    let answer = post_ipn(&sys, &charge("p-race-2", 2, 500)).await;
    assert!(answer.contains("<crc>"), "{answer}");
    sys.inbox
        .wait_for("40", "subscription_charge_success", 2)
        .await;
    assert_eq!(posted(&history(&sys, id, 2).await), [(1, 500), (2, 500)]);
    // Charge 3 at the old price again: the change has long reached mobilPay. Refused, kept.
    let answer = post_ipn(&sys, &charge("p-race-3", 3, 500)).await;
    assert!(answer.contains("error_type=\"2\""), "{answer}");
    let discrepancies: i64 =
        sqlx::query_scalar("SELECT count(*) FROM netopia.discrepancies WHERE reference = $1")
            .bind(&order.id)
            .fetch_one(&sys.edge_pool)
            .await
            .expect("netopia.discrepancies");
    assert_eq!(discrepancies, 1);
    // Charge 3 at the new price: posted.
    let answer = post_ipn(&sys, &charge("p-new-3", 3, 700)).await;
    assert!(answer.contains("<crc>"), "{answer}");
    sys.inbox
        .wait_for("40", "subscription_charge_success", 3)
        .await;
    assert_eq!(
        posted(&history(&sys, id, 3).await),
        [(1, 500), (2, 500), (3, 700)]
    );
    sys.assert_ledger_balanced().await;
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_merchant_changes_price_and_date_then_unsubscribes_over_soap() {
    let sys = spawn_system().await;
    let order = "nt-soap-1";
    let url = start(
        &sys,
        "set_subscription",
        order_params(
            order,
            "7002",
            500,
            json!({"payments_no": 0, "interval_day": 30}),
        ),
    )
    .await;
    pay(&sys, &url, json!({})).await;
    sys.inbox
        .wait_for("40", "subscription_charge_success", 1)
        .await;
    let ask = |method: &'static str, extra: Value| {
        let mut p = json!({"merchant_id": "40", "secret": MERCHANT_40.1, "order_ext_id": order});
        if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        sys.rpc(method, p)
    };

    // A new price: the next charge costs 7.00 RON.
    let r = ask("modify_subscription_price", json!({"price": "700"})).await;
    assert_eq!(r["result"]["status"], 1, "{r}");
    assert!(
        r["result"]["result"]
            .as_str()
            .unwrap_or("")
            .starts_with("0x5000 OK"),
        "{r}"
    );
    assert_eq!(sys.advance(30 * DAY).await["charges"], 1);
    sys.inbox
        .wait_for("40", "subscription_charge_success", 2)
        .await;
    assert_eq!(posted(&history(&sys, order, 2).await), [(1, 500), (2, 700)]);

    // The next charge (due in 30 days) moves to 40 days from now.
    let now = sys.advance(0).await["now"]
        .as_str()
        .expect("now")
        .to_string();
    let now = chrono::DateTime::parse_from_rfc3339(&now).expect("rfc3339");
    let date =
        (now + chrono::Duration::days(40)).to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let r = ask("move_subscription_payment", json!({"date": date})).await;
    assert_eq!(r["result"]["status"], 1, "{r}");
    assert!(
        r["result"]["result"]
            .as_str()
            .unwrap_or("")
            .starts_with("0x5000"),
        "{r}"
    );
    assert_eq!(
        sys.advance(31 * DAY).await["charges"],
        0,
        "not before the date"
    );
    assert_eq!(sys.advance(10 * DAY).await["charges"], 1, "after it");
    sys.inbox
        .wait_for("40", "subscription_charge_success", 3)
        .await;

    // Unsubscribing cancels the recurrence at mobilPay: no more charges.
    let r = ask("unsubscribe", json!({"client_ip": "127.0.0.1"})).await;
    assert_eq!(r["result"]["status"], 1, "{r}");
    assert!(
        r["result"]["result"]
            .as_str()
            .unwrap_or("")
            .starts_with("0x5000"),
        "{r}"
    );
    let cancelled = sys.inbox.wait_for("40", "subscription_cancel", 1).await;
    assert_eq!(params(&cancelled[0])["order_id"], order);
    assert_eq!(sys.advance(120 * DAY).await["charges"], 0);
    assert_eq!(posted(&history(&sys, order, 3).await).len(), 3);

    // Not for a Mobiltek order, nor for an order that does not exist.
    let mobiltek = "nt-mobiltek-sub";
    redirect_of(
        &sys.rpc("set_subscription", seed_000_subscription(mobiltek))
            .await,
    );
    for (method, extra) in [
        ("modify_subscription_price", json!({"price": 700})),
        (
            "move_subscription_payment",
            json!({"date": "2030-01-01 10:00:00"}),
        ),
    ] {
        let mut p =
            json!({"merchant_id": "34801", "secret": MERCHANT_34801.1, "order_ext_id": mobiltek});
        if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        let r = sys.rpc(method, p).await;
        assert_eq!(r["error"]["code"], -32602, "{method}: {r}");
        assert!(
            r["error"]["data"]["order_ext_id"].is_string(),
            "{method}: {r}"
        );
        let mut p =
            json!({"merchant_id": "40", "secret": MERCHANT_40.1, "order_ext_id": "nt-no-such"});
        if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        let r = sys.rpc(method, p).await;
        assert_eq!(r["error"]["code"], -32602, "{method}: {r}");
        assert!(
            r["error"]["data"]["order_ext_id"].is_string(),
            "{method}: {r}"
        );
    }
    sys.assert_ledger_balanced().await;
    sys.stop().await;
}
