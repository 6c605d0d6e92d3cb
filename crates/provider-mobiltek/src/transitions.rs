//! What one authenticated Mobiltek notification does to a transaction: its next state, its
//! charge count, and the PaySystem event it causes (DESIGN 2, events.proto). Pure, so the mapping
//! is unit-tested apart from HTTP and SQL.

use crate::store::{Kind, State, Transaction};
use crate::wire::{Notification, NotificationType};
use paysys_platform::events::{self, new_event};
use paysys_proto::Event;

/// The result of applying a notification.
#[derive(Debug, Clone)]
pub struct Effect {
    pub state: State,
    pub charges_count: i32,
    pub event: Event,
}

/// Why a notification cannot apply to this transaction (answered 400, nothing stored).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error("type: {0} does not apply to a {1}")]
    Kind(&'static str, &'static str),
    #[error("service_id: the transaction belongs to service {0}")]
    Service(String),
}

/// Checks that `n` can concern `t` at all.
pub fn check(t: &Transaction, n: &Notification) -> Result<(), Mismatch> {
    if n.kind.is_subscription() != (t.kind == Kind::Subscription) {
        return Err(Mismatch::Kind(n.kind.as_str(), t.kind.describe()));
    }
    if n.service_id != t.service_id {
        return Err(Mismatch::Service(t.service_id.clone()));
    }
    Ok(())
}

/// The effect of `n` on `t` (call `check` first).
pub fn apply(t: &Transaction, n: &Notification) -> Effect {
    use NotificationType as N;
    let (kind, state, charges_count, sequence) = match n.kind {
        N::Payment => (
            events::PAYMENT_SUCCEEDED,
            State::Paid,
            t.charges_count + 1,
            0,
        ),
        N::PaymentFailed => (events::PAYMENT_FAILED, State::Failed, t.charges_count, 0),
        // A late REGISTRATION must not revive a cancelled subscription.
        N::Registration => (
            events::SUBSCRIPTION_STARTED,
            t.state.or_if_cancelled(State::Active),
            t.charges_count,
            0,
        ),
        // sequence = the n-th successful charge, 1-based (the first one included).
        N::Charge => (
            events::SUBSCRIPTION_CHARGED,
            t.state.or_if_cancelled(State::Active),
            t.charges_count + 1,
            t.charges_count + 1,
        ),
        // sequence = the number the attempted charge would have had. A failure before the
        // subscription ever started is a failed registration (seed 000: "failed subscription
        // charge"); later failures leave the subscription running, Mobiltek tries next period.
        N::ChargeFailed => (
            events::SUBSCRIPTION_CHARGE_FAILED,
            if t.state == State::Pending {
                State::Failed
            } else {
                t.state
            },
            t.charges_count,
            t.charges_count + 1,
        ),
        N::Unregistration => (
            events::SUBSCRIPTION_CANCELLED,
            State::Cancelled,
            t.charges_count,
            0,
        ),
    };
    let mut e = new_event(kind);
    e.merchant_id = t.merchant_id.clone();
    e.order_id = t.order_id.clone();
    e.provider = "mobiltek".into();
    e.channel_id = t.channel_id.clone();
    // The charge's own amount when Mobiltek states it (subscription terms live at Mobiltek,
    // seed 000), else the amount the merchant asked for.
    e.amount_minor = n.amount.map(|m| m.minor).unwrap_or(t.amount_minor);
    e.currency = t.currency.clone();
    e.charge_id = n.charge_id.clone();
    e.sequence = sequence.max(0) as u32;
    e.user_id = t.user_id.clone();
    e.user_email = t.user_email.clone();
    let msisdn = if n.msisdn.is_empty() {
        t.msisdn.clone()
    } else {
        n.msisdn.clone()
    };
    // Seed 000: additional_data of the merchant notification.
    e.provider_fields.insert("mobiltek_msisdn".into(), msisdn);
    e.provider_fields
        .insert("mobiltek_operator_id".into(), n.operator_id.clone());
    e.provider_fields
        .insert("mobiltek_notification_type".into(), n.kind.as_str().into());
    e.failure_reason = n.reason.clone();
    Effect {
        state,
        charges_count,
        event: e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::pln;
    use paysys_platform::money::Money;

    fn tx(kind: Kind, state: State, charges: i32) -> Transaction {
        Transaction {
            transaction_id: "1000014896266637".into(),
            merchant_id: "34801".into(),
            order_id: "cab3131a".into(),
            channel_id: "18913".into(),
            kind,
            amount_minor: 10,
            currency: "PLN".into(),
            service_id: "30576".into(),
            msisdn: "48501123123".into(),
            user_id: "1234qwera".into(),
            user_email: "tomek@test.pl".into(),
            redirect_url: String::new(),
            state,
            charges_count: charges,
        }
    }

    fn note(kind: NotificationType, amount: Option<i64>) -> Notification {
        Notification {
            notification_id: "n".into(),
            transaction_id: "1000014896266637".into(),
            service_id: "30576".into(),
            msisdn: "48690112325".into(),
            operator_id: "26001".into(),
            kind,
            amount: amount.map(|m| Money::new(m, pln())),
            charge_id: if kind.is_charge() {
                "c-9".into()
            } else {
                String::new()
            },
            reason: String::new(),
            timestamp: 1,
        }
    }

    #[test]
    fn payment_becomes_payment_succeeded_with_seed_fields() {
        let t = tx(Kind::OneTime, State::Pending, 0);
        let fx = apply(&t, &note(NotificationType::Payment, Some(10)));
        assert_eq!((fx.state, fx.charges_count), (State::Paid, 1));
        let e = fx.event;
        assert_eq!(e.kind, "payment.succeeded");
        assert_eq!(
            (e.merchant_id.as_str(), e.order_id.as_str()),
            ("34801", "cab3131a")
        );
        assert_eq!((e.amount_minor, e.currency.as_str()), (10, "PLN"));
        assert_eq!((e.charge_id.as_str(), e.sequence), ("c-9", 0));
        assert_eq!(e.provider, "mobiltek");
        assert_eq!(e.provider_fields["mobiltek_msisdn"], "48690112325");
        assert_eq!(e.provider_fields["mobiltek_operator_id"], "26001");
        assert_eq!(e.provider_fields["mobiltek_notification_type"], "PAYMENT");
    }

    #[test]
    fn subscription_lifecycle_sequences() {
        let mut t = tx(Kind::Subscription, State::Pending, 0);
        let reg = apply(&t, &note(NotificationType::Registration, None));
        assert_eq!(reg.event.kind, "subscription.started");
        assert_eq!(reg.event.amount_minor, 10);
        t.state = reg.state;
        for n in 1..=3 {
            let fx = apply(&t, &note(NotificationType::Charge, Some(25)));
            assert_eq!(fx.event.kind, "subscription.charged");
            assert_eq!((fx.event.sequence, fx.event.amount_minor), (n, 25));
            t.state = fx.state;
            t.charges_count = fx.charges_count;
        }
        let failed = apply(&t, &note(NotificationType::ChargeFailed, Some(25)));
        assert_eq!(failed.event.kind, "subscription.charge_failed");
        assert_eq!((failed.event.sequence, failed.charges_count), (4, 3));
        assert_eq!(failed.state, State::Active);
        let un = apply(&t, &note(NotificationType::Unregistration, None));
        assert_eq!(
            (un.event.kind.as_str(), un.state),
            ("subscription.cancelled", State::Cancelled)
        );
        t.state = un.state;
        // A charge Mobiltek reports late still counts, but does not reopen the subscription.
        let late = apply(&t, &note(NotificationType::Charge, Some(25)));
        assert_eq!((late.state, late.event.sequence), (State::Cancelled, 4));
    }

    #[test]
    fn a_failed_registration_fails_the_subscription() {
        let t = tx(Kind::Subscription, State::Pending, 0);
        let fx = apply(&t, &note(NotificationType::ChargeFailed, None));
        assert_eq!((fx.state, fx.event.sequence), (State::Failed, 1));
        assert_eq!(fx.event.charge_id, "c-9");
    }

    #[test]
    fn types_must_fit_the_transaction() {
        let one = tx(Kind::OneTime, State::Pending, 0);
        let sub = tx(Kind::Subscription, State::Pending, 0);
        assert!(check(&one, &note(NotificationType::Payment, Some(10))).is_ok());
        assert!(check(&one, &note(NotificationType::Charge, Some(10))).is_err());
        assert!(check(&sub, &note(NotificationType::PaymentFailed, None)).is_err());
        let mut other_service = note(NotificationType::Registration, None);
        other_service.service_id = "1".into();
        assert_eq!(
            check(&sub, &other_service),
            Err(Mismatch::Service("30576".into()))
        );
    }
}
