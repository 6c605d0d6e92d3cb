//! What the simulated Mobiltek knows and decides: one record per transaction of a verified link,
//! the outcome of the user's page (PAYMENT / PAYMENT_FAILED, or REGISTRATION + first CHARGE /
//! CHARGE_FAILED), the recurring charges the clock brings due, and unsubscribing. Pure state
//! changes that return the notifications to send; sending is `Mobiltek::notify`'s job. The
//! subscription lifecycle itself is the shared `lifecycle`.

use super::protocol::{pln, Link, Notification};
use crate::config::ProviderSettings;
pub use crate::lifecycle::Status;
use crate::lifecycle::{Renewals, RENEWAL_FAILED};
use chrono::{DateTime, Utc};
use paysys_platform::money::Money;
use serde::Serialize;
use std::collections::BTreeMap;

/// Phone used when neither the link nor the user gave one (only `/_sandbox/complete` can get
/// that far without a phone).
const DEFAULT_MSISDN: &str = "48500000000";

#[derive(Debug, Clone, Serialize)]
pub struct SimTransaction {
    pub transaction_id: String,
    pub service_id: String,
    pub msisdn: String,
    pub operator_id: String,
    pub subscription: bool,
    pub product: String,
    /// The link's price, grosz.
    pub price_minor: i64,
    pub return_url: String,
    pub error_url: String,
    pub status: Status,
    /// Subscription terms of the service (seed 000: configured at Mobiltek).
    pub period_secs: u64,
    pub charge_amount_minor: i64,
    #[serde(flatten)]
    pub renewals: Renewals,
    /// Successful charges.
    pub charges: u32,
    /// Charge attempts, successful or not (numbers the charge ids).
    pub attempts: u32,
    /// The PIN last texted to the user, and wrong PINs typed so far.
    #[serde(skip)]
    pub pin: Option<String>,
    pub wrong_pins: u32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct Records {
    pub transactions: BTreeMap<String, SimTransaction>,
}

/// Polish operators (MCC+MNC) picked from the number, so a subscriber keeps one operator.
fn operator_of(msisdn: &str) -> String {
    const OPERATORS: [&str; 4] = ["26001", "26002", "26003", "26006"];
    let last = msisdn
        .bytes()
        .last()
        .map(|b| b.wrapping_sub(b'0'))
        .unwrap_or(0);
    OPERATORS[last as usize % OPERATORS.len()].to_string()
}

impl Records {
    /// The transaction of a verified link, recorded on first sight (the link is the only way a
    /// transaction reaches Mobiltek).
    pub fn open(
        &mut self,
        settings: &ProviderSettings,
        link: &Link,
        now: DateTime<Utc>,
    ) -> &mut SimTransaction {
        let terms = settings.terms(&link.service_id, link.price.minor);
        self.transactions
            .entry(link.transaction_id.clone())
            .or_insert_with(|| SimTransaction {
                transaction_id: link.transaction_id.clone(),
                service_id: link.service_id.clone(),
                msisdn: link.msisdn.clone(),
                operator_id: operator_of(&link.msisdn),
                subscription: link.subscription,
                product: link.product.clone(),
                price_minor: link.price.minor,
                return_url: link.return_url.clone(),
                error_url: link.error_url.clone(),
                status: Status::Pending,
                period_secs: terms.period_secs.max(1),
                charge_amount_minor: terms.amount_minor,
                renewals: Renewals::default(),
                charges: 0,
                attempts: 0,
                pin: None,
                wrong_pins: 0,
                created_at: now,
            })
    }
}

impl SimTransaction {
    /// Sets the phone the user typed on the page (a link without msisdn).
    pub fn set_msisdn(&mut self, msisdn: &str) {
        self.msisdn = msisdn.to_string();
        self.operator_id = operator_of(msisdn);
    }

    fn note(
        &mut self,
        kind: &str,
        amount: Option<i64>,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Notification {
        let charge_id = if matches!(
            kind,
            "PAYMENT" | "PAYMENT_FAILED" | "CHARGE" | "CHARGE_FAILED"
        ) {
            self.attempts += 1;
            // Mobiltek's own charge identity: unique per attempt.
            format!("{}-{:04}", self.transaction_id, self.attempts)
        } else {
            String::new()
        };
        Notification(vec![
            ("notification_id", uuid::Uuid::new_v4().to_string()),
            ("transaction_id", self.transaction_id.clone()),
            ("service_id", self.service_id.clone()),
            ("msisdn", self.msisdn.clone()),
            (
                "operator_id",
                if self.msisdn.is_empty() {
                    String::new()
                } else {
                    self.operator_id.clone()
                },
            ),
            ("type", kind.to_string()),
            (
                "amount",
                amount
                    .map(|m| Money::new(m, pln()).to_decimal_trimmed())
                    .unwrap_or_default(),
            ),
            ("charge_id", charge_id),
            ("reason", reason.to_string()),
            ("timestamp", at.timestamp().to_string()),
        ])
    }

    /// The user finished (`success`) or abandoned the page. Err when it was finished before.
    pub fn complete(
        &mut self,
        success: bool,
        charges_fail: bool,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Notification>, String> {
        self.status
            .still_pending(format_args!("transaction {}", self.transaction_id))?;
        if self.msisdn.is_empty() && success {
            self.set_msisdn(DEFAULT_MSISDN);
        }
        self.renewals.charges_fail = charges_fail;
        self.pin = None;
        let reason = if reason.is_empty() {
            "user abandoned the page"
        } else {
            reason
        };
        Ok(match (self.subscription, success) {
            (false, true) => {
                self.status = Status::Paid;
                self.charges = 1;
                vec![self.note("PAYMENT", Some(self.price_minor), "", now)]
            }
            (false, false) => {
                self.status = Status::Failed;
                vec![self.note("PAYMENT_FAILED", Some(self.price_minor), reason, now)]
            }
            // Registration, then the first charge at once; the next one a period later.
            (true, true) => {
                self.status = Status::Active;
                let registration = self.note("REGISTRATION", None, "", now);
                self.charges = 1;
                let first = self.note("CHARGE", Some(self.charge_amount_minor), "", now);
                self.renewals.start(now, self.period_secs);
                vec![registration, first]
            }
            (true, false) => {
                self.status = Status::Failed;
                vec![self.note(
                    "CHARGE_FAILED",
                    Some(self.charge_amount_minor),
                    &format!("registration failed: {reason}"),
                    now,
                )]
            }
        })
    }

    /// Every recurring charge due by `now`, each at its own due time.
    fn due(&mut self, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, Notification)> {
        let amount = Some(self.charge_amount_minor);
        let renewals = self.renewals.due(self.period_secs, now);
        let mut out = Vec::with_capacity(renewals.len());
        for r in renewals {
            let n = if r.collected {
                self.charges += 1;
                self.note("CHARGE", amount, "", r.at)
            } else {
                self.note("CHARGE_FAILED", amount, RENEWAL_FAILED, r.at)
            };
            out.push((r.at, n));
        }
        out
    }

    /// Unsubscribes an active subscription: the UNREGISTRATION notification.
    pub fn unregister(&mut self, now: DateTime<Utc>) -> Notification {
        self.status = Status::Cancelled;
        self.renewals.stop();
        self.note("UNREGISTRATION", None, "unsubscribed", now)
    }
}

/// Every recurring charge of every subscription due by `now`, with its due time, in due order.
pub fn due_at(records: &mut Records, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, Notification)> {
    let mut all: Vec<(DateTime<Utc>, Notification)> = records
        .transactions
        .values_mut()
        .flat_map(|t| t.due(now))
        .collect();
    all.sort_by_key(|(at, _)| *at);
    all
}

/// `due_at` without the times.
pub fn due(records: &mut Records, now: DateTime<Utc>) -> Vec<Notification> {
    due_at(records, now).into_iter().map(|(_, n)| n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn settings() -> ProviderSettings {
        let s: crate::Settings = paysys_platform::config::load_with(|b| b).expect("defaults");
        ProviderSettings::load(&s.sandbox, "mobiltek").expect("[sandbox.mobiltek]")
    }

    fn link(subscription: bool, service_id: &str) -> Link {
        Link {
            msisdn: "48501123123".into(),
            transaction_id: "1000014896266637".into(),
            service_id: service_id.into(),
            price: Money::new(250, pln()),
            product: "p".into(),
            user_ip: String::new(),
            user_id: String::new(),
            return_url: String::new(),
            error_url: String::new(),
            subscription,
        }
    }

    fn kinds(ns: &[Notification]) -> Vec<&str> {
        ns.iter().map(|n| n.kind()).collect()
    }

    #[test]
    fn one_time_success_and_failure() {
        let mut r = Records::default();
        let now = Utc::now();
        let t = r.open(&settings(), &link(false, "1"), now);
        let n = t.complete(true, false, "", now).unwrap();
        assert_eq!(kinds(&n), ["PAYMENT"]);
        assert_eq!(n[0].get("amount"), "2.5");
        assert_eq!(n[0].get("charge_id"), "1000014896266637-0001");
        assert!(t.complete(true, false, "", now).is_err(), "completed twice");
    }

    #[test]
    fn a_subscription_is_charged_by_its_service_terms_each_period() {
        let mut r = Records::default();
        let t0 = Utc::now();
        // Service 30576 is configured (config/default.toml): 30 days, 10 grosz.
        let t = r.open(&settings(), &link(true, "30576"), t0);
        let n = t.complete(true, false, "", t0).unwrap();
        assert_eq!(kinds(&n), ["REGISTRATION", "CHARGE"]);
        assert_eq!(n[1].get("amount"), "0.1");
        let period = Duration::seconds(2_592_000);
        assert!(due(&mut r, t0 + period - Duration::seconds(1)).is_empty());
        let three = due(&mut r, t0 + period * 3);
        assert_eq!(kinds(&three), ["CHARGE", "CHARGE", "CHARGE"]);
        assert!(due(&mut r, t0 + period * 3).is_empty(), "charged twice");
        let t = r.transactions.get_mut("1000014896266637").unwrap();
        assert_eq!(t.charges, 4);
        assert_eq!(kinds(&[t.unregister(t0)]), ["UNREGISTRATION"]);
        assert!(due(&mut r, t0 + period * 10).is_empty());
    }

    #[test]
    fn unconfigured_services_use_the_default_period_and_link_price() {
        let mut r = Records::default();
        let t = r.open(&settings(), &link(true, "999"), Utc::now());
        assert_eq!((t.period_secs, t.charge_amount_minor), (2_592_000, 250));
    }

    #[test]
    fn failing_charges_and_failed_registration() {
        let mut r = Records::default();
        let t0 = Utc::now();
        let t = r.open(&settings(), &link(true, "30576"), t0);
        t.complete(true, true, "", t0).unwrap();
        let n = due(&mut r, t0 + Duration::seconds(2 * 2_592_000));
        assert_eq!(kinds(&n), ["CHARGE_FAILED", "CHARGE_FAILED"]);
        assert_eq!(n[0].get("reason"), "insufficient funds");
        assert_ne!(n[0].get("charge_id"), n[1].get("charge_id"));

        let mut r = Records::default();
        let t = r.open(&settings(), &link(true, "30576"), t0);
        let n = t.complete(false, false, "", t0).unwrap();
        assert_eq!(kinds(&n), ["CHARGE_FAILED"]);
        assert!(n[0].get("reason").starts_with("registration failed"));
        assert!(due(&mut r, t0 + Duration::days(365)).is_empty());
    }
}
