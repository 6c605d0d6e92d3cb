//! Teleaudio's `POST /teleaudio/notify`: the endpoint's `authenticate` (X-Teleaudio-Signature,
//! then the JSON callback and its claim), run with the body unsigned, with a wrong signature
//! header, and signed with the secret so the JSON parsing behind the signature is reached.
//! Invariants:
//! - unsigned or wrongly signed bodies are refused as `Unauthenticated`;
//! - a signed body is never refused for its signature; when accepted it makes one claim keyed by
//!   its `event_id`, whose amount (when money moved) is positive in a known currency.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysys_adapter::{CallbackEndpoint, Incoming, Refusal};
use provider_teleaudio::callbacks::Notify;
use provider_teleaudio::wire::{self, Callback};
use secrecy::SecretString;

const SECRET: &str = "fuzz-teleaudio-secret";

fn incoming(body: &[u8], signature: Option<&str>) -> Incoming {
    let mut headers = http::HeaderMap::new();
    if let Some(sig) = signature.and_then(|s| http::HeaderValue::from_str(s).ok()) {
        headers.insert(wire::SIGNATURE_HEADER, sig);
    }
    Incoming {
        method: http::Method::POST,
        uri: http::Uri::from_static("/teleaudio/notify"),
        headers,
        body: bytes::Bytes::copy_from_slice(body),
    }
}

fuzz_target!(|data: &[u8]| {
    let endpoint = Notify {
        secret: SecretString::from(SECRET),
    };
    let run = |req: Incoming| futures::executor::block_on(endpoint.authenticate(&req));

    for refused in [
        run(incoming(data, None)),
        run(incoming(data, Some(&wire::sign("another-secret", data)))),
    ] {
        assert!(
            matches!(refused, Err(Refusal::Unauthenticated(_))),
            "believed without the secret: {:?}",
            refused.map(|a| a.claims)
        );
    }

    let signature = wire::sign(SECRET, data);
    assert!(wire::verify(SECRET, data, &signature));
    match run(incoming(data, Some(&signature))) {
        Ok(auth) => {
            assert_eq!(auth.claims.len(), 1);
            let cb: Callback = serde_json::from_slice(data).expect("accepted body parses");
            let c = &auth.claims[0];
            assert_eq!(c.dedup_key, cb.event_id);
            assert!(!cb.event_id.is_empty() && cb.event_id.len() <= 64);
            if let Some(m) = c.amount {
                assert!(m.minor > 0 && m.minor == cb.amount, "{m:?}");
                // Currency codes are read trimmed (`" PLN"` is PLN), as everywhere in PaySystem.
                assert_eq!(m.currency.as_str(), cb.currency.trim());
                assert!(!c.charge_id.is_empty());
            }
        }
        Err(Refusal::Malformed(_)) => {}
        Err(other) => panic!("signed body refused: {other:?}"),
    }
});
