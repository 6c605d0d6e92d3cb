//! Fault injection (`POST /_sandbox/faults`, DESIGN 7): per provider, `timeout` makes its API
//! calls hang, `error` makes them answer HTTP 500, `duplicate_callbacks` sends every callback
//! twice, `none` restores normal behaviour. The providers are the registered simulators.

use crate::App;
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

/// How a provider's API call fails under its fault; each provider words the answer itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// `timeout`: the call hung `sandbox.fault_timeout_secs` first, and did nothing.
    TimedOut,
    /// `error`: the call fails at once, and does nothing.
    Error,
}

/// Applies `provider`'s fault to one API call: None when the call goes ahead. Under `timeout`
/// this hangs before answering (without holding the state lock).
pub async fn outage(app: &App, provider: &str) -> Option<Outage> {
    let fault = app.state.lock().await.fault(provider);
    match fault {
        Fault::Timeout => {
            tokio::time::sleep(std::time::Duration::from_secs(
                app.settings.fault_timeout_secs,
            ))
            .await;
            Some(Outage::TimedOut)
        }
        Fault::Error => Some(Outage::Error),
        Fault::None | Fault::DuplicateCallbacks => None,
    }
}
