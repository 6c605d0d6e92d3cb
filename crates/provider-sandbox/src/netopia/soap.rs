//! mobilPay's recurrence web service (seed 003 section 3) at `/netopia/api/payment`: `GET ?wsdl`
//! serves the wire layer's WSDL with the sandbox's public URL; `POST` reads a SOAP 1.1 request
//! with the wire layer and answers it. `logIn` with the configured account hands out a session
//! (a wrong one is a fault carrying 0x1000); `cancelRecurrence`, `modifyRecurrencePrice` and
//! `moveRecurrence` answer the seed's codes (0x1000 unknown session, 0x4005 seller account,
//! 0x4004 order, 0x3000 no recurrence, 0x4002 bad value, 0x5000 OK). A request that does not
//! parse is a `soap:Client` fault with 0x2000 naming the field. Under the `timeout` / `error`
//! faults the service hangs or fails with a bare HTTP error and changes nothing.

use super::sim::{Change, Records};
use super::Netopia;
use crate::faults::{self, Outage};
use crate::App;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use provider_netopia::wire::soap::{
    self, ErrorDetail, LogInResult, Operation, RecurrenceResult, ResultCode, SoapError, SoapFault,
    SoapRequest,
};
use std::sync::Arc;

fn xml(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, soap::CONTENT_TYPE)], body).into_response()
}

/// A fault, sent with HTTP 500 as SOAP 1.1 wants.
fn fault(code: ResultCode, message: impl Into<String>) -> Response {
    let f = SoapFault {
        fault_code: "soap:Client".into(),
        fault_string: message.into(),
        result_code: Some(code),
    };
    xml(StatusCode::INTERNAL_SERVER_ERROR, f.to_envelope())
}

/// `GET /netopia/api/payment?wsdl`.
pub async fn wsdl(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
    if !query
        .unwrap_or_default()
        .to_ascii_lowercase()
        .contains("wsdl")
    {
        return (
            StatusCode::BAD_REQUEST,
            "mobilPay's SOAP service: GET ?wsdl for its description, POST SOAP 1.1 requests",
        )
            .into_response();
    }
    let url = format!(
        "{}/netopia/api/payment",
        app.settings.public_url.trim_end_matches('/')
    );
    xml(StatusCode::OK, soap::wsdl(&url))
}

/// `POST /netopia/api/payment`: one SOAP request.
pub async fn call(
    State(app): State<App>,
    Extension(netopia): Extension<Arc<Netopia>>,
    body: String,
) -> Response {
    match faults::outage(&app, Netopia::NAME).await {
        Some(Outage::TimedOut) => {
            return (
                StatusCode::GATEWAY_TIMEOUT,
                "the service did not answer in time",
            )
                .into_response()
        }
        Some(Outage::Error) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
        }
        None => {}
    }
    let request = match SoapRequest::from_envelope(&body) {
        Ok(r) => r,
        Err(SoapError::Malformed(e)) => return fault(ResultCode::InvalidRequest, e.to_string()),
        Err(SoapError::Fault(_)) => {
            return fault(ResultCode::InvalidRequest, "a fault is not a request")
        }
    };
    let s = &netopia.settings;
    let mut state = app.state.lock().await;
    let now = state.now();
    let records = state.records::<Records>();
    let knows = |account: &str| s.knows_seller(account);
    let (op, answer) = match request {
        SoapRequest::LogIn(r) => {
            return if r.username == s.soap_username && r.password == s.soap_password {
                let id = records.new_session();
                xml(StatusCode::OK, LogInResult { id }.to_envelope())
            } else {
                fault(
                    ResultCode::InvalidUser,
                    ResultCode::InvalidUser.description(),
                )
            };
        }
        SoapRequest::CancelRecurrence(r) => (
            Operation::CancelRecurrence,
            records.change(
                knows,
                &r.session_id,
                &r.sac_id,
                &r.order_id,
                Change::Cancel,
                now,
            ),
        ),
        SoapRequest::ModifyRecurrencePrice(r) => (
            Operation::ModifyRecurrencePrice,
            records.change(
                knows,
                &r.session_id,
                &r.sac_id,
                &r.order_id,
                Change::Price(r.price_minor),
                now,
            ),
        ),
        SoapRequest::MoveRecurrence(r) => (
            Operation::MoveRecurrence,
            records.change(
                knows,
                &r.session_id,
                &r.sac_id,
                &r.order_id,
                Change::Move(r.recurrence_date),
                now,
            ),
        ),
    };
    drop(state);
    let (code, why) = answer;
    let mut result = RecurrenceResult::new(op, code);
    if let Some(message) = why {
        tracing::info!(operation = op.name(), %code, %message, "recurrence change refused");
        result.details.push(ErrorDetail {
            code: code.wire_text(),
            message,
        });
    }
    xml(StatusCode::OK, result.to_envelope(op))
}
