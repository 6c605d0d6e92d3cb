//! Teleaudio's wire protocol (docs/providers/teleaudio.md): JSON over HTTPS, every body signed
//! with `X-Teleaudio-Signature: hex HMAC-SHA256(secret, body)` in both directions. Seeds 001 and
//! 002 give the flows and the webbilling codes (BADTRANSACTION, BADTOKEN, TRYEXCEEDED).

use paysys_platform::signing::{ct_eq, hmac_sha256_hex};
use serde::{Deserialize, Serialize};

pub const SIGNATURE_HEADER: &str = "x-teleaudio-signature";

pub fn sign(secret: &str, body: &[u8]) -> String {
    hmac_sha256_hex(secret.as_bytes(), body)
}

pub fn verify(secret: &str, body: &[u8], signature: &str) -> bool {
    ct_eq(&sign(secret, body), signature)
}

/// `POST /subscriptions`: Teleaudio registers the subscriber after they confirm at `confirm_url`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateSubscription {
    pub reference: String,
    pub service_id: String,
    pub msisdn: String,
    /// Informational: the amount and period are configured per service at Teleaudio (seed 001).
    pub amount: i64,
    pub currency: String,
    pub return_url: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SubscriptionCreated {
    pub subscription_id: String,
    pub confirm_url: String,
}

/// `POST /webbilling`: Teleaudio sends the SMS code to `msisdn` (seed 002).
#[derive(Debug, Serialize, Deserialize)]
pub struct StartWebbilling {
    pub reference: String,
    pub service_id: String,
    pub msisdn: String,
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct WebbillingStarted {
    pub transaction_id: String,
}

/// `POST /webbilling/{transaction_id}/confirm`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConfirmCode {
    pub code: String,
}

/// Answer of confirm and cancel: `{"status":"OK"}` or `{"status":"ERROR","code":"BADTOKEN",...}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Answer {
    pub status: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// Callback types Teleaudio posts to `POST /teleaudio/notify`.
pub const CALLBACK_TYPES: &[&str] = &[
    "SUBSCRIPTION_STARTED",
    "CHARGE_SUCCESS",
    "CHARGE_FAILED",
    "SUBSCRIPTION_CANCELLED",
    "PAYMENT_SUCCESS",
    "PAYMENT_FAILED",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Callback {
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub reference: String,
    pub provider_id: String,
    pub msisdn: String,
    /// Minor units (grosz).
    #[serde(default)]
    pub amount: i64,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub charge_id: String,
    #[serde(default)]
    pub reason: String,
    pub timestamp: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_detect_tampering() {
        let s = sign("secret-key", b"{\"a\":1}");
        assert_eq!(s.len(), 64);
        assert!(verify("secret-key", b"{\"a\":1}", &s));
        assert!(!verify("secret-key", b"{\"a\":2}", &s));
        assert!(!verify("other-key", b"{\"a\":1}", &s));
    }

    #[test]
    fn callback_parses() {
        let c: Callback = serde_json::from_str(r#"{"event_id":"e","type":"CHARGE_SUCCESS","reference":"r","provider_id":"p","msisdn":"48519532621","amount":100,"currency":"PLN","charge_id":"c","timestamp":1}"#).unwrap();
        assert_eq!(
            (c.kind.as_str(), c.amount, c.reason.as_str()),
            ("CHARGE_SUCCESS", 100, "")
        );
    }
}
