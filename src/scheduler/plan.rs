//! When to poll a feed next: its interval, stretched (never shortened) by what the
//! publisher asks (`<ttl>`, `Cache-Control`, `Expires`, `Retry-After`) up to a cap, or
//! backed off exponentially after failures — always with jitter so that feeds do not all
//! fire at once, and never stopping for good. [`DueTimes`] keeps those times for the feeds
//! waiting for their next poll.

use rustc_hash::FxHashMap;
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

/// When each feed waiting for its next poll is due, with a lower bound of the earliest of
/// those times at hand: the scheduler looks at every feed only when one may be due, not on
/// every turn of its loop (a burst of a thousand polls ending turns it hundreds of times).
#[derive(Debug, Default)]
pub struct DueTimes {
    at: FxHashMap<String, Timestamp>,
    /// Never later than the earliest time in `at`; exact after [`DueTimes::take_ready`].
    earliest: Option<Timestamp>,
}

impl DueTimes {
    /// Sets when `url` is due.
    pub fn insert(&mut self, url: String, at: Timestamp) {
        self.lower_earliest(at);
        self.at.insert(url, at);
    }

    /// Makes `url`, if waiting, due at `at` at the latest.
    pub fn bring_forward(&mut self, url: &str, at: Timestamp) {
        if let Some(due) = self.at.get_mut(url) {
            *due = (*due).min(at);
            self.lower_earliest(at);
        }
    }

    /// Lets `change` move any due time, then takes the earliest anew.
    pub fn update_all(&mut self, mut change: impl FnMut(&String, &mut Timestamp)) {
        for (url, at) in &mut self.at {
            change(url, at);
        }
        self.earliest = self.at.values().min().copied();
    }

    /// Keeps only the feeds `keep` says.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.at.retain(|url, _| keep(url));
    }

    /// Removes and returns the feeds due at `now`; looks at every feed only if one may be.
    pub fn take_ready(&mut self, now: Timestamp) -> Vec<String> {
        if self.earliest.is_none_or(|earliest| earliest > now) {
            return Vec::new();
        }
        let ready: Vec<String> = self
            .at
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(url, _)| url.clone())
            .collect();
        for url in &ready {
            self.at.remove(url);
        }
        self.earliest = self.at.values().min().copied();
        ready
    }

    /// A time no later than the earliest due time (`None`: no feed is waiting).
    pub fn earliest(&self) -> Option<Timestamp> {
        self.earliest
    }

    fn lower_earliest(&mut self, at: Timestamp) {
        self.earliest = Some(self.earliest.map_or(at, |earliest| earliest.min(at)));
    }
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

    #[test]
    fn due_times_give_the_ready_feeds_once_and_know_the_next() {
        let at = |second: i64| Timestamp::from_second(second).expect("time");
        let mut due = DueTimes::default();
        assert_eq!(due.take_ready(at(100)), Vec::<String>::new());
        assert_eq!(due.earliest(), None);
        due.insert("a".into(), at(10));
        due.insert("b".into(), at(20));
        due.insert("c".into(), at(30));
        assert_eq!(due.earliest(), Some(at(10)));
        assert_eq!(due.take_ready(at(5)), Vec::<String>::new());
        let mut ready = due.take_ready(at(20));
        ready.sort();
        assert_eq!(ready, ["a", "b"]);
        assert_eq!(due.earliest(), Some(at(30)));
        assert_eq!(due.take_ready(at(20)), Vec::<String>::new());
        // A feed set later than it was leaves the earliest a lower bound, which a scan
        // makes exact without giving the feed early.
        due.insert("c".into(), at(40));
        assert_eq!(due.take_ready(at(35)), Vec::<String>::new());
        assert_eq!(due.earliest(), Some(at(40)));
        due.bring_forward("c", at(25));
        due.bring_forward("gone", at(1));
        assert_eq!(due.earliest(), Some(at(25)));
        due.update_all(|_, time| *time = at(50));
        assert_eq!(due.earliest(), Some(at(50)));
        due.retain(|url| url != "c");
        assert_eq!(due.take_ready(at(60)), Vec::<String>::new());
        assert_eq!(due.earliest(), None);
    }
}
