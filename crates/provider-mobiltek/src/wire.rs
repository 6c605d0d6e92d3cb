//! Mobiltek's wire types (docs/providers/mobiltek.md): the PPE link of seed 000 that the adapter
//! emits, the notification form Mobiltek posts to us (authenticated, then parsed into a typed
//! `Notification` whose errors name the field), and the plain-text `unsubscribe` answer.
//! Seed 000 shows only the link and the answers; the rest is our documented protocol, which
//! provider-sandbox plays.

use crate::hash;
use paysys_platform::money::{Currency, Money};
use std::collections::HashMap;

pub use crate::hash::{notification_hash, unsubscribe_hash};

/// The parameters of a PPE link (seed 000), in the seed's order.
#[derive(Debug, Clone)]
pub struct PpeLink {
    pub msisdn: String,
    pub transaction_id: String,
    pub service_id: String,
    pub price: Money,
    pub product: String,
    pub user_ip: String,
    pub user_id: String,
    pub return_url: String,
    pub error_url: String,
    /// Our protocol: `mode=subscription` asks the page to register a subscription.
    pub subscription: bool,
}

impl PpeLink {
    /// `{base_url}/ppe?msisdn=..&...&error_url=..[&mode=subscription]&hash=..`. The query text
    /// before `&hash=` is exactly the canonical string the hash covers.
    pub fn url(&self, base_url: &str, secret: &str) -> String {
        let price = self.price.to_decimal_trimmed();
        let mut fields: Vec<(&str, &str)> = vec![
            ("msisdn", &self.msisdn),
            ("transaction_id", &self.transaction_id),
            ("service_id", &self.service_id),
            ("price", &price),
            ("product", &self.product),
            ("user_ip", &self.user_ip),
            ("user_id", &self.user_id),
            ("return_url", &self.return_url),
            ("error_url", &self.error_url),
        ];
        if self.subscription {
            fields.push(("mode", "subscription"));
        }
        let query = hash::canonical(fields);
        let signature = hash::sign(secret, &query);
        format!(
            "{}/ppe?{query}&hash={signature}",
            base_url.trim_end_matches('/')
        )
    }
}

/// Verifies the query of a PPE link (the text after `?`) as Mobiltek does: the hash must match
/// the canonical string rebuilt from the decoded parameters.
pub fn verify_ppe_query(secret: &str, query: &str) -> bool {
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let canonical = hash::ppe_canonical(|f| params.get(f).cloned());
    params
        .get("hash")
        .is_some_and(|h| hash::verify(secret, &canonical, h))
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

    /// Types that concern a subscription (the others a one-time payment).
    pub fn is_subscription(&self) -> bool {
        !matches!(self, Self::Payment | Self::PaymentFailed)
    }

    /// Types that are about one charge attempt: they carry Mobiltek's `charge_id`.
    pub fn is_charge(&self) -> bool {
        !matches!(self, Self::Registration | Self::Unregistration)
    }

    /// Types where money moved: the amount is required.
    pub fn moves_money(&self) -> bool {
        matches!(self, Self::Payment | Self::Charge)
    }
}

/// An authenticated, well-formed notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub notification_id: String,
    pub transaction_id: String,
    pub service_id: String,
    /// Empty when the user never gave a number (an abandoned page).
    pub msisdn: String,
    pub operator_id: String,
    pub kind: NotificationType,
    pub amount: Option<Money>,
    pub charge_id: String,
    pub reason: String,
    pub timestamp: i64,
}

/// Why a notification is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("bad hash")]
    BadHash,
    #[error("{field}: {why}")]
    Field { field: &'static str, why: String },
}

fn field(field: &'static str, why: impl Into<String>) -> NotificationError {
    NotificationError::Field {
        field,
        why: why.into(),
    }
}

fn digits(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// An international phone number as Mobiltek writes it: 9 to 15 digits (seed 000: `48501123123`).
pub fn is_msisdn(s: &str) -> bool {
    digits(s, 9, 15)
}

impl Notification {
    /// Authenticates FIRST (nothing unsigned is believed, not even which field is wrong), then
    /// parses every field.
    pub fn authenticate(
        secret: &str,
        form: &HashMap<String, String>,
    ) -> Result<Self, NotificationError> {
        let get = |k: &str| form.get(k).cloned().unwrap_or_default();
        let expected = hash::notification_hash(secret, get);
        if !paysys_platform::signing::ct_eq(&expected, &get("hash")) {
            return Err(NotificationError::BadHash);
        }
        Self::parse(form)
    }

    fn parse(form: &HashMap<String, String>) -> Result<Self, NotificationError> {
        let get = |k: &str| {
            form.get(k)
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        // A control character is no part of any field (a NUL could not even be stored); the
        // free-text `reason` may break lines.
        for name in hash::NOTIFICATION_FIELDS {
            let text = name == "reason";
            if get(name)
                .chars()
                .any(|c| c.is_control() && !(text && matches!(c, '\t' | '\n' | '\r')))
            {
                return Err(field(name, "must not contain control characters"));
            }
        }
        let notification_id = get("notification_id");
        if notification_id.is_empty() || notification_id.len() > 64 {
            return Err(field("notification_id", "required, at most 64 characters"));
        }
        let transaction_id = get("transaction_id");
        if !digits(&transaction_id, 1, 20) {
            return Err(field("transaction_id", "required, digits"));
        }
        let service_id = get("service_id");
        if !digits(&service_id, 1, 20) {
            return Err(field("service_id", "required, digits"));
        }
        let msisdn = get("msisdn");
        if !msisdn.is_empty() && !is_msisdn(&msisdn) {
            return Err(field("msisdn", "must be 9 to 15 digits"));
        }
        let kind = NotificationType::parse(&get("type")).ok_or_else(|| {
            field(
                "type",
                format!(
                    "unknown {:?}; expected PAYMENT, PAYMENT_FAILED, REGISTRATION, CHARGE, CHARGE_FAILED or UNREGISTRATION",
                    get("type")
                ),
            )
        })?;
        let amount = match get("amount").as_str() {
            "" if kind.moves_money() => return Err(field("amount", "required for this type")),
            "" => None,
            a => match Money::parse_decimal(a, pln()) {
                Ok(m) if m.minor > 0 => Some(m),
                _ => {
                    return Err(field(
                        "amount",
                        format!("{a:?} is not a positive PLN amount"),
                    ))
                }
            },
        };
        let charge_id = get("charge_id");
        if kind.is_charge() && charge_id.is_empty() {
            return Err(field("charge_id", "required for this type"));
        }
        if charge_id.len() > 128 {
            return Err(field("charge_id", "at most 128 characters"));
        }
        let timestamp = get("timestamp");
        let timestamp = match timestamp.parse::<i64>() {
            Ok(t) if t > 0 => t,
            _ => return Err(field("timestamp", "required, unix seconds")),
        };
        Ok(Self {
            notification_id,
            transaction_id,
            service_id,
            msisdn,
            operator_id: get("operator_id"),
            kind,
            amount,
            charge_id,
            reason: get("reason"),
            timestamp,
        })
    }
}

pub fn pln() -> Currency {
    Currency::parse("PLN").expect("PLN is a known currency")
}

/// Mobiltek's plain-text unsubscribe answer: a status word, then `code:message`
/// (seed 000: `ERROR\n4321:Subscriber not found`; success is `OK` with code 2302).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeAnswer {
    pub status: String,
    pub code: Option<u32>,
    pub message: String,
}

impl UnsubscribeAnswer {
    pub fn parse(text: &str) -> Self {
        let text = text.trim_start();
        let status_len = text
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(text.len());
        let (status, rest) = text.split_at(status_len);
        let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ':');
        let code_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (code, message) = rest.split_at(code_len);
        Self {
            status: status.to_string(),
            code: code.parse().ok(),
            message: message.trim_start_matches(':').trim().to_string(),
        }
    }

    /// Seed 000: "If it starts with OK and numeric code equals 2302 the process completed
    /// successfully, otherwise it means that error occurred."
    pub fn succeeded(&self) -> bool {
        self.status == "OK" && self.code == Some(2302)
    }
}

/// Shorthand for `UnsubscribeAnswer::parse(answer).succeeded()`.
pub fn unsubscribe_succeeded(answer: &str) -> bool {
    UnsubscribeAnswer::parse(answer).succeeded()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "mobiltek-sandbox-secret";

    fn seed_link(subscription: bool) -> PpeLink {
        PpeLink {
            msisdn: "48690112325".into(),
            transaction_id: "1000014896266637".into(),
            service_id: "30576".into(),
            price: Money::new(10, pln()),
            product: "Płatność w serwisie Mediaklub".into(),
            user_ip: "127.0.0.1".into(),
            user_id: "".into(),
            return_url: "http://onet.pl".into(),
            error_url: "http://onet.pl".into(),
            subscription,
        }
    }

    #[test]
    fn ppe_link_has_seed_000_shape() {
        let url = seed_link(false).url("https://pay.mobiltek.pl/", SECRET);
        let (before_hash, hash) = url.rsplit_once("&hash=").unwrap();
        // Seed 000's link, byte for byte up to the hash (which depends on the secret).
        assert_eq!(
            before_hash,
            "https://pay.mobiltek.pl/ppe?msisdn=48690112325&transaction_id=1000014896266637&service_id=30576&price=0.1&product=P%C5%82atno%C5%9B%C4%87%20w%20serwisie%20Mediaklub&user_ip=127.0.0.1&user_id=&return_url=http%3A%2F%2Fonet.pl&error_url=http%3A%2F%2Fonet.pl"
        );
        assert_eq!(hash.len(), 128);
        let query = url.split_once('?').unwrap().1;
        assert!(verify_ppe_query(SECRET, query));
        assert!(!verify_ppe_query("another-secret", query));
    }

    #[test]
    fn subscription_link_signs_mode() {
        let url = seed_link(true).url("https://pay.mobiltek.pl", SECRET);
        let query = url.split_once('?').unwrap().1;
        assert!(query.contains("&error_url=http%3A%2F%2Fonet.pl&mode=subscription&hash="));
        assert!(verify_ppe_query(SECRET, query));
        // Dropping `mode` (turning the subscription into a one-time payment) breaks the hash.
        assert!(!verify_ppe_query(
            SECRET,
            &query.replace("&mode=subscription", "")
        ));
    }

    #[test]
    fn tampered_or_reencoded_links() {
        let url = seed_link(false).url("https://pay.mobiltek.pl", SECRET);
        let query = url.split_once('?').unwrap().1;
        assert!(!verify_ppe_query(
            SECRET,
            &query.replace("price=0.1", "price=0.01")
        ));
        assert!(!verify_ppe_query(
            SECRET,
            query.split("&hash=").next().unwrap()
        ));
        // A proxy writing spaces as `+` does not break the hash: values are compared decoded.
        assert!(verify_ppe_query(SECRET, &query.replace("%20", "+")));
    }

    fn form(fields: &[(&str, &str)]) -> HashMap<String, String> {
        let mut m: HashMap<String, String> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let h = notification_hash(SECRET, |k| m.get(k).cloned().unwrap_or_default());
        m.insert("hash".into(), h);
        m
    }

    fn payment() -> Vec<(&'static str, &'static str)> {
        vec![
            ("notification_id", "n-1"),
            ("transaction_id", "1000014896266637"),
            ("service_id", "30576"),
            ("msisdn", "48501123123"),
            ("operator_id", "26001"),
            ("type", "PAYMENT"),
            ("amount", "0.1"),
            ("charge_id", "c-1"),
            ("timestamp", "1700000000"),
        ]
    }

    #[test]
    fn a_signed_payment_parses_exactly() {
        let n = Notification::authenticate(SECRET, &form(&payment())).unwrap();
        assert_eq!(n.kind, NotificationType::Payment);
        assert_eq!(n.amount, Some(Money::new(10, pln())));
        assert_eq!(n.charge_id, "c-1");
        assert_eq!(n.reason, "");
        assert_eq!(n.timestamp, 1_700_000_000);
    }

    #[test]
    fn the_hash_is_checked_before_any_field() {
        let mut f = form(&[("type", "NONSENSE")]);
        f.insert("hash".into(), "0".repeat(128));
        assert_eq!(
            Notification::authenticate(SECRET, &f),
            Err(NotificationError::BadHash)
        );
        let mut tampered = form(&payment());
        tampered.insert("amount".into(), "100".into());
        assert_eq!(
            Notification::authenticate(SECRET, &tampered),
            Err(NotificationError::BadHash)
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let cases: [(&str, &str, &str); 7] = [
            ("amount", "", "amount"),
            ("amount", "0.001", "amount"),
            ("amount", "-1", "amount"),
            ("type", "REFUND", "type"),
            ("charge_id", "", "charge_id"),
            ("msisdn", "+48 501", "msisdn"),
            ("timestamp", "yesterday", "timestamp"),
        ];
        for (name, value, named) in cases {
            let mut fields = payment();
            fields.retain(|(k, _)| *k != name);
            fields.push((name, value));
            match Notification::authenticate(SECRET, &form(&fields)) {
                Err(NotificationError::Field { field, .. }) => assert_eq!(field, named),
                other => panic!("{name}={value:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn control_characters_are_refused_by_field() {
        let with = |name: &'static str, value: &'static str| {
            let mut fields: Vec<(&str, &str)> =
                payment().into_iter().filter(|(k, _)| *k != name).collect();
            fields.push((name, value));
            Notification::authenticate(SECRET, &form(&fields))
        };
        for (name, value) in [
            ("notification_id", "n-1\u{0}"),
            ("charge_id", "c\u{1b}[2J"),
            ("operator_id", "26001\u{0}"),
            ("reason", "no\u{0}funds"),
        ] {
            match with(name, value) {
                Err(NotificationError::Field { field, .. }) => assert_eq!(field, name),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(with("reason", "line one\nline two").is_ok());
    }

    #[test]
    fn registration_needs_no_amount_or_charge() {
        let n = Notification::authenticate(
            SECRET,
            &form(&[
                ("notification_id", "n-2"),
                ("transaction_id", "1000014896266637"),
                ("service_id", "30576"),
                ("msisdn", "48501123123"),
                ("type", "REGISTRATION"),
                ("timestamp", "1700000000"),
            ]),
        )
        .unwrap();
        assert_eq!((n.amount, n.charge_id.as_str()), (None, ""));
    }

    #[test]
    fn seed_unsubscribe_answers() {
        let ok = UnsubscribeAnswer::parse("OK\n2302:Subscriber unregistered");
        assert_eq!(
            ok,
            UnsubscribeAnswer {
                status: "OK".into(),
                code: Some(2302),
                message: "Subscriber unregistered".into()
            }
        );
        assert!(ok.succeeded());
        let err = UnsubscribeAnswer::parse("ERROR\n4321:Subscriber not found");
        assert_eq!((err.status.as_str(), err.code), ("ERROR", Some(4321)));
        assert!(!err.succeeded());
        assert!(unsubscribe_succeeded(
            "OK\r\n2302:Subscriber unregistered\r\n"
        ));
        assert!(!unsubscribe_succeeded("OK\n2303:other"));
        assert!(!unsubscribe_succeeded("OK"));
        assert!(!unsubscribe_succeeded("OKAY\n2302:x"));
        assert!(!unsubscribe_succeeded("<html>502 Bad Gateway</html>"));
        assert!(!unsubscribe_succeeded(""));
    }
}
