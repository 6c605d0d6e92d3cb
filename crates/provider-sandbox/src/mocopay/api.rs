//! MoCoPay's API (seed 004, docs/providers/mocopay.md): `GET /mocopay/v1/payment/initPayment/`
//! and `POST /mocopay/v1/payment/verifyPayment/` (each also without the trailing slash; the
//! signed `request_uri` is the method path with it either way). Order of checks: the fault mode
//! (`timeout` / `error`: nothing happens), then the signature, FIRST among everything the
//! request says (an unsigned request learns nothing, not even which parameter is wrong), then
//! the parameters, then the product. Refusals are our error shape (`ErrorBody`).

use super::sim::{self, Records};
use super::Mocopay;
use crate::faults::{self, Outage};
use crate::App;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use provider_mocopay::{
    authenticate_query, ErrorBody, ErrorCode, InitPayment, InitPaymentResponse, Params,
    SignatureError, VerifyPayment, INIT_PAYMENT_PATH, VERIFY_PAYMENT_PATH,
};
use std::sync::Arc;

/// A refused call, answered `{"errorCode", "errorMessage", "parameter"?}` with its status.
pub struct Refused(ErrorBody);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        json(self.0.http_status(), self.0.to_json())
    }
}

impl From<ErrorBody> for Refused {
    fn from(e: ErrorBody) -> Self {
        Self(e)
    }
}

type Answer = Result<Response, Refused>;

fn json(status: u16, body: String) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// The fault mode's answer; Ok when the call goes ahead.
async fn outage(app: &App) -> Result<(), Refused> {
    match faults::outage(app, Mocopay::NAME).await {
        None => Ok(()),
        // Hung first; the caller has long given up.
        Some(Outage::TimedOut) => Err(Refused(ErrorBody::new(
            ErrorCode::InternalError,
            "timed out",
        ))),
        Some(Outage::Error) => Err(Refused(ErrorBody::new(
            ErrorCode::InternalError,
            "internal error",
        ))),
    }
}

/// Authenticates the query against `path` with the `Signature` header (at most one, text).
fn authenticate(
    m: &Mocopay,
    path: &str,
    headers: &HeaderMap,
    raw_query: Option<&str>,
) -> Result<Params, Refused> {
    let invalid =
        |e: SignatureError| Refused(ErrorBody::new(ErrorCode::InvalidSignature, e.to_string()));
    let mut values = headers.get_all("signature").iter();
    let header = values.next();
    if values.next().is_some() {
        return Err(invalid(SignatureError::Malformed(
            "Signature header given twice",
        )));
    }
    let header = header
        .map(|v| v.to_str())
        .transpose()
        .map_err(|_| invalid(SignatureError::Malformed("Signature header is not text")))?;
    let (_, params) = authenticate_query(
        |k| m.settings.secret_of(k),
        path,
        header,
        raw_query.unwrap_or(""),
    )
    .map_err(|e| Refused(e.error_body()))?;
    Ok(params)
}

/// `GET /mocopay/v1/payment/initPayment/?pid=..`: a checkout for the product, answered
/// `{"requestId", "redirectUrl"}` (seed 004).
pub async fn init_payment(
    State(app): State<App>,
    Extension(m): Extension<Arc<Mocopay>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Answer {
    outage(&app).await?;
    let params = authenticate(&m, INIT_PAYMENT_PATH, &headers, q.as_deref())?;
    let init = InitPayment::from_params(&params).map_err(|e| ErrorBody::invalid_parameter(&e))?;
    let product = m.settings.product(&init.pid).ok_or_else(|| ErrorBody {
        parameter: Some("pid".into()),
        ..ErrorBody::new(
            ErrorCode::UnknownPid,
            format!("pid: {} is not a product of this api key", init.pid),
        )
    })?;
    let request_id = {
        let mut state = app.state.lock().await;
        let now = state.now();
        let expires = sim::expiry(now, m.settings.checkout_ttl_secs);
        state
            .records::<Records>()
            .init(
                &init,
                product,
                m.settings.period_secs(product),
                &m.settings.service_code,
                expires,
                now,
            )
            .map_err(|e| ErrorBody::invalid_parameter(&e))?
    };
    let answer = InitPaymentResponse {
        redirect_url: Mocopay::checkout_url(&app.settings.public_url, &request_id),
        request_id,
    };
    Ok(json(200, answer.to_json()))
}

/// `POST /mocopay/v1/payment/verifyPayment/?sessionId=..` (or `userId`, `transactionId`): the
/// session object, with the `transaction` when asked by transactionId; NOT_FOUND 404 else.
pub async fn verify_payment(
    State(app): State<App>,
    Extension(m): Extension<Arc<Mocopay>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Answer {
    outage(&app).await?;
    let params = authenticate(&m, VERIFY_PAYMENT_PATH, &headers, q.as_deref())?;
    let question =
        VerifyPayment::from_params(&params).map_err(|e| ErrorBody::invalid_parameter(&e))?;
    let session = {
        let mut state = app.state.lock().await;
        let now = state.now();
        state.records::<Records>().verify(&question, now)
    };
    let Some(session) = session else {
        let (name, value) = question.param();
        return Err(ErrorBody::new(
            ErrorCode::NotFound,
            format!("no session for {name}={value}"),
        )
        .into());
    };
    let body = serde_json::to_string(&session).map_err(|e| {
        ErrorBody::new(
            ErrorCode::InternalError,
            format!("session not serializable: {e}"),
        )
    })?;
    Ok(json(200, body))
}
