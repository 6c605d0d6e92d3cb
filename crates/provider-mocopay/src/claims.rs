//! What a session verified with verifyPayment says about its order, as claims for the adapter
//! kit's pipeline (docs/providers/mocopay.md "What the adapter believes"). Notifications and the
//! callback redirect are only hints; these claims come from verifyPayment's answers alone.

use crate::{Session, SessionStatus, SessionTransaction, SessionType, TransactionStatus};
use paysys_adapter::{Claim, ClaimKind, Lookup, Order};
use paysys_platform::domain::OrderKind;
use paysys_platform::money::Money;
use serde_json::json;

fn base(s: &Session, key: String, kind: ClaimKind) -> Result<Claim, String> {
    let reference = s
        .reference_id
        .clone()
        .filter(|r| !r.is_empty())
        .ok_or("verifyPayment: the session carries no referenceId")?;
    let mut c = Claim::new(Lookup::Reference(reference), key, kind);
    c.details
        .insert("session_id".into(), s.session_id.clone().into());
    c.fields
        .insert("mocopay_session_id".into(), s.session_id.clone());
    c.fields
        .insert("mocopay_status".into(), s.status.as_str().to_string());
    if let Some(series) = s.series {
        c.fields.insert("mocopay_series".into(), series.to_string());
    }
    c.raw = json!({
        "session_id": s.session_id,
        "status": s.status.as_str(),
        "pid": s.pid,
        "type": s.session_type.map(|t| t.as_str()),
        "series": s.series,
    });
    Ok(c)
}

/// The claim of the session's own status (not its charges).
pub fn session_claim(s: &Session) -> Result<Option<Claim>, String> {
    let subscription = s.session_type == Some(SessionType::Subscription);
    let kind = match (&s.status, subscription) {
        (SessionStatus::Authorized, true) => ClaimKind::Registered,
        (SessionStatus::Failed | SessionStatus::Cancelled | SessionStatus::Expired, false) => {
            ClaimKind::PaymentFailed
        }
        (SessionStatus::Failed, true) => ClaimKind::ChargeFailed,
        // Never authorized: the subscription never began (a failed registration, as Mobiltek
        // and Teleaudio report it), not a cancellation.
        (SessionStatus::Cancelled | SessionStatus::Expired, true)
            if s.time_authorized.as_deref().unwrap_or("").is_empty() =>
        {
            ClaimKind::ChargeFailed
        }
        (SessionStatus::Cancelled | SessionStatus::Expired, true) => ClaimKind::Cancelled,
        _ => return Ok(None),
    };
    let mut c = base(
        s,
        format!("session:{}:{}", s.session_id, s.status.as_str()),
        kind,
    )?;
    if matches!(
        kind,
        ClaimKind::PaymentFailed | ClaimKind::ChargeFailed | ClaimKind::Cancelled
    ) {
        c.failure_reason = format!("MoCoPay session {}", s.status.as_str());
    }
    Ok(Some(c))
}

/// The claim of one verified charge attempt (one ledger transfer per transaction id).
pub fn transaction_claim(
    s: &Session,
    t: &SessionTransaction,
    reason: &str,
) -> Result<Claim, String> {
    let subscription = s.session_type == Some(SessionType::Subscription);
    let kind = match (t.status, subscription) {
        (TransactionStatus::Success, false) => ClaimKind::Paid,
        (TransactionStatus::Success, true) => ClaimKind::Charged,
        (TransactionStatus::Failed, false) => ClaimKind::PaymentFailed,
        (TransactionStatus::Failed, true) => ClaimKind::ChargeFailed,
    };
    let mut c = base(
        s,
        format!("txn:{}:{}", t.transaction_id, t.status.as_str()),
        kind,
    )?;
    c.charge_id = format!("mocopay:{}", t.transaction_id);
    c.fields
        .insert("mocopay_transaction_id".into(), t.transaction_id.clone());
    if t.status == TransactionStatus::Failed {
        c.failure_reason = if reason.is_empty() {
            "MoCoPay charge failed".into()
        } else {
            reason.to_string()
        };
    }
    c.raw["transaction_id"] = t.transaction_id.clone().into();
    c.raw["amount"] = t.amount.into();
    c.raw["currency_code"] = t.currency_code.clone().into();
    Ok(c)
}

/// Completes a claim against its order: the session must be of the order's product and kind,
/// and MoCoPay's currency code must map to the order's currency (`TES` only for test orders).
pub fn resolve(order: &Order, claim: &mut Claim) -> Result<(), String> {
    if let Some(pid) = claim.raw["pid"].as_str() {
        if pid != order.detail("pid") {
            return Err(format!(
                "pid: the session is for product {pid}, the order for {}",
                order.detail("pid")
            ));
        }
    }
    if let Some(t) = claim.raw["type"].as_str() {
        let want = if order.kind == OrderKind::Subscription {
            "subscription"
        } else {
            "onetime"
        };
        if t != want {
            return Err(format!(
                "type: a {t} session does not fit a {}",
                order.kind.describe()
            ));
        }
    }
    if let (Some(amount), Some(code)) = (
        claim.raw["amount"].as_i64(),
        claim.raw["currency_code"].as_str(),
    ) {
        let currency = crate::currency::to_iso(code, order.price.currency, order.test)
            .map_err(|e| format!("currencyCode: {e}"))?;
        claim.amount = Some(Money::new(amount, currency));
    }
    Ok(())
}
