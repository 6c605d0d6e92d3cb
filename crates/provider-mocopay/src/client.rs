//! Signed calls to MoCoPay's API (initPayment, verifyPayment) for one environment (live or
//! test). verifyPayment changes nothing and may be repeated; initPayment is sent with our
//! reference as `referenceId`.

use crate::{
    InitPayment, InitPaymentResponse, ResponseError, Session, SignedRequest, VerifyPayment,
};
use paysys_adapter::ProviderError;
use secrecy::{ExposeSecret, SecretString};

#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base_url: String,
    pub api_key: String,
    pub secret: SecretString,
}

fn refused(e: ResponseError) -> ProviderError {
    if e.is_transient() {
        ProviderError::Unavailable(e.to_string())
    } else {
        ProviderError::Refused(e.to_string())
    }
}

impl Client {
    async fn send(&self, r: SignedRequest) -> Result<(u16, Vec<u8>), ProviderError> {
        let (name, value) = r.signature_header();
        let req = match r.method {
            crate::HttpMethod::Get => self.http.get(&r.url),
            crate::HttpMethod::Post => self.http.post(&r.url).header("content-length", "0"),
        };
        let resp = req
            .header(name, value)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| {
                ProviderError::Unavailable(if e.is_timeout() {
                    "MoCoPay did not answer in time".into()
                } else {
                    "MoCoPay cannot be reached".into()
                })
            })?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|_| ProviderError::Unavailable("MoCoPay's answer is unreadable".into()))?;
        Ok((status, body.to_vec()))
    }

    pub async fn init_payment(
        &self,
        p: &InitPayment,
    ) -> Result<InitPaymentResponse, ProviderError> {
        let req = p
            .request(&self.base_url, &self.api_key, self.secret.expose_secret())
            .map_err(|e| ProviderError::invalid("params", e.to_string()))?;
        let (status, body) = self.send(req).await?;
        InitPaymentResponse::parse(status, &body).map_err(refused)
    }

    pub async fn verify(&self, v: &VerifyPayment) -> Result<Session, ProviderError> {
        let req = v
            .request(&self.base_url, &self.api_key, self.secret.expose_secret())
            .map_err(|e| ProviderError::invalid("params", e.to_string()))?;
        let (status, body) = self.send(req).await?;
        if status == 404 {
            return Err(ProviderError::NotFound(format!(
                "MoCoPay knows no session for {}={}",
                v.param().0,
                v.param().1
            )));
        }
        v.parse_response(status, &body).map_err(refused)
    }
}
