//! Mobiltek's wire protocol (docs/providers/mobiltek.md): the PPE link of seed 000, the
//! notification form Mobiltek posts to us, and the plain-text `unsubscribe` answer. Seed 000 shows
//! only the link and the answers; the rest is our documented protocol, which the sandbox plays.

use paysys_platform::signing::{ct_eq, hmac_sha512_hex};

/// Seed 000's PPE parameters, in the seed's order; `hash` comes last.
pub const PPE_PARAMS: [&str; 9] = [
    "msisdn",
    "transaction_id",
    "service_id",
    "price",
    "product",
    "user_ip",
    "user_id",
    "return_url",
    "error_url",
];

/// RFC 3986 encoding of a query value (seed 000: `P%C5%82atno%C5%9B%C4%87%20w%20serwisie`).
pub fn encode(v: &str) -> String {
    urlencoding::encode(v).into_owned()
}

/// The PPE query without `hash`, then the hash: HMAC-SHA512 (128 hex digits, as in seed 000's
/// link) keyed by the service secret over the exact query string that precedes `&hash=`.
pub fn ppe_query(secret: &str, params: &[(&str, String)]) -> String {
    let q = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let hash = hmac_sha512_hex(secret.as_bytes(), q.as_bytes());
    format!("{q}&hash={hash}")
}

/// Verifies a PPE query (everything after `?`): the hash must match the text before `&hash=`.
pub fn verify_ppe_query(secret: &str, query: &str) -> bool {
    match query.rsplit_once("&hash=") {
        Some((signed, hash)) => ct_eq(&hmac_sha512_hex(secret.as_bytes(), signed.as_bytes()), hash),
        None => false,
    }
}

/// The notification types Mobiltek posts to `POST /mobiltek/notify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationType {
    Payment,
    PaymentFailed,
    Registration,
    Charge,
    ChargeFailed,
    Unregistration,
}

impl NotificationType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "PAYMENT" => Self::Payment,
            "PAYMENT_FAILED" => Self::PaymentFailed,
            "REGISTRATION" => Self::Registration,
            "CHARGE" => Self::Charge,
            "CHARGE_FAILED" => Self::ChargeFailed,
            "UNREGISTRATION" => Self::Unregistration,
            _ => return None,
        })
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Payment => "PAYMENT",
            Self::PaymentFailed => "PAYMENT_FAILED",
            Self::Registration => "REGISTRATION",
            Self::Charge => "CHARGE",
            Self::ChargeFailed => "CHARGE_FAILED",
            Self::Unregistration => "UNREGISTRATION",
        }
    }
}

/// Fields of a notification, in the order they are hashed.
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

/// hash = HMAC-SHA512(secret, the field values joined by `|` in `NOTIFICATION_FIELDS` order).
pub fn notification_hash(secret: &str, get: impl Fn(&str) -> String) -> String {
    let canonical = NOTIFICATION_FIELDS
        .iter()
        .map(|f| get(f))
        .collect::<Vec<_>>()
        .join("|");
    hmac_sha512_hex(secret.as_bytes(), canonical.as_bytes())
}

/// hash of an unsubscribe request: HMAC-SHA512(secret, "service_id|transaction_id|msisdn").
pub fn unsubscribe_hash(
    secret: &str,
    service_id: &str,
    transaction_id: &str,
    msisdn: &str,
) -> String {
    hmac_sha512_hex(
        secret.as_bytes(),
        format!("{service_id}|{transaction_id}|{msisdn}").as_bytes(),
    )
}

/// Seed 000: success is an answer starting with "OK" whose numeric code is 2302
/// (`OK\n2302:...`); anything else (`ERROR\n4321:Subscriber not found`) is a failure.
pub fn unsubscribe_succeeded(answer: &str) -> bool {
    let mut lines = answer.lines();
    lines.next().map(str::trim) == Some("OK")
        && lines
            .next()
            .and_then(|l| l.split(':').next())
            .map(str::trim)
            == Some("2302")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppe_query_keeps_seed_order_and_verifies() {
        let params: Vec<(&str, String)> =
            PPE_PARAMS.iter().map(|k| (*k, format!("v {k}"))).collect();
        let q = ppe_query("s", &params);
        let keys: Vec<&str> = q
            .split('&')
            .map(|kv| kv.split('=').next().unwrap())
            .collect();
        assert_eq!(&keys[..9], &PPE_PARAMS[..]);
        assert_eq!(keys[9], "hash");
        assert_eq!(q.rsplit_once("hash=").unwrap().1.len(), 128);
        assert!(verify_ppe_query("s", &q));
        assert!(!verify_ppe_query("other", &q));
        assert!(!verify_ppe_query(
            "s",
            &q.replace("price=v%20price", "price=0")
        ));
    }

    #[test]
    fn seed_product_encoding() {
        assert_eq!(
            encode("Płatność w serwisie Mediaklub"),
            "P%C5%82atno%C5%9B%C4%87%20w%20serwisie%20Mediaklub"
        );
        assert_eq!(encode("http://onet.pl"), "http%3A%2F%2Fonet.pl");
    }

    #[test]
    fn seed_unsubscribe_answers() {
        assert!(unsubscribe_succeeded("OK\n2302:Subscriber unregistered"));
        assert!(!unsubscribe_succeeded("ERROR\n4321:Subscriber not found"));
        assert!(!unsubscribe_succeeded("OK\n2303:other"));
    }
}
