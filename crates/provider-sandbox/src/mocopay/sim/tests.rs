//! Unit tests of the simulated MoCoPay's decisions: checkouts, completion, renewals, and the
//! session objects verifyPayment answers, read back with the adapter's own parser.

use super::*;
use chrono::Duration;
use provider_mocopay::Notification;

const PERIOD: u64 = 100;

fn product(kind: SessionType) -> Product {
    Product {
        kind,
        amount_minor: 500,
        currency: "EUR".into(),
        period_secs: Some(PERIOD),
    }
}

fn init(reference: &str, notify: &str) -> InitPayment {
    InitPayment {
        pid: "PP27638049".into(),
        reference_id: reference.into(),
        callback_url: "http://adapter.example/mocopay/return".into(),
        notify_url: notify.into(),
        ..Default::default()
    }
}

fn open(
    r: &mut Records,
    kind: SessionType,
    reference: &str,
    notify: &str,
    now: DateTime<Utc>,
) -> String {
    r.init(
        &init(reference, notify),
        &product(kind),
        PERIOD,
        "PS-000-002",
        expiry(now, 3600),
        now,
    )
    .unwrap()
}

fn kinds(notices: &[Notice]) -> Vec<String> {
    notices.iter().map(Notice::kind).collect()
}

/// Every notice parses as the adapter reads it, and is of the expected kind.
fn parsed(n: &Notice) -> Notification {
    let url = n.url().unwrap();
    Notification::from_query(url.split_once('?').unwrap().1).unwrap()
}

#[test]
fn a_repeated_init_payment_is_the_same_checkout() {
    let mut r = Records::default();
    let now = Utc::now();
    let id = open(
        &mut r,
        SessionType::OneTime,
        "ref-1",
        "http://a/mocopay/notify",
        now,
    );
    assert_eq!(
        open(
            &mut r,
            SessionType::OneTime,
            "ref-1",
            "http://a/mocopay/notify",
            now
        ),
        id
    );
    let other = r.init(
        &init("ref-1", "http://a/mocopay/other"),
        &product(SessionType::OneTime),
        PERIOD,
        "PS",
        now,
        now,
    );
    assert_eq!(other.unwrap_err().param, "referenceId");
}

#[test]
fn a_paid_one_time_checkout_notifies_session_then_transaction() {
    let mut r = Records::default();
    let now = Utc::now();
    let id = open(
        &mut r,
        SessionType::OneTime,
        "ref-1",
        "http://a/mocopay/notify",
        now,
    );
    let f = r.complete(&id, true, false, None, now).unwrap();
    assert_eq!(f.status, SessionStatus::PaymentComplete);
    assert_eq!(
        kinds(&f.notices),
        ["session:PaymentComplete", "transaction:success"]
    );
    let Notification::Transaction(t) = parsed(&f.notices[1]) else {
        panic!("a transaction notification")
    };
    assert_eq!(
        (t.amount, t.currency_code.as_str(), t.series),
        (500, "EUR", Some(1))
    );
    assert_eq!(t.reference_id, "ref-1");
    assert!(
        r.complete(&id, true, false, None, now).is_err(),
        "finished twice"
    );

    let s = r
        .verify(&VerifyPayment::SessionId(f.session_id.clone()), now)
        .unwrap();
    assert_eq!(s.status, SessionStatus::PaymentComplete);
    assert_eq!(s.request_id.as_deref(), Some(id.as_str()));
    assert_eq!(s.total_charged_amount, Some(500));
    assert_eq!(s.recurrent, Some(false));
    assert!(s.transaction.is_none());
    let txn = f.transaction_id.unwrap();
    let q = VerifyPayment::TransactionId(txn.clone());
    let body = serde_json::to_vec(&r.verify(&q, now).unwrap()).unwrap();
    let s = q
        .parse_response(200, &body)
        .expect("the adapter accepts it");
    assert_eq!(s.transaction.unwrap().status, TransactionStatus::Success);
    let by_user = r.verify(&VerifyPayment::UserId(DEFAULT_PHONE.into()), now);
    assert_eq!(by_user.unwrap().session_id, f.session_id);
    assert!(r
        .verify(&VerifyPayment::SessionId("nope".into()), now)
        .is_none());
    assert!(r
        .verify(&VerifyPayment::TransactionId("nope".into()), now)
        .is_none());
}

#[test]
fn an_abandoned_checkout_is_cancelled_without_a_transaction() {
    let mut r = Records::default();
    let now = Utc::now();
    let id = open(
        &mut r,
        SessionType::OneTime,
        "ref-1",
        "http://a/mocopay/notify",
        now,
    );
    let f = r
        .complete(&id, false, false, Some("385981112222"), now)
        .unwrap();
    assert_eq!(kinds(&f.notices), ["session:Cancelled"]);
    assert!(f.transaction_id.is_none() && r.transactions.is_empty());
    let Notification::Session(n) = parsed(&f.notices[0]) else {
        panic!("a session notification")
    };
    assert_eq!(n.phone, "385981112222");
}

#[test]
fn a_subscription_renews_each_period_and_fails_when_asked() {
    let mut r = Records::default();
    let t0 = Utc::now();
    let id = open(
        &mut r,
        SessionType::Subscription,
        "ref-2",
        "http://a/mocopay/notify",
        t0,
    );
    let f = r.complete(&id, true, false, None, t0).unwrap();
    assert_eq!(f.status, SessionStatus::Authorized);
    assert_eq!(
        kinds(&f.notices),
        ["session:Authorized", "transaction:success"]
    );
    assert!(r.due(t0 + Duration::seconds(99)).is_empty());
    let due = r.due(t0 + Duration::seconds(250));
    assert_eq!(due.len(), 2);
    assert_eq!(
        kinds(&due.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>()),
        ["transaction:success"; 2]
    );

    r.set_charges_fail(&f.session_id, true).unwrap();
    let failed = r.due(t0 + Duration::seconds(300));
    let Notification::Transaction(t) = parsed(&failed[0].1) else {
        panic!("a transaction notification")
    };
    assert_eq!(t.status, TransactionStatus::Failed);
    assert_eq!(t.series, Some(4), "the charge it was for");
    assert_eq!(t.reason, RENEWAL_FAILED);
    r.set_charges_fail(&f.session_id, false).unwrap();
    let again = r.due(t0 + Duration::seconds(400));
    let Notification::Transaction(t) = parsed(&again[0].1) else {
        panic!("a transaction notification")
    };
    assert_eq!((t.status, t.series), (TransactionStatus::Success, Some(4)));

    let s = r
        .verify(&VerifyPayment::SessionId(f.session_id.clone()), t0)
        .unwrap();
    assert_eq!(s.series, Some(4));
    assert_eq!(s.transactions.len(), 5);
    assert_eq!(
        (s.total_charged_amount, s.total_failed_amount),
        (Some(2000), Some(500))
    );
    assert_eq!(
        (s.last_charged_amount, s.last_failed_amount),
        (Some(500), Some(500))
    );
    assert_eq!(s.recurrent, Some(true));
    assert!(r.set_charges_fail("nope", true).is_err());
}

#[test]
fn a_test_checkout_is_reported_in_tes_on_the_test_network() {
    assert!(is_test("http://a/mocopay/test/notify"));
    assert!(!is_test("http://a/mocopay/notify") && !is_test("http://a/testing/notify"));
    let mut r = Records::default();
    let now = Utc::now();
    let id = open(
        &mut r,
        SessionType::OneTime,
        "ref-3",
        "http://a/mocopay/test/notify",
        now,
    );
    let f = r.complete(&id, true, false, None, now).unwrap();
    let s = r
        .verify(&VerifyPayment::SessionId(f.session_id), now)
        .unwrap();
    assert_eq!(s.currency_code.as_deref(), Some("TES"));
    let user = s.end_user.unwrap();
    assert_eq!(
        (user.mcc.as_deref(), user.mnc.as_deref()),
        (Some("999"), Some("99"))
    );
}
