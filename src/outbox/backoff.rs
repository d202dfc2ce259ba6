//! When to try a failed task again: exponential backoff with jitter, never sooner than
//! Microsoft's `Retry-After`.

use std::time::Duration;

use rand::Rng as _;

/// The delay before attempt `attempt + 1` after `attempt` failures: a random point in the
/// upper half of `base * 2^(attempt-1)` (capped at `max`), so a burst of throttled tasks does
/// not come back in lockstep; at least `retry_after` when Microsoft gave one.
pub fn delay(attempt: u32, base: Duration, max: Duration, retry_after: Option<Duration>) -> Duration {
    let exponent = attempt.saturating_sub(1).min(30);
    let ceiling = base.saturating_mul(1u32 << exponent).min(max);
    let half = ceiling / 2;
    let jitter = Duration::from_millis(rand::thread_rng().gen_range(0..=half.as_millis().min(u128::from(u64::MAX)) as u64));
    (half + jitter).max(retry_after.unwrap_or(Duration::ZERO))
}

/// The delay after a 429: what Microsoft asked for, plus up to a quarter more so throttled
/// tasks do not return in lockstep. Graph's throttling guidance is to wait `Retry-After` and
/// retry, and on another 429 to keep honouring it; growing the wait exponentially on top would
/// only slow a throttled export further (minutes per task after a few 429s).
pub fn throttled(retry_after: Duration) -> Duration {
    let spread = (retry_after / 4).as_millis().min(u128::from(u64::MAX)) as u64;
    retry_after + Duration::from_millis(rand::thread_rng().gen_range(0..=spread))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_caps_and_honours_retry_after() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(10);
        for _ in 0..200 {
            let first = delay(1, base, max, None);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
            let fourth = delay(4, base, max, None);
            assert!(fourth >= Duration::from_millis(400) && fourth <= Duration::from_millis(800), "{fourth:?}");
            let capped = delay(40, base, max, None);
            assert!(capped >= Duration::from_secs(5) && capped <= max, "{capped:?}");
            assert!(delay(1, base, max, Some(Duration::from_secs(3))) == Duration::from_secs(3));
        }
    }

    #[test]
    fn a_throttled_task_waits_what_microsoft_asked_not_more_than_a_quarter_longer() {
        for _ in 0..200 {
            let wait = throttled(Duration::from_secs(4));
            assert!(wait >= Duration::from_secs(4) && wait <= Duration::from_secs(5), "{wait:?}");
        }
        assert_eq!(throttled(Duration::ZERO), Duration::ZERO);
    }
}
