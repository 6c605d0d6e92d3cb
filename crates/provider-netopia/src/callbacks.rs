//! `POST /netopia/ipn`: mobilPay's IPN as a callback endpoint of the adapter kit. Nothing is
//! believed that does not open with our private key; then the IPN says what happened to which
//! order (our reference is the order id), and mobilPay gets the `<crc>` answer: the crc echoed
//! when handled (also for a resend), `error_type="1"` (temporary: resend) when we failed, `2`
//! (permanent) when the IPN can never be applied.
//!
//! Only `confirmed` with error 0 moves money; `paid` is an authorisation and the `*_pending`
//! actions are steps on the way, acknowledged without effect. The first IPN of a subscription
//! carries `current_payment_count` 1 (recurrence scheduled: charge 1) or 0 (it could not be
//! scheduled, e.g. a 3-D Secure card: one plain payment); later IPNs carry charge n (seed 003).

use crate::wire::{crc_error, crc_ok, Action, Envelope, ErrorType, Ipn as WireIpn, OpeningKey};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use paysys_adapter::{
    Authenticated, CallbackEndpoint, Claim, ClaimKind, Incoming, Lookup, Order, Outcome, Refusal,
    Verdict,
};
use std::collections::HashMap;

pub struct Ipn {
    pub opening: OpeningKey,
}

/// Why a first IPN with `current_payment_count` 0 made no subscription (seed 003).
pub const RECURRENCE_NOT_SCHEDULED: &str = "recurrence could not be scheduled: mobilPay repeats payments only for cards without 3-D Secure (current_payment_count 0)";

/// The claims of an opened IPN.
pub fn claims(ipn: &WireIpn) -> Vec<Claim> {
    let (o, n) = (&ipn.order, &ipn.notify);
    let approved = n.error.code.is_approved();
    let recurring = o.recurrence.is_some();
    // The PHP SDK assumes 1 when an older sender leaves the count out.
    let count = n.current_payment_count.unwrap_or(1);
    let kind = match (approved, n.action) {
        (false, _) if recurring => ClaimKind::ChargeFailed,
        (false, _) => ClaimKind::PaymentFailed,
        (true, Action::Confirmed) if !recurring || count == 0 => ClaimKind::Paid,
        (true, Action::Confirmed) => ClaimKind::Charged,
        // Authorised, pending, refunded or cancelled: acknowledged, nothing accounted.
        (true, _) => return vec![],
    };
    let purchase = n.purchase.clone().unwrap_or_default();
    let outcome = if approved { "confirmed" } else { "failed" };
    let mut c = Claim::new(
        Lookup::Reference(o.id.clone()),
        format!("{}:{count}:{purchase}:{outcome}", o.id),
        kind,
    );
    c.amount = Some(n.processed_amount.unwrap_or(o.invoice.amount));
    c.charge_id = if purchase.is_empty() {
        String::new()
    } else {
        format!("netopia:{purchase}")
    };
    if kind == ClaimKind::Charged || (kind == ClaimKind::ChargeFailed && count > 0) {
        c.sequence = Some(count);
    }
    if !approved {
        c.failure_reason = format!(
            "{} ({})",
            if n.error.message.is_empty() {
                n.error.code.reason().to_string()
            } else {
                n.error.message.clone()
            },
            n.error.code.0
        );
    }
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            c.fields.insert(k.into(), v);
        }
    };
    put("netopia_action", Some(n.action.as_str().into()));
    put("netopia_error_code", Some(n.error.code.0.to_string()));
    put("netopia_purchase", n.purchase.clone());
    put(
        "netopia_current_payment_count",
        n.current_payment_count.map(|c| c.to_string()),
    );
    put("card_pan_masked", n.pan_masked.clone());
    put("netopia_rrn", n.rrn.clone());
    if recurring && kind == ClaimKind::Paid {
        c.fields
            .insert("netopia_recurrence".into(), RECURRENCE_NOT_SCHEDULED.into());
    }
    if let (Some(r), Some(at), true) = (o.recurrence, n.timestamp, kind == ClaimKind::Charged) {
        // mobilPay charges again interval_day days after this charge (its clock, Romanian time).
        // An interval_day so large that the date leaves chrono's range (years past 262143) has
        // no next charge date; `+` would panic there (found by fuzz target `netopia_ipn`).
        let next = match at.and_local_timezone(chrono_tz::Europe::Bucharest) {
            chrono::LocalResult::Single(local) | chrono::LocalResult::Ambiguous(local, _) => local
                .with_timezone(&chrono::Utc)
                .checked_add_signed(chrono::Duration::days(i64::from(r.interval_day))),
            chrono::LocalResult::None => None,
        };
        if let Some(next) = next {
            c.details.insert(
                "next_charge_at".into(),
                next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    .into(),
            );
        }
    }
    c.raw = serde_json::json!({
        "order_id": o.id,
        "signature": o.signature,
        "action": n.action.as_str(),
        "error_code": n.error.code.0,
        "error_message": n.error.message,
        "purchase": n.purchase,
        "current_payment_count": n.current_payment_count,
        "processed_amount": n.processed_amount.map(|m| m.minor),
        "currency": o.invoice.amount.currency.as_str(),
        "pan_masked": n.pan_masked,
    });
    vec![c]
}

#[async_trait::async_trait]
impl CallbackEndpoint for Ipn {
    fn path(&self) -> &'static str {
        "/netopia/ipn"
    }

    async fn authenticate(&self, req: &Incoming) -> Result<Authenticated, Refusal> {
        let form: HashMap<String, String> = req.form().into_iter().collect();
        let envelope = Envelope::from_form(&form)
            .map_err(|e| Refusal::Unauthenticated(format!("envelope: {e}")))?;
        let plain = self
            .opening
            .open(&envelope)
            .map_err(|e| Refusal::Unauthenticated(format!("envelope does not open: {e}")))?;
        let ipn = WireIpn::from_bytes(&plain).map_err(|e| Refusal::Malformed(e.to_string()))?;
        Ok(Authenticated {
            claims: claims(&ipn),
            reply: ipn.notify.crc.clone(),
        })
    }

    /// The IPN must be for the seller account the order was sealed for (docs/providers/netopia.md:
    /// an opened IPN is believed only as far as it matches the stored order, `signature` included).
    fn fits(&self, order: &Order, claim: &mut Claim) -> Result<(), String> {
        let seen = claim.raw["signature"].as_str().unwrap_or("");
        let want = order.detail("signature");
        if seen != want {
            return Err(format!(
                "signature: the IPN is for seller account {seen:?}, the order for {want:?}"
            ));
        }
        Ok(())
    }

    fn answer(&self, verdict: Verdict<'_>) -> Response {
        let body = match verdict {
            Verdict::Refused(Refusal::Unauthenticated(why)) => {
                crc_error(ErrorType::Permanent, 1, why)
            }
            Verdict::Refused(Refusal::Malformed(why)) => crc_error(ErrorType::Permanent, 2, why),
            Verdict::Refused(Refusal::Unverifiable(_))
            | Verdict::Done {
                outcome: Outcome::Failed,
                ..
            } => crc_error(ErrorType::Temporary, 3, "try again"),
            Verdict::Done {
                outcome: Outcome::Applied | Outcome::Duplicate,
                reply,
            } => crc_ok(reply),
            Verdict::Done {
                outcome: Outcome::UnknownOrder,
                ..
            } => crc_error(ErrorType::Permanent, 4, "unknown order"),
            Verdict::Done {
                outcome: Outcome::Misfit(why),
                ..
            } => crc_error(ErrorType::Permanent, 5, why),
        };
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/xml")],
            body,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found with fuzz target `netopia_ipn`: an IPN (which anyone holding our certificate can
    /// seal) for a recurring order whose `interval_day` puts the next charge past chrono's last
    /// year panicked in `DateTime + TimeDelta`. Now the claim simply has no next charge date.
    #[test]
    fn fuzz_regression_huge_interval_day_has_no_next_charge_date() {
        let xml = |interval_day: &str| {
            format!(
                concat!(
                    r#"<?xml version="1.0" encoding="utf-8"?><order type="card" id="ord-42" timestamp="20260314103000">"#,
                    r#"<signature>XXXX-XXXX-XXXX-XXXX-XXXX</signature><invoice currency="RON" amount="12.34"/>"#,
                    r#"<recurrence payments_no="12" interval_day="{}"/>"#,
                    r#"<mobilpay timestamp="20260314103512" crc="9f1c"><action>confirmed</action>"#,
                    r#"<purchase>1234567</purchase><current_payment_count>1</current_payment_count>"#,
                    r#"<error code="0">Tranzactia aprobata</error></mobilpay></order>"#
                ),
                interval_day
            )
        };
        let claims_of = |d: &str| claims(&WireIpn::from_xml(&xml(d)).unwrap());
        let huge = claims_of("4294967295");
        assert_eq!(huge.len(), 1);
        assert_eq!(huge[0].kind, ClaimKind::Charged);
        assert!(!huge[0].details.contains_key("next_charge_at"));
        assert_eq!(huge[0].raw["order_id"], "ord-42");
        let monthly = claims_of("30");
        assert_eq!(
            monthly[0].details["next_charge_at"],
            serde_json::json!("2026-04-13T08:35:12Z")
        );
    }
}
