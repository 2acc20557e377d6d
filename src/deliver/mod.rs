//! Delivery: takes alerts out of the outbox and hands them to their destinations.
//!
//! This stage owns the destinations (sinks) and the delivery worker. An alert is marked sent
//! only after its destination accepted it; a failure is retried with exponential backoff and
//! jitter (honouring `Retry-After`), and an alert older than the maximum age is marked dead
//! and logged — never silently dropped. The same idempotency key travels with every retry.

mod file;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::Notify;

pub use file::{FileSink, resolve_path as file_path};

use crate::alerts::Alert;
use crate::config::{Config, DestinationConfig};
use crate::store::{OutboxItem, Store, StoreError};

/// How long an alert may stay undeliverable before it is marked dead.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// First retry delay; doubles with every failed attempt.
const RETRY_BASE: Duration = Duration::from_secs(30);

/// Longest delay between two attempts.
const RETRY_CAP: Duration = Duration::from_secs(3600);

/// Alerts handled per batch.
const BATCH: usize = 100;

/// Why a delivery attempt failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    /// What went wrong (as the receiving side said it, where possible).
    pub message: String,
    /// How long the receiver asked us to wait.
    pub retry_after: Option<Duration>,
    /// Whether retrying cannot help (the alert is marked dead at once).
    pub permanent: bool,
}

impl DeliveryError {
    /// A failure worth retrying.
    pub fn temporary(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry_after: None,
            permanent: false,
        }
    }

    /// A failure retrying cannot fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry_after: None,
            permanent: true,
        }
    }
}

/// A configured destination, ready to send.
pub enum Sink {
    /// A local JSON-lines file.
    File(FileSink),
}

impl Sink {
    /// Builds the sink of a destination.
    pub fn from_config(config: &Config, destination: &DestinationConfig) -> Self {
        match destination {
            DestinationConfig::File(file) => Sink::File(FileSink::new(file::resolve_path(
                &config.state_dir,
                file.path.as_deref(),
            ))),
        }
    }

    /// Delivers one alert.
    pub async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError> {
        match self {
            Sink::File(sink) => sink.deliver(alert).await,
        }
    }
}

/// Counts of one delivery pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Delivered.
    pub sent: usize,
    /// Failed, will be retried.
    pub retried: usize,
    /// Given up.
    pub dead: usize,
}

/// All sinks, by destination name.
pub struct Deliverer {
    sinks: HashMap<String, Sink>,
    max_age: Duration,
}

impl Deliverer {
    /// Builds the sinks of every configured destination.
    pub fn new(config: &Config) -> Self {
        let sinks = config
            .destinations
            .iter()
            .map(|d| (d.name().to_string(), Sink::from_config(config, d)))
            .collect();
        Self {
            sinks,
            max_age: DEFAULT_MAX_AGE,
        }
    }

    /// Sets the age after which an undeliverable alert is marked dead.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Delivers every alert that is due now; returns what happened.
    pub async fn deliver_due(&self, store: &Store) -> Result<DeliveryReport, StoreError> {
        let mut report = DeliveryReport::default();
        loop {
            let now = Timestamp::now();
            let due = store.due_alerts(now, BATCH)?;
            if due.is_empty() {
                return Ok(report);
            }
            let batch_size = due.len();
            for item in due {
                self.deliver_one(store, item, &mut report).await?;
            }
            if batch_size < BATCH {
                return Ok(report);
            }
        }
    }

    async fn deliver_one(
        &self,
        store: &Store,
        item: OutboxItem,
        report: &mut DeliveryReport,
    ) -> Result<(), StoreError> {
        let now = Timestamp::now();
        let outcome = match serde_json::from_str::<Alert>(&item.payload) {
            Err(error) => Err(DeliveryError::permanent(format!(
                "stored alert cannot be read: {error}"
            ))),
            Ok(alert) => match self.sinks.get(&item.destination) {
                Some(sink) => sink.deliver(&alert).await,
                None => Err(DeliveryError::temporary(format!(
                    "destination {:?} is no longer configured",
                    item.destination
                ))),
            },
        };
        match outcome {
            Ok(()) => {
                store.mark_sent(item.id, now)?;
                tracing::info!(destination = %item.destination, rule = %item.rule, key = %item.key, "alert delivered");
                report.sent += 1;
                crate::observe::delivery(&item.destination, "sent");
            }
            Err(error) => {
                let age = Duration::from_millis(
                    (now.as_millisecond() - item.created.as_millisecond()).max(0) as u64,
                );
                if error.permanent || age >= self.max_age {
                    store.mark_dead(item.id, &error.message, now)?;
                    tracing::error!(
                        destination = %item.destination, rule = %item.rule, key = %item.key,
                        attempts = item.attempts + 1, error = %error.message,
                        "alert is dead: giving up after {}", if error.permanent { "a permanent failure".to_string() } else { format!("{age:?}") }
                    );
                    report.dead += 1;
                    crate::observe::delivery(&item.destination, "dead");
                } else {
                    let delay = retry_delay(item.attempts, error.retry_after);
                    let next = now
                        .checked_add(jiff::SignedDuration::try_from(delay).unwrap_or_default())
                        .unwrap_or(now);
                    store.mark_retry(item.id, &error.message, next)?;
                    tracing::warn!(
                        destination = %item.destination, rule = %item.rule, key = %item.key,
                        attempts = item.attempts + 1, retry_in = ?delay, error = %error.message,
                        "alert delivery failed; will retry"
                    );
                    report.retried += 1;
                    crate::observe::delivery(&item.destination, "retry");
                }
            }
        }
        Ok(())
    }
}

/// Delay before the next attempt after `attempts` failures: exponential from 30 s, capped
/// at one hour, with ±20 % jitter; never shorter than the receiver's `Retry-After`.
pub fn retry_delay(attempts: u32, retry_after: Option<Duration>) -> Duration {
    let exponential = RETRY_BASE.saturating_mul(1u32 << attempts.min(16));
    let capped = exponential.min(RETRY_CAP);
    let jitter = 0.8 + fastrand::f64() * 0.4;
    let jittered = capped.mul_f64(jitter);
    match retry_after {
        Some(wait) => jittered.max(wait.min(self::RETRY_AFTER_CAP)),
        None => jittered,
    }
}

/// Longest `Retry-After` honoured, so a hostile receiver cannot park alerts for a year.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(6 * 3600);

/// Runs delivery until `shutdown` fires: delivers what is due, then sleeps until the next
/// retry is due or new alerts are announced through `wake`.
pub async fn run_worker(
    deliverer: Arc<Deliverer>,
    store: Arc<Store>,
    wake: Arc<Notify>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        if let Err(error) = deliverer.deliver_due(&store).await {
            tracing::error!(%error, "delivery pass failed; retrying in a minute");
        }
        let next_due = store.next_due_alert().ok().flatten();
        let sleep = match next_due {
            Some(at) => {
                let millis = at.as_millisecond() - Timestamp::now().as_millisecond();
                Duration::from_millis(millis.clamp(0, 60_000) as u64)
            }
            None => Duration::from_secs(60),
        };
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = wake.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_grows_and_is_capped() {
        let first = retry_delay(0, None);
        assert!(first >= Duration::from_secs(24) && first <= Duration::from_secs(36));
        let later = retry_delay(20, None);
        assert!(later <= Duration::from_secs(4320));
        let told = retry_delay(0, Some(Duration::from_secs(600)));
        assert!(told >= Duration::from_secs(600));
        let hostile = retry_delay(0, Some(Duration::from_secs(365 * 86_400)));
        assert!(hostile <= Duration::from_secs(6 * 3600));
    }
}
