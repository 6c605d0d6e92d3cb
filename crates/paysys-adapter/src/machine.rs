//! The one order state machine of every provider (pure, so every rule is unit-tested):
//!
//! ```text
//! one-time:      pending -> paid | failed | expired  (failed, expired -> paid: money reported late)
//! subscription:  pending -> active -> cancelled | completed
//!                pending -> failed                   (the registration failed)
//!                pending -> paid                     (recurrence impossible: one charge only)
//!                pending -> expired -> active        (validity_time passed; a late first charge)
//!                active -> cancelling -> cancelled   (unsubscribe answered OK; the provider's
//!                                                     confirmation or a reconciliation ends it)
//! ```
//!
//! An authenticated callback is believed only as far as it fits: its kind must fit the order's
//! kind and state, money must be the order's amount (one-time) or the subscription's current
//! price, a numbered charge must not be one already accounted. What does not fit is a
//! [`Misfit`]: refused, recorded for operators, never applied.

use paysys_platform::domain::OrderKind;
use paysys_platform::events;
use paysys_platform::money::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    Paid,
    Failed,
    /// Not finished within `payment.validity_time` (seed 001).
    Expired,
    Active,
    /// Unsubscribed, the provider's confirmation awaited: later charges are late, not renewals.
    Cancelling,
    Cancelled,
    Completed,
}

impl State {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Active => "active",
            Self::Cancelling => "cancelling",
            Self::Cancelled => "cancelled",
            Self::Completed => "completed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "paid" => Self::Paid,
            "failed" => Self::Failed,
            "expired" => Self::Expired,
            "active" => Self::Active,
            "cancelling" => Self::Cancelling,
            "cancelled" => Self::Cancelled,
            "completed" => Self::Completed,
            _ => return None,
        })
    }
}

/// What an authenticated callback says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimKind {
    /// A one-time payment was paid (for a subscription: recurrence could not be set up, the one
    /// charge was taken as a plain payment).
    Paid,
    /// A one-time payment ended without money (abandoned, declined).
    PaymentFailed,
    /// The subscription was registered (the user confirmed).
    Registered,
    /// A recurring charge took money (the first one included).
    Charged,
    /// A recurring charge failed (before registration: the registration failed).
    ChargeFailed,
    /// The subscription ended at the provider.
    Cancelled,
    /// `payment.validity_time` passed with the payment unfinished (the kit says so, not a
    /// provider).
    Expired,
    /// The provider answered an unsubscribe with yes; its confirmation is awaited (the kit).
    CancelRequested,
}

impl ClaimKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::PaymentFailed => "payment_failed",
            Self::Registered => "registered",
            Self::Charged => "charged",
            Self::ChargeFailed => "charge_failed",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::CancelRequested => "cancel_requested",
        }
    }
    fn is_subscription(&self) -> bool {
        !matches!(self, Self::Paid | Self::PaymentFailed | Self::Expired)
    }
    pub fn moves_money(&self) -> bool {
        matches!(self, Self::Paid | Self::Charged)
    }
}

/// What the machine needs to know of an order.
#[derive(Debug, Clone)]
pub struct Facts {
    pub kind: OrderKind,
    pub state: State,
    /// The order's amount (a one-time payment's price).
    pub price: Money,
    /// A subscription's price now (changed by `modify_subscription_price`).
    pub current_price: Money,
    /// The price before the last change, while a charge at it may still arrive (within
    /// [`PRICE_CHANGE_GRACE`] of the change and not used by a charge yet).
    pub previous_price: Option<Money>,
    /// The price being asked of the provider right now (`modify_subscription_price` waiting for
    /// its answer): the provider may charge it before the answer arrives.
    pub pending_price: Option<Money>,
    pub charges_count: u32,
    pub failed_count: u32,
    /// Total payments of a subscription, the first included; 0 = unlimited (seed 003).
    pub payments_no: u32,
}

/// The money-relevant part of a claim.
#[derive(Debug, Clone)]
pub struct Said {
    pub kind: ClaimKind,
    pub amount: Option<Money>,
    /// The provider's own number of this charge (Netopia `current_payment_count`, MoCoPay
    /// `series`), when it gives one.
    pub sequence: Option<u32>,
}

/// One event a transition causes.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub event_kind: &'static str,
    pub amount: Money,
    /// n-th charge of a subscription (1-based); 0 otherwise.
    pub sequence: u32,
    /// Money reported after the order had failed or been cancelled.
    pub late: bool,
    /// `Some("completed")` when the last of `payments_no` charges ended the subscription.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub state: State,
    pub charges_count: u32,
    pub failed_count: u32,
    pub steps: Vec<Step>,
    /// A charge at the previous price was believed: it is not believed again.
    pub previous_price_used: bool,
}

/// How long after `modify_subscription_price` a recurring charge at the old price is still
/// believed: the provider may have made it before the change reached it, and resends a
/// callback it could not deliver for a while. Only the next charge due, only once.
pub const PRICE_CHANGE_GRACE: chrono::Duration = chrono::Duration::hours(1);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Misfit {
    #[error("a {claim} callback does not apply to a {order}")]
    WrongKind {
        claim: &'static str,
        order: &'static str,
    },
    #[error("a {claim} callback does not fit an order that is {state}")]
    State {
        claim: &'static str,
        state: &'static str,
    },
    #[error("money callback without an amount")]
    MissingAmount,
    #[error("amount {got} does not match the expected {expected}")]
    Amount { expected: String, got: String },
    #[error("charge {0} is already accounted")]
    AlreadyCharged(u32),
    #[error("charge {0} is beyond the {1} payments of this subscription")]
    BeyondPayments(u32, u32),
}

fn money(m: &Money) -> String {
    format!("{} {}", m.to_decimal_fixed(), m.currency.as_str())
}

fn check_amount(said: &Said, expected: &Money) -> Result<(), Misfit> {
    let got = said.amount.ok_or(Misfit::MissingAmount)?;
    if got != *expected {
        return Err(Misfit::Amount {
            expected: money(expected),
            got: money(&got),
        });
    }
    Ok(())
}

/// The failure reason of an order that expired (`payment.validity_time`).
pub const EXPIRED: &str = "expired";

/// What `said` does to an order with `facts`.
pub fn transition(facts: &Facts, said: &Said) -> Result<Transition, Misfit> {
    use ClaimKind as C;
    use State as S;
    let misfit_state = || Misfit::State {
        claim: said.kind.as_str(),
        state: facts.state.as_str(),
    };
    let one_time = facts.kind == OrderKind::OneTime;
    if one_time && said.kind.is_subscription() {
        return Err(Misfit::WrongKind {
            claim: said.kind.as_str(),
            order: facts.kind.describe(),
        });
    }
    if !one_time && said.kind == C::PaymentFailed {
        return Err(Misfit::WrongKind {
            claim: said.kind.as_str(),
            order: facts.kind.describe(),
        });
    }
    let step = |event_kind, amount: Money, sequence| Step {
        event_kind,
        amount,
        sequence,
        late: false,
        reason: None,
    };
    let mut t = Transition {
        state: facts.state,
        charges_count: facts.charges_count,
        failed_count: facts.failed_count,
        steps: vec![],
        previous_price_used: false,
    };
    match (said.kind, facts.state) {
        (C::Paid, S::Pending | S::Failed | S::Expired) => {
            check_amount(said, &facts.price)?;
            t.state = S::Paid;
            t.charges_count += 1;
            let mut s = step(events::PAYMENT_SUCCEEDED, facts.price, 0);
            s.late = matches!(facts.state, S::Failed | S::Expired);
            t.steps.push(s);
        }
        (C::Expired, S::Pending) => {
            t.state = S::Expired;
            let mut s = step(events::PAYMENT_FAILED, facts.price, 0);
            s.reason = Some(EXPIRED.into());
            t.steps.push(s);
        }
        (C::PaymentFailed, S::Pending) => {
            t.state = S::Failed;
            t.failed_count += 1;
            t.steps.push(step(events::PAYMENT_FAILED, facts.price, 0));
        }
        (C::Registered, S::Pending) => {
            t.state = S::Active;
            t.steps
                .push(step(events::SUBSCRIPTION_STARTED, facts.current_price, 0));
        }
        (C::Charged, S::Pending | S::Expired | S::Active | S::Cancelling | S::Cancelled) => {
            let n = said.sequence.unwrap_or(facts.charges_count + 1);
            // At the current price; or at the price before a change that raced this charge:
            // the next charge due, once, within the grace (the provider charged what it knew).
            let charged = match (said.amount, facts.previous_price) {
                (Some(got), Some(previous))
                    if got == previous
                        && got != facts.current_price
                        && n == facts.charges_count + 1 =>
                {
                    t.previous_price_used = true;
                    previous
                }
                // The new price, charged before the provider's answer to the change reached us.
                (Some(got), _) if Some(got) == facts.pending_price => got,
                _ => {
                    check_amount(said, &facts.current_price)?;
                    facts.current_price
                }
            };
            if n <= facts.charges_count {
                return Err(Misfit::AlreadyCharged(n));
            }
            if facts.payments_no > 0 && n > facts.payments_no {
                return Err(Misfit::BeyondPayments(n, facts.payments_no));
            }
            if matches!(facts.state, S::Pending | S::Expired) {
                // The first charge also tells that the subscription started (seed 003: the
                // first IPN with current_payment_count 1).
                t.state = S::Active;
                t.steps
                    .push(step(events::SUBSCRIPTION_STARTED, facts.current_price, 0));
            }
            t.charges_count = n;
            let mut s = step(events::SUBSCRIPTION_CHARGED, charged, n);
            // A charge the provider reports after the cancellation (or the expiry) still
            // happened: accounted, late, without reopening a cancelled subscription.
            s.late = matches!(facts.state, S::Cancelling | S::Cancelled | S::Expired);
            t.steps.push(s);
            if facts.payments_no > 0 && n == facts.payments_no && t.state == S::Active {
                t.state = S::Completed;
                let mut end = step(events::SUBSCRIPTION_CANCELLED, facts.current_price, 0);
                end.reason = Some(format!(
                    "completed: all {} payments were made",
                    facts.payments_no
                ));
                t.steps.push(end);
            }
        }
        (C::ChargeFailed, S::Pending | S::Active | S::Cancelling) => {
            let n = said.sequence.unwrap_or(facts.charges_count + 1);
            if n <= facts.charges_count && said.sequence.is_some() {
                return Err(Misfit::AlreadyCharged(n));
            }
            if facts.state == S::Pending {
                // A failure before the subscription ever started is a failed registration.
                t.state = S::Failed;
            }
            t.failed_count += 1;
            t.steps.push(step(
                events::SUBSCRIPTION_CHARGE_FAILED,
                facts.current_price,
                n,
            ));
            // The last of payments_no was tried: the provider charges no more (seed 003).
            if facts.payments_no > 0 && n >= facts.payments_no && facts.state == S::Active {
                t.state = S::Completed;
                let mut end = step(events::SUBSCRIPTION_CANCELLED, facts.current_price, 0);
                end.reason = Some(format!(
                    "completed: the last of {} payments was tried and failed",
                    facts.payments_no
                ));
                t.steps.push(end);
            }
        }
        (C::CancelRequested, S::Pending | S::Active) => {
            // No event yet: the merchant hears subscription_cancel when it is confirmed.
            t.state = S::Cancelling;
        }
        // The provider's confirmation overtook its own answer (the sandbox's Mobiltek sends
        // UNREGISTRATION before answering unsubscribe): already ended, nothing to do.
        (C::CancelRequested, S::Cancelling | S::Cancelled | S::Completed) => {}
        (C::Cancelled, S::Pending | S::Active | S::Cancelling) => {
            t.state = S::Cancelled;
            t.steps
                .push(step(events::SUBSCRIPTION_CANCELLED, facts.current_price, 0));
        }
        _ => return Err(misfit_state()),
    }
    // A subscription whose recurrence could not be set up was paid once, as a plain payment.
    if !one_time && said.kind == C::Paid && facts.state != S::Pending {
        return Err(misfit_state());
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use paysys_platform::money::Currency;

    fn pln(minor: i64) -> Money {
        Money::new(minor, Currency::parse("PLN").unwrap())
    }

    fn facts(kind: OrderKind, state: State) -> Facts {
        Facts {
            kind,
            state,
            price: pln(10),
            current_price: pln(10),
            previous_price: None,
            pending_price: None,
            charges_count: 0,
            failed_count: 0,
            payments_no: 0,
        }
    }

    fn said(kind: ClaimKind, amount: Option<i64>) -> Said {
        Said {
            kind,
            amount: amount.map(pln),
            sequence: None,
        }
    }

    fn kinds(t: &Transition) -> Vec<&'static str> {
        t.steps.iter().map(|s| s.event_kind).collect()
    }

    #[test]
    fn a_one_time_payment_is_paid_once() {
        let f = facts(OrderKind::OneTime, State::Pending);
        let t = transition(&f, &said(ClaimKind::Paid, Some(10))).unwrap();
        assert_eq!((t.state, t.charges_count), (State::Paid, 1));
        assert_eq!(kinds(&t), ["payment.succeeded"]);
        let paid = Facts {
            state: State::Paid,
            charges_count: 1,
            ..f.clone()
        };
        // A second PAYMENT, even validly signed with fresh ids, is refused.
        assert!(matches!(
            transition(&paid, &said(ClaimKind::Paid, Some(10))),
            Err(Misfit::State { .. })
        ));
        // PAYMENT_FAILED after PAYMENT is refused.
        assert!(matches!(
            transition(&paid, &said(ClaimKind::PaymentFailed, None)),
            Err(Misfit::State { .. })
        ));
    }

    #[test]
    fn the_wrong_amount_or_currency_is_never_applied() {
        let f = facts(OrderKind::OneTime, State::Pending);
        assert_eq!(
            transition(&f, &said(ClaimKind::Paid, Some(1000))),
            Err(Misfit::Amount {
                expected: "0.10 PLN".into(),
                got: "10.00 PLN".into()
            })
        );
        let eur = Said {
            kind: ClaimKind::Paid,
            amount: Some(Money::new(10, Currency::parse("EUR").unwrap())),
            sequence: None,
        };
        assert!(matches!(transition(&f, &eur), Err(Misfit::Amount { .. })));
        assert_eq!(
            transition(&f, &said(ClaimKind::Paid, None)),
            Err(Misfit::MissingAmount)
        );
    }

    #[test]
    fn money_after_a_failure_is_accounted_as_late() {
        let f = facts(OrderKind::OneTime, State::Failed);
        let t = transition(&f, &said(ClaimKind::Paid, Some(10))).unwrap();
        assert_eq!(t.state, State::Paid);
        assert!(t.steps[0].late);
    }

    #[test]
    fn subscription_callbacks_do_not_apply_to_one_time_payments_and_back() {
        let one = facts(OrderKind::OneTime, State::Pending);
        for k in [
            ClaimKind::Registered,
            ClaimKind::Charged,
            ClaimKind::ChargeFailed,
            ClaimKind::Cancelled,
        ] {
            assert!(matches!(
                transition(&one, &said(k, Some(10))),
                Err(Misfit::WrongKind { .. })
            ));
        }
        let sub = facts(OrderKind::Subscription, State::Pending);
        assert!(matches!(
            transition(&sub, &said(ClaimKind::PaymentFailed, None)),
            Err(Misfit::WrongKind { .. })
        ));
    }

    #[test]
    fn a_subscription_lives_registered_charged_cancelled() {
        let mut f = facts(OrderKind::Subscription, State::Pending);
        let t = transition(&f, &said(ClaimKind::Registered, None)).unwrap();
        assert_eq!(
            (t.state, kinds(&t)),
            (State::Active, vec!["subscription.started"])
        );
        f.state = t.state;
        for n in 1..=3 {
            let t = transition(&f, &said(ClaimKind::Charged, Some(10))).unwrap();
            assert_eq!(t.steps[0].sequence, n);
            f.charges_count = t.charges_count;
        }
        let failed = transition(&f, &said(ClaimKind::ChargeFailed, None)).unwrap();
        assert_eq!((failed.state, failed.steps[0].sequence), (State::Active, 4));
        let t = transition(&f, &said(ClaimKind::Cancelled, None)).unwrap();
        assert_eq!(t.state, State::Cancelled);
        f.state = State::Cancelled;
        // A charge reported after the cancellation happened: accounted, late, still cancelled.
        let late = transition(&f, &said(ClaimKind::Charged, Some(10))).unwrap();
        assert_eq!((late.state, late.steps[0].late), (State::Cancelled, true));
        assert!(transition(&f, &said(ClaimKind::Cancelled, None)).is_err());
        assert!(transition(&f, &said(ClaimKind::Registered, None)).is_err());
    }

    #[test]
    fn the_first_charge_starts_the_subscription_and_numbered_charges_count_once() {
        let mut f = facts(OrderKind::Subscription, State::Pending);
        f.payments_no = 3;
        let first = Said {
            sequence: Some(1),
            ..said(ClaimKind::Charged, Some(10))
        };
        let t = transition(&f, &first).unwrap();
        assert_eq!(kinds(&t), ["subscription.started", "subscription.charged"]);
        f.state = t.state;
        f.charges_count = t.charges_count;
        // The same charge number again, with fresh ids: refused.
        assert_eq!(transition(&f, &first), Err(Misfit::AlreadyCharged(1)));
        f.charges_count = 2;
        let last = Said {
            sequence: Some(3),
            ..said(ClaimKind::Charged, Some(10))
        };
        let t = transition(&f, &last).unwrap();
        assert_eq!(t.state, State::Completed);
        assert_eq!(
            kinds(&t),
            ["subscription.charged", "subscription.cancelled"]
        );
        assert!(t.steps[1]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("completed"));
        let beyond = Said {
            sequence: Some(4),
            ..said(ClaimKind::Charged, Some(10))
        };
        f.state = State::Active;
        f.charges_count = 3;
        assert_eq!(transition(&f, &beyond), Err(Misfit::BeyondPayments(4, 3)));
    }

    #[test]
    fn a_recurring_charge_must_cost_the_current_price() {
        let mut f = facts(OrderKind::Subscription, State::Active);
        f.current_price = pln(25);
        assert!(transition(&f, &said(ClaimKind::Charged, Some(10))).is_err());
        assert!(transition(&f, &said(ClaimKind::Charged, Some(25))).is_ok());
    }

    /// A charge the provider made at the old price while the price change was on its way: the
    /// next charge due is believed once, accounted at what was charged; nothing else is.
    #[test]
    fn a_charge_that_raced_a_price_change_is_believed_once_at_the_old_price() {
        let mut f = facts(OrderKind::Subscription, State::Active);
        f.charges_count = 2;
        f.current_price = pln(25);
        f.previous_price = Some(pln(10));
        let t = transition(&f, &said(ClaimKind::Charged, Some(10))).unwrap();
        assert!(t.previous_price_used);
        assert_eq!(
            (t.charges_count, t.steps[0].amount),
            (3, pln(10)),
            "accounted at what was charged"
        );
        // At the new price: the current price, the previous one kept for a racing charge.
        let t = transition(&f, &said(ClaimKind::Charged, Some(25))).unwrap();
        assert!(!t.previous_price_used);
        assert_eq!(t.steps[0].amount, pln(25));
        // Another amount, or the old price for a charge that is not the next one: refused.
        assert!(matches!(
            transition(&f, &said(ClaimKind::Charged, Some(11))),
            Err(Misfit::Amount { .. })
        ));
        let later = Said {
            sequence: Some(5),
            ..said(ClaimKind::Charged, Some(10))
        };
        assert!(matches!(transition(&f, &later), Err(Misfit::Amount { .. })));
        let again = Said {
            sequence: Some(2),
            ..said(ClaimKind::Charged, Some(10))
        };
        assert!(transition(&f, &again).is_err(), "an old charge replayed");
        // Once used (or past the grace: Order::facts leaves it out), the old price is refused.
        f.previous_price = None;
        assert!(matches!(
            transition(&f, &said(ClaimKind::Charged, Some(10))),
            Err(Misfit::Amount { .. })
        ));
        // The other direction: the new price charged while the change waits for the
        // provider's answer is believed at that price; nothing else is.
        f.pending_price = Some(pln(40));
        let t = transition(&f, &said(ClaimKind::Charged, Some(40))).unwrap();
        assert_eq!(t.steps[0].amount, pln(40));
        assert!(transition(&f, &said(ClaimKind::Charged, Some(41))).is_err());
    }

    #[test]
    fn a_failed_registration_fails_the_subscription() {
        let f = facts(OrderKind::Subscription, State::Pending);
        let t = transition(&f, &said(ClaimKind::ChargeFailed, None)).unwrap();
        assert_eq!((t.state, t.steps[0].sequence), (State::Failed, 1));
    }

    #[test]
    fn recurrence_impossible_means_one_plain_payment() {
        let f = facts(OrderKind::Subscription, State::Pending);
        let t = transition(&f, &said(ClaimKind::Paid, Some(10))).unwrap();
        assert_eq!(
            (t.state, kinds(&t)),
            (State::Paid, vec!["payment.succeeded"])
        );
        let active = facts(OrderKind::Subscription, State::Active);
        assert!(transition(&active, &said(ClaimKind::Paid, Some(10))).is_err());
    }

    #[test]
    fn an_unfinished_payment_expires_and_later_money_is_still_accounted() {
        let f = facts(OrderKind::OneTime, State::Pending);
        let t = transition(&f, &said(ClaimKind::Expired, None)).unwrap();
        assert_eq!(
            (t.state, kinds(&t)),
            (State::Expired, vec!["payment.failed"])
        );
        assert_eq!(t.steps[0].reason.as_deref(), Some("expired"));
        let expired = facts(OrderKind::OneTime, State::Expired);
        let late = transition(&expired, &said(ClaimKind::Paid, Some(10))).unwrap();
        assert_eq!((late.state, late.steps[0].late), (State::Paid, true));
        // Only a pending payment expires.
        let paid = facts(OrderKind::OneTime, State::Paid);
        assert!(transition(&paid, &said(ClaimKind::Expired, None)).is_err());
        let sub = facts(OrderKind::Subscription, State::Expired);
        let t = transition(&sub, &said(ClaimKind::Charged, Some(10))).unwrap();
        assert_eq!(kinds(&t), ["subscription.started", "subscription.charged"]);
        assert!(t.steps[1].late);
    }

    #[test]
    fn an_unsubscribe_answered_yes_is_cancelling_until_confirmed() {
        let active = facts(OrderKind::Subscription, State::Active);
        let t = transition(&active, &said(ClaimKind::CancelRequested, None)).unwrap();
        assert_eq!((t.state, t.steps.len()), (State::Cancelling, 0));
        let cancelling = Facts {
            state: State::Cancelling,
            charges_count: 2,
            ..active.clone()
        };
        // A charge meanwhile is accounted, but late: not a normal renewal.
        let late = transition(&cancelling, &said(ClaimKind::Charged, Some(10))).unwrap();
        assert_eq!((late.state, late.steps[0].late), (State::Cancelling, true));
        let done = transition(&cancelling, &said(ClaimKind::Cancelled, None)).unwrap();
        assert_eq!(
            (done.state, kinds(&done)),
            (State::Cancelled, vec!["subscription.cancelled"])
        );
        // A confirmation that overtook the provider's answer: nothing left to do, no misfit.
        let ended = Facts {
            state: State::Cancelled,
            ..active.clone()
        };
        let t = transition(&ended, &said(ClaimKind::CancelRequested, None)).unwrap();
        assert_eq!((t.state, t.steps.len()), (State::Cancelled, 0));
    }

    #[test]
    fn a_failed_last_payment_also_completes_the_subscription() {
        let mut f = facts(OrderKind::Subscription, State::Active);
        f.payments_no = 3;
        f.charges_count = 2;
        let last = Said {
            sequence: Some(3),
            ..said(ClaimKind::ChargeFailed, None)
        };
        let t = transition(&f, &last).unwrap();
        assert_eq!(t.state, State::Completed);
        assert_eq!(
            kinds(&t),
            ["subscription.charge_failed", "subscription.cancelled"]
        );
        // Unlimited: a failure ends nothing.
        f.payments_no = 0;
        assert_eq!(transition(&f, &last).unwrap().state, State::Active);
    }
}
