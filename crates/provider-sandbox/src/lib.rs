//! provider-sandbox: faithful simulators of the payment providers, one module each (Mobiltek,
//! Teleaudio, Netopia, MoCoPay), each implementing `simulator::Simulator` and registered in
//! `simulators`, calling the adapters back like the real providers do, plus what they share: the
//! `/_sandbox` control endpoints of DESIGN section 7 (`control`), the clock, faults, SMS store,
//! callback delivery, subscription lifecycle, and a merchant inbox for demos. Never used in
//! production.
#![forbid(unsafe_code)]

pub mod callbacks;
pub mod clock;
pub mod config;
pub mod control;
pub mod faults;
pub mod inbox;
pub mod lifecycle;
pub mod mobiltek;
pub mod mocopay;
pub mod netopia;
pub mod report;
pub mod simulator;
pub mod sms;
pub mod startup;
pub mod state;
pub mod teleaudio;

pub use config::Settings;
pub use simulator::Simulator;
pub use startup::Application;

use config::SandboxSettings;
use simulator::Simulators;
use state::State;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Every simulated provider, each reading its `[sandbox.<name>]` section. Registering a new
/// one is one line here (see `simulator` for the rest); ties in due time are sent in this order.
pub fn simulators(settings: &SandboxSettings) -> Result<Vec<Arc<dyn Simulator>>, String> {
    Ok(vec![
        Arc::new(mobiltek::Mobiltek::new(settings)?),
        Arc::new(teleaudio::Teleaudio::new(settings)?),
        Arc::new(mocopay::Mocopay::new(settings)?),
        Arc::new(netopia::Netopia::new(settings)?),
    ])
}

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
    /// The registered simulators, in registration order.
    pub simulators: Simulators,
}
