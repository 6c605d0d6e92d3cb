//! The SMS messages the simulated providers "send" (Mobiltek's PIN, Teleaudio's code), readable
//! through `GET /_sandbox/sms?phone=...` (DESIGN 7).

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct Sms {
    /// Sandbox-clock time, RFC 3339.
    pub at: String,
    /// The sending provider.
    pub from: String,
    pub text: String,
}

#[derive(Debug, Default)]
pub struct SmsStore(BTreeMap<String, Vec<Sms>>);

impl SmsStore {
    pub fn send(
        &mut self,
        phone: &str,
        from: &str,
        text: String,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        self.0.entry(phone.to_string()).or_default().push(Sms {
            at: at.to_rfc3339(),
            from: from.to_string(),
            text,
        });
    }

    /// Every message sent to `phone`, oldest first.
    pub fn to(&self, phone: &str) -> Vec<Sms> {
        self.0.get(phone).cloned().unwrap_or_default()
    }
}
