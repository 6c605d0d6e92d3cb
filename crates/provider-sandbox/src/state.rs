//! The sandbox's memory, behind one lock (`App::state`): the clock, each provider's fault mode,
//! the SMS sent, the merchant inbox, the recent callback deliveries, and each simulated
//! provider's own records.

use crate::callbacks::Delivery;
use crate::clock::Clock;
use crate::inbox::Inbox;
use crate::sms::SmsStore;
use std::collections::VecDeque;

pub use crate::faults::{Fault, Faults, PROVIDERS};
pub use crate::inbox::InboxEntry;
pub use crate::sms::Sms;

/// Deliveries kept for `GET /_sandbox/state`.
const DELIVERY_LOG: usize = 200;

#[derive(Debug, Default)]
pub struct State {
    pub clock: Clock,
    pub faults: Faults,
    pub sms: SmsStore,
    pub inbox: Inbox,
    /// The latest callback deliveries to adapters, newest last.
    pub deliveries: VecDeque<Delivery>,
    pub mobiltek: crate::mobiltek::Records,
    pub teleaudio: crate::teleaudio::Records,
}

impl State {
    /// The sandbox clock's time.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    pub fn fault(&self, provider: &str) -> Fault {
        self.faults.of(provider)
    }

    /// Records an SMS sent to `phone` at the sandbox clock's time.
    pub fn send_sms(&mut self, phone: &str, from: &str, text: String) {
        let now = self.now();
        self.sms.send(phone, from, text, now);
    }

    pub fn log_delivery(&mut self, d: Delivery) {
        if self.deliveries.len() == DELIVERY_LOG {
            self.deliveries.pop_front();
        }
        self.deliveries.push_back(d);
    }
}
