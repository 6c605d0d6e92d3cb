//! mobilPay's recurrence web service (seed 003 section 3): SOAP 1.1, document/literal wrapped.
//!
//! Every operation takes one object named `request` (all its fields mandatory) and answers
//! `{operation}Response/{operation}Result`, as in the seed's PHP example
//! (`$client->logIn(Array('request' => $req))->logInResult->id`):
//!
//! | operation | `request` | result |
//! | --- | --- | --- |
//! | `logIn` | `username`, `password` | `id` (the session id) |
//! | `cancelRecurrence` | `sessionId`, `sacId`, `orderId` | `action`, `code`, `message`, `details` |
//! | `modifyRecurrencePrice` | ... and `price` | same |
//! | `moveRecurrence` | ... and `recurrenceDate` (`YYYY-MM-dd HH:mm:ss`) | same |
//!
//! The real service's WSDL is not public, so its namespace is ours ([`NAMESPACE`], from the
//! seed's URL) and [`wsdl`] describes exactly these four operations. Readers match element
//! names only, never namespaces or prefixes, so a client or server that qualifies differently
//! still parses. A failed `logIn` is a SOAP fault carrying the result code (`0x1000`).
//!
//! Client side (the adapter): [`SoapRequest::to_envelope`], then [`LogInResult::from_envelope`]
//! or [`RecurrenceResult::from_envelope`]. Server side (the sandbox):
//! [`SoapRequest::from_envelope`], then [`LogInResult::to_envelope`],
//! [`RecurrenceResult::to_envelope`] or [`SoapFault::to_envelope`].

mod codes;
mod messages;
mod wsdl;

pub use codes::ResultCode;
pub use messages::{
    CancelRecurrenceRequest, ErrorDetail, LogInRequest, LogInResult, ModifyRecurrencePriceRequest,
    MoveRecurrenceRequest, RecurrenceResult, SoapFault, SoapRequest,
};
pub use wsdl::wsdl;

use super::error::WireError;
use super::xml::{self, Element, XmlWriter};
use std::fmt;

/// Target namespace of the WSDL and of every element inside `soap:Body`.
pub const NAMESPACE: &str = "https://www.mobilpay.ro/api/payment/";

/// SOAP 1.1 envelope namespace.
pub const ENVELOPE_NAMESPACE: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// `Content-Type` of requests and responses (SOAP 1.1).
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// `moveRecurrence`'s `recurrenceDate`: seed 003's "ISO 8601 (YYYY-MM-dd HH:mm:ss)", no zone
/// (Romanian local time).
pub const RECURRENCE_DATE_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// The four operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    LogIn,
    CancelRecurrence,
    ModifyRecurrencePrice,
    MoveRecurrence,
}

impl Operation {
    pub const ALL: [Operation; 4] = [
        Operation::LogIn,
        Operation::CancelRecurrence,
        Operation::ModifyRecurrencePrice,
        Operation::MoveRecurrence,
    ];

    /// The operation (and request wrapper element) name: `logIn`, `moveRecurrence`, ...
    pub fn name(self) -> &'static str {
        match self {
            Operation::LogIn => "logIn",
            Operation::CancelRecurrence => "cancelRecurrence",
            Operation::ModifyRecurrencePrice => "modifyRecurrencePrice",
            Operation::MoveRecurrence => "moveRecurrence",
        }
    }

    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.name() == name)
    }

    /// The `SOAPAction` HTTP header value (quoted when sent); servers here dispatch on the body.
    pub fn soap_action(self) -> String {
        format!("{NAMESPACE}#{}", self.name())
    }

    fn response_element(self) -> String {
        format!("{}Response", self.name())
    }

    fn result_element(self) -> String {
        format!("{}Result", self.name())
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SoapError {
    /// The other side answered with a SOAP fault.
    #[error("{0}")]
    Fault(SoapFault),
    /// Not the document expected; `field` is relative to `soap:Body`
    /// (`moveRecurrence.request.recurrenceDate`).
    #[error("{0}")]
    Malformed(WireError),
}

impl From<WireError> for SoapError {
    fn from(e: WireError) -> Self {
        SoapError::Malformed(e)
    }
}

/// `<soap:Envelope><soap:Body>` + `body` + closing tags.
fn envelope(body: impl FnOnce(&mut XmlWriter)) -> String {
    let mut w = XmlWriter::document();
    w.open("soap:Envelope", &[("xmlns:soap", ENVELOPE_NAMESPACE)])
        .open("soap:Body", &[]);
    body(&mut w);
    w.close("soap:Body").close("soap:Envelope");
    w.finish()
}

/// The element inside `Body`, re-rooted so that error paths start at it; a `Fault` becomes
/// [`SoapError::Fault`].
fn body_element(xml: &str) -> Result<Element, SoapError> {
    let root = xml::parse(xml)?;
    if root.name != "Envelope" {
        return Err(WireError::new(
            "Envelope",
            format!("the document's root is <{}>", root.name),
        )
        .into());
    }
    let body = root.req_child("Body")?;
    let mut inner = body
        .children
        .first()
        .cloned()
        .ok_or_else(|| WireError::new("Body", "is empty"))?;
    reroot(&mut inner, None);
    if inner.name == "Fault" {
        return Err(SoapError::Fault(SoapFault::from_element(&inner)));
    }
    Ok(inner)
}

fn reroot(e: &mut Element, parent: Option<&str>) {
    e.path = match parent {
        Some(p) => format!("{p}.{}", e.name),
        None => e.name.clone(),
    };
    let path = e.path.clone();
    for child in &mut e.children {
        reroot(child, Some(&path));
    }
}

#[cfg(test)]
mod tests;
