//! The scheduler's proof of life: the loop stamps the time on every turn, and turns at least
//! every [`Heartbeat::every`] even when no feed is due. The systemd watchdog and `/readyz`
//! read the stamp, so a scheduler that is stuck stops the pings and gets restarted.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jiff::Timestamp;

/// Longest time between two turns of the scheduler loop when nothing else wakes it.
pub const DEFAULT_BEAT: Duration = Duration::from_secs(10);

/// When the scheduler loop last turned.
#[derive(Debug)]
pub struct Heartbeat {
    last_ms: AtomicI64,
    every: Duration,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Self::new(DEFAULT_BEAT)
    }
}

impl Heartbeat {
    /// A heartbeat the loop stamps at least every `every` (at least 50 ms). It starts
    /// "never beaten", so nothing counts as alive before the loop first turns.
    pub fn new(every: Duration) -> Self {
        Self {
            last_ms: AtomicI64::new(0),
            every: every.max(Duration::from_millis(50)),
        }
    }

    /// The longest sleep the loop may take.
    pub fn every(&self) -> Duration {
        self.every
    }

    /// Stamps "alive now".
    pub fn beat(&self) {
        self.last_ms
            .store(Timestamp::now().as_millisecond(), Ordering::Relaxed);
    }

    /// When the loop last turned, if it ever did.
    pub fn last(&self) -> Option<Timestamp> {
        match self.last_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Timestamp::from_millisecond(ms).ok(),
        }
    }

    /// Time since the last turn (`None` before the first).
    pub fn age(&self) -> Option<Duration> {
        let last = self.last()?;
        let millis = Timestamp::now().as_millisecond() - last.as_millisecond();
        Some(Duration::from_millis(millis.max(0) as u64))
    }

    /// Whether the loop turned within `limit`.
    pub fn alive_within(&self, limit: Duration) -> bool {
        self.age().is_some_and(|age| age <= limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alive_only_after_a_recent_beat() {
        let heartbeat = Heartbeat::new(Duration::from_millis(100));
        assert!(!heartbeat.alive_within(Duration::from_secs(3600)));
        heartbeat.beat();
        assert!(heartbeat.alive_within(Duration::from_secs(1)));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!heartbeat.alive_within(Duration::from_millis(10)));
        assert_eq!(
            Heartbeat::new(Duration::ZERO).every(),
            Duration::from_millis(50)
        );
    }
}
