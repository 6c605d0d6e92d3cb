//! What the simulated MoCoPay knows and decides (docs/providers/mocopay.md, "Sandbox"): one
//! record per initPayment (its checkout), which becomes a payment session when the user finishes
//! the form; the transactions (charge attempts) of each session; the renewals the sandbox clock
//! brings due. Pure state changes that return the notifications to send (how records read on
//! the wire is `view`); sending them is `Mocopay`'s job. The subscription schedule is the
//! shared `lifecycle`.

use super::settings::Product;
pub use super::view::{wire_time, Notice};
use crate::lifecycle::{Renewals, RENEWAL_FAILED};
use chrono::{DateTime, Duration, Utc};
use provider_mocopay::{
    InitPayment, ParamError, Session, SessionStatus, SessionTransaction, SessionType,
    TransactionStatus, VerifyPayment,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// The buyer's number when neither initPayment nor `/_sandbox/complete` gave one.
pub const DEFAULT_PHONE: &str = "385991234567";

/// A MoCoPay id: 32 hex digits, like the seed's.
fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Ours: a checkout is in MoCoPay's TEST environment when its notifyUrl has a path segment
/// `test` (the adapter's `/mocopay/test/notify`): its money is reported in `TES`.
pub fn is_test(notify_url: &str) -> bool {
    url::Url::parse(notify_url)
        .ok()
        .and_then(|u| u.path_segments().map(|mut s| s.any(|seg| seg == "test")))
        .unwrap_or(false)
}

/// One initPayment, and the session it became once the user finished the form.
#[derive(Debug, Clone)]
pub struct SimSession {
    pub request_id: String,
    /// None until the user finished (or abandoned) the form.
    pub session_id: Option<String>,
    /// The request as received (a repeat with the same referenceId must be identical).
    pub init: InitPayment,
    pub kind: SessionType,
    pub service_code: String,
    pub test: bool,
    /// The product's price, each charge.
    pub amount_minor: i64,
    /// The product's ISO 4217 currency.
    pub currency: String,
    pub period_secs: u64,
    pub phone: String,
    pub status: SessionStatus,
    /// Ids of its transactions, oldest first.
    pub transactions: Vec<String>,
    /// Successful charges so far (the session's `series`).
    pub series: i64,
    pub renewals: Renewals,
    pub time_init: DateTime<Utc>,
    pub time_authorized: Option<DateTime<Utc>>,
    pub time_last_success: Option<DateTime<Utc>>,
    /// `checkout_ttl_secs` after `time_init`: only reported (`expiresIn`).
    pub expires_at: DateTime<Utc>,
}

/// One charge attempt.
#[derive(Debug, Clone, Serialize)]
pub struct SimTransaction {
    pub transaction_id: String,
    pub request_id: String,
    pub status: TransactionStatus,
    pub amount_minor: i64,
    pub currency_code: String,
    /// The number of the charge this attempt is for (see `TransactionNotification::series`).
    pub series: i64,
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct Records {
    /// By requestId.
    pub sessions: BTreeMap<String, SimSession>,
    /// sessionId -> requestId.
    pub by_session: BTreeMap<String, String>,
    /// referenceId -> requestId: a repeated initPayment gets the same answer.
    pub by_reference: BTreeMap<String, String>,
    pub transactions: BTreeMap<String, SimTransaction>,
}

/// What completing a checkout did.
#[derive(Debug, Clone)]
pub struct Finished {
    pub session_id: String,
    pub status: SessionStatus,
    pub transaction_id: Option<String>,
    pub notices: Vec<Notice>,
}

impl Records {
    /// Records an initPayment (a checkout waiting for the user) and returns its requestId. The
    /// same referenceId again: the same requestId when the request is identical, else Err
    /// naming `referenceId` (ours: one checkout per reference).
    pub fn init(
        &mut self,
        init: &InitPayment,
        product: &Product,
        period_secs: u64,
        service_code: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<String, ParamError> {
        if let Some(id) = self.by_reference.get(&init.reference_id) {
            return match self.sessions.get(id) {
                Some(s) if s.init == *init => Ok(id.clone()),
                _ => Err(ParamError::new(
                    "referenceId",
                    format!("already used by initPayment {id} with other parameters"),
                )),
            };
        }
        let id = new_id();
        if !init.reference_id.is_empty() {
            self.by_reference
                .insert(init.reference_id.clone(), id.clone());
        }
        self.sessions.insert(
            id.clone(),
            SimSession {
                request_id: id.clone(),
                session_id: None,
                init: init.clone(),
                kind: product.kind,
                service_code: service_code.into(),
                test: is_test(&init.notify_url),
                amount_minor: product.amount_minor,
                currency: product.currency.clone(),
                period_secs,
                phone: init.phone.clone(),
                status: SessionStatus::Init,
                transactions: Vec::new(),
                series: 0,
                renewals: Renewals::default(),
                time_init: now,
                time_authorized: None,
                time_last_success: None,
                expires_at,
            },
        );
        Ok(id)
    }

    /// The session of a sessionId.
    pub fn by_session_id(&self, session_id: &str) -> Option<&SimSession> {
        self.by_session
            .get(session_id)
            .and_then(|r| self.sessions.get(r))
    }

    /// The user finished (`success`) or abandoned the checkout `request_id`: the session is
    /// created; on success the first charge is made at once (a subscription's later ones fail
    /// under `charges_fail`); `phone` is the number the user paid with. Err when unknown or
    /// finished before.
    pub fn complete(
        &mut self,
        request_id: &str,
        success: bool,
        charges_fail: bool,
        phone: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Finished, String> {
        let s = self
            .sessions
            .get_mut(request_id)
            .ok_or_else(|| format!("no MoCoPay checkout {request_id}"))?;
        if let Some(id) = &s.session_id {
            return Err(format!(
                "checkout {request_id} is already finished: session {id} is {}",
                s.status
            ));
        }
        let session_id = new_id();
        s.session_id = Some(session_id.clone());
        self.by_session
            .insert(session_id.clone(), request_id.into());
        if let Some(p) = phone {
            s.phone = p.to_string();
        }
        if s.phone.is_empty() {
            s.phone = DEFAULT_PHONE.into();
        }
        s.renewals.charges_fail = charges_fail;
        let mut notices = Vec::new();
        let mut transaction_id = None;
        if success {
            s.time_authorized = Some(now);
            s.status = match s.kind {
                SessionType::OneTime => SessionStatus::PaymentComplete,
                SessionType::Subscription => SessionStatus::Authorized,
            };
            let t = charge(s, &mut self.transactions, true, now);
            if s.kind == SessionType::Subscription {
                s.renewals.start(now, s.period_secs);
            }
            transaction_id = Some(t.transaction_id.clone());
            notices.push(s.session_notice(&self.transactions, now));
            notices.push(s.transaction_notice(&t));
        } else {
            s.status = SessionStatus::Cancelled;
            notices.push(s.session_notice(&self.transactions, now));
        }
        Ok(Finished {
            session_id,
            status: s.status.clone(),
            transaction_id,
            notices,
        })
    }

    /// Every renewal due by `now`, each at its own due time: a new transaction (collected, or
    /// failed under `charges_fail`) and its notification.
    pub fn due(&mut self, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, Notice)> {
        let mut out = Vec::new();
        for s in self.sessions.values_mut() {
            for r in s.renewals.due(s.period_secs, now) {
                let t = charge(s, &mut self.transactions, r.collected, r.at);
                out.push((r.at, s.transaction_notice(&t)));
            }
        }
        out.sort_by_key(|(at, _)| *at);
        out
    }

    /// Makes the renewals of session `session_id` fail (or succeed again) from now on.
    pub fn set_charges_fail(&mut self, session_id: &str, fail: bool) -> Result<(), String> {
        let s = self
            .by_session
            .get(session_id)
            .and_then(|r| self.sessions.get_mut(r))
            .ok_or_else(|| format!("no MoCoPay session {session_id}"))?;
        if s.kind != SessionType::Subscription || s.status != SessionStatus::Authorized {
            return Err(format!("session {session_id} is no active subscription"));
        }
        s.renewals.charges_fail = fail;
        Ok(())
    }

    /// verifyPayment's answer, None when nothing matches (NOT_FOUND).
    pub fn verify(&self, q: &VerifyPayment, now: DateTime<Utc>) -> Option<Session> {
        match q {
            VerifyPayment::SessionId(id) => self
                .by_session_id(id)
                .map(|s| s.to_wire(&self.transactions, now)),
            // Ours: the buyer's most recent session.
            VerifyPayment::UserId(user) => self
                .sessions
                .values()
                .filter(|s| s.session_id.is_some() && s.user_id() == *user)
                .max_by_key(|s| s.time_init)
                .map(|s| s.to_wire(&self.transactions, now)),
            VerifyPayment::TransactionId(id) => {
                let t = self.transactions.get(id)?;
                let s = self.sessions.get(&t.request_id)?;
                let mut wire = s.to_wire(&self.transactions, now);
                wire.transaction = Some(SessionTransaction {
                    transaction_id: t.transaction_id.clone(),
                    status: t.status,
                    amount: t.amount_minor,
                    currency_code: t.currency_code.clone(),
                    time: Some(wire_time(t.at)),
                });
                Some(wire)
            }
        }
    }
}

/// Makes one charge attempt of `s` at `at` and records it.
fn charge(
    s: &mut SimSession,
    transactions: &mut BTreeMap<String, SimTransaction>,
    collected: bool,
    at: DateTime<Utc>,
) -> SimTransaction {
    let t = SimTransaction {
        transaction_id: new_id(),
        request_id: s.request_id.clone(),
        status: if collected {
            TransactionStatus::Success
        } else {
            TransactionStatus::Failed
        },
        amount_minor: s.amount_minor,
        currency_code: s.currency_code().to_string(),
        // The charge this attempt is for: a failed one is retried under the same number.
        series: s.series + 1,
        reason: if collected {
            String::new()
        } else {
            RENEWAL_FAILED.into()
        },
        at,
    };
    if collected {
        s.series += 1;
        s.time_last_success = Some(at);
    }
    s.transactions.push(t.transaction_id.clone());
    transactions.insert(t.transaction_id.clone(), t.clone());
    t
}

/// When a checkout made at `now` stops being valid (`checkout_ttl_secs` later).
pub fn expiry(now: DateTime<Utc>, ttl_secs: i64) -> DateTime<Utc> {
    now.checked_add_signed(Duration::seconds(ttl_secs.max(0)))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests;
