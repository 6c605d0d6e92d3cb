//! The sandbox's memory: its clock (real time plus an offset moved by `/_sandbox/clock/advance`),
//! the fault mode of each provider, the SMS sent, the merchant inbox, and each simulated
//! provider's own records.

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    #[default]
    None,
    Timeout,
    Error,
    DuplicateCallbacks,
}

impl Fault {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => Self::None,
            "timeout" => Self::Timeout,
            "error" => Self::Error,
            "duplicate_callbacks" => Self::DuplicateCallbacks,
            _ => return None,
        })
    }
}

pub const PROVIDERS: &[&str] = &["mobiltek", "teleaudio", "netopia", "mocopay"];

#[derive(Debug, Clone, Serialize)]
pub struct Sms {
    pub at: String,
    pub from: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct InboxEntry {
    pub received_at: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

#[derive(Debug, Default)]
pub struct State {
    /// Seconds added to real time.
    pub clock_offset: i64,
    pub faults: BTreeMap<String, Fault>,
    pub sms: BTreeMap<String, Vec<Sms>>,
    pub inbox: BTreeMap<String, Vec<InboxEntry>>,
    pub mobiltek: crate::mobiltek::Records,
    pub teleaudio: crate::teleaudio::Records,
}

impl State {
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + chrono::Duration::seconds(self.clock_offset)
    }
    pub fn fault(&self, provider: &str) -> Fault {
        self.faults.get(provider).copied().unwrap_or_default()
    }
    pub fn send_sms(&mut self, phone: &str, from: &str, text: String) {
        let at = self.now().to_rfc3339();
        self.sms.entry(phone.to_string()).or_default().push(Sms {
            at,
            from: from.to_string(),
            text,
        });
    }
}
