//! IPNs as mobilPay sends them: the original order plus `<mobilpay>`, sealed for the seller's
//! certificate (with the order's `<ipn_cipher>`, else the cipher the order came with), POSTed as
//! a form to the order's confirm URL. mobilPay reads the merchant's `<crc>` answer, not the HTTP
//! status: it resends while the answer is `error_type="1"` (temporary) or not a crc document at
//! all, and stops at the crc echoed or `error_type="2"` (permanent). Resends follow the shared
//! `sandbox.callback_attempts` / `callback_backoff_ms`, a 4xx is never resent (as for every
//! provider), and the `duplicate_callbacks` fault sends each IPN twice.

use crate::callbacks::{Callback, Delivery};
use crate::faults::Fault;
use crate::report::ChargeInfo;
use crate::App;
use provider_netopia::wire::{
    parse_crc_answer, Action, Cipher, CrcAnswer, ErrorType, Ipn, SealingKey,
};
use std::time::Duration;

/// An IPN decided by the simulator, not yet sealed.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub ipn: Ipn,
    pub cipher: Cipher,
}

impl Outgoing {
    /// The delivery log's name for it: the action, with the error code when not approved
    /// (`confirmed`, `confirmed:20`, `canceled:99`).
    pub fn kind(&self) -> String {
        let n = &self.ipn.notify;
        if n.error.code.is_approved() {
            n.action.as_str().to_string()
        } else {
            format!("{}:{}", n.action, n.error.code.0)
        }
    }

    /// The IPN as mobilPay POSTs it: the envelope's form fields, to the order's confirm URL.
    pub fn seal(&self, seller: &SealingKey) -> Result<Callback, String> {
        let order = &self.ipn.order;
        let url = order
            .confirm_url
            .as_deref()
            .ok_or_else(|| format!("order {} has no confirm URL", order.id))?;
        let xml = self.ipn.to_xml().map_err(|e| e.to_string())?;
        let envelope = seller
            .seal(xml.as_bytes(), self.cipher)
            .map_err(|e| e.to_string())?;
        let fields = envelope.form_fields();
        let c = Callback::form(
            url,
            &self.kind(),
            &order.id,
            fields.iter().map(|(k, v)| (*k, v.as_str())),
        );
        // A confirmed (captured) payment: the adapter's ledger key is `netopia:<purchase>`.
        let n = &self.ipn.notify;
        let purchase = n.purchase.as_deref().unwrap_or("");
        if n.error.code.is_approved() && n.action == Action::Confirmed && !purchase.is_empty() {
            let amount = n.processed_amount.unwrap_or(order.invoice.amount);
            return Ok(c.charge(ChargeInfo::new(
                format!("netopia:{purchase}"),
                order.id.clone(),
                amount.minor,
                amount.currency.as_str(),
            )));
        }
        Ok(c)
    }
}

/// Sends one IPN (twice under `provider`'s `duplicate_callbacks` fault); returns the delivery
/// of the first copy.
pub async fn deliver(app: &App, provider: &str, callback: &Callback) -> Delivery {
    let copies = {
        let mut state = app.state.lock().await;
        state.record_charge(provider, callback);
        match state.fault(provider) {
            Fault::DuplicateCallbacks => 2,
            _ => 1,
        }
    };
    let mut first: Option<Delivery> = None;
    for _ in 0..copies {
        let d = send(app, provider, callback).await;
        app.state.lock().await.log_delivery(d.clone());
        if first.is_none() {
            first = Some(d);
        }
    }
    first.unwrap_or_else(|| delivery(provider, callback))
}

fn delivery(provider: &str, callback: &Callback) -> Delivery {
    Delivery {
        provider: provider.into(),
        kind: callback.kind.clone(),
        reference: callback.reference.clone(),
        attempts: 0,
        status: None,
        error: None,
        at: String::new(),
    }
}

/// What one attempt's answer means to mobilPay.
enum Reading {
    Done,
    Refused(String),
    Resend(String),
}

fn read(status: reqwest::StatusCode, body: &str) -> Reading {
    if status.is_client_error() {
        return Reading::Refused(format!("HTTP {status}: {body}"));
    }
    if !status.is_success() {
        return Reading::Resend(format!("HTTP {status}: {body}"));
    }
    match parse_crc_answer(body) {
        Ok(CrcAnswer::Accepted { .. }) => Reading::Done,
        Ok(CrcAnswer::Failed {
            error_type,
            error_code,
            message,
        }) => {
            let why = format!(
                "crc error_type {} error_code {error_code}: {message}",
                error_type.code()
            );
            match error_type {
                ErrorType::Temporary => Reading::Resend(why),
                ErrorType::Permanent => Reading::Refused(why),
            }
        }
        Err(e) => Reading::Resend(format!("not a crc answer ({e})")),
    }
}

async fn send(app: &App, provider: &str, callback: &Callback) -> Delivery {
    let (kind, reference) = (callback.kind.as_str(), callback.reference.as_str());
    let mut d = delivery(provider, callback);
    let mut delay = Duration::from_millis(app.settings.callback_backoff_ms);
    let max = app.settings.callback_attempts.max(1);
    for attempt in 1..=max {
        d.attempts = attempt;
        d.at = chrono::Utc::now().to_rfc3339();
        let request = callback.headers.iter().fold(
            app.http
                .post(&callback.url)
                .header("content-type", callback.content_type)
                .body(callback.body.clone()),
            |r, (name, value)| r.header(*name, value),
        );
        match request.send().await {
            Ok(r) => {
                let status = r.status();
                d.status = Some(status.as_u16());
                let body = r.text().await.unwrap_or_default();
                match read(status, &body) {
                    Reading::Done => {
                        d.error = None;
                        return d;
                    }
                    Reading::Refused(why) => {
                        tracing::warn!(provider, kind, reference, %why, "the merchant refused an IPN; not resending");
                        d.error = Some(why);
                        return d;
                    }
                    Reading::Resend(why) => {
                        tracing::warn!(provider, kind, reference, %why, attempt, "the merchant did not take an IPN; resending");
                        d.error = Some(why);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(provider, kind, reference, error = %e, attempt, "merchant unreachable; resending the IPN");
                d.status = None;
                d.error = Some(e.to_string());
            }
        }
        if attempt < max {
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }
    tracing::error!(provider, kind, reference, attempts = max, "IPN given up");
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use provider_netopia::wire::{crc_error, crc_ok};
    use reqwest::StatusCode;

    #[test]
    fn resends_only_temporary_failures_and_non_crc_answers() {
        let ok = StatusCode::OK;
        assert!(matches!(read(ok, &crc_ok("abc")), Reading::Done));
        assert!(matches!(
            read(ok, &crc_error(ErrorType::Temporary, 3, "later")),
            Reading::Resend(_)
        ));
        assert!(matches!(
            read(ok, &crc_error(ErrorType::Permanent, 1, "never")),
            Reading::Refused(_)
        ));
        assert!(matches!(read(ok, "<html>oops</html>"), Reading::Resend(_)));
        assert!(matches!(
            read(StatusCode::INTERNAL_SERVER_ERROR, ""),
            Reading::Resend(_)
        ));
        assert!(matches!(
            read(StatusCode::NOT_FOUND, ""),
            Reading::Refused(_)
        ));
    }
}
