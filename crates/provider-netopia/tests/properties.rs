//! Properties of the parsers over arbitrary input: they never panic, and what we build reads
//! back as it was (amounts exactly, text byte for byte through the SDK's urlencoding).

use chrono::{DateTime, NaiveDateTime};
use paysys_platform::money::{Currency, Money};
use proptest::prelude::*;
use provider_netopia::test_keys::generate_test_identity;
use provider_netopia::wire::amount::{format_amount, parse_amount};
use provider_netopia::wire::soap::SoapRequest;
use provider_netopia::wire::{
    parse_crc_answer, Cipher, Contact, Envelope, Invoice, Ipn, OpeningKey, Order, Recurrence,
    SealingKey,
};
use std::sync::OnceLock;

fn ron() -> Currency {
    Currency::parse("RON").unwrap()
}

fn keys() -> &'static (SealingKey, OpeningKey) {
    static KEYS: OnceLock<(SealingKey, OpeningKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let id = generate_test_identity("properties").unwrap();
        (
            SealingKey::from_certificate_pem(&id.certificate_pem).unwrap(),
            OpeningKey::from_pem(&id.private_key_pem).unwrap(),
        )
    })
}

fn timestamp(secs: i64) -> NaiveDateTime {
    DateTime::from_timestamp(secs, 0).unwrap().naive_utc()
}

proptest! {
    #[test]
    fn amounts_round_trip_exactly(minor in 0i64..=i64::MAX) {
        let money = Money::new(minor, ron());
        let text = format_amount(&money).unwrap();
        prop_assert_eq!(parse_amount(&text, ron()).unwrap(), money);
    }

    #[test]
    fn amount_parsing_never_panics(text in "\\PC{0,30}") {
        let _ = parse_amount(&text, ron());
    }

    #[test]
    fn orders_round_trip_any_text(
        id in "[A-Za-z0-9_-]{1,64}",
        details in "\\PC{0,80}",
        name in "\\PC{0,40}",
        param in "\\PC{0,40}",
        minor in 0i64..100_000_000,
        secs in 0i64..4_000_000_000,
        payments_no in 0u32..1000,
        interval_day in 1u32..400,
    ) {
        let mut invoice = Invoice::new(Money::new(minor, ron()));
        invoice.details = Some(details.trim().to_string());
        invoice.billing = Some(Contact { first_name: Some(name.trim().to_string()), ..Contact::default() });
        let mut order = Order::new(id, timestamp(secs), "SIG", invoice);
        order.recurrence = Some(Recurrence { payments_no, interval_day });
        order.params = vec![("p".into(), param.trim().to_string())];
        let xml = order.to_xml().unwrap();
        prop_assert_eq!(Order::from_xml(&xml).unwrap(), order);
    }

    #[test]
    fn xml_readers_never_panic(text in "\\PC{0,200}") {
        let _ = Order::from_xml(&text);
        let _ = Ipn::from_xml(&text);
        let _ = parse_crc_answer(&text);
        let _ = SoapRequest::from_envelope(&text);
    }

    #[test]
    fn xml_readers_never_panic_on_near_misses(cut in 0usize..2000, byte in any::<u8>()) {
        let order = Order::new("o-1", timestamp(0), "SIG", Invoice::new(Money::new(1, ron())));
        let mut xml = order.to_xml().unwrap().into_bytes();
        let at = cut % xml.len();
        xml[at] = byte;
        if let Ok(text) = String::from_utf8(xml.clone()) {
            let _ = Order::from_xml(&text);
            let _ = Ipn::from_xml(&text);
        }
        let _ = Ipn::from_bytes(&xml[..at]);
    }

    #[test]
    fn opening_garbage_is_an_error_never_a_panic(
        env_key in proptest::collection::vec(any::<u8>(), 0..300),
        data in proptest::collection::vec(any::<u8>(), 0..100),
        iv in proptest::collection::vec(any::<u8>(), 0..20),
        aes in any::<bool>(),
    ) {
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let envelope = Envelope {
            env_key: b64(&env_key),
            data: b64(&data),
            cipher: if aes { Cipher::Aes256Cbc } else { Cipher::Rc4 },
            iv: Some(b64(&iv)),
        };
        prop_assert!(keys().1.open(&envelope).is_err());
    }

    #[test]
    fn sealing_round_trips(plain in proptest::collection::vec(any::<u8>(), 0..2000), aes in any::<bool>()) {
        let cipher = if aes { Cipher::Aes256Cbc } else { Cipher::Rc4 };
        let (sealing, opening) = keys();
        let envelope = sealing.seal(&plain, cipher).unwrap();
        prop_assert_eq!(opening.open(&envelope).unwrap(), plain);
    }
}
