//! `POST /mobiltek/notify` as a callback endpoint of the adapter kit (docs/providers/mobiltek.md):
//! the hash is checked before anything is believed, the notification becomes one claim, and
//! Mobiltek gets our plain-text answers: `OK` (also for a resend), `ERROR <why>` otherwise, with
//! a 5xx when Mobiltek should resend.

use crate::wire::{Notification, NotificationError, NotificationType};
use axum::response::Response;
use paysys_adapter::{
    plain_text_answer, Authenticated, CallbackEndpoint, Claim, ClaimKind, Incoming, Lookup, Order,
    Refusal, Verdict,
};
use paysys_platform::domain::OrderKind;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;

pub struct Notify {
    pub secret: SecretString,
}

fn claim_kind(t: NotificationType) -> ClaimKind {
    match t {
        NotificationType::Payment => ClaimKind::Paid,
        NotificationType::PaymentFailed => ClaimKind::PaymentFailed,
        NotificationType::Registration => ClaimKind::Registered,
        NotificationType::Charge => ClaimKind::Charged,
        NotificationType::ChargeFailed => ClaimKind::ChargeFailed,
        NotificationType::Unregistration => ClaimKind::Cancelled,
    }
}

/// The claim an authenticated notification makes.
pub fn claim(n: &Notification, form: &HashMap<String, String>) -> Claim {
    let mut c = Claim::new(
        Lookup::Reference(n.transaction_id.clone()),
        n.notification_id.clone(),
        claim_kind(n.kind),
    );
    c.amount = n.amount;
    c.charge_id = n.charge_id.clone();
    c.failure_reason = n.reason.clone();
    c.fields.insert("mobiltek_msisdn".into(), n.msisdn.clone());
    c.fields
        .insert("mobiltek_operator_id".into(), n.operator_id.clone());
    c.fields
        .insert("mobiltek_notification_type".into(), n.kind.as_str().into());
    // The number the user confirmed with replaces the one the merchant gave.
    if !n.msisdn.is_empty() {
        c.details.insert("msisdn".into(), n.msisdn.clone().into());
    }
    // Everything Mobiltek sent but the hash, for support and audits.
    c.raw = serde_json::Value::Object(
        form.iter()
            .filter(|(k, _)| k.as_str() != "hash")
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect(),
    );
    c
}

#[async_trait::async_trait]
impl CallbackEndpoint for Notify {
    fn path(&self) -> &'static str {
        "/mobiltek/notify"
    }

    async fn authenticate(&self, req: &Incoming) -> Result<Authenticated, Refusal> {
        let form: HashMap<String, String> = req.form().into_iter().collect();
        let n = Notification::authenticate(self.secret.expose_secret(), &form).map_err(
            |e| match e {
                NotificationError::BadHash => Refusal::Unauthenticated("bad hash".into()),
                e => Refusal::Malformed(e.to_string()),
            },
        )?;
        // Fields beyond the hashed ten are kept for audits; a NUL there could not be stored.
        if let Some((k, _)) = form
            .iter()
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(Refusal::Malformed(format!(
                "{k:?}: must not contain NUL characters"
            )));
        }
        Ok(Authenticated {
            claims: vec![claim(&n, &form)],
            reply: String::new(),
        })
    }

    /// A notification for another Mobiltek service than the order's is not this order's; nor is
    /// a one-time `PAYMENT` for a subscription (Mobiltek registers and charges those).
    fn fits(&self, order: &Order, claim: &mut Claim) -> Result<(), String> {
        let seen = claim.raw["service_id"].as_str().unwrap_or("");
        if seen != order.detail("service_id") {
            return Err(format!(
                "service_id: the transaction belongs to service {}",
                order.detail("service_id")
            ));
        }
        if claim.kind == ClaimKind::Paid && order.kind == OrderKind::Subscription {
            return Err(
                "type: PAYMENT is a one-time payment's; this transaction is a subscription".into(),
            );
        }
        Ok(())
    }

    fn answer(&self, verdict: Verdict<'_>) -> Response {
        plain_text_answer(verdict, "transaction_id: unknown")
    }
}
