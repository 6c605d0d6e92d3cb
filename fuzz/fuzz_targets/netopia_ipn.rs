//! Netopia mobilPay's `POST /netopia/ipn`: the envelope (`env_key`/`data`/`cipher`/`iv`, opened
//! with a private key generated at fuzz start, never a committed one) and the IPN XML behind it,
//! through the endpoint's own `authenticate`; plus the other XML mobilPay sends (SOAP answers,
//! `<crc>` documents). The first byte picks the mode:
//! - 0: the rest is a raw IPN POST body from a stranger: refused as unauthenticated, never a panic;
//! - 1: the rest is sealed for our key (RC4 or AES-256-CBC) and posted: the envelope opens to
//!   exactly the rest, and the endpoint accepts it only when `wire::Ipn::from_bytes` does,
//!   answering with the IPN's crc (anything it refuses, it refuses as malformed);
//! - 2, 3: the rest is the opened XML, parsed directly (fast): a parsed IPN writes back to XML
//!   that parses to the same IPN, and makes at most one claim with a non-negative amount in the
//!   invoice's currency.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysys_adapter::{CallbackEndpoint, Incoming, Refusal};
use provider_netopia::callbacks::{claims, Ipn as IpnEndpoint};
use provider_netopia::test_keys::generate_test_identity;
use provider_netopia::wire::soap::{LogInResult, Operation, RecurrenceResult, SoapRequest};
use provider_netopia::wire::{parse_crc_answer, Cipher, Envelope, Ipn, OpeningKey, SealingKey};
use std::collections::HashMap;
use std::sync::OnceLock;

struct Keys {
    endpoint: IpnEndpoint,
    opening: OpeningKey,
    sealing: SealingKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let id = generate_test_identity("paysys-fuzz").expect("a test identity");
        Keys {
            endpoint: IpnEndpoint {
                opening: OpeningKey::from_pem(&id.private_key_pem).expect("its private key"),
            },
            opening: OpeningKey::from_pem(&id.private_key_pem).expect("its private key"),
            sealing: SealingKey::from_certificate_pem(&id.certificate_pem)
                .expect("its certificate"),
        }
    })
}

fn post(body: Vec<u8>) -> Result<paysys_adapter::Authenticated, Refusal> {
    let req = Incoming {
        method: http::Method::POST,
        uri: http::Uri::from_static("/netopia/ipn"),
        headers: http::HeaderMap::new(),
        body: body.into(),
    };
    futures::executor::block_on(keys().endpoint.authenticate(&req))
}

fn check_claims(ipn: &Ipn) {
    let made = claims(ipn);
    assert!(made.len() <= 1);
    for c in &made {
        let m = c.amount.expect("an IPN claim carries an amount");
        assert!(m.minor >= 0, "{m:?}");
        assert_eq!(m.currency, ipn.order.invoice.amount.currency);
        assert!(c.dedup_key.starts_with(&ipn.order.id));
    }
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => match post(rest.to_vec()) {
            Err(Refusal::Unauthenticated(_)) => {}
            other => panic!(
                "a stranger's envelope was not refused: {:?}",
                other.map(|a| a.reply)
            ),
        },
        1 => {
            let cipher = if mode & 4 == 0 {
                Cipher::Rc4
            } else {
                Cipher::Aes256Cbc
            };
            let sealed = keys.sealing.seal(rest, cipher).expect("sealing");
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in sealed.form_fields() {
                form.append_pair(k, &v);
            }
            let body = form.finish();
            let fields: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
            let envelope = Envelope::from_form(&fields);
            if rest.is_empty() && cipher == Cipher::Rc4 {
                // RC4 of nothing is an empty `data`, which a form never carries.
                assert!(envelope.is_err());
                return;
            }
            let envelope = envelope.expect("our own envelope reads back");
            assert_eq!(envelope, sealed);
            assert_eq!(keys.opening.open(&envelope).as_deref(), Ok(rest));
            let direct = Ipn::from_bytes(rest);
            match (post(body.into_bytes()), direct) {
                (Ok(auth), Ok(ipn)) => {
                    assert_eq!(auth.reply, ipn.notify.crc);
                    assert_eq!(auth.claims.len(), claims(&ipn).len());
                }
                // The endpoint may refuse more than the XML parse, as malformed only.
                (Err(Refusal::Malformed(_)), _) => {}
                (got, direct) => panic!(
                    "endpoint and wire disagree: {:?} vs {direct:?}",
                    got.map(|a| a.reply)
                ),
            }
        }
        _ => {
            let Ok(text) = std::str::from_utf8(rest) else {
                assert!(Ipn::from_bytes(rest).is_err());
                return;
            };
            if let Ok(ipn) = Ipn::from_xml(text) {
                check_claims(&ipn);
                let written = ipn.to_xml().expect("a parsed IPN writes back");
                let again = Ipn::from_xml(&written).expect("what we write parses");
                assert_eq!(again, ipn, "written as {written}");
            }
            let _ = parse_crc_answer(text);
            let _ = SoapRequest::from_envelope(text);
            let _ = LogInResult::from_envelope(text);
            for op in Operation::ALL {
                let _ = RecurrenceResult::from_envelope(text, op);
            }
        }
    }
});
