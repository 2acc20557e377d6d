//! When to poll a feed next: its interval, stretched (never shortened) by what the
//! publisher asks (`<ttl>`, `Cache-Control`, `Expires`, `Retry-After`) up to a cap, or
//! backed off exponentially after failures — always with jitter so that feeds do not all
//! fire at once, and never stopping for good.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// Share of a delay added or removed at random.
const JITTER: f64 = 0.1;

/// Adds `delay` (with ±10 % jitter) to `now`.
pub fn after(now: Timestamp, delay: Duration) -> Timestamp {
    let factor = 1.0 - JITTER + fastrand::f64() * 2.0 * JITTER;
    let jittered = delay.mul_f64(factor);
    now.checked_add(SignedDuration::try_from(jittered).unwrap_or(SignedDuration::ZERO))
        .unwrap_or(now)
}

/// Delay until the next poll after a successful one.
pub fn success_delay(
    interval: Duration,
    ttl: Option<Duration>,
    freshness: Option<Duration>,
    max_interval: Duration,
) -> Duration {
    let publisher_asks = ttl.into_iter().chain(freshness).max().unwrap_or_default();
    interval.max(publisher_asks.min(max_interval))
}

/// Delay until the next poll after `failures` failures in a row: the interval doubled per
/// failure beyond the first, capped at `max_backoff`; a `Retry-After` is honoured up to
/// `max_interval`.
pub fn failure_delay(
    interval: Duration,
    failures: u32,
    retry_after: Option<Duration>,
    max_backoff: Duration,
    max_interval: Duration,
) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    let backoff = interval
        .saturating_mul(1u32 << doublings)
        .min(max_backoff.max(interval));
    match retry_after {
        Some(wait) => backoff.max(wait.min(max_interval)),
        None => backoff,
    }
}

/// Spread for feeds that have never been polled: start within the first `min(interval,
/// 60 s)` so a large configuration does not burst.
pub fn first_poll(now: Timestamp, interval: Duration) -> Timestamp {
    let window = interval.min(Duration::from_secs(60));
    let offset = window.mul_f64(fastrand::f64());
    now.checked_add(SignedDuration::try_from(offset).unwrap_or(SignedDuration::ZERO))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn publisher_hints_stretch_but_never_shorten_or_exceed_the_cap() {
        let cap = 360 * MIN;
        assert_eq!(success_delay(15 * MIN, None, None, cap), 15 * MIN);
        assert_eq!(success_delay(15 * MIN, Some(60 * MIN), None, cap), 60 * MIN);
        assert_eq!(success_delay(15 * MIN, None, Some(MIN), cap), 15 * MIN);
        assert_eq!(success_delay(15 * MIN, Some(10_000 * MIN), None, cap), cap);
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_cap() {
        let cap = 360 * MIN;
        let delays: Vec<u64> = (1..=8)
            .map(|n| failure_delay(15 * MIN, n, None, cap, cap).as_secs() / 60)
            .collect();
        assert_eq!(delays, vec![15, 30, 60, 120, 240, 360, 360, 360]);
        assert_eq!(
            failure_delay(15 * MIN, 1, Some(120 * MIN), cap, cap),
            120 * MIN
        );
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let now = Timestamp::UNIX_EPOCH;
        for _ in 0..100 {
            let at = after(now, Duration::from_secs(1000)).as_second();
            assert!((900..=1100).contains(&at), "{at}");
        }
    }
}
