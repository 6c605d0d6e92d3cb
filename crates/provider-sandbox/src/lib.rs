//! provider-sandbox: faithful simulators of the payment providers, one module each (Mobiltek,
//! Teleaudio), calling the adapters back like the real providers do, plus what they share: the
//! `/_sandbox` control endpoints of DESIGN section 7 (`control`), the clock, faults, SMS store,
//! callback delivery, and a merchant inbox for demos. Never used in production.
#![forbid(unsafe_code)]

pub mod callbacks;
pub mod clock;
pub mod config;
pub mod control;
pub mod faults;
pub mod inbox;
pub mod mobiltek;
pub mod sms;
pub mod startup;
pub mod state;
pub mod teleaudio;

pub use config::Settings;
pub use startup::Application;

use config::SandboxSettings;
use state::State;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Shared by every handler.
#[derive(Clone)]
pub struct App {
    pub settings: Arc<SandboxSettings>,
    pub state: Arc<Mutex<State>>,
    pub http: reqwest::Client,
    /// Held from deciding callbacks until they are delivered, so the adapter receives them in
    /// the order they happened (a registration before its first charge, charge n before n+1)
    /// even when control calls overlap.
    pub callback_order: Arc<Mutex<()>>,
}

impl App {
    /// Signs (X-Teleaudio-Signature) and POSTs Teleaudio callbacks to the adapter, in order.
    /// Returns the types sent.
    pub async fn deliver_teleaudio(&self, callbacks: Vec<serde_json::Value>) -> Vec<String> {
        let mut sent = Vec::new();
        for cb in callbacks {
            let body = cb.to_string();
            let sig = paysys_platform::signing::hmac_sha256_hex(
                self.settings.teleaudio_secret.as_bytes(),
                body.as_bytes(),
            );
            let kind = cb["type"].as_str().unwrap_or("").to_string();
            let reference = cb["provider_id"].as_str().unwrap_or("").to_string();
            callbacks::deliver(self, "teleaudio", &kind, &reference, || {
                self.http
                    .post(&self.settings.teleaudio_notify_url)
                    .header("content-type", "application/json")
                    .header("x-teleaudio-signature", sig.clone())
                    .body(body.clone())
            })
            .await;
            sent.push(kind);
        }
        sent
    }
}
