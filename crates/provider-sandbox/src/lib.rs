//! provider-sandbox: faithful simulators of the payment providers (one module each), calling the adapters back like the real providers do, plus the `/_sandbox` control
//! endpoints of DESIGN section 7 and a merchant inbox for demos. Never used in production.
//! Mobiltek and Teleaudio are simulated.
#![forbid(unsafe_code)]

pub mod config;
pub mod control;
pub mod mobiltek;
pub mod startup;
pub mod state;
pub mod teleaudio;

pub use config::Settings;
pub use startup::Application;

use config::SandboxSettings;
use paysys_platform::signing::hmac_sha512_hex;
use state::{Fault, State};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// Shared by every handler.
#[derive(Clone)]
pub struct App {
    pub settings: Arc<SandboxSettings>,
    pub state: Arc<Mutex<State>>,
    pub http: reqwest::Client,
}

impl App {
    /// Signs and POSTs Mobiltek notifications to the adapter, in order. Retried on connection
    /// errors and 5xx like a real provider; a 4xx (refused) is logged and not retried. Returns
    /// the types delivered.
    pub async fn deliver_mobiltek(
        &self,
        notifications: Vec<mobiltek::Notification>,
    ) -> Vec<String> {
        let copies = if self.state.lock().await.fault("mobiltek") == Fault::DuplicateCallbacks {
            2
        } else {
            1
        };
        let mut sent = Vec::new();
        for n in notifications {
            let canonical = n
                .iter()
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join("|");
            let hash = hmac_sha512_hex(
                self.settings.mobiltek_secret.as_bytes(),
                canonical.as_bytes(),
            );
            let mut form: Vec<(&str, String)> = n.clone();
            form.push(("hash", hash));
            let kind = n
                .iter()
                .find(|(k, _)| *k == "type")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            for _ in 0..copies {
                self.post_with_retries(&self.settings.mobiltek_notify_url, &form, &kind)
                    .await;
            }
            sent.push(kind);
        }
        sent
    }

    /// Signs (X-Teleaudio-Signature) and POSTs Teleaudio callbacks to the adapter, in order.
    pub async fn deliver_teleaudio(&self, callbacks: Vec<serde_json::Value>) -> Vec<String> {
        let copies = if self.state.lock().await.fault("teleaudio") == Fault::DuplicateCallbacks {
            2
        } else {
            1
        };
        let mut sent = Vec::new();
        for cb in callbacks {
            let body = cb.to_string();
            let sig = paysys_platform::signing::hmac_sha256_hex(
                self.settings.teleaudio_secret.as_bytes(),
                body.as_bytes(),
            );
            let kind = cb["type"].as_str().unwrap_or("").to_string();
            for _ in 0..copies {
                let req = || {
                    self.http
                        .post(&self.settings.teleaudio_notify_url)
                        .header("content-type", "application/json")
                        .header("x-teleaudio-signature", sig.clone())
                        .body(body.clone())
                };
                self.send_with_retries(req, &kind).await;
            }
            sent.push(kind);
        }
        sent
    }

    async fn post_with_retries(&self, url: &str, form: &[(&str, String)], kind: &str) {
        self.send_with_retries(|| self.http.post(url).form(form), kind)
            .await
    }

    async fn send_with_retries(&self, req: impl Fn() -> reqwest::RequestBuilder, kind: &str) {
        let mut delay = Duration::from_millis(100);
        for attempt in 1..=5 {
            match req().send().await {
                Ok(r) if r.status().is_success() => return,
                Ok(r) if r.status().is_client_error() => {
                    tracing::warn!(status = %r.status(), kind, "adapter refused a notification");
                    return;
                }
                Ok(r) => {
                    tracing::warn!(status = %r.status(), kind, attempt, "adapter failed; resending")
                }
                Err(e) => {
                    tracing::warn!(error = %e, kind, attempt, "adapter unreachable; resending")
                }
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
        tracing::error!(kind, "notification given up after 5 attempts");
    }
}
