//! The simulated mobilPay as a browser, a merchant and a test meet it (docs/providers/netopia.md
//! "The sandbox"): the card page takes only orders sealed for mobilPay's key, a test card pays
//! and the IPN arrives sealed for the seller, `/_sandbox/complete` drives the merchant's page,
//! recurring payments follow the clock until `payments_no`, IPNs are resent by the `<crc>`
//! answer, and the keys endpoint serves what the sandbox holds.

use crate::netopia_support::*;
use provider_netopia::wire::Cipher;
use serde_json::{json, Value};

#[tokio::test]
async fn the_card_page_refuses_what_does_not_open() {
    let (sb, merchant) = netopia_sandbox().await;
    let k = keys();
    let order = merchant.order("ord-refused", None);
    // Sealed for another certificate (the seller's): does not open with mobilPay's key.
    let wrong = seal(&order, &k.seller.certificate_pem, Cipher::Aes256Cbc);
    let mut truncated = seal(&order, &k.netopia.certificate_pem, Cipher::Aes256Cbc);
    let half = truncated[1].1.len() / 2;
    truncated[1].1.truncate(half);
    let mut garbage = seal(&order, &k.netopia.certificate_pem, Cipher::Rc4);
    garbage[1].1 = "bm90IGFuIG9yZGVy".into();
    let missing = vec![("data", "AAAA".to_string())];
    for (what, form) in [
        ("another certificate", wrong),
        ("truncated data", truncated),
        ("garbage data", garbage),
        ("no env_key", missing),
    ] {
        let (status, _, body) = sb.post_form("/netopia/card", &form).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert!(body.contains("cannot be processed"), "{what}: {body}");
        assert!(!body.contains("card_number"), "{what}: no card form");
    }
    let r = sb
        .http
        .post(format!("{}/netopia/card", sb.url))
        .json(&json!({"env_key": "x", "data": "y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "not a form");
    // An order mobilPay does not take: an unknown seller account format.
    let mut bad_account = merchant.order("ord-account", None);
    bad_account.signature = "not-an-account".into();
    let (status, _, body) = sb
        .post_form(
            "/netopia/card",
            &seal(&bad_account, &k.netopia.certificate_pem, Cipher::Rc4),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("order.signature"), "{body}");
    let state = sb.get_json("/_sandbox/state").await;
    assert_eq!(state["netopia"]["orders"], json!([]), "nothing recorded");
    assert!(merchant.ipns().is_empty());

    // The real thing opens: the order and a card form, details escaped.
    let good = seal(&order, &k.netopia.certificate_pem, Cipher::Aes256Cbc);
    let (status, _, body) = sb.post_form("/netopia/card", &good).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("12.34 RON"), "{body}");
    assert!(
        body.contains("Abonament &lt;premium&gt; &amp; more"),
        "{body}"
    );
    assert!(body.contains("name=\"card_number\""), "{body}");
    assert!(
        body.contains("9900004810225098"),
        "the test cards are listed"
    );
}

#[tokio::test]
async fn paying_on_the_card_page_sends_a_sealed_ipn_and_returns_the_user() {
    let (sb, merchant) = netopia_sandbox().await;
    let k = keys();
    let mut order = merchant.order("ord-page", None);
    order.ipn_cipher = Some(Cipher::Rc4);
    let mut form = seal(&order, &k.netopia.certificate_pem, Cipher::Aes256Cbc);
    let card = |number: &str, cvv: &str| {
        vec![
            ("card_number", number.to_string()),
            ("expiry", "12/99".to_string()),
            ("cvv", cvv.to_string()),
            ("name", "Ana Popescu".to_string()),
            ("action", "pay".to_string()),
        ]
    };
    // Not a test card: the form again, nothing sent.
    let mut typo = form.clone();
    typo.extend(card("4111111111111111", "111"));
    let (status, _, body) = sb.post_form("/netopia/card/pay", &typo).await;
    assert_eq!(status, 200);
    assert!(body.contains("not a sandbox test card"), "{body}");
    assert!(merchant.ipns().is_empty());

    form.extend(card("9900 0048 1022 5098", "111"));
    let (status, location, _) = sb.post_form("/netopia/card/pay", &form).await;
    assert_eq!(status, 303);
    assert_eq!(location.as_deref(), Some("http://shop.example/back"));
    let ipns = merchant.ipns();
    assert_eq!(ipns.len(), 1);
    let n = &ipns[0].notify;
    assert_eq!(ipns[0].order, order, "the original order comes back");
    assert_eq!((n.action.as_str(), n.error.code.0), ("confirmed", 0));
    assert_eq!(
        n.current_payment_count, None,
        "a one-time order has no count"
    );
    assert_eq!(n.processed_amount.map(|m| m.minor), Some(1234));
    assert_eq!(n.pan_masked.as_deref(), Some("9****5098"));
    assert_eq!(n.crc.len(), 32);
    assert!(n.purchase.is_some() && n.timestamp.is_some());
    assert_eq!(
        merchant.ciphers(),
        [Cipher::Rc4],
        "sealed with <ipn_cipher>"
    );

    // Paid: the page says so and nothing is sent again.
    let (status, _, body) = sb.post_form("/netopia/card/pay", &form).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("already paid"), "{body}");
    assert_eq!(merchant.ipns().len(), 1);
}

#[tokio::test]
async fn complete_pays_the_merchants_page_and_the_recurrence_follows_the_clock() {
    let (sb, merchant) = netopia_sandbox().await;
    let card_url = format!("{}/netopia/card", sb.url);
    let k = keys();
    let redirect = merchant.publish(
        &merchant.order("sub-1", Some((3, 2))),
        &k.netopia.certificate_pem,
        &card_url,
    );
    let v = sb.complete(&redirect, "success").await;
    assert_eq!(v["provider"], "netopia", "{v}");
    assert_eq!(v["notifications"], json!(["confirmed"]));
    assert_eq!(v["current_payment_count"], 1);
    assert_eq!(v["deliveries"][0]["error"], Value::Null, "{v}");
    let (status, again) = sb
        .post(
            "/_sandbox/complete",
            json!({"redirect_url": redirect, "outcome": "success"}),
        )
        .await;
    assert_eq!(status, 400, "completed twice: {again}");

    // Interval 2 days: one payment after 2 days, the third (the last of 3) after 4.
    assert_eq!(sb.advance(86_400).await["charges"], 0);
    assert_eq!(sb.advance(86_400).await["charges"], 1);
    assert_eq!(sb.advance(10 * 86_400).await["charges"], 1);
    assert_eq!(
        sb.advance(30 * 86_400).await["charges"],
        0,
        "payments_no reached"
    );
    assert_eq!(
        merchant.summary(),
        [
            ("confirmed".into(), 0, Some(1)),
            ("confirmed".into(), 0, Some(2)),
            ("confirmed".into(), 0, Some(3)),
        ]
    );
    let purchases: std::collections::BTreeSet<_> = merchant
        .ipns()
        .iter()
        .map(|i| i.notify.purchase.clone())
        .collect();
    assert_eq!(purchases.len(), 3, "a new purchase per payment");
    let state = sb.get_json("/_sandbox/state").await;
    let o = &state["netopia"]["orders"][0];
    assert_eq!(o["status"], "paid");
    assert_eq!(o["recurrence"]["payments_made"], 3);
}

#[tokio::test]
async fn complete_with_other_cards_abandonment_and_failing_charges() {
    let (sb, merchant) = netopia_sandbox().await;
    let card_url = format!("{}/netopia/card", sb.url);
    let k = keys();
    let publish = |id: &str, recurrence| {
        merchant.publish(
            &merchant.order(id, recurrence),
            &k.netopia.certificate_pem,
            &card_url,
        )
    };
    let sb = &sb;
    let complete = |url: String, extra: Value| {
        let mut body = json!({"redirect_url": url, "outcome": "success"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        async move { sb.post("/_sandbox/complete", body).await }
    };
    let (status, v) = complete(publish("d", None), json!({"card": "9900541631437790"})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["notifications"], json!(["confirmed:19"]));
    let (_, v) = complete(publish("3ds", Some((0, 30))), json!({"card": "3ds"})).await;
    assert_eq!(v["current_payment_count"], 0, "{v}");
    let (_, v) = complete(publish("gone", None), json!({"outcome": "failure"})).await;
    assert_eq!(v["notifications"], json!(["canceled:99"]), "{v}");
    let (_, v) = complete(publish("broke", Some((0, 1))), json!({"charges": "fail"})).await;
    assert_eq!(v["current_payment_count"], 1, "{v}");
    let (status, v) = complete(publish("x", None), json!({"card": "1234"})).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["field"], "card");

    // The 3-D Secure card never recurs; the failing subscription declines every later payment.
    assert_eq!(sb.advance(2 * 86_400).await["charges"], 2);
    let last: Vec<_> = merchant.summary().into_iter().skip(4).collect();
    assert_eq!(
        last,
        [
            ("confirmed".into(), 20, Some(2)),
            ("confirmed".into(), 20, Some(3))
        ]
    );
}

#[tokio::test]
async fn ipns_are_resent_by_the_crc_answer_and_doubled_under_the_fault() {
    let (sb, merchant) = netopia_sandbox().await;
    let card_url = format!("{}/netopia/card", sb.url);
    let k = keys();
    let publish = |id: &str| {
        merchant.publish(
            &merchant.order(id, None),
            &k.netopia.certificate_pem,
            &card_url,
        )
    };
    merchant.answer_next(&[Answer::Temporary, Answer::Broken, Answer::Crc]);
    let v = sb.complete(&publish("r1"), "success").await;
    assert_eq!(v["deliveries"][0]["attempts"], 3, "{v}");
    assert_eq!(v["deliveries"][0]["error"], Value::Null, "{v}");

    merchant.answer_next(&[Answer::Permanent]);
    let v = sb.complete(&publish("r2"), "success").await;
    assert_eq!(
        v["deliveries"][0]["attempts"], 1,
        "a permanent answer is final: {v}"
    );
    assert!(v["deliveries"][0]["error"]
        .as_str()
        .unwrap()
        .contains("error_type 2"));
    assert_eq!(merchant.ipns().len(), 4);

    let (status, _) = sb
        .post(
            "/_sandbox/faults",
            json!({"provider": "netopia", "mode": "duplicate_callbacks"}),
        )
        .await;
    assert_eq!(status, 200);
    sb.complete(&publish("r3"), "success").await;
    let last: Vec<_> = merchant.ipns().into_iter().skip(4).collect();
    assert_eq!(last.len(), 2);
    assert_eq!(last[0], last[1], "the same IPN twice");
}

#[tokio::test]
async fn the_keys_endpoint_serves_the_sandboxs_keys() {
    let (sb, _) = netopia_sandbox().await;
    let k = keys();
    let v = sb.get_json("/_sandbox/netopia/keys").await;
    assert_eq!(v["netopia_private_key_pem"], k.netopia.private_key_pem);
    assert_eq!(v["netopia_certificate_pem"], k.netopia.certificate_pem);
    assert_eq!(v["seller_certificate_pem"], k.seller.certificate_pem);

    // Without configured keys the sandbox makes mobilPay's pair itself and serves it; orders
    // sealed for that certificate open, but no IPN can be sealed without a seller certificate.
    let bare = crate::helpers::spawn_sandbox(&[]).await;
    let v = bare.get_json("/_sandbox/netopia/keys").await;
    let certificate = v["netopia_certificate_pem"].as_str().unwrap();
    assert!(certificate.contains("BEGIN CERTIFICATE"), "{v}");
    assert_eq!(v["seller_certificate_pem"], Value::Null);
    let merchant = FakeMerchant::start().await;
    let form = seal(&merchant.order("o", None), certificate, Cipher::Aes256Cbc);
    let (status, _, body) = bare.post_form("/netopia/card", &form).await;
    assert_eq!(status, 400);
    assert!(body.contains("seller_certificate_pem"), "{body}");
}
