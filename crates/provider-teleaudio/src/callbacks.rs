//! `POST /teleaudio/notify` as a callback endpoint of the adapter kit: the X-Teleaudio-Signature
//! is checked before the body is even parsed; each callback is one claim; answers `OK` (also for
//! a resend) or `ERROR <why>`, 5xx when Teleaudio should resend.

use crate::wire::{self, Callback};
use axum::response::Response;
use paysys_adapter::{
    plain_text_answer, Authenticated, CallbackEndpoint, Claim, ClaimKind, Incoming, Lookup,
    Refusal, Verdict,
};
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

/// The claim of an authenticated callback; errors name the field.
pub fn claim(cb: &Callback, raw: serde_json::Value) -> Result<Claim, String> {
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
        let raw: serde_json::Value =
            serde_json::from_slice(&req.body).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let c = claim(&cb, raw).map_err(Refusal::Malformed)?;
        Ok(Authenticated {
            claims: vec![c],
            reply: String::new(),
        })
    }

    fn answer(&self, verdict: Verdict<'_>) -> Response {
        plain_text_answer(verdict, "reference: unknown")
    }
}
