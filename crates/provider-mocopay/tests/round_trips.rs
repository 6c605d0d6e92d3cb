//! Property tests: whatever the values (spaces, `&`, `=`, `+`, `%`, `?`, non-ASCII), what the
//! adapter builds the simulator authenticates and parses back unchanged, and what the simulator
//! builds the adapter parses back unchanged. This is what "values are signed decoded" buys.

use proptest::prelude::*;
use provider_mocopay::{
    authenticate_query, CallbackRedirect, InitPayment, Notification, SessionStatus, SessionType,
    TransactionNotification, TransactionStatus, VerifyPayment, INIT_PAYMENT_PATH,
    VERIFY_PAYMENT_PATH,
};

const SECRET: &str = "this.is.a.secret";

fn secrets(k: &str) -> Option<String> {
    (k == "app1").then(|| SECRET.to_string())
}

/// Free text as `userId`/`referenceId` allow: no control characters, 1..=40 chars.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 &=+%?/:#;,.~ąłęż€-]{1,40}"
}

/// Identifiers (no spaces).
fn token() -> impl Strategy<Value = String> {
    "[!-~]{1,40}"
}

fn query_of(url: &str) -> &str {
    url.split_once('?').map(|(_, q)| q).unwrap_or("")
}

proptest! {
    #[test]
    fn init_payment_survives_the_wire(
        pid in token(),
        user_id in text(),
        reference_id in text(),
        ret in "[a-z0-9&=+%]{0,20}",
    ) {
        let order = InitPayment {
            pid,
            mcc: "219".into(),
            mnc: "01".into(),
            user_id,
            reference_id,
            callback_url: format!("https://gw.example/return?o={}", urlencode(&ret)),
            ..Default::default()
        };
        let r = order.request("http://127.0.0.1:9090/mocopay", "app1", SECRET).unwrap();
        let (key, params) =
            authenticate_query(secrets, INIT_PAYMENT_PATH, Some(&r.signature), query_of(&r.url)).unwrap();
        prop_assert_eq!(key, "app1");
        prop_assert_eq!(InitPayment::from_params(&params).unwrap(), order);
    }

    #[test]
    fn verify_payment_survives_the_wire(user_id in text()) {
        let q = VerifyPayment::UserId(user_id);
        let r = q.request("http://payment.mocopay.com", "app1", SECRET).unwrap();
        let (_, params) =
            authenticate_query(secrets, VERIFY_PAYMENT_PATH, Some(&r.signature), query_of(&r.url)).unwrap();
        prop_assert_eq!(VerifyPayment::from_params(&params).unwrap(), q);
    }

    #[test]
    fn transaction_notification_survives_the_wire(
        transaction_id in token(),
        session_id in token(),
        reference_id in text(),
        amount in 0i64..=i64::MAX / 2,
        failed in any::<bool>(),
        reason in text(),
    ) {
        let n = TransactionNotification {
            transaction_id,
            session_id,
            request_id: String::new(),
            reference_id,
            session_type: SessionType::OneTime,
            status: if failed { TransactionStatus::Failed } else { TransactionStatus::Success },
            amount,
            currency_code: "EUR".into(),
            series: None,
            user_id: String::new(),
            phone: String::new(),
            mcc: String::new(),
            mnc: String::new(),
            service_code: String::new(),
            pid: "P1".into(),
            lang: String::new(),
            time: String::new(),
            reason,
        };
        let url = n.url("https://gw.example/mocopay/notify").unwrap();
        prop_assert_eq!(Notification::from_query(query_of(&url)).unwrap(), Notification::Transaction(n));
    }

    #[test]
    fn callback_redirect_survives_the_wire(session_id in token(), reference_id in text()) {
        let r = CallbackRedirect {
            request_id: "9bf849fd215542088fa5c98b99a185a2".into(),
            session_id,
            reference_id,
            status: Some(SessionStatus::PaymentComplete),
        };
        let url = r.url("http://www.client.com/app1").unwrap();
        prop_assert_eq!(CallbackRedirect::from_query(query_of(&url)).unwrap(), r);
    }

    /// Parsers never panic, whatever arrives.
    #[test]
    fn parsers_take_any_query(q in ".{0,200}") {
        let _ = InitPayment::from_query(&q);
        let _ = VerifyPayment::from_query(&q);
        let _ = Notification::from_query(&q);
        let _ = CallbackRedirect::from_query(&q);
        let _ = authenticate_query(secrets, INIT_PAYMENT_PATH, None, &q);
        let _ = authenticate_query(secrets, INIT_PAYMENT_PATH, Some(&q), &q);
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
