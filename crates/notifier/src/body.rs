//! The notification a merchant receives (DESIGN section 5, seed 000 "Notifications"): a
//! JSON-RPC 2.0 request whose `params.signature` lets the merchant check the money fields.

use paysys_platform::signing;
use paysys_proto::Event;
use serde::Serialize;
use std::collections::BTreeMap;

/// The JSON-RPC method a merchant receives for an event kind; None for kinds not notified.
pub use paysys_platform::events::notification_method as method_for_kind;

/// `params.signature`: lowercase hex HMAC-SHA256 of `"{method}|{order_id}|{amount}|{currency}"`
/// keyed by the decoded bytes of the merchant's `whsec_` secret. `amount` is the minor-unit
/// decimal string as sent (e.g. "10"). Merchants (and tests) recompute it with this.
pub fn params_signature(
    whsec: &str,
    method: &str,
    order_id: &str,
    amount: &str,
    currency: &str,
) -> Result<String, String> {
    let key = signing::decode_whsec(whsec)?;
    Ok(sign_params(&key, method, order_id, amount, currency))
}

/// [`params_signature`] with the secret already decoded.
pub fn sign_params(
    key: &[u8],
    method: &str,
    order_id: &str,
    amount: &str,
    currency: &str,
) -> String {
    let msg = format!("{method}|{order_id}|{amount}|{currency}");
    signing::hmac_sha256_hex(key, msg.as_bytes())
}

// Field order follows seed 000, so the wire looks like the documented example.
#[derive(Serialize)]
struct Request<'a> {
    jsonrpc: &'static str,
    id: String,
    method: &'a str,
    params: Params<'a>,
}

#[derive(Serialize)]
struct Params<'a> {
    user_id: &'a str,
    user_email: &'a str,
    amount: String,
    currency: &'a str,
    order_id: &'a str,
    signature: String,
    additional_data: BTreeMap<String, String>,
}

/// The exact request body for `event`, as it will be sent on every attempt. `now_unix` makes
/// the seed's `id` (`"1669214883subscription_start"`).
pub fn build(event: &Event, method: &str, key: &[u8], now_unix: i64) -> String {
    let amount = event.amount_minor.to_string();
    let mut additional_data: BTreeMap<String, String> = event
        .provider_fields
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if event.sequence > 0 {
        additional_data.insert("charge_sequence".into(), event.sequence.to_string());
    }
    if !event.failure_reason.is_empty() {
        additional_data.insert("failure_reason".into(), event.failure_reason.clone());
    }
    let request = Request {
        jsonrpc: "2.0",
        id: format!("{now_unix}{method}"),
        method,
        params: Params {
            user_id: &event.user_id,
            user_email: &event.user_email,
            signature: sign_params(key, method, &event.order_id, &amount, &event.currency),
            amount,
            currency: &event.currency,
            order_id: &event.order_id,
            additional_data,
        },
    };
    // Serialising strings and maps of strings cannot fail.
    serde_json::to_string(&request).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use paysys_platform::events;
    use serde_json::{json, Value};

    fn started() -> Event {
        Event {
            kind: events::SUBSCRIPTION_STARTED.into(),
            merchant_id: "34801".into(),
            order_id: "cab3131a-dec7-49cc-8607-0121a61d3427".into(),
            amount_minor: 10,
            currency: "PLN".into(),
            user_id: "1234qwera".into(),
            user_email: "tomek_sync@test.pl".into(),
            provider_fields: [
                ("mobiltek_msisdn", "48501123123"),
                ("mobiltek_operator_id", "26001"),
                ("mobiltek_notification_type", "REGISTRATION"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn params_signature_matches_a_known_answer() {
        // printf '%s' 'new_payment|cab3131a-dec7-49cc-8607-0121a61d3427|10|PLN' |
        //   openssl dgst -sha256 -hmac merchant-1-notify-secret
        // (the whsec_ secret is base64 of "merchant-1-notify-secret")
        assert_eq!(
            params_signature(
                "whsec_bWVyY2hhbnQtMS1ub3RpZnktc2VjcmV0",
                "new_payment",
                "cab3131a-dec7-49cc-8607-0121a61d3427",
                "10",
                "PLN"
            ),
            Ok("f2d09a6f2efe220a1f409a671c5f60df5217172dfb1f593eaad42bccf786a30d".to_string())
        );
        assert!(params_signature("whsec_!!", "new_payment", "o", "10", "PLN").is_err());
    }

    #[test]
    fn every_event_kind_has_a_method() {
        let methods: Vec<_> = events::ALL.iter().map(|k| method_for_kind(k)).collect();
        assert!(methods.iter().all(Option::is_some), "{methods:?}");
        assert_eq!(method_for_kind("payment.refunded"), None);
    }

    #[test]
    fn body_has_the_seed_000_shape() {
        let key = b"secret-bytes";
        let body = build(&started(), "subscription_start", key, 1669214883);
        let v: Value = serde_json::from_str(&body).unwrap();
        // printf '%s' 'subscription_start|cab3131a-dec7-49cc-8607-0121a61d3427|10|PLN' |
        //   openssl dgst -sha256 -hmac secret-bytes
        let signature = "e437f1504fefe4c04969f219240bc98f58e353037e295a97cfcef05dd63719d8";
        assert_eq!(
            v,
            json!({
                "jsonrpc": "2.0",
                "id": "1669214883subscription_start",
                "method": "subscription_start",
                "params": {
                    "user_id": "1234qwera",
                    "user_email": "tomek_sync@test.pl",
                    "amount": "10",
                    "currency": "PLN",
                    "order_id": "cab3131a-dec7-49cc-8607-0121a61d3427",
                    "signature": signature,
                    "additional_data": {
                        "mobiltek_msisdn": "48501123123",
                        "mobiltek_operator_id": "26001",
                        "mobiltek_notification_type": "REGISTRATION"
                    }
                }
            })
        );
        // Keys in the seed's order, not alphabetical.
        assert!(
            body.starts_with(r#"{"jsonrpc":"2.0","id":"1669214883subscription_start","method""#)
        );
    }

    #[test]
    fn charges_carry_their_sequence_and_failures_their_reason() {
        let event = Event {
            kind: events::SUBSCRIPTION_CHARGE_FAILED.into(),
            sequence: 3,
            failure_reason: "insufficient funds".into(),
            ..started()
        };
        let v: Value =
            serde_json::from_str(&build(&event, "subscription_charge_failed", b"k", 1)).unwrap();
        assert_eq!(v["params"]["additional_data"]["charge_sequence"], "3");
        assert_eq!(
            v["params"]["additional_data"]["failure_reason"],
            "insufficient funds"
        );
        let v: Value =
            serde_json::from_str(&build(&started(), "subscription_start", b"k", 1)).unwrap();
        assert!(v["params"]["additional_data"]
            .get("charge_sequence")
            .is_none());
        assert!(v["params"]["additional_data"]
            .get("failure_reason")
            .is_none());
    }
}
