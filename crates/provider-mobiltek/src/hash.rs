//! Mobiltek's hashes (docs/providers/mobiltek.md, "Hashes"). Seed 000 shows only that the PPE
//! link ends in `hash=` + 128 hex digits (a SHA-512-family digest); the rest is our protocol:
//!
//! hash = lowercase hex HMAC-SHA512, keyed by the secret agreed with Mobiltek, over the
//! CANONICAL STRING of a message: its fields in the documented order as `name=value`, each value
//! percent-encoded (RFC 3986: everything but `A-Z a-z 0-9 - . _ ~`), joined by `&`.
//!
//! Why this form: names and encoded values make the string unambiguous (with values joined by
//! `|`, a `|` inside one value could move into its neighbour under the same hash), and a verifier
//! rebuilds it from the DECODED values, so a browser or proxy re-encoding the link (`%7E` vs `~`,
//! `+` vs `%20`) cannot break it. For the PPE link the canonical string is also exactly the
//! query text before `&hash=`, because the adapter emits the link with the same encoding.

use paysys_platform::signing::{ct_eq, hmac_sha512_hex};

/// PPE link fields in seed 000's order; `mode` (our protocol) is signed only when present.
pub const PPE_FIELDS: [&str; 10] = [
    "msisdn",
    "transaction_id",
    "service_id",
    "price",
    "product",
    "user_ip",
    "user_id",
    "return_url",
    "error_url",
    "mode",
];

/// Notification fields, in hashing order (every one signed, empty or not).
pub const NOTIFICATION_FIELDS: [&str; 10] = [
    "notification_id",
    "transaction_id",
    "service_id",
    "msisdn",
    "operator_id",
    "type",
    "amount",
    "charge_id",
    "reason",
    "timestamp",
];

/// Unsubscribe request fields, in hashing order.
pub const UNSUBSCRIBE_FIELDS: [&str; 3] = ["service_id", "transaction_id", "msisdn"];

/// RFC 3986 encoding of one value (seed 000: `P%C5%82atno%C5%9B%C4%87%20w%20serwisie`,
/// `http%3A%2F%2Fonet.pl`).
pub fn encode(value: &str) -> String {
    urlencoding::encode(value).into_owned()
}

/// `name=encoded(value)` pairs joined by `&`, in the order given.
pub fn canonical<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    fields
        .into_iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The hash of a canonical string.
pub fn sign(secret: &str, canonical: &str) -> String {
    hmac_sha512_hex(secret.as_bytes(), canonical.as_bytes())
}

/// Constant-time check of a received hash (hex digits compared as sent: lowercase per protocol).
pub fn verify(secret: &str, canonical: &str, received: &str) -> bool {
    ct_eq(&sign(secret, canonical), received)
}

/// The canonical string of a PPE link from its decoded parameters (`get` returns "" when absent);
/// `mode` takes part only when the link carries it.
pub fn ppe_canonical(get: impl Fn(&str) -> Option<String>) -> String {
    let values: Vec<(&str, String)> = PPE_FIELDS
        .iter()
        .filter_map(|f| match get(f) {
            None if *f == "mode" => None,
            v => Some((*f, v.unwrap_or_default())),
        })
        .collect();
    canonical(values.iter().map(|(k, v)| (*k, v.as_str())))
}

/// The hash of a notification, from its fields (`get` returns "" for an absent field).
pub fn notification_hash(secret: &str, get: impl Fn(&str) -> String) -> String {
    let values: Vec<(&str, String)> = NOTIFICATION_FIELDS.iter().map(|f| (*f, get(f))).collect();
    sign(
        secret,
        &canonical(values.iter().map(|(k, v)| (*k, v.as_str()))),
    )
}

/// The hash of an unsubscribe request.
pub fn unsubscribe_hash(
    secret: &str,
    service_id: &str,
    transaction_id: &str,
    msisdn: &str,
) -> String {
    let values = [service_id, transaction_id, msisdn];
    sign(
        secret,
        &canonical(UNSUBSCRIBE_FIELDS.into_iter().zip(values)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A known answer (computed independently with
    /// `printf '...' | openssl dgst -sha512 -hmac mobiltek-sandbox-secret`), so an
    /// implementation on Mobiltek's side can be checked against ours.
    #[test]
    fn unsubscribe_hash_known_answer() {
        assert_eq!(
            unsubscribe_hash("mobiltek-sandbox-secret", "30576", "1000014896266637", "48501123123"),
            "760d70b9cbcdde892f41c38f3c914cc810a4888fc9abc6bc4a9c6e7b5be047bc69bbdd060030d4d5b3d8409651d30db990a53fb9fd58397dec45b654de4f2ea5"
        );
    }

    #[test]
    fn hashes_are_128_lowercase_hex_digits() {
        let h = sign("k", "a=b");
        assert_eq!(h.len(), 128);
        assert!(h
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert!(verify("k", "a=b", &h));
        assert!(!verify("k", "a=b", &h.to_uppercase()));
        assert!(!verify("other", "a=b", &h));
        assert!(!verify("k", "a=b", ""));
    }

    #[test]
    fn a_separator_inside_a_value_cannot_move_to_its_neighbour() {
        let a = canonical([("product", "a&user_ip=b"), ("user_ip", "c")]);
        let b = canonical([("product", "a"), ("user_ip", "b&user_ip=c")]);
        assert_ne!(a, b);
    }

    #[test]
    fn ppe_canonical_signs_mode_only_when_present() {
        let one_time = ppe_canonical(|f| (f == "price").then(|| "0.1".to_string()));
        assert_eq!(
            one_time,
            "msisdn=&transaction_id=&service_id=&price=0.1&product=&user_ip=&user_id=&return_url=&error_url="
        );
        let sub = ppe_canonical(|f| (f == "mode").then(|| "subscription".to_string()));
        assert!(sub.ends_with("&error_url=&mode=subscription"));
    }

    #[test]
    fn notification_hash_covers_every_field() {
        let base = |f: &str| format!("v-{f}");
        let h = notification_hash("s", base);
        for field in NOTIFICATION_FIELDS {
            let changed = notification_hash("s", |f| if f == field { "x".into() } else { base(f) });
            assert_ne!(h, changed, "{field} is not signed");
        }
    }
}
