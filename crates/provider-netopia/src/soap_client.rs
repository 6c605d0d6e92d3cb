//! The client of mobilPay's SOAP recurrence service (seed 003 section 3): `logIn` once, the
//! session cached and renewed when mobilPay no longer knows it, then `cancelRecurrence`,
//! `modifyRecurrencePrice`, `moveRecurrence`. Every parameter is mandatory (seed 003).

use crate::wire::soap::{
    CancelRecurrenceRequest, LogInRequest, LogInResult, ModifyRecurrencePriceRequest,
    MoveRecurrenceRequest, Operation, RecurrenceResult, ResultCode, SoapError, SoapRequest,
    CONTENT_TYPE,
};
use paysys_adapter::ProviderError;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

pub struct SoapClient {
    pub http: reqwest::Client,
    pub url: String,
    pub username: String,
    pub password: SecretString,
    session: Mutex<Option<String>>,
}

/// What the merchant is told: the result code in hex and mobilPay's message (`0x5000 OK`).
pub fn answer_text(r: &RecurrenceResult) -> String {
    let message = if r.message.is_empty() {
        r.code.description().to_string()
    } else {
        r.message.clone()
    };
    format!("{:#06x} {message}", r.code.value())
}

/// A recurrence change without the session (filled in by the client).
pub enum Change {
    Cancel,
    Price(i64),
    Move(chrono::NaiveDateTime),
}

impl SoapClient {
    pub fn new(
        http: reqwest::Client,
        url: String,
        username: String,
        password: SecretString,
    ) -> Self {
        Self {
            http,
            url,
            username,
            password,
            session: Mutex::new(None),
        }
    }

    async fn post(&self, req: &SoapRequest) -> Result<String, ProviderError> {
        let body = req
            .to_envelope()
            .map_err(|e| ProviderError::invalid("params", e.to_string()))?;
        let resp = self
            .http
            .post(&self.url)
            .header("content-type", CONTENT_TYPE)
            .header("soapaction", req.operation().soap_action())
            .body(body)
            .send()
            .await
            .map_err(|e| {
                ProviderError::Unavailable(if e.is_timeout() {
                    "mobilPay's SOAP service did not answer in time".into()
                } else {
                    "mobilPay's SOAP service cannot be reached".into()
                })
            })?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|_| ProviderError::Unavailable("mobilPay's answer is unreadable".into()))?;
        // A SOAP fault comes with HTTP 500: its body still says what went wrong.
        if status.is_server_error() && !text.contains("Fault") {
            return Err(ProviderError::Unavailable(format!(
                "mobilPay's SOAP service failed: HTTP {status}"
            )));
        }
        Ok(text)
    }

    async fn session(&self, renew: bool) -> Result<String, ProviderError> {
        let mut s = self.session.lock().await;
        if let (Some(id), false) = (s.as_ref(), renew) {
            return Ok(id.clone());
        }
        let text = self
            .post(&SoapRequest::LogIn(LogInRequest {
                username: self.username.clone(),
                password: self.password.expose_secret().to_string(),
            }))
            .await?;
        let id = LogInResult::from_envelope(&text)
            .map_err(|e| match e {
                SoapError::Fault(f) => ProviderError::Refused(format!(
                    "mobilPay refused the login: {}",
                    f.fault_string
                )),
                SoapError::Malformed(w) => {
                    ProviderError::Unavailable(format!("mobilPay's logIn answer is malformed: {w}"))
                }
            })?
            .id;
        *s = Some(id.clone());
        Ok(id)
    }

    /// Runs `change` on order `order_id` of seller account `sac_id`; a session mobilPay no
    /// longer knows is renewed once.
    pub async fn change(
        &self,
        sac_id: &str,
        order_id: &str,
        change: &Change,
    ) -> Result<RecurrenceResult, ProviderError> {
        for attempt in 0..2 {
            let session_id = self.session(attempt > 0).await?;
            let (session_id, sac_id, order_id) =
                (session_id, sac_id.to_string(), order_id.to_string());
            let (req, op) = match change {
                Change::Cancel => (
                    SoapRequest::CancelRecurrence(CancelRecurrenceRequest {
                        session_id,
                        sac_id,
                        order_id,
                    }),
                    Operation::CancelRecurrence,
                ),
                Change::Price(price_minor) => (
                    SoapRequest::ModifyRecurrencePrice(ModifyRecurrencePriceRequest {
                        session_id,
                        sac_id,
                        order_id,
                        price_minor: *price_minor,
                    }),
                    Operation::ModifyRecurrencePrice,
                ),
                Change::Move(at) => (
                    SoapRequest::MoveRecurrence(MoveRecurrenceRequest {
                        session_id,
                        sac_id,
                        order_id,
                        recurrence_date: *at,
                    }),
                    Operation::MoveRecurrence,
                ),
            };
            let text = self.post(&req).await?;
            let result = match RecurrenceResult::from_envelope(&text, op) {
                Ok(r) => r,
                Err(SoapError::Fault(f)) => {
                    let code = f.result_code.unwrap_or(ResultCode::InvalidRequest);
                    RecurrenceResult {
                        message: f.fault_string.clone(),
                        ..RecurrenceResult::new(op, code)
                    }
                }
                Err(SoapError::Malformed(w)) => {
                    return Err(ProviderError::Unavailable(format!(
                        "mobilPay's answer is malformed: {w}"
                    )))
                }
            };
            if result.code == ResultCode::InvalidUser && attempt == 0 {
                // The cached session expired: log in again once.
                continue;
            }
            return Ok(result);
        }
        Err(ProviderError::Refused(
            "mobilPay refused the session twice".into(),
        ))
    }
}
