//! `POST /teleaudio/notify` as a callback endpoint of the adapter kit: the X-Teleaudio-Signature
//! is checked before the body is even parsed; each callback is one claim; answers `OK` (also for
//! a resend) or `ERROR <why>`, 5xx when Teleaudio should resend.

use crate::wire::{self, Callback};
use axum::response::Response;
use paysys_adapter::{
    plain_text_answer, Authenticated, CallbackEndpoint, Claim, ClaimKind, Incoming, Lookup, Order,
    Refusal, Verdict,
};
use paysys_platform::domain::OrderKind;
use paysys_platform::money::{Currency, Money};
use secrecy::{ExposeSecret, SecretString};

pub struct Notify {
    pub secret: SecretString,
}

fn claim_kind(t: &str) -> Option<ClaimKind> {
    Some(match t {
        "PAYMENT_SUCCESS" => ClaimKind::Paid,
        "PAYMENT_FAILED" => ClaimKind::PaymentFailed,
        "SUBSCRIPTION_STARTED" => ClaimKind::Registered,
        "CHARGE_SUCCESS" => ClaimKind::Charged,
        "CHARGE_FAILED" => ClaimKind::ChargeFailed,
        "SUBSCRIPTION_CANCELLED" => ClaimKind::Cancelled,
        _ => return None,
    })
}

/// Whether any string in `v` (names included) holds a NUL, which could not be stored.
fn has_nul(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(a) => a.iter().any(has_nul),
        serde_json::Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// The claim of an authenticated callback; errors name the field.
pub fn claim(cb: &Callback, raw: serde_json::Value) -> Result<Claim, String> {
    // A control character is no part of any field; the free-text `reason` may break lines.
    for (name, value) in [
        ("event_id", &cb.event_id),
        ("type", &cb.kind),
        ("reference", &cb.reference),
        ("provider_id", &cb.provider_id),
        ("msisdn", &cb.msisdn),
        ("currency", &cb.currency),
        ("charge_id", &cb.charge_id),
        ("reason", &cb.reason),
    ] {
        let text = name == "reason";
        if value
            .chars()
            .any(|c| c.is_control() && !(text && matches!(c, '\t' | '\n' | '\r')))
        {
            return Err(format!("{name}: must not contain control characters"));
        }
    }
    if has_nul(&raw) {
        return Err("body: must not contain NUL characters".into());
    }
    if cb.event_id.is_empty() || cb.event_id.len() > 64 {
        return Err("event_id: required, at most 64 characters".into());
    }
    let kind = claim_kind(&cb.kind).ok_or_else(|| format!("type: unknown {:?}", cb.kind))?;
    if cb.reference.is_empty() || cb.reference.len() > 64 {
        return Err("reference: not ours".into());
    }
    let amount = if kind.moves_money() {
        let currency = Currency::parse(&cb.currency).map_err(|e| format!("currency: {e}"))?;
        if cb.amount <= 0 || cb.charge_id.is_empty() {
            return Err("amount, currency and charge_id: required for a charge".into());
        }
        Some(Money::new(cb.amount, currency))
    } else {
        None
    };
    let mut c = Claim::new(
        Lookup::Reference(cb.reference.clone()),
        cb.event_id.clone(),
        kind,
    );
    c.amount = amount;
    c.charge_id = cb.charge_id.clone();
    c.failure_reason = cb.reason.clone();
    c.fields
        .insert("teleaudio_msisdn".into(), cb.msisdn.clone());
    c.fields
        .insert("teleaudio_notification_type".into(), cb.kind.clone());
    c.raw = raw;
    Ok(c)
}

#[async_trait::async_trait]
impl CallbackEndpoint for Notify {
    fn path(&self) -> &'static str {
        "/teleaudio/notify"
    }

    async fn authenticate(&self, req: &Incoming) -> Result<Authenticated, Refusal> {
        let sig = req
            .headers
            .get(wire::SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !wire::verify(self.secret.expose_secret(), &req.body, sig) {
            return Err(Refusal::Unauthenticated("bad signature".into()));
        }
        let cb: Callback = serde_json::from_slice(&req.body)
            .map_err(|e| Refusal::Malformed(format!("body: {e}")))?;
        let raw: serde_json::Value = serde_json::from_slice(&req.body)
            .map_err(|e| Refusal::Malformed(format!("body: {e}")))?;
        let c = claim(&cb, raw).map_err(Refusal::Malformed)?;
        Ok(Authenticated {
            claims: vec![c],
            reply: String::new(),
        })
    }

    /// `PAYMENT_SUCCESS` is webbilling's (seed 002): a subscription is started and charged.
    fn fits(&self, order: &Order, claim: &mut Claim) -> Result<(), String> {
        if claim.kind == ClaimKind::Paid && order.kind == OrderKind::Subscription {
            return Err(
                "type: PAYMENT_SUCCESS is a webbilling payment's; this order is a subscription"
                    .into(),
            );
        }
        Ok(())
    }

    fn answer(&self, verdict: Verdict<'_>) -> Response {
        plain_text_answer(verdict, "reference: unknown")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn callback(reason: &str, charge_id: &str) -> (Callback, serde_json::Value) {
        let raw = serde_json::json!({"event_id": "e-1", "type": "CHARGE_FAILED", "reference": "r-1",
            "provider_id": "p", "msisdn": "48519532621", "amount": 100, "currency": "PLN",
            "charge_id": charge_id, "reason": reason, "timestamp": 1});
        (serde_json::from_value(raw.clone()).unwrap(), raw)
    }

    #[test]
    fn control_characters_are_refused_by_field() {
        let (cb, raw) = callback("insufficient funds\nretry later", "c-1");
        assert!(claim(&cb, raw).is_ok());
        let (cb, raw) = callback("no\u{0}funds", "c-1");
        assert!(claim(&cb, raw).unwrap_err().starts_with("reason:"));
        let (cb, raw) = callback("", "c\u{1b}[2J");
        assert!(claim(&cb, raw).unwrap_err().starts_with("charge_id:"));
        let (cb, mut raw) = callback("", "c-1");
        raw["extra"] = serde_json::json!(["x\u{0}"]);
        assert!(claim(&cb, raw).unwrap_err().starts_with("body:"));
    }
}
