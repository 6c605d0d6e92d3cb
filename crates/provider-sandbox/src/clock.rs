//! The sandbox clock: real time plus an offset that `POST /_sandbox/clock/advance` moves, so a
//! month of recurring charges happens in one call. Every simulated provider reads time here.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Default, Clone, Copy)]
pub struct Clock {
    offset_secs: i64,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::seconds(self.offset_secs)
    }

    /// Moves the clock forward; returns the new time.
    pub fn advance(&mut self, seconds: i64) -> DateTime<Utc> {
        self.offset_secs = self.offset_secs.saturating_add(seconds.max(0));
        self.now()
    }

    pub fn offset_secs(&self) -> i64 {
        self.offset_secs
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn advancing_moves_now_forward() {
        let mut c = super::Clock::default();
        let before = c.now();
        let after = c.advance(86_400);
        assert!(after - before >= chrono::Duration::seconds(86_400));
        assert_eq!(c.offset_secs(), 86_400);
        c.advance(-5);
        assert_eq!(c.offset_secs(), 86_400, "the clock never goes back");
    }
}
