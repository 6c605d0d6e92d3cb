//! The simulated MoCoPay as a user and an adapter meet it: a checkout finished through
//! `/_sandbox/complete` or the page's own buttons sends the session and the transaction
//! notification (GET, read with the adapter's parser, resent on 5xx, never after a 4xx), and
//! verifyPayment confirms them; an abandoned one is cancelled; a subscription renews with the
//! clock, and fails when asked; a test checkout reports MoCoPay's test currency.

use crate::helpers::*;
use crate::mocopay_support::*;
use provider_mocopay::{
    CallbackRedirect, Notification, SessionStatus, SessionType, TransactionStatus, VerifyPayment,
};
use serde_json::{json, Value};

/// initPayment of `pid`; returns the redirectUrl as the test reaches it.
async fn checkout(sb: &TestSandbox, pid: &str, reference: &str, notify_url: &str) -> String {
    let (status, v) = init_payment(sb, &order(pid, reference, notify_url), MOCO_SECRET).await;
    assert_eq!(status, 200, "{v}");
    reachable(sb, v["redirectUrl"].as_str().unwrap())
}

fn transaction(n: &Notification) -> &provider_mocopay::TransactionNotification {
    match n {
        Notification::Transaction(t) => t,
        other => panic!("not a transaction notification: {other:?}"),
    }
}

#[tokio::test]
async fn a_paid_checkout_notifies_and_verify_payment_confirms() {
    let (sb, notifications, notify_url) = mocopay_sandbox().await;
    let url = checkout(&sb, "12000", "ref-1", &notify_url).await;
    let v = sb.complete(&url, "success").await;
    assert_eq!(v["provider"], "mocopay");
    assert_eq!(
        v["notifications"],
        json!(["session:PaymentComplete", "transaction:success"])
    );
    assert_eq!(
        notifications.kinds(),
        ["session:PaymentComplete", "transaction:success"]
    );
    let all = notifications.all();
    let t = transaction(&all[1]);
    assert_eq!((t.amount, t.currency_code.as_str()), (10, "EUR"));
    assert_eq!((t.reference_id.as_str(), t.series), ("ref-1", Some(1)));
    assert_eq!(t.transaction_id, v["transaction_id"].as_str().unwrap());

    // verifyPayment confirms both, as the adapter reads it.
    let q = VerifyPayment::SessionId(all[0].session_id().into());
    let (status, body) = verify(&sb, &q).await;
    assert_eq!(status, 200, "{body}");
    let s = q.parse_response(200, body.to_string().as_bytes()).unwrap();
    assert_eq!(s.status, SessionStatus::PaymentComplete);
    assert_eq!(s.reference_id.as_deref(), Some("ref-1"));
    assert_eq!(s.pid.as_deref(), Some("12000"));
    assert_eq!(s.session_type, Some(SessionType::OneTime));
    assert_eq!(s.transactions, std::slice::from_ref(&t.transaction_id));
    for field in [
        "serviceCode",
        "endUser",
        "lang",
        "series",
        "expiresIn",
        "timeInit",
        "timeAuthorized",
        "timeLastSuccessfullPayment",
        "requestId",
    ] {
        assert!(body.get(field).is_some(), "{field} missing: {body}");
    }
    let q = VerifyPayment::TransactionId(t.transaction_id.clone());
    let (_, body) = verify(&sb, &q).await;
    let s = q.parse_response(200, body.to_string().as_bytes()).unwrap();
    let confirmed = s.transaction.unwrap();
    assert_eq!(confirmed.status, TransactionStatus::Success);
    assert_eq!(
        (confirmed.amount, confirmed.currency_code.as_str()),
        (10, "EUR")
    );

    // The user goes back to the callbackUrl with seed 004's parameters.
    let location = v["callback_location"].as_str().unwrap();
    let (base, query) = location.split_once('?').unwrap();
    assert_eq!(base, "http://adapter.example/mocopay/return");
    let back = CallbackRedirect::from_query(query).unwrap();
    assert_eq!(back.session_id, s.session_id);
    assert_eq!(back.reference_id, "ref-1");
    assert_eq!(back.status, Some(SessionStatus::PaymentComplete));
    assert!(query.contains("sid=") && query.contains("requestId="));

    let (status, again) = sb
        .post(
            "/_sandbox/complete",
            json!({"redirect_url": url, "outcome": "success"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(again["error"]["field"], "redirect_url");
}

#[tokio::test]
async fn an_abandoned_checkout_is_cancelled_without_a_transaction() {
    let (sb, notifications, notify_url) = mocopay_sandbox().await;
    let url = checkout(&sb, "12000", "ref-2", &notify_url).await;
    let v = sb.complete(&url, "failure").await;
    assert_eq!(v["notifications"], json!(["session:Cancelled"]));
    assert_eq!(v["transaction_id"], Value::Null);
    assert_eq!(notifications.kinds(), ["session:Cancelled"]);
    let q = VerifyPayment::SessionId(v["session_id"].as_str().unwrap().into());
    let (_, body) = verify(&sb, &q).await;
    assert_eq!(body["status"], "Cancelled");
    assert_eq!(body["transactions"], json!([]));
}

#[tokio::test]
async fn a_subscription_renews_with_the_clock_and_fails_when_asked() {
    let (sb, notifications, notify_url) = mocopay_sandbox().await;
    let url = checkout(&sb, "SUB1", "ref-3", &notify_url).await;
    let v = sb.complete(&url, "success").await;
    assert_eq!(
        v["notifications"],
        json!(["session:Authorized", "transaction:success"])
    );
    assert_eq!(sb.advance(2 * 3600).await["charges"], 2);
    let (status, r) = sb
        .post(
            "/mocopay/_sandbox/renewals",
            json!({"redirect_url": url, "charges": "fail"}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    sb.advance(3600).await;
    sb.post(
        "/mocopay/_sandbox/renewals",
        json!({"session_id": v["session_id"], "charges": "succeed"}),
    )
    .await;
    sb.advance(3600).await;
    let all = notifications.wait_for(6).await;
    let charges: Vec<(TransactionStatus, Option<i64>)> = all[1..]
        .iter()
        .map(|n| (transaction(n).status, transaction(n).series))
        .collect();
    use TransactionStatus::*;
    assert_eq!(
        charges,
        [
            (Success, Some(1)),
            (Success, Some(2)),
            (Success, Some(3)),
            (Failed, Some(4)),
            (Success, Some(4))
        ]
    );
    assert_eq!(transaction(&all[4]).reason, "insufficient funds");
    let (_, body) = verify(&sb, &VerifyPayment::SessionId(all[0].session_id().into())).await;
    assert_eq!(body["status"], "Authorized");
    assert_eq!(body["series"], 4);
    assert_eq!(body["recurrent"], true);
    assert_eq!(body["totalChargedAmount"], 40);
    assert_eq!(body["totalFailedAmount"], 10);

    // "charges": "fail" from the start: the first charge succeeds, every renewal fails.
    let url = checkout(&sb, "SUB1", "ref-4", &notify_url).await;
    let (status, _) = sb
        .post(
            "/_sandbox/complete",
            json!({"redirect_url": url, "outcome": "success", "charges": "fail"}),
        )
        .await;
    assert_eq!(status, 200);
    sb.advance(3600).await;
    let renewals: Vec<TransactionStatus> = notifications
        .wait_for(10)
        .await
        .iter()
        .filter_map(|n| match n {
            Notification::Transaction(t) if t.reference_id == "ref-4" => Some(t.status),
            _ => None,
        })
        .collect();
    assert_eq!(renewals, [Success, Failed]);
}

#[tokio::test]
async fn the_checkout_page_pays_and_sends_the_user_back() {
    let (sb, notifications, notify_url) = mocopay_sandbox().await;
    let url = checkout(&sb, "12000", "ref-5", &notify_url).await;
    let page = sb.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("8686") && html.contains("MOCO "), "{html}");
    let pay = sb.http.post(format!("{url}/pay")).send().await.unwrap();
    assert_eq!(pay.status(), 302);
    let location = pay.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://adapter.example/mocopay/return?sid="),
        "{location}"
    );
    assert!(location.contains("status=PaymentComplete"), "{location}");
    assert_eq!(
        notifications.kinds(),
        ["session:PaymentComplete", "transaction:success"]
    );
    let finished = sb
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(finished.contains("finished"), "{finished}");
    // The billing SMS (seed 004).
    let sms = sb.get_json("/_sandbox/sms?phone=385991234567").await;
    assert!(
        sms["messages"][0]["text"]
            .as_str()
            .unwrap()
            .contains("0.10 EUR"),
        "{sms}"
    );
}

#[tokio::test]
async fn notifications_are_resent_on_5xx_never_after_4xx_and_doubled_on_request() {
    let (sb, notifications, notify_url) = mocopay_sandbox().await;
    notifications.answer_next(&[503]);
    let url = checkout(&sb, "12000", "ref-6", &notify_url).await;
    let v = sb.complete(&url, "success").await;
    assert_eq!(v["deliveries"][0]["attempts"], 2);
    assert_eq!(notifications.all().len(), 3);

    notifications.answer_next(&[400]);
    let url = checkout(&sb, "12000", "ref-7", &notify_url).await;
    let v = sb.complete(&url, "failure").await;
    assert_eq!(v["deliveries"][0]["attempts"], 1);
    assert_eq!(v["deliveries"][0]["status"], 400);
    assert_eq!(notifications.all().len(), 4);

    sb.post(
        "/_sandbox/faults",
        json!({"provider": "mocopay", "mode": "duplicate_callbacks"}),
    )
    .await;
    let url = checkout(&sb, "12000", "ref-8", &notify_url).await;
    sb.complete(&url, "success").await;
    assert_eq!(notifications.all().len(), 8);
}

#[tokio::test]
async fn a_test_checkout_is_reported_in_the_test_currency() {
    let (sb, notifications, notify_url) = mocopay_sandbox().await;
    let test_notify = notify_url.replace("/mocopay/notify", "/mocopay/test/notify");
    let url = checkout(&sb, "12000", "ref-9", &test_notify).await;
    sb.complete(&url, "success").await;
    let all = notifications.all();
    assert_eq!(transaction(&all[1]).currency_code, "TES");
    assert_eq!(transaction(&all[1]).mcc, "999");
}
