//! Calls to Teleaudio's API, signed. None is retried here: the command queue (webbilling start)
//! and the merchant (unsubscribe, confirm) retry, and starts are idempotent by `reference`.

use crate::wire::{self, SIGNATURE_HEADER};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Teleaudio could not be reached or failed (5xx): try again later.
    #[error("Teleaudio unavailable: {0}")]
    Unavailable(String),
    /// Teleaudio refused the request (4xx), with its answer.
    #[error("Teleaudio refused the request: {0}")]
    Refused(String),
}

#[derive(Clone)]
pub struct TeleaudioClient {
    pub http: reqwest::Client,
    pub base_url: String,
    pub secret: SecretString,
}

impl TeleaudioClient {
    /// POSTs `body`; returns HTTP status and raw answer text.
    pub async fn post_raw<B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<(u16, String), ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Refused(e.to_string()))?;
        let sig = wire::sign(self.secret.expose_secret(), &bytes);
        let resp = self
            .http
            .post(format!("{}{}", self.base_url.trim_end_matches('/'), path))
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, sig)
            .body(bytes)
            .send()
            .await
            .map_err(|e| {
                ClientError::Unavailable(if e.is_timeout() {
                    "timeout".into()
                } else {
                    "connection error".into()
                })
            })?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|_| ClientError::Unavailable("unreadable answer".into()))?;
        if status >= 500 {
            return Err(ClientError::Unavailable(format!("HTTP {status}")));
        }
        Ok((status, text))
    }

    pub async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R, ClientError> {
        let (status, text) = self.post_raw(path, body).await?;
        if status >= 400 {
            return Err(ClientError::Refused(format!(
                "HTTP {status}: {}",
                text.chars().take(200).collect::<String>()
            )));
        }
        serde_json::from_str(&text)
            .map_err(|e| ClientError::Refused(format!("unexpected answer: {e}")))
    }
}
