//! Mobiltek's `POST /mobiltek/notify`: the endpoint's `authenticate` (form decoding, HMAC check,
//! then the typed `Notification` and its claim), run twice per input: as sent (a stranger without
//! the secret: always refused as unauthenticated) and re-signed with the secret, so the field
//! parsing behind the hash is reached. Also the unsubscribe answer and PPE-link parsers. Invariants:
//! - unsigned input is refused as `Unauthenticated`, never believed;
//! - signed input is never refused for its hash, and is accepted only when
//!   `wire::Notification::authenticate` accepts the same form (the endpoint may refuse more, as
//!   malformed);
//! - an accepted notification makes one claim, keyed by its notification id, with a positive PLN
//!   amount exactly when the type moves money.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysys_adapter::{CallbackEndpoint, Incoming, Refusal};
use provider_mobiltek::callbacks::Notify;
use provider_mobiltek::wire::{self, Notification, NotificationType};
use secrecy::SecretString;
use std::collections::HashMap;

const SECRET: &str = "fuzz-mobiltek-secret";

fn incoming(body: Vec<u8>) -> Incoming {
    Incoming {
        method: http::Method::POST,
        uri: http::Uri::from_static("/mobiltek/notify"),
        headers: http::HeaderMap::new(),
        body: body.into(),
    }
}

fuzz_target!(|data: &[u8]| {
    let endpoint = Notify {
        secret: SecretString::from(SECRET),
    };

    // As sent: no secret, no belief.
    match futures::executor::block_on(endpoint.authenticate(&incoming(data.to_vec()))) {
        Err(Refusal::Unauthenticated(_)) => {}
        other => panic!(
            "unsigned form not refused as unauthenticated: {:?}",
            other.map(|a| a.claims)
        ),
    }

    // Re-signed: the hash over the decoded fields, appended last (the last value of a repeated
    // name is the one read).
    let form: HashMap<String, String> = url::form_urlencoded::parse(data).into_owned().collect();
    let hash = wire::notification_hash(SECRET, |k| form.get(k).cloned().unwrap_or_default());
    let mut signed = data.to_vec();
    signed.extend_from_slice(b"&hash=");
    signed.extend_from_slice(hash.as_bytes());
    let signed_form: HashMap<String, String> =
        url::form_urlencoded::parse(&signed).into_owned().collect();
    let typed = Notification::authenticate(SECRET, &signed_form);
    assert!(
        typed != Err(wire::NotificationError::BadHash),
        "re-signed form refused for its hash"
    );
    let outcome = futures::executor::block_on(endpoint.authenticate(&incoming(signed)));
    match (&typed, &outcome) {
        (Ok(n), Ok(auth)) => {
            assert_eq!(auth.claims.len(), 1);
            let c = &auth.claims[0];
            assert_eq!(c.dedup_key, n.notification_id);
            assert!(!n.notification_id.is_empty());
            let moves_money =
                matches!(n.kind, NotificationType::Payment | NotificationType::Charge);
            match c.amount {
                Some(m) => assert!(m.minor > 0 && m.currency == wire::pln(), "{m:?}"),
                None => assert!(!moves_money, "{n:?} moves money without an amount"),
            }
        }
        // The endpoint may refuse more than the typed parse (fields beyond the hashed ten), but
        // only as malformed, and never believe what the parse refused.
        (_, Err(Refusal::Malformed(_))) => {}
        (t, o) => panic!(
            "endpoint and wire disagree: {t:?} vs {:?}",
            o.as_ref().map(|a| a.claims.len())
        ),
    }

    // The other texts Mobiltek sends us.
    if let Ok(text) = std::str::from_utf8(data) {
        let answer = wire::UnsubscribeAnswer::parse(text);
        if answer.succeeded() {
            assert!(text.trim_start().starts_with("OK"));
        }
        let _ = wire::verify_ppe_query(SECRET, text);
    }
});
