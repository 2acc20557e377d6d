//! Observability: the daemon's Prometheus metrics and the optional local HTTP listener
//! that serves them with `/healthz` and `/readyz`.
//!
//! Events are counted where they happen, with one-line calls from the pipeline
//! ([`timed_fetch`], [`record_poll`], [`delivery`], [`digest_sent`], [`config_reload`]) into
//! one process-wide registry. Levels that live in the state database (feeds by health,
//! outbox sizes, the age of the oldest queued alert, the last successful poll) are read
//! from it when `/metrics` is scraped, so they are right even after a restart.
//!
//! Metrics use the `newshound_` prefix; every label is bounded by the configuration (rule
//! and destination names) or by a fixed list (results, health states), never per feed.

mod http;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

pub use http::{HttpState, OPENMETRICS_CONTENT_TYPE, router, serve};

use crate::scheduler::{Heartbeat, Pipeline, PollOutcome, Polled};
use crate::status::Health;
use crate::store::StoreError;

/// A result label (`ok`, `not_modified`, `http_5xx`, `sent`, `error`, ...).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

/// A rule label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabel {
    rule: String,
}

/// A destination label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DestinationLabel {
    destination: String,
}

/// A destination and a result.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    destination: String,
    result: String,
}

/// A feed health label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Every metric of the process.
struct Metrics {
    registry: Registry,
    feed_fetches: Family<ResultLabel, Counter>,
    feed_fetch_duration: Histogram,
    entries_new: Counter,
    rule_matches: Family<RuleLabel, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
    digests_sent: Family<DestinationLabel, Counter>,
    config_reloads: Family<ResultLabel, Counter>,
    config_last_reload_success: FloatGauge,
    feeds: Family<StateLabel, Gauge>,
    outbox_pending: Family<DestinationLabel, Gauge>,
    outbox_dead: Family<DestinationLabel, Gauge>,
    outbox_oldest_pending_age: FloatGauge,
    scheduler_last_tick: FloatGauge,
    last_successful_poll: FloatGauge,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("newshound");
        let feed_fetches = Family::<ResultLabel, Counter>::default();
        registry.register(
            "feed_fetches",
            "Feed polls by result (ok, not_modified, http_4xx, http_5xx, timeout, dns, connect, tls, too_large, blocked, redirect, body, parse, store, ...)",
            feed_fetches.clone(),
        );
        // 0.05 s ... 25.6 s, doubling.
        let feed_fetch_duration = Histogram::new(exponential_buckets(0.05, 2.0, 10));
        registry.register_with_unit(
            "feed_fetch_duration",
            "Time to fetch a feed document (request, redirects and body)",
            Unit::Seconds,
            feed_fetch_duration.clone(),
        );
        let entries_new = Counter::default();
        registry.register(
            "entries_new",
            "Entries never seen before that were evaluated against the rules",
            entries_new.clone(),
        );
        let rule_matches = Family::<RuleLabel, Counter>::default();
        registry.register(
            "rule_matches",
            "Entries a rule matched (a changed entry matched again counts again)",
            rule_matches.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "deliveries",
            "Delivery attempts by destination and result (sent, retry, dead)",
            deliveries.clone(),
        );
        let digests_sent = Family::<DestinationLabel, Counter>::default();
        registry.register(
            "digests_sent",
            "Digests sent by destination",
            digests_sent.clone(),
        );
        let config_reloads = Family::<ResultLabel, Counter>::default();
        registry.register(
            "config_reloads",
            "Configuration reloads by result (ok, error)",
            config_reloads.clone(),
        );
        let config_last_reload_success = FloatGauge::default();
        registry.register(
            "config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully (start or reload), Unix time",
            config_last_reload_success.clone(),
        );
        let feeds = Family::<StateLabel, Gauge>::default();
        registry.register(
            "feeds",
            "Configured feeds by state (ok, failing, silent, pending)",
            feeds.clone(),
        );
        let outbox_pending = Family::<DestinationLabel, Gauge>::default();
        registry.register(
            "outbox_pending",
            "Alerts waiting for delivery (including retries), by destination",
            outbox_pending.clone(),
        );
        let outbox_dead = Family::<DestinationLabel, Gauge>::default();
        registry.register(
            "outbox_dead",
            "Alerts given up on and kept for inspection, by destination",
            outbox_dead.clone(),
        );
        let outbox_oldest_pending_age = FloatGauge::default();
        registry.register(
            "outbox_oldest_pending_age_seconds",
            "Age of the oldest alert waiting for delivery (0 when none waits)",
            outbox_oldest_pending_age.clone(),
        );
        let scheduler_last_tick = FloatGauge::default();
        registry.register(
            "scheduler_last_tick_timestamp_seconds",
            "When the scheduler loop last turned, Unix time",
            scheduler_last_tick.clone(),
        );
        let last_successful_poll = FloatGauge::default();
        registry.register(
            "last_successful_poll_timestamp_seconds",
            "When a feed was last polled successfully (the last good cycle), Unix time",
            last_successful_poll.clone(),
        );
        registry.register(
            "build",
            "The running version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        Self {
            registry,
            feed_fetches,
            feed_fetch_duration,
            entries_new,
            rule_matches,
            deliveries,
            digests_sent,
            config_reloads,
            config_last_reload_success,
            feeds,
            outbox_pending,
            outbox_dead,
            outbox_oldest_pending_age,
            scheduler_last_tick,
            last_successful_poll,
        }
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

fn seconds(at: Timestamp) -> f64 {
    at.as_millisecond() as f64 / 1000.0
}

/// Awaits a feed fetch and records how long it took.
pub async fn timed_fetch<T>(fetch: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let result = fetch.await;
    METRICS
        .feed_fetch_duration
        .observe(started.elapsed().as_secs_f64());
    result
}

/// Counts what one poll did: its result, new entries, and matches by rule.
pub fn record_poll(polled: &Polled) {
    let result = match &polled.outcome {
        PollOutcome::NotModified => "not_modified",
        PollOutcome::Updated { new, .. } => {
            METRICS.entries_new.inc_by(*new as u64);
            "ok"
        }
        PollOutcome::Failed { kind, .. } => match (*kind, polled.record.state.last_status) {
            ("http_status", Some(400..=499)) => "http_4xx",
            ("http_status", Some(500..=599)) => "http_5xx",
            (kind, _) => kind,
        },
    };
    METRICS
        .feed_fetches
        .get_or_create(&ResultLabel {
            result: result.to_string(),
        })
        .inc();
    for found in &polled.record.matches {
        METRICS
            .rule_matches
            .get_or_create(&RuleLabel {
                rule: found.rule.clone(),
            })
            .inc();
    }
}

/// Counts one delivery attempt: `result` is `sent`, `retry` or `dead`.
pub fn delivery(destination: &str, result: &str) {
    METRICS
        .deliveries
        .get_or_create(&DeliveryLabels {
            destination: destination.to_string(),
            result: result.to_string(),
        })
        .inc();
}

/// Counts one digest sent to `destination`.
pub fn digest_sent(destination: &str) {
    METRICS
        .digests_sent
        .get_or_create(&DestinationLabel {
            destination: destination.to_string(),
        })
        .inc();
}

/// Records a configuration load at start (`ok`) or a reload (`ok` or not).
pub fn config_reload(ok: bool) {
    let result = if ok { "ok" } else { "error" };
    METRICS
        .config_reloads
        .get_or_create(&ResultLabel {
            result: result.to_string(),
        })
        .inc();
    if ok {
        METRICS
            .config_last_reload_success
            .set(seconds(Timestamp::now()));
    }
}

/// Records that the configuration in use was loaded now (at start), without counting a
/// reload.
pub fn config_loaded() {
    METRICS
        .config_last_reload_success
        .set(seconds(Timestamp::now()));
}

/// How long feeds' rhythms (for the silent state) are reused between scrapes: they change
/// slowly, and learning them reads every remembered entry (about a second for 1000 feeds
/// with 720 arrivals each, see BENCHMARKS.md).
const RHYTHM_REFRESH: Duration = Duration::from_secs(600);

type Rhythms = Arc<HashMap<String, Duration>>;

/// The rhythms of the feeds in `pipeline`'s store, from a cache refreshed every
/// [`RHYTHM_REFRESH`]. They are read through a separate read-only connection, so the long
/// read does not hold up the daemon's writes (WAL lets readers and the writer overlap).
fn rhythms(pipeline: &Pipeline) -> Result<Rhythms, StoreError> {
    static CACHE: Mutex<Option<(PathBuf, Instant, Rhythms)>> = Mutex::new(None);
    let path = pipeline.store.path().to_path_buf();
    if let Ok(cache) = CACHE.lock()
        && let Some((cached_path, at, rhythms)) = cache.as_ref()
        && *cached_path == path
        && at.elapsed() < RHYTHM_REFRESH
    {
        return Ok(rhythms.clone());
    }
    let fresh = if path.is_file() {
        crate::status::rhythms(&crate::store::Store::open_read_only(&path)?)?
    } else {
        crate::status::rhythms(&pipeline.store)?
    };
    let fresh = Arc::new(fresh);
    if let Ok(mut cache) = CACHE.lock() {
        *cache = Some((path, Instant::now(), fresh.clone()));
    }
    Ok(fresh)
}

/// Reads the levels kept in the state database and renders every metric in the
/// OpenMetrics text format. Blocking (it queries the store).
pub fn render(pipeline: &Pipeline, heartbeat: &Heartbeat) -> Result<String, StoreError> {
    let now = Timestamp::now();
    let states = pipeline.store.feed_states()?;
    let rhythms = rhythms(pipeline)?;
    let feeds = crate::status::feeds_with(&pipeline.config, &states, &rhythms, now);
    for health in Health::ALL {
        let count = feeds.iter().filter(|f| f.health == health).count();
        METRICS
            .feeds
            .get_or_create(&StateLabel {
                state: health.as_str().to_string(),
            })
            .set(count as i64);
    }
    let last_success = states.values().filter_map(|s| s.last_success).max();
    METRICS
        .last_successful_poll
        .set(last_success.map_or(0.0, seconds));
    let counts = pipeline.store.outbox_counts()?;
    // Destinations that disappeared from both the outbox and the configuration go away.
    METRICS.outbox_pending.clear();
    METRICS.outbox_dead.clear();
    let mut oldest: Option<Timestamp> = None;
    let configured = pipeline.config.destinations.iter().map(|d| d.name());
    let names: std::collections::BTreeSet<&str> = configured
        .chain(counts.keys().map(String::as_str))
        .collect();
    for name in names {
        let count = counts.get(name).cloned().unwrap_or_default();
        let label = DestinationLabel {
            destination: name.to_string(),
        };
        METRICS
            .outbox_pending
            .get_or_create(&label)
            .set(count.queued as i64);
        METRICS
            .outbox_dead
            .get_or_create(&label)
            .set(count.dead as i64);
        oldest = match (oldest, count.oldest_queued) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    let age = oldest.map_or(0.0, |at| {
        ((now.as_millisecond() - at.as_millisecond()).max(0) as f64) / 1000.0
    });
    METRICS.outbox_oldest_pending_age.set(age);
    METRICS
        .scheduler_last_tick
        .set(heartbeat.last().map_or(0.0, seconds));
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &METRICS.registry);
    Ok(text)
}
