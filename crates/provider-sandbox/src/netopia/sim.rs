//! What the simulated mobilPay knows and decides: one record per order posted to its card page
//! (keyed by seller account and order id), the outcome of the card the user pays with, the
//! recurring payments the clock brings due (seed 003: every `interval_day` days until
//! `payments_no`, `current_payment_count` n), the SOAP sessions and recurrence changes. Pure
//! state changes that return the IPNs to send ([`Outgoing`]); sealing and sending them is
//! `ipn`'s job.

use super::cards::CardOutcome;
use super::ipn::Outgoing;
use crate::lifecycle::{Renewals, Status};
use chrono::{DateTime, NaiveDateTime, Utc};
use paysys_platform::money::Money;
use provider_netopia::provider::romanian;
use provider_netopia::wire::soap::ResultCode;
use provider_netopia::wire::{
    Action, Cipher, ErrorCode, Ipn, Notify, Order, PaymentError, Recurrence,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Ours: the error an abandoned payment page is reported with (`canceled`, 99), so the merchant
/// learns that the payment ended without money.
pub const ABANDONED: &str = "the card holder abandoned the payment page";

/// How the user ended the card page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Paid with a test card (its outcome already decided), its `pan_masked`.
    Card {
        outcome: CardOutcome,
        pan_masked: String,
    },
    /// Left without paying.
    Abandon,
}

/// mobilPay's purchase ids: a new one for every payment, never reused, also across restarts
/// (the ledger keys charges by them).
#[derive(Debug, Default)]
pub struct PurchaseIds {
    next: u64,
}

impl PurchaseIds {
    pub fn issue(&mut self) -> String {
        if self.next == 0 {
            self.next = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(1);
        }
        self.next += 1;
        self.next.to_string()
    }
}

#[derive(Debug, Clone)]
pub struct SimOrder {
    /// The order as the merchant sealed it (echoed in every IPN).
    pub order: Order,
    /// The cipher IPNs are sealed with: the order's `<ipn_cipher>`, else its own.
    pub ipn_cipher: Cipher,
    pub status: Status,
    /// What each later payment costs (modifyRecurrencePrice), minor units.
    pub price_minor: i64,
    /// `current_payment_count` of the latest payment of a scheduled recurrence.
    pub payments_made: u32,
    pub renewals: Renewals,
    /// Why the recurrence ended or never began.
    pub end_reason: Option<String>,
    pub pan_masked: Option<String>,
    /// Every payment's purchase id, oldest first.
    pub purchases: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// The sandbox's mobilPay memory (`state.records::<Records>()`).
#[derive(Debug, Default)]
pub struct Records {
    pub orders: BTreeMap<(String, String), SimOrder>,
    /// SOAP sessions handed out by `logIn` (kept until the sandbox stops).
    pub sessions: BTreeSet<String>,
    pub purchase_ids: PurchaseIds,
}

/// A recurrence change asked over SOAP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Cancel,
    Price(i64),
    /// The next payment's date, Romanian local time.
    Move(NaiveDateTime),
}

/// A SOAP answer: the code and, when it is not OK, what was wrong.
pub type Answer = (ResultCode, Option<String>);

fn seconds(r: &Recurrence) -> u64 {
    u64::from(r.interval_day.max(1)) * 86_400
}

/// Romanian local time (mobilPay's clock) as UTC; a time skipped by the spring change counts
/// from the hour after, a repeated one is the first.
pub fn from_romanian(t: NaiveDateTime) -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    let tz = chrono_tz::Europe::Bucharest;
    match tz.from_local_datetime(&t) {
        chrono::LocalResult::Single(l) | chrono::LocalResult::Ambiguous(l, _) => {
            Some(l.with_timezone(&Utc))
        }
        chrono::LocalResult::None => tz
            .from_local_datetime(&(t + chrono::Duration::hours(1)))
            .earliest()
            .map(|l| l.with_timezone(&Utc)),
    }
}

impl Records {
    /// The order of a card page post, recorded on first sight.
    pub fn open(&mut self, order: Order, ipn_cipher: Cipher, now: DateTime<Utc>) -> &mut SimOrder {
        let key = (order.signature.clone(), order.id.clone());
        self.orders.entry(key).or_insert_with(|| SimOrder {
            price_minor: order.invoice.amount.minor,
            order,
            ipn_cipher,
            status: Status::Pending,
            payments_made: 0,
            renewals: Renewals::default(),
            end_reason: None,
            pan_masked: None,
            purchases: Vec::new(),
            created_at: now,
        })
    }

    /// A fresh SOAP session id.
    pub fn new_session(&mut self) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.sessions.insert(id.clone());
        id
    }

    /// The user's choice on the card page of order `key`: the IPN to send. Err when the order is
    /// unknown or already decided.
    pub fn pay(
        &mut self,
        key: &(String, String),
        choice: &Choice,
        charges_fail: bool,
        now: DateTime<Utc>,
    ) -> Result<Outgoing, String> {
        let o = self
            .orders
            .get_mut(key)
            .ok_or_else(|| format!("order {} was never posted to the card page", key.1))?;
        o.pay(choice, charges_fail, now, &mut self.purchase_ids)
    }

    /// Every recurring payment due by `now`, each at its own due time, in due order.
    pub fn due(&mut self, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, Outgoing)> {
        let ids = &mut self.purchase_ids;
        let mut all: Vec<_> = self
            .orders
            .values_mut()
            .flat_map(|o| o.due(now, ids))
            .collect();
        all.sort_by_key(|(at, _)| *at);
        all
    }

    /// cancelRecurrence / modifyRecurrencePrice / moveRecurrence (seed 003's codes): the session,
    /// then the seller account, then the order, then whether it has a recurrence to change.
    pub fn change(
        &mut self,
        knows_seller: impl Fn(&str) -> bool,
        session_id: &str,
        sac_id: &str,
        order_id: &str,
        change: Change,
        now: DateTime<Utc>,
    ) -> Answer {
        if !self.sessions.contains(session_id) {
            return (
                ResultCode::InvalidUser,
                Some("unknown session: log in first".into()),
            );
        }
        if !knows_seller(sac_id) {
            return (
                ResultCode::InvalidSellerAccount,
                Some(format!("seller account {sac_id:?} is not known")),
            );
        }
        let key = (sac_id.to_string(), order_id.to_string());
        let Some(o) = self.orders.get_mut(&key) else {
            let elsewhere = self.orders.keys().any(|(_, id)| id == order_id);
            return if elsewhere {
                (
                    ResultCode::InvalidSellerAccount,
                    Some(format!(
                        "order {order_id:?} belongs to another seller account"
                    )),
                )
            } else {
                (
                    ResultCode::PurchaseNotFound,
                    Some(format!("no order {order_id:?}")),
                )
            };
        };
        o.change(change, now)
    }
}

impl SimOrder {
    fn notify(
        &mut self,
        action: Action,
        error: PaymentError,
        count: Option<u32>,
        processed: Option<i64>,
        at: DateTime<Utc>,
        ids: &mut PurchaseIds,
    ) -> Outgoing {
        let currency = self.order.invoice.amount.currency;
        let purchase = ids.issue();
        self.purchases.push(purchase.clone());
        let approved = error.code.is_approved();
        let mut n = Notify::new(action, error);
        n.timestamp = Some(romanian(at));
        n.purchase = Some(purchase);
        n.original_amount = Some(self.order.invoice.amount);
        n.processed_amount = processed.map(|m| Money::new(m, currency));
        n.current_payment_count = count;
        n.customer = self.order.invoice.billing.clone();
        if processed.is_some() {
            n.pan_masked = self.pan_masked.clone();
        }
        if approved {
            n.rrn = Some(format!("{:012}", rand::random::<u64>() % 1_000_000_000_000));
        }
        Outgoing {
            ipn: Ipn {
                order: self.order.clone(),
                notify: n,
            },
            cipher: self.ipn_cipher,
        }
    }

    fn pay(
        &mut self,
        choice: &Choice,
        charges_fail: bool,
        now: DateTime<Utc>,
        ids: &mut PurchaseIds,
    ) -> Result<Outgoing, String> {
        self.status
            .still_pending(format_args!("order {}", self.order.id))?;
        self.renewals.charges_fail = charges_fail;
        let recurrence = self.order.recurrence;
        // Seed 003: the first IPN of a recurring order says whether the recurrence was
        // scheduled (1) or not (0); a one-time order's IPN carries no count.
        let unscheduled = recurrence.map(|_| 0);
        let amount = self.price_minor;
        let (outcome, pan) = match choice {
            Choice::Abandon => {
                self.status = Status::Failed;
                self.end_reason = recurrence.map(|_| ABANDONED.to_string());
                let error = PaymentError {
                    code: ErrorCode::GENERIC,
                    message: ABANDONED.into(),
                };
                return Ok(self.notify(Action::Canceled, error, unscheduled, None, now, ids));
            }
            Choice::Card {
                outcome,
                pan_masked,
            } => (*outcome, pan_masked.clone()),
        };
        self.pan_masked = Some(pan);
        Ok(match (outcome, recurrence) {
            (CardOutcome::Declined(code), _) => {
                self.status = Status::Failed;
                self.end_reason = recurrence.map(|_| format!("first payment declined ({})", code));
                let error = PaymentError::from_code(code);
                self.notify(
                    Action::Confirmed,
                    error,
                    unscheduled,
                    Some(amount),
                    now,
                    ids,
                )
            }
            (CardOutcome::Approved | CardOutcome::Approved3ds, None) => {
                self.status = Status::Paid;
                let ok = PaymentError::approved();
                self.notify(Action::Confirmed, ok, None, Some(amount), now, ids)
            }
            (CardOutcome::Approved3ds, Some(_)) => {
                self.status = Status::Paid;
                self.end_reason =
                    Some("recurrence not scheduled: the card is enrolled in 3-D Secure".into());
                let ok = PaymentError::approved();
                self.notify(Action::Confirmed, ok, unscheduled, Some(amount), now, ids)
            }
            (CardOutcome::Approved, Some(r)) => {
                self.payments_made = 1;
                if r.payments_no == 1 {
                    self.status = Status::Paid;
                    self.end_reason = Some(completed(r));
                } else {
                    self.status = Status::Active;
                    self.renewals.start(now, seconds(&r));
                }
                let ok = PaymentError::approved();
                self.notify(Action::Confirmed, ok, Some(1), Some(amount), now, ids)
            }
        })
    }

    /// The payments of an active recurrence due by `now`; the last of `payments_no` ends it.
    fn due(&mut self, now: DateTime<Utc>, ids: &mut PurchaseIds) -> Vec<(DateTime<Utc>, Outgoing)> {
        let Some(r) = self.order.recurrence else {
            return Vec::new();
        };
        if self.status != Status::Active {
            return Vec::new();
        }
        let mut out = Vec::new();
        for renewal in self.renewals.due(seconds(&r), now) {
            self.payments_made += 1;
            let n = self.payments_made;
            // A declined payment counts as the n-th payment too: it is not tried again.
            let error = if renewal.collected {
                PaymentError::approved()
            } else {
                PaymentError::from_code(ErrorCode::INSUFFICIENT_FUNDS)
            };
            let price = Some(self.price_minor);
            out.push((
                renewal.at,
                self.notify(Action::Confirmed, error, Some(n), price, renewal.at, ids),
            ));
            if r.payments_no > 0 && n >= r.payments_no {
                self.status = Status::Paid;
                self.end_reason = Some(completed(r));
                self.renewals.stop();
                break;
            }
        }
        out
    }

    fn change(&mut self, change: Change, now: DateTime<Utc>) -> Answer {
        if self.status != Status::Active {
            return (
                ResultCode::TransactionInvalidAction,
                Some(format!(
                    "order {:?} has no scheduled recurrence (it is {}{})",
                    self.order.id,
                    self.status,
                    self.end_reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                )),
            );
        }
        match change {
            Change::Cancel => {
                self.status = Status::Cancelled;
                self.renewals.stop();
                self.end_reason = Some("cancelled by the seller (cancelRecurrence)".into());
            }
            Change::Price(minor) if minor <= 0 => {
                return (
                    ResultCode::WrongDataFormat,
                    Some("price must be greater than zero".into()),
                )
            }
            Change::Price(minor) => self.price_minor = minor,
            Change::Move(local) => match from_romanian(local).filter(|at| *at > now) {
                Some(at) => self.renewals.next_charge_at = Some(at),
                None => {
                    return (
                        ResultCode::WrongDataFormat,
                        Some(format!(
                            "recurrenceDate {local} is not after mobilPay's clock ({})",
                            romanian(now).format("%Y-%m-%d %H:%M:%S")
                        )),
                    )
                }
            },
        }
        (ResultCode::Ok, None)
    }

    /// This order in `GET /_sandbox/state`.
    pub fn view(&self) -> Value {
        let amount = self.order.invoice.amount;
        json!({
            "order_id": self.order.id,
            "seller_account": self.order.signature,
            "amount_minor": amount.minor,
            "currency": amount.currency.as_str(),
            "status": self.status,
            "recurrence": self.order.recurrence.map(|r| json!({
                "payments_no": r.payments_no,
                "interval_day": r.interval_day,
                "payments_made": self.payments_made,
                "price_minor": self.price_minor,
                "next_charge_at": self.renewals.next_charge_at,
                "charges_fail": self.renewals.charges_fail,
            })),
            "end_reason": self.end_reason,
            "pan_masked": self.pan_masked,
            "purchases": self.purchases,
            "confirm_url": self.order.confirm_url,
            "ipn_cipher": self.ipn_cipher.as_str(),
            "created_at": self.created_at,
        })
    }
}

fn completed(r: Recurrence) -> String {
    format!("completed: all {} payments were made", r.payments_no)
}

#[cfg(test)]
mod tests;
