//! MoCoPay's inbound messages: the notification query (`GET /mocopay/notify?...`, session or
//! transaction), the user's callbackUrl redirect query, verifyPayment's query (the simulator's
//! side) and verifyPayment's JSON answer (the session object the adapter believes) with the
//! claims made from it. Every input is tried as each. Invariants:
//! - a parsed notification or redirect survives its own writer: `to_query` (and the full URL the
//!   simulator builds) parse back to the same value;
//! - a parsed session makes claims only for the order its `referenceId` names, keyed by the
//!   session or the transaction, a charge's `charge_id` naming the MoCoPay transaction.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provider_mocopay::claims::{session_claim, transaction_claim};
use provider_mocopay::{CallbackRedirect, Notification, Params, Session, VerifyPayment};

fn query_of(url: &str) -> &str {
    url.split_once('?').map_or("", |(_, q)| q)
}

fn check_claim_of(s: &Session, c: &paysys_adapter::Claim) {
    let reference = s.reference_id.as_deref().unwrap_or_default();
    assert!(!reference.is_empty());
    assert_eq!(
        c.order,
        paysys_adapter::Lookup::Reference(reference.to_string())
    );
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(n) = Notification::from_query(text) {
            let (pairs, url) = match &n {
                Notification::Session(s) => {
                    (s.to_query(), s.url("https://gw.example/mocopay/notify?c=1"))
                }
                Notification::Transaction(t) => {
                    (t.to_query(), t.url("https://gw.example/mocopay/notify?c=1"))
                }
            };
            let params = Params::from_pairs(pairs).expect("no name written twice");
            assert_eq!(Notification::from_params(&params).as_ref(), Ok(&n));
            let url = url.expect("the simulator can send what the adapter read");
            assert_eq!(
                Notification::from_query(query_of(&url)).as_ref(),
                Ok(&n),
                "{url}"
            );
        }
        if let Ok(r) = CallbackRedirect::from_query(text) {
            let url = r
                .url("https://gw.example/mocopay/return?order=7")
                .expect("a redirect URL");
            assert_eq!(
                CallbackRedirect::from_query(query_of(&url)).as_ref(),
                Ok(&r),
                "{url}"
            );
        }
        if let Ok(v) = VerifyPayment::from_query(text) {
            let q: Vec<(&str, String)> = v.to_query();
            let params = Params::from_pairs(q).expect("no name written twice");
            assert_eq!(VerifyPayment::from_params(&params).as_ref(), Ok(&v));
        }
    }

    if let Ok(s) = serde_json::from_slice::<Session>(data) {
        let _ = s.currency();
        if let Ok(Some(c)) = session_claim(&s) {
            check_claim_of(&s, &c);
            assert!(c.dedup_key.starts_with("session:"));
        }
        if let Some(t) = &s.transaction {
            if let Ok(c) = transaction_claim(&s, t, "") {
                check_claim_of(&s, &c);
                assert_eq!(c.charge_id, format!("mocopay:{}", t.transaction_id));
            }
            let asked = VerifyPayment::TransactionId(t.transaction_id.clone());
            assert!(asked.parse_response(200, data).is_ok());
        }
        let asked = VerifyPayment::SessionId(s.session_id.clone());
        assert_eq!(asked.parse_response(200, data).as_ref(), Ok(&s));
    }
});
