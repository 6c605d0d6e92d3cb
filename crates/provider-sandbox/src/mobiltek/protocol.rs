//! Mobiltek's protocol as the provider side sees it (docs/providers/mobiltek.md): parsing and
//! verifying a PPE link, signing notifications, verifying unsubscribe requests. Written from the
//! document, deliberately NOT shared with provider-mobiltek's code, so the sandbox checks the
//! adapter instead of agreeing with it by construction.
//!
//! hash = lowercase hex HMAC-SHA512(secret, canonical string); the canonical string is the
//! message's fields in the documented order as `name=value`, values percent-encoded (RFC 3986
//! unreserved characters kept), joined by `&`, rebuilt from the decoded values.

use paysys_platform::money::{Currency, Money};
use paysys_platform::signing::{ct_eq, hmac_sha512_hex};
use std::collections::HashMap;

/// PPE link fields in seed 000's order; `mode` is signed only when the link has it.
const PPE_FIELDS: [&str; 10] = [
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

/// Notification fields in signing (and sending) order.
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

fn canonical(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencoding::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn sign(secret: &str, pairs: &[(&str, &str)]) -> String {
    hmac_sha512_hex(secret.as_bytes(), canonical(pairs).as_bytes())
}

pub fn pln() -> Currency {
    Currency::parse("PLN").expect("PLN is a known currency")
}

/// A verified PPE link.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub msisdn: String,
    pub transaction_id: String,
    pub service_id: String,
    pub price: Money,
    pub product: String,
    pub user_ip: String,
    pub user_id: String,
    pub return_url: String,
    pub error_url: String,
    pub subscription: bool,
}

fn digits(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses the query of a PPE link and checks its hash, as Mobiltek's page does before showing
/// anything. Err says what is wrong, for the 403 page and the control endpoint's 400.
pub fn parse_link(secret: &str, query: &str) -> Result<Link, String> {
    let mut params: HashMap<String, String> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()).into_owned() {
        if params.insert(k.clone(), v).is_some() {
            return Err(format!("the link has {k} twice"));
        }
    }
    let hash = params.get("hash").ok_or("the link has no hash")?;
    let signed: Vec<(&str, &str)> = PPE_FIELDS
        .iter()
        .filter_map(|f| match params.get(*f) {
            None if *f == "mode" => None,
            v => Some((*f, v.map(String::as_str).unwrap_or(""))),
        })
        .collect();
    if !ct_eq(&sign(secret, &signed), hash) {
        return Err("the link's hash does not verify".into());
    }
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let transaction_id = get("transaction_id");
    if !digits(&transaction_id, 16, 16) {
        return Err("transaction_id must be 16 digits".into());
    }
    let service_id = get("service_id");
    if !digits(&service_id, 1, 20) {
        return Err("service_id must be digits".into());
    }
    let msisdn = get("msisdn");
    if !msisdn.is_empty() && !digits(&msisdn, 9, 15) {
        return Err("msisdn must be 9 to 15 digits".into());
    }
    let price = match Money::parse_decimal(&get("price"), pln()) {
        Ok(p) if p.minor > 0 => p,
        _ => {
            return Err(format!(
                "price {:?} is not a positive PLN amount",
                get("price")
            ))
        }
    };
    let subscription = match params.get("mode").map(String::as_str) {
        None => false,
        Some("subscription") => true,
        Some(other) => return Err(format!("mode {other:?} is unknown")),
    };
    Ok(Link {
        msisdn,
        transaction_id,
        service_id,
        price,
        product: get("product"),
        user_ip: get("user_ip"),
        user_id: get("user_id"),
        return_url: get("return_url"),
        error_url: get("error_url"),
        subscription,
    })
}

/// One notification to the adapter: the fields of `NOTIFICATION_FIELDS`, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification(pub Vec<(&'static str, String)>);

impl Notification {
    pub fn get(&self, field: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| *k == field)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    pub fn kind(&self) -> &str {
        self.get("type")
    }

    /// The form to POST: every field, then `hash`.
    pub fn signed_form(&self, secret: &str) -> Vec<(&'static str, String)> {
        let pairs: Vec<(&str, &str)> = self.0.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut form = self.0.clone();
        form.push(("hash", sign(secret, &pairs)));
        form
    }
}

/// Checks an unsubscribe request's hash (fields `service_id`, `transaction_id`, `msisdn`).
pub fn verify_unsubscribe(secret: &str, form: &HashMap<String, String>) -> bool {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let pairs = [
        ("service_id", get("service_id")),
        ("transaction_id", get("transaction_id")),
        ("msisdn", get("msisdn")),
    ];
    ct_eq(&sign(secret, &pairs), get("hash"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "mobiltek-sandbox-secret";

    fn link_query(pairs: &[(&str, &str)]) -> String {
        format!("{}&hash={}", canonical(pairs), sign(SECRET, pairs))
    }

    fn seed_pairs() -> Vec<(&'static str, &'static str)> {
        vec![
            ("msisdn", "48690112325"),
            ("transaction_id", "1000014896266637"),
            ("service_id", "30576"),
            ("price", "0.1"),
            ("product", "Płatność w serwisie Mediaklub"),
            ("user_ip", "127.0.0.1"),
            ("user_id", ""),
            ("return_url", "http://onet.pl"),
            ("error_url", "http://onet.pl"),
        ]
    }

    #[test]
    fn a_seed_shaped_link_parses() {
        let link = parse_link(SECRET, &link_query(&seed_pairs())).unwrap();
        assert_eq!(link.price.minor, 10);
        assert_eq!(link.product, "Płatność w serwisie Mediaklub");
        assert!(!link.subscription);
        let mut sub = seed_pairs();
        sub.push(("mode", "subscription"));
        assert!(parse_link(SECRET, &link_query(&sub)).unwrap().subscription);
    }

    #[test]
    fn forged_or_altered_links_are_refused() {
        let q = link_query(&seed_pairs());
        assert!(parse_link("other", &q).is_err());
        assert!(parse_link(SECRET, &q.replace("price=0.1", "price=0.01")).is_err());
        assert!(parse_link(SECRET, &format!("{q}&price=0.01")).is_err());
        assert!(parse_link(SECRET, q.split("&hash=").next().unwrap()).is_err());
        let mut sub = seed_pairs();
        sub.push(("mode", "subscription"));
        let q = link_query(&sub);
        assert!(parse_link(SECRET, &q.replace("&mode=subscription", "")).is_err());
    }

    #[test]
    fn a_signed_notification_carries_its_fields_in_order() {
        let n = Notification(
            NOTIFICATION_FIELDS
                .iter()
                .map(|f| (*f, format!("v {f}")))
                .collect(),
        );
        let form = n.signed_form(SECRET);
        let names: Vec<&str> = form.iter().map(|(k, _)| *k).collect();
        assert_eq!(&names[..10], &NOTIFICATION_FIELDS[..]);
        assert_eq!(names[10], "hash");
        assert_eq!(form[10].1.len(), 128);
    }

    #[test]
    fn unsubscribe_known_answer() {
        // The same vector as provider-mobiltek's hash tests (openssl dgst -sha512 -hmac).
        let form: HashMap<String, String> = [
            ("service_id", "30576"),
            ("transaction_id", "1000014896266637"),
            ("msisdn", "48501123123"),
            ("hash", "760d70b9cbcdde892f41c38f3c914cc810a4888fc9abc6bc4a9c6e7b5be047bc69bbdd060030d4d5b3d8409651d30db990a53fb9fd58397dec45b654de4f2ea5"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert!(verify_unsubscribe(SECRET, &form));
        let mut other = form.clone();
        other.insert("msisdn".into(), "48501123124".into());
        assert!(!verify_unsubscribe(SECRET, &other));
    }
}
