//! The retry schedule: after a failed attempt, when the next one is due, or None when the
//! schedule is exhausted and the notification is dead-lettered.

use std::time::Duration;

/// `failed_attempts` counts the failures so far (the one just recorded included);
/// `schedule_secs[0]` is the delay of the first attempt, so the next one waits
/// `schedule_secs[failed_attempts]`, spread by +- `jitter` so retries do not arrive at once.
pub fn next_delay(schedule_secs: &[u64], failed_attempts: usize, jitter: f64) -> Option<Duration> {
    let base = *schedule_secs.get(failed_attempts)? as f64;
    let factor = if jitter > 0.0 {
        1.0 + rand::random_range(-jitter..=jitter)
    } else {
        1.0
    };
    Some(Duration::from_secs_f64((base * factor).max(0.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULE: &[u64] = &[0, 5, 300, 1800];

    #[test]
    fn follows_the_schedule_without_jitter() {
        assert_eq!(next_delay(SCHEDULE, 1, 0.0), Some(Duration::from_secs(5)));
        assert_eq!(
            next_delay(SCHEDULE, 3, 0.0),
            Some(Duration::from_secs(1800))
        );
    }

    #[test]
    fn is_exhausted_after_as_many_attempts_as_delays() {
        assert_eq!(next_delay(SCHEDULE, 4, 0.0), None);
        assert_eq!(next_delay(&[0], 1, 0.5), None);
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        for _ in 0..1000 {
            let d = next_delay(SCHEDULE, 2, 0.1).unwrap().as_secs_f64();
            assert!((270.0..=330.0).contains(&d), "{d}");
        }
    }
}
