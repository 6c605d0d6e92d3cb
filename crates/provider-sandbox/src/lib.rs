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
use tokio::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// `App::callback_order`: exclusive by default (one control call's callbacks at a time). With
/// `sandbox.callback_concurrency` above 1, completions of different orders (`/_sandbox/complete`,
/// one order each) share it and overlap, as a real provider's callbacks for different users do;
/// a clock advance still takes it alone and keeps each subscription's charges in order.
#[derive(Clone, Default)]
pub struct CallbackOrder(Arc<RwLock<()>>);

/// Held while callbacks are decided and delivered.
pub enum OrderGuard<'a> {
    Exclusive(RwLockWriteGuard<'a, ()>),
    Shared(RwLockReadGuard<'a, ()>),
}

impl CallbackOrder {
    /// Alone: no other control call decides or delivers callbacks meanwhile.
    pub async fn lock(&self) -> OrderGuard<'_> {
        OrderGuard::Exclusive(self.0.write().await)
    }

    /// Shared with other single-order completions when `concurrent`, else alone.
    pub async fn lock_one_order(&self, concurrent: bool) -> OrderGuard<'_> {
        if concurrent {
            OrderGuard::Shared(self.0.read().await)
        } else {
            self.lock().await
        }
    }
}

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
    pub callback_order: CallbackOrder,
    /// The registered simulators, in registration order.
    pub simulators: Simulators,
}
