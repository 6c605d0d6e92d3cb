//! What the simulated Teleaudio knows and decides: subscriptions (created by the adapter,
//! confirmed on Teleaudio's page, renewed every period by the shared `lifecycle`) and
//! webbilling transactions (a code texted to the phone, three tries). Pure state changes that
//! return the callback bodies to send; signing and sending is `Teleaudio`'s job.

use crate::config::ServiceTerms;
use crate::lifecycle::{Renewals, Status, RENEWAL_FAILED};
use chrono::{DateTime, Utc};
use paysys_platform::signing::ct_eq;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Wrong codes allowed before the payment fails for good (seed 002: "third time").
pub const MAX_TRIES: u32 = 3;

#[derive(Debug, Clone, Serialize)]
pub struct Subscription {
    pub subscription_id: String,
    pub reference: String,
    pub service_id: String,
    pub msisdn: String,
    pub status: Status,
    pub amount_minor: i64,
    pub period_secs: u64,
    #[serde(flatten)]
    pub renewals: Renewals,
    pub charges: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Webbilling {
    pub transaction_id: String,
    pub reference: String,
    pub msisdn: String,
    pub amount_minor: i64,
    #[serde(skip)]
    pub code: String,
    pub tries: u32,
    pub status: Status,
}

#[derive(Debug, Default)]
pub struct Records {
    pub subscriptions: BTreeMap<String, Subscription>,
    pub webbilling: BTreeMap<String, Webbilling>,
    /// reference -> id: a repeated start returns the same transaction (idempotency).
    pub by_reference: BTreeMap<String, String>,
    pub seq: u64,
}

/// A callback body (docs/providers/teleaudio.md); `charge_id` only on money collected.
fn callback(
    kind: &str,
    reference: &str,
    provider_id: &str,
    msisdn: &str,
    amount: i64,
    reason: &str,
    at: DateTime<Utc>,
) -> Value {
    let charge = matches!(kind, "CHARGE_SUCCESS" | "PAYMENT_SUCCESS");
    json!({
        "event_id": uuid::Uuid::new_v4().to_string(),
        "type": kind,
        "reference": reference,
        "provider_id": provider_id,
        "msisdn": msisdn,
        "amount": amount,
        "currency": "PLN",
        "charge_id": if charge { format!("{provider_id}-{}", uuid::Uuid::new_v4().simple()) } else { String::new() },
        "reason": reason,
        "timestamp": at.timestamp(),
    })
}

impl Records {
    fn next_id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}{:010}", 4_200_000_000u64 + self.seq)
    }

    /// The subscription for `reference`, created pending on first sight. Returns its id.
    pub fn create_subscription(
        &mut self,
        reference: &str,
        service_id: &str,
        msisdn: &str,
        terms: ServiceTerms,
    ) -> String {
        if let Some(id) = self.by_reference.get(reference) {
            return id.clone();
        }
        let id = self.next_id("TAS");
        self.by_reference.insert(reference.into(), id.clone());
        self.subscriptions.insert(
            id.clone(),
            Subscription {
                subscription_id: id.clone(),
                reference: reference.into(),
                service_id: service_id.into(),
                msisdn: msisdn.into(),
                status: Status::Pending,
                amount_minor: terms.amount_minor,
                period_secs: terms.period_secs.max(1),
                renewals: Renewals::default(),
                charges: 0,
            },
        );
        id
    }

    /// The webbilling transaction for `reference`: `(id, Some(code to text))` when new,
    /// `(id, None)` when it was started before.
    pub fn start_webbilling(
        &mut self,
        reference: &str,
        msisdn: &str,
        amount_minor: i64,
    ) -> (String, Option<String>) {
        if let Some(id) = self.by_reference.get(reference) {
            return (id.clone(), None);
        }
        let id = self.next_id("TAW");
        let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
        self.by_reference.insert(reference.into(), id.clone());
        self.webbilling.insert(
            id.clone(),
            Webbilling {
                transaction_id: id.clone(),
                reference: reference.into(),
                msisdn: msisdn.into(),
                amount_minor,
                code: code.clone(),
                tries: 0,
                status: Status::Pending,
            },
        );
        (id, Some(code))
    }

    /// Renewals falling due by `now`, each with its due time (`/_sandbox/clock/advance` puts
    /// every provider's in due order).
    pub fn due(&mut self, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, Value)> {
        let subscriptions = self.subscriptions.values_mut();
        subscriptions.flat_map(|s| s.due(now)).collect()
    }
}

impl Subscription {
    fn callback(&self, kind: &str, amount: i64, reason: &str, at: DateTime<Utc>) -> Value {
        callback(
            kind,
            &self.reference,
            &self.subscription_id,
            &self.msisdn,
            amount,
            reason,
            at,
        )
    }

    /// The user confirmed (or refused) the subscription at its page: SUBSCRIPTION_STARTED and
    /// the first CHARGE_SUCCESS, or CHARGE_FAILED. Err when it was decided before.
    pub fn complete(
        &mut self,
        success: bool,
        charges_fail: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Value>, String> {
        self.status
            .still_pending(format_args!("subscription {}", self.subscription_id))?;
        self.renewals.charges_fail = charges_fail;
        if !success {
            self.status = Status::Failed;
            return Ok(vec![self.callback(
                "CHARGE_FAILED",
                self.amount_minor,
                "subscription not confirmed",
                now,
            )]);
        }
        self.status = Status::Active;
        self.charges = 1;
        self.renewals.start(now, self.period_secs);
        Ok(vec![
            self.callback("SUBSCRIPTION_STARTED", 0, "", now),
            self.callback("CHARGE_SUCCESS", self.amount_minor, "", now),
        ])
    }

    fn due(&mut self, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, Value)> {
        let mut out = Vec::new();
        for r in self.renewals.due(self.period_secs, now) {
            let cb = if r.collected {
                self.charges += 1;
                self.callback("CHARGE_SUCCESS", self.amount_minor, "", r.at)
            } else {
                self.callback("CHARGE_FAILED", self.amount_minor, RENEWAL_FAILED, r.at)
            };
            out.push((r.at, cb));
        }
        out
    }

    /// Cancels an active subscription: SUBSCRIPTION_CANCELLED. None when it is not active.
    pub fn cancel(&mut self, now: DateTime<Utc>) -> Option<Value> {
        if self.status != Status::Active {
            return None;
        }
        self.status = Status::Cancelled;
        self.renewals.stop();
        Some(self.callback("SUBSCRIPTION_CANCELLED", 0, "unsubscribed", now))
    }
}

impl Webbilling {
    fn callback(&self, kind: &str, reason: &str, at: DateTime<Utc>) -> Value {
        callback(
            kind,
            &self.reference,
            &self.transaction_id,
            &self.msisdn,
            self.amount_minor,
            reason,
            at,
        )
    }

    /// Checks the code the user typed (seed 002): the right one collects the money
    /// (PAYMENT_SUCCESS); the third wrong one fails the payment (PAYMENT_FAILED). Err is the
    /// error code answered without a callback (BADTOKEN, TRYEXCEEDED, BADTRANSACTION).
    pub fn confirm(&mut self, code: &str, now: DateTime<Utc>) -> Result<Value, &'static str> {
        match self.status {
            Status::Pending => {}
            Status::Failed => return Err("TRYEXCEEDED"),
            _ => return Err("BADTRANSACTION"),
        }
        if ct_eq(code, &self.code) {
            self.status = Status::Paid;
            return Ok(self.callback("PAYMENT_SUCCESS", "", now));
        }
        self.tries += 1;
        if self.tries < MAX_TRIES {
            return Err("BADTOKEN");
        }
        self.status = Status::Failed;
        Ok(self.callback("PAYMENT_FAILED", "TRYEXCEEDED", now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TERMS: ServiceTerms = ServiceTerms {
        period_secs: 100,
        amount_minor: 100,
    };

    fn kinds(cbs: &[Value]) -> Vec<&str> {
        cbs.iter().filter_map(|c| c["type"].as_str()).collect()
    }

    #[test]
    fn a_subscription_renews_until_cancelled() {
        let mut r = Records::default();
        let t0 = Utc::now();
        let id = r.create_subscription("ref-1", "511", "48519532621", TERMS);
        assert_eq!(r.create_subscription("ref-1", "511", "x", TERMS), id);
        let s = r.subscriptions.get_mut(&id).unwrap();
        let cbs = s.complete(true, false, t0).unwrap();
        assert_eq!(kinds(&cbs), ["SUBSCRIPTION_STARTED", "CHARGE_SUCCESS"]);
        assert!(s.complete(true, false, t0).is_err(), "confirmed twice");
        let due = r.due(t0 + chrono::Duration::seconds(250));
        assert_eq!(due.len(), 2);
        assert_eq!(
            due[0].1["charge_id"].as_str().map(str::is_empty),
            Some(false)
        );
        let s = r.subscriptions.get_mut(&id).unwrap();
        assert_eq!(s.charges, 3);
        assert!(s.cancel(t0).is_some());
        assert!(s.cancel(t0).is_none(), "cancelled twice");
        assert!(r.due(t0 + chrono::Duration::days(365)).is_empty());
    }

    #[test]
    fn the_third_wrong_code_fails_the_payment() {
        let mut r = Records::default();
        let now = Utc::now();
        let (id, code) = r.start_webbilling("ref-2", "48519532621", 500);
        assert!(code.is_some());
        assert_eq!(
            r.start_webbilling("ref-2", "48519532621", 500),
            (id.clone(), None)
        );
        let w = r.webbilling.get_mut(&id).unwrap();
        assert_eq!(w.confirm("wrong", now), Err("BADTOKEN"));
        assert_eq!(w.confirm("wrong", now), Err("BADTOKEN"));
        let failed = w.confirm("wrong", now).unwrap();
        assert_eq!(failed["type"], "PAYMENT_FAILED");
        assert_eq!(w.confirm("wrong", now), Err("TRYEXCEEDED"));
    }
}
