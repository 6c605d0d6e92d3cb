//! The SOAP messages of the recurrence service, both directions: requests the adapter sends and
//! the sandbox reads, results the sandbox sends and the adapter reads.

use super::{
    body_element, envelope, Operation, ResultCode, SoapError, NAMESPACE, RECURRENCE_DATE_FORMAT,
};
use crate::wire::amount::{format_hundredths, parse_hundredths};
use crate::wire::error::WireError;
use crate::wire::xml::{Element, XmlWriter};
use chrono::NaiveDateTime;
use std::fmt;

/// `logIn(request{username, password})`.
#[derive(Clone, PartialEq, Eq)]
pub struct LogInRequest {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for LogInRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogInRequest")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// `cancelRecurrence(request{sessionId, sacId, orderId})`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRecurrenceRequest {
    /// From `logIn`.
    pub session_id: String,
    /// The seller account id (the order's `<signature>`).
    pub sac_id: String,
    /// The recurring order's id.
    pub order_id: String,
}

/// `modifyRecurrencePrice(request{sessionId, sacId, orderId, price})`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModifyRecurrencePriceRequest {
    pub session_id: String,
    pub sac_id: String,
    pub order_id: String,
    /// The new price in hundredths of the order's currency (the seed's float `price`, sent as
    /// `12.34`).
    pub price_minor: i64,
}

/// `moveRecurrence(request{sessionId, sacId, orderId, recurrenceDate})`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveRecurrenceRequest {
    pub session_id: String,
    pub sac_id: String,
    pub order_id: String,
    /// When the next payment happens, Romanian local time (`YYYY-MM-dd HH:mm:ss` on the wire).
    pub recurrence_date: NaiveDateTime,
}

/// Any of the four requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoapRequest {
    LogIn(LogInRequest),
    CancelRecurrence(CancelRecurrenceRequest),
    ModifyRecurrencePrice(ModifyRecurrencePriceRequest),
    MoveRecurrence(MoveRecurrenceRequest),
}

impl SoapRequest {
    pub fn operation(&self) -> Operation {
        match self {
            SoapRequest::LogIn(_) => Operation::LogIn,
            SoapRequest::CancelRecurrence(_) => Operation::CancelRecurrence,
            SoapRequest::ModifyRecurrencePrice(_) => Operation::ModifyRecurrencePrice,
            SoapRequest::MoveRecurrence(_) => Operation::MoveRecurrence,
        }
    }

    /// The request envelope to POST (with `Content-Type: text/xml; charset=utf-8` and
    /// `SOAPAction: "{operation().soap_action()}"`). Fails only for a negative price.
    pub fn to_envelope(&self) -> Result<String, WireError> {
        let op = self.operation();
        let mut fields: Vec<(&str, String)> = Vec::new();
        match self {
            SoapRequest::LogIn(r) => {
                fields.push(("username", r.username.clone()));
                fields.push(("password", r.password.clone()));
            }
            SoapRequest::CancelRecurrence(r) => {
                fields.extend(ids(&r.session_id, &r.sac_id, &r.order_id));
            }
            SoapRequest::ModifyRecurrencePrice(r) => {
                fields.extend(ids(&r.session_id, &r.sac_id, &r.order_id));
                let price = format_hundredths(r.price_minor).map_err(|e| {
                    WireError::new("modifyRecurrencePrice.request.price", e.to_string())
                })?;
                fields.push(("price", price));
            }
            SoapRequest::MoveRecurrence(r) => {
                fields.extend(ids(&r.session_id, &r.sac_id, &r.order_id));
                let date = r.recurrence_date.format(RECURRENCE_DATE_FORMAT).to_string();
                fields.push(("recurrenceDate", date));
            }
        }
        Ok(envelope(|w| {
            w.open(op.name(), &[("xmlns", NAMESPACE)])
                .open("request", &[]);
            for (name, value) in &fields {
                w.leaf(name, value);
            }
            w.close("request").close(op.name());
        }))
    }

    /// Reads a request envelope (the sandbox's side). Errors name the field, e.g.
    /// `moveRecurrence.request.recurrenceDate: "18.09.2026" is not YYYY-MM-dd HH:mm:ss`.
    pub fn from_envelope(xml: &str) -> Result<SoapRequest, SoapError> {
        let call = body_element(xml)?;
        let op = Operation::from_name(&call.name)
            .ok_or_else(|| WireError::new(&call.name, "is not an operation of this service"))?;
        let request = call.req_child("request")?;
        let text = |name: &str| -> Result<String, WireError> {
            Ok(request.req_child(name)?.text().to_string())
        };
        let ids = || -> Result<(String, String, String), WireError> {
            Ok((text("sessionId")?, text("sacId")?, text("orderId")?))
        };
        Ok(match op {
            Operation::LogIn => SoapRequest::LogIn(LogInRequest {
                username: text("username")?,
                // A password is taken exactly as sent, spaces included.
                password: request.req_child("password")?.raw_text().to_string(),
            }),
            Operation::CancelRecurrence => {
                let (session_id, sac_id, order_id) = ids()?;
                SoapRequest::CancelRecurrence(CancelRecurrenceRequest {
                    session_id,
                    sac_id,
                    order_id,
                })
            }
            Operation::ModifyRecurrencePrice => {
                let (session_id, sac_id, order_id) = ids()?;
                let price = request.req_child("price")?;
                SoapRequest::ModifyRecurrencePrice(ModifyRecurrencePriceRequest {
                    session_id,
                    sac_id,
                    order_id,
                    price_minor: parse_price(price)?,
                })
            }
            Operation::MoveRecurrence => {
                let (session_id, sac_id, order_id) = ids()?;
                let date = request.req_child("recurrenceDate")?;
                let recurrence_date =
                    NaiveDateTime::parse_from_str(date.text(), RECURRENCE_DATE_FORMAT).map_err(
                        |_| {
                            WireError::new(
                                &date.path,
                                format!("{:?} is not YYYY-MM-dd HH:mm:ss", date.text()),
                            )
                        },
                    )?;
                SoapRequest::MoveRecurrence(MoveRecurrenceRequest {
                    session_id,
                    sac_id,
                    order_id,
                    recurrence_date,
                })
            }
        })
    }
}

fn ids<'a>(session_id: &'a str, sac_id: &'a str, order_id: &'a str) -> [(&'static str, String); 3] {
    [
        ("sessionId", session_id.to_string()),
        ("sacId", sac_id.to_string()),
        ("orderId", order_id.to_string()),
    ]
}

/// The seed types `price` as a float: a client may send `12.3` or `12.340000`. Zeros past the
/// second decimal are dropped (exact); any other third decimal is refused, never rounded.
fn parse_price(e: &Element) -> Result<i64, WireError> {
    let text = e.text();
    let exact = match text.split_once('.') {
        Some((int, frac))
            if frac.len() > 2 && frac.is_ascii() && frac[2..].bytes().all(|b| b == b'0') =>
        {
            format!("{int}.{}", &frac[..2])
        }
        _ => text.to_string(),
    };
    parse_hundredths(&exact).map_err(|why| WireError::new(&e.path, why.to_string()))
}

/// `logInResult`: the session for the other operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogInResult {
    pub id: String,
}

impl LogInResult {
    pub fn to_envelope(&self) -> String {
        result_envelope(Operation::LogIn, |w| {
            w.leaf("id", &self.id);
        })
    }

    /// Reads `logInResponse`; a fault (wrong credentials) is [`SoapError::Fault`].
    pub fn from_envelope(xml: &str) -> Result<LogInResult, SoapError> {
        let result = result_element(xml, Operation::LogIn)?;
        let id = result.req_child("id")?.text().to_string();
        if id.is_empty() {
            return Err(WireError::new(result.field("id"), "is empty").into());
        }
        Ok(LogInResult { id })
    }
}

/// One entry of `details`: the error stack of a failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetail {
    /// As sent (the seed does not say these follow the result-code table).
    pub code: String,
    pub message: String,
}

/// What `cancelRecurrence`, `modifyRecurrencePrice` and `moveRecurrence` return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecurrenceResult {
    /// The operation's name (the seed: `"moveRecurrence"` for moveRecurrence).
    pub action: String,
    pub code: ResultCode,
    pub message: String,
    pub details: Vec<ErrorDetail>,
}

impl RecurrenceResult {
    /// A result for `operation` with the code's description as message and no details.
    pub fn new(operation: Operation, code: ResultCode) -> RecurrenceResult {
        RecurrenceResult {
            action: operation.name().to_string(),
            code,
            message: code.description().to_string(),
            details: Vec::new(),
        }
    }

    /// The response envelope for `operation` (`{operation}Response/{operation}Result`); `code`
    /// is written in decimal ([`ResultCode::wire_text`]).
    pub fn to_envelope(&self, operation: Operation) -> String {
        result_envelope(operation, |w| {
            w.leaf("action", &self.action)
                .leaf("code", &self.code.wire_text())
                .leaf("message", &self.message)
                .open("details", &[]);
            for detail in &self.details {
                w.open("item", &[])
                    .leaf("code", &detail.code)
                    .leaf("message", &detail.message)
                    .close("item");
            }
            w.close("details");
        })
    }

    /// Reads the response to `operation`. The fields are also accepted directly under
    /// `{operation}Response` (the seed's PHP example reads `$result->code` without a `Result`).
    pub fn from_envelope(xml: &str, operation: Operation) -> Result<RecurrenceResult, SoapError> {
        let result = result_element(xml, operation)?;
        let code_element = result.req_child("code")?;
        let code = ResultCode::parse(code_element.text()).ok_or_else(|| {
            WireError::new(
                &code_element.path,
                format!(
                    "{:?} is not a number (decimal or 0x hex)",
                    code_element.text()
                ),
            )
        })?;
        let mut details = Vec::new();
        if let Some(list) = result.child("details")? {
            for item in &list.children {
                details.push(ErrorDetail {
                    code: item.child_text("code")?.unwrap_or_default().to_string(),
                    message: item.child_text("message")?.unwrap_or_default().to_string(),
                });
            }
        }
        Ok(RecurrenceResult {
            action: result.child_text("action")?.unwrap_or_default().to_string(),
            code,
            message: result
                .child_text("message")?
                .unwrap_or_default()
                .to_string(),
            details,
        })
    }
}

/// A SOAP 1.1 fault, e.g. a `logIn` with wrong credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapFault {
    /// `soap:Client` (the caller's fault) or `soap:Server`.
    pub fault_code: String,
    pub fault_string: String,
    /// `<detail><code>` when the fault carries one of the seed's result codes.
    pub result_code: Option<ResultCode>,
}

impl SoapFault {
    /// A caller's fault with a result code, e.g. `SoapFault::client(ResultCode::InvalidUser)`.
    pub fn client(code: ResultCode) -> SoapFault {
        SoapFault {
            fault_code: "soap:Client".into(),
            fault_string: code.description().into(),
            result_code: Some(code),
        }
    }

    /// The server's own failure.
    pub fn server(message: impl Into<String>) -> SoapFault {
        SoapFault {
            fault_code: "soap:Server".into(),
            fault_string: message.into(),
            result_code: None,
        }
    }

    /// The fault envelope (sent with HTTP 500, as SOAP 1.1 requires).
    pub fn to_envelope(&self) -> String {
        envelope(|w| {
            w.open("soap:Fault", &[])
                .leaf("faultcode", &self.fault_code)
                .leaf("faultstring", &self.fault_string);
            if let Some(code) = self.result_code {
                w.open("detail", &[])
                    .leaf("code", &code.wire_text())
                    .close("detail");
            }
            w.close("soap:Fault");
        })
    }

    pub(super) fn from_element(e: &Element) -> SoapFault {
        let text = |name: &str| {
            e.child(name)
                .ok()
                .flatten()
                .map(|c| c.text().to_string())
                .unwrap_or_default()
        };
        let result_code = e
            .child("detail")
            .ok()
            .flatten()
            .and_then(|d| d.child("code").ok().flatten())
            .and_then(|c| ResultCode::parse(c.text()));
        SoapFault {
            fault_code: text("faultcode"),
            fault_string: text("faultstring"),
            result_code,
        }
    }
}

impl fmt::Display for SoapFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SOAP fault {}: {}", self.fault_code, self.fault_string)?;
        if let Some(code) = self.result_code {
            write!(f, " ({code})")?;
        }
        Ok(())
    }
}

fn result_envelope(operation: Operation, fields: impl FnOnce(&mut XmlWriter)) -> String {
    let response = operation.response_element();
    let result = operation.result_element();
    envelope(|w| {
        w.open(&response, &[("xmlns", NAMESPACE)])
            .open(&result, &[]);
        fields(w);
        w.close(&result).close(&response);
    })
}

/// `{operation}Result` inside `{operation}Response` (or the response itself when it holds the
/// fields directly).
fn result_element(xml: &str, operation: Operation) -> Result<Element, SoapError> {
    let response = body_element(xml)?;
    if response.name != operation.response_element() {
        return Err(WireError::new(
            &response.name,
            format!("expected <{}>", operation.response_element()),
        )
        .into());
    }
    Ok(match response.child(&operation.result_element())? {
        Some(result) => result.clone(),
        None => response,
    })
}
