//! What every simulated provider's transactions go through, whatever the protocol: a status,
//! and for a subscription its renewals, one every period of sandbox clock from the first charge
//! until it is cancelled, each collected or, after `"charges": "fail"` in `/_sandbox/complete`,
//! failed. Each provider turns these into its own callbacks.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// Why a renewal failed under `"charges": "fail"`.
pub const RENEWAL_FAILED: &str = "insufficient funds";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the user (a page, a code).
    Pending,
    /// A one-time payment collected.
    Paid,
    Failed,
    /// A subscription being renewed.
    Active,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Failed => "failed",
            Self::Active => "active",
            Self::Cancelled => "cancelled",
        }
    }
}

impl Status {
    /// Ok while the user has not decided yet; Err says `what` is already decided, and how.
    pub fn still_pending(self, what: impl std::fmt::Display) -> Result<(), String> {
        match self {
            Self::Pending => Ok(()),
            done => Err(format!("{what} is already {done}")),
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A subscription's renewal schedule (flattened into the provider's record in the state dump).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Renewals {
    /// When the next renewal falls due; none unless the subscription is active.
    pub next_charge_at: Option<DateTime<Utc>>,
    /// Extension for tests (`"charges": "fail"`): every renewal fails.
    pub charges_fail: bool,
}

/// One renewal that fell due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renewal {
    pub at: DateTime<Utc>,
    /// The money was collected; else it failed for `RENEWAL_FAILED`.
    pub collected: bool,
}

/// A period after `at`; none when that is beyond what the clock can say (never due).
fn after(at: DateTime<Utc>, period_secs: u64) -> Option<DateTime<Utc>> {
    let secs = i64::try_from(period_secs.max(1)).ok()?;
    at.checked_add_signed(Duration::try_seconds(secs)?)
}

impl Renewals {
    /// The first charge happened at `at`: the next falls due a period later.
    pub fn start(&mut self, at: DateTime<Utc>, period_secs: u64) {
        self.next_charge_at = after(at, period_secs);
    }

    /// Cancelled: nothing falls due any more.
    pub fn stop(&mut self) {
        self.next_charge_at = None;
    }

    /// Every renewal due by `now`, oldest first (several when several periods passed), each at
    /// its own due time; the schedule moves past them, so none is returned twice.
    pub fn due(&mut self, period_secs: u64, now: DateTime<Utc>) -> Vec<Renewal> {
        let mut out = Vec::new();
        while let Some(at) = self.next_charge_at.filter(|at| *at <= now) {
            out.push(Renewal {
                at,
                collected: !self.charges_fail,
            });
            self.next_charge_at = after(at, period_secs);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewals_fall_due_once_per_period_until_stopped() {
        let t0 = Utc::now();
        let mut r = Renewals::default();
        assert!(r.due(10, t0 + Duration::days(1)).is_empty(), "not started");
        r.start(t0, 10);
        assert!(r.due(10, t0 + Duration::seconds(9)).is_empty());
        let due = r.due(10, t0 + Duration::seconds(35));
        let ats: Vec<_> = due.iter().map(|d| (d.at - t0).num_seconds()).collect();
        assert_eq!(ats, [10, 20, 30]);
        assert!(due.iter().all(|d| d.collected));
        assert!(r.due(10, t0 + Duration::seconds(35)).is_empty(), "twice");
        r.charges_fail = true;
        assert_eq!(
            r.due(10, t0 + Duration::seconds(40)),
            [Renewal {
                at: t0 + Duration::seconds(40),
                collected: false
            }]
        );
        r.stop();
        assert!(r.due(10, t0 + Duration::days(365)).is_empty());
    }

    #[test]
    fn statuses_read_as_in_the_state_dump() {
        for s in [
            Status::Pending,
            Status::Paid,
            Status::Failed,
            Status::Active,
            Status::Cancelled,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
