//! What the ledger reads from an event: a successful or failed charge, parsed once so that the
//! rest of the crate cannot see an invalid one. Each error names the event field at fault.

use crate::domain::Book;
use chrono::{DateTime, Utc};
use paysys_platform::events;
use paysys_platform::Currency;
use paysys_proto::Event;

/// Routing keys the ledger's queue is bound to.
pub const BINDINGS: &[&str] = &[
    events::PAYMENT_SUCCEEDED,
    events::PAYMENT_FAILED,
    events::SUBSCRIPTION_CHARGED,
    events::SUBSCRIPTION_CHARGE_FAILED,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    OneTime,
    Recurring,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OneTime => "one_time",
            Kind::Recurring => "recurring",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
}

/// One charge attempt as the provider reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    pub outcome: Outcome,
    pub kind: Kind,
    pub merchant_id: String,
    pub order_id: String,
    pub provider: String,
    pub channel_id: String,
    /// The provider's identity of the charge; never empty for a success.
    pub charge_id: String,
    pub sequence: i32,
    pub amount_minor: i64,
    pub currency: Currency,
    pub occurred_at: DateTime<Utc>,
    pub failure_reason: String,
    /// The test book for a test order's charge (`provider_fields["test"] = "true"`).
    pub book: Book,
}

/// The provider field that marks every event of a test order.
pub const TEST_FIELD: &str = "test";

/// The book of an event: `test` when its provider fields say `test = true`, live when they say
/// nothing (or `false`). Anything else is refused rather than guessed: a test charge posted to
/// the live book would be worse than a dead-lettered event.
fn book_of(e: &Event) -> Result<Book, InvalidEvent> {
    match e.provider_fields.get(TEST_FIELD).map(|v| v.trim()) {
        None | Some("") => Ok(Book::Live),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Book::Test),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Book::Live),
        Some(v) => Err(invalid(
            "provider_fields.test",
            format!("must be \"true\" or \"false\", got {v:?}"),
        )),
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidEvent {
    pub field: &'static str,
    pub problem: String,
}

fn invalid(field: &'static str, problem: impl Into<String>) -> InvalidEvent {
    InvalidEvent {
        field,
        problem: problem.into(),
    }
}

impl Charge {
    /// The charge an event reports; `Ok(None)` for kinds that are not charges.
    pub fn from_event(e: &Event) -> Result<Option<Charge>, InvalidEvent> {
        let (outcome, kind) = match e.kind.as_str() {
            events::PAYMENT_SUCCEEDED => (Outcome::Succeeded, Kind::OneTime),
            events::PAYMENT_FAILED => (Outcome::Failed, Kind::OneTime),
            events::SUBSCRIPTION_CHARGED => (Outcome::Succeeded, Kind::Recurring),
            events::SUBSCRIPTION_CHARGE_FAILED => (Outcome::Failed, Kind::Recurring),
            _ => return Ok(None),
        };
        let required = |field: &'static str, v: &str| {
            if v.trim().is_empty() {
                Err(invalid(field, "must not be empty"))
            } else {
                Ok(v.to_string())
            }
        };
        let merchant_id = required("merchant_id", &e.merchant_id)?;
        let order_id = required("order_id", &e.order_id)?;
        let provider = required("provider", &e.provider)?;
        // The charge key is "<provider>:<charge_id>"; a colon in the provider would make it ambiguous.
        if provider.contains(':') {
            return Err(invalid("provider", "must not contain ':'"));
        }
        let charge_id = match outcome {
            Outcome::Succeeded => required("charge_id", &e.charge_id)?,
            Outcome::Failed => e.charge_id.clone(),
        };
        if e.amount_minor <= 0 {
            return Err(invalid(
                "amount_minor",
                format!("must be positive, got {}", e.amount_minor),
            ));
        }
        let currency = Currency::parse(&e.currency).map_err(|p| invalid("currency", p))?;
        let sequence = i32::try_from(e.sequence)
            .map_err(|_| invalid("sequence", format!("{} is too large", e.sequence)))?;
        let occurred_at = DateTime::parse_from_rfc3339(&e.occurred_at)
            .map_err(|err| invalid("occurred_at", format!("not RFC 3339: {err}")))?
            .with_timezone(&Utc);
        let book = book_of(e)?;
        Ok(Some(Charge {
            outcome,
            kind,
            merchant_id,
            order_id,
            provider,
            channel_id: e.channel_id.clone(),
            charge_id,
            sequence,
            amount_minor: e.amount_minor,
            currency,
            occurred_at,
            failure_reason: e.failure_reason.clone(),
            book,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str) -> Event {
        Event {
            merchant_id: "34801".into(),
            order_id: "sub-1".into(),
            provider: "mobiltek".into(),
            channel_id: "18913".into(),
            amount_minor: 10,
            currency: "PLN".into(),
            charge_id: "1000014896266637".into(),
            sequence: 2,
            ..events::new_event(kind)
        }
    }

    fn field_of(e: Event) -> &'static str {
        Charge::from_event(&e).unwrap_err().field
    }

    #[test]
    fn kinds_map_to_outcome_and_kind() {
        let c = Charge::from_event(&event(events::SUBSCRIPTION_CHARGED))
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.outcome, c.kind, c.sequence),
            (Outcome::Succeeded, Kind::Recurring, 2)
        );
        let c = Charge::from_event(&event(events::PAYMENT_FAILED))
            .unwrap()
            .unwrap();
        assert_eq!((c.outcome, c.kind), (Outcome::Failed, Kind::OneTime));
        assert_eq!(
            Charge::from_event(&event(events::SUBSCRIPTION_STARTED)),
            Ok(None)
        );
    }

    #[test]
    fn invalid_fields_are_named() {
        let mut e = event(events::PAYMENT_SUCCEEDED);
        e.charge_id.clear();
        assert_eq!(field_of(e), "charge_id");
        let mut e = event(events::PAYMENT_SUCCEEDED);
        e.amount_minor = 0;
        assert_eq!(field_of(e), "amount_minor");
        let mut e = event(events::SUBSCRIPTION_CHARGE_FAILED);
        e.amount_minor = -10;
        assert_eq!(field_of(e), "amount_minor");
        let mut e = event(events::PAYMENT_SUCCEEDED);
        e.currency = "pln".into();
        assert_eq!(field_of(e), "currency");
        let mut e = event(events::PAYMENT_SUCCEEDED);
        e.occurred_at = "yesterday".into();
        assert_eq!(field_of(e), "occurred_at");
        let mut e = event(events::PAYMENT_SUCCEEDED);
        e.provider = "a:b".into();
        assert_eq!(field_of(e), "provider");
        let mut e = event(events::PAYMENT_SUCCEEDED);
        e.merchant_id = " ".into();
        assert_eq!(field_of(e), "merchant_id");
    }

    #[test]
    fn the_test_field_picks_the_book() {
        let book = |v: Option<&str>| {
            let mut e = event(events::PAYMENT_SUCCEEDED);
            if let Some(v) = v {
                e.provider_fields.insert(TEST_FIELD.into(), v.into());
            }
            Charge::from_event(&e).map(|c| c.unwrap().book)
        };
        assert_eq!(book(None), Ok(Book::Live));
        assert_eq!(book(Some("")), Ok(Book::Live));
        assert_eq!(book(Some("false")), Ok(Book::Live));
        assert_eq!(book(Some("true")), Ok(Book::Test));
        assert_eq!(book(Some("True")), Ok(Book::Test));
        assert_eq!(
            book(Some("maybe")).unwrap_err().field,
            "provider_fields.test"
        );
        // A failed charge of a test order is recorded in the test book too.
        let mut e = event(events::SUBSCRIPTION_CHARGE_FAILED);
        e.provider_fields.insert(TEST_FIELD.into(), "true".into());
        assert_eq!(Charge::from_event(&e).unwrap().unwrap().book, Book::Test);
    }

    #[test]
    fn a_failed_charge_needs_no_charge_id() {
        let mut e = event(events::SUBSCRIPTION_CHARGE_FAILED);
        e.charge_id.clear();
        e.failure_reason = "insufficient funds".into();
        let c = Charge::from_event(&e).unwrap().unwrap();
        assert_eq!(c.failure_reason, "insufficient funds");
    }
}
