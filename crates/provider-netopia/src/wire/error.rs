//! The one parse error of the wire layer: which field or element, and why. Callers show it as is
//! (`order.invoice.amount: "12.345" has more than 2 decimals`) and map it to their own answers.

use std::fmt;

/// A field of a mobilPay message that is missing or malformed.
///
/// `field` is a dotted path from the document root, attributes included as their own segment:
/// `order.invoice.amount`, `order.mobilpay.error.code`, `moveRecurrence.request.recurrenceDate`,
/// or `xml` when the document itself is not well-formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct WireError {
    pub field: String,
    pub reason: String,
}

impl WireError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn missing(field: impl Into<String>) -> Self {
        Self::new(field, "missing")
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}
