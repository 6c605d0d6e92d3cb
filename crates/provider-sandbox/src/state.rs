//! The sandbox's memory, behind one lock (`App::state`): the clock, each provider's fault mode,
//! the SMS sent, the merchant inbox, the recent callback deliveries, and each simulated
//! provider's own records, kept by type so that this file never names a provider.

use crate::callbacks::Delivery;
use crate::clock::Clock;
use crate::inbox::Inbox;
use crate::report::ChargeLog;
use crate::sms::SmsStore;
use std::any::{Any, TypeId};
use std::collections::{HashMap, VecDeque};

pub use crate::faults::{Fault, Faults};
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
    /// Every successful charge notified, with its callback (`crate::report`).
    pub charges: ChargeLog,
    /// Each simulator's records (`records` / `records_ref`).
    provider_records: ProviderRecords,
}

/// One value per type: each simulator keeps its records in a type of its own module.
#[derive(Default)]
struct ProviderRecords(HashMap<TypeId, Box<dyn Any + Send>>);

impl std::fmt::Debug for ProviderRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProviderRecords({} kinds)", self.0.len())
    }
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

    /// Keeps the charge `callback` notifies (if any) in the charge log, the first time.
    pub fn record_charge(&mut self, provider: &str, callback: &crate::callbacks::Callback) {
        let now = self.now();
        self.charges.record(provider, callback, now);
    }

    /// A simulator's records of type `R`, created empty on first use.
    pub fn records<R: Default + Send + 'static>(&mut self) -> &mut R {
        self.provider_records
            .0
            .entry(TypeId::of::<R>())
            .or_insert_with(|| Box::new(R::default()))
            .downcast_mut()
            .expect("records are stored under their own type")
    }

    /// A simulator's records of type `R`, if it has any yet.
    pub fn records_ref<R: 'static>(&self) -> Option<&R> {
        self.provider_records
            .0
            .get(&TypeId::of::<R>())
            .and_then(|r| r.downcast_ref())
    }
}

#[cfg(test)]
mod tests {
    #[derive(Default)]
    struct A(u32);
    #[derive(Default)]
    struct B(u32);

    #[test]
    fn each_type_has_its_own_records() {
        let mut s = super::State::default();
        assert!(s.records_ref::<A>().is_none());
        s.records::<A>().0 = 7;
        s.records::<B>().0 += 1;
        assert_eq!(s.records_ref::<A>().map(|a| a.0), Some(7));
        assert_eq!(s.records::<B>().0, 1);
    }
}
