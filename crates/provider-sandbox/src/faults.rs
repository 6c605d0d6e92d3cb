//! Fault injection (`POST /_sandbox/faults`, DESIGN 7): per provider, `timeout` makes its API
//! calls hang, `error` makes them answer HTTP 500, `duplicate_callbacks` sends every callback
//! twice, `none` restores normal behaviour.

use serde::Serialize;
use std::collections::BTreeMap;

/// Every provider the sandbox simulates or will simulate (DESIGN 7).
pub const PROVIDERS: &[&str] = &["mobiltek", "teleaudio", "netopia", "mocopay"];

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

#[derive(Debug, Default, Clone, Serialize)]
pub struct Faults(BTreeMap<String, Fault>);

impl Faults {
    pub fn of(&self, provider: &str) -> Fault {
        self.0.get(provider).copied().unwrap_or_default()
    }

    pub fn set(&mut self, provider: &str, fault: Fault) {
        self.0.insert(provider.to_string(), fault);
    }
}
