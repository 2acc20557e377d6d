//! The scheduler: owns time. It polls every feed on its own schedule (or all of them once),
//! runs each poll through the pipeline, writes the result, and keeps the delivery worker
//! going; it stops gracefully when asked.

mod heartbeat;
mod plan;
pub mod poll;
mod rules_handle;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

pub use heartbeat::{DEFAULT_BEAT, Heartbeat};
pub use poll::{PollOutcome, Polled, poll_feed};
pub use rules_handle::Rules;

use crate::alerts::Alert;
use crate::config::{Config, ConfigError, FeedConfig};
use crate::deliver::{Deliverer, DeliveryReport};
use crate::fetch::{FetchError, Fetcher};
use crate::rules::RuleSet;
use crate::store::{FeedState, PollRecord, Store, StoreError};

/// How long in-flight polls may take to finish after a stop was requested.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How often old seen entries and delivered alerts are purged.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(3600);

/// Longest wait before polling a feed again whose result could not be written (a feed
/// polled more often is retried at its own interval).
const RECORD_RETRY: Duration = Duration::from_secs(60);

/// Most polls written in one transaction by [`run_once`].
const WRITE_BATCH: usize = 256;

/// How long [`run_once`] gathers finished polls before writing them.
const WRITE_WINDOW: Duration = Duration::from_millis(50);

/// Delivered and dead alerts are kept this long for `status` and de-duplication.
const OUTBOX_RETENTION: Duration = Duration::from_secs(30 * 86_400);

/// Why the pipeline could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The configuration is invalid.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The state database cannot be used.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The HTTP client cannot be built.
    #[error("{0}")]
    Fetch(#[from] FetchError),
}

/// Everything a poll needs: configuration, compiled rules, HTTP client, store, sinks.
pub struct Pipeline {
    /// The configuration.
    pub config: Arc<Config>,
    /// The compiled rules (or, for a cycle started by [`Pipeline::start`], their checks and
    /// their compilation once an entry needs them).
    pub rules: Rules,
    /// The HTTP client.
    pub fetcher: Arc<Fetcher>,
    /// The state database.
    pub store: Arc<Store>,
    /// The destinations.
    pub deliverer: Arc<Deliverer>,
    /// Polls in progress at once, fetch to result. Bounds memory: a poll holds its feed's
    /// body, parsed entries and article pages while it waits for article fetches, so
    /// without this bound a cycle over thousands of feeds would hold all of them at once.
    pub poll_slots: Arc<tokio::sync::Semaphore>,
}

impl Pipeline {
    /// Compiles the rules and builds the client and sinks for `config` on `store`.
    pub fn new(config: Config, store: Arc<Store>) -> Result<Self, SetupError> {
        // Compiling a large rule set takes as long as the rest of start-up together (TLS
        // roots, templates): on a second core it costs no wall time.
        let (rules, fetcher, deliverer) = std::thread::scope(|scope| {
            let rules = scope.spawn(|| RuleSet::compile(&config));
            let fetcher = Fetcher::new(&config.fetch);
            let deliverer = Deliverer::new(&config);
            let rules = rules
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (rules, fetcher, deliverer)
        });
        let (rules, fetcher, deliverer) = (rules?, fetcher?, deliverer?);
        Ok(Self::assemble(
            Arc::new(config),
            Rules::ready(rules),
            fetcher,
            deliverer,
            store,
        ))
    }

    /// Like [`Pipeline::new`], but returns while the rules are still being checked, for a
    /// single cycle ([`run_once`]) whose requests go out meanwhile; they are compiled when
    /// the first entry needs them. Problems in the rules surface from `run_once`, before it
    /// writes anything.
    pub fn start(config: Config, store: Arc<Store>) -> Result<Self, SetupError> {
        let config = Arc::new(config);
        let rules = Rules::check_in_background(config.clone());
        let fetcher = Fetcher::new(&config.fetch)?;
        let deliverer = Deliverer::new(&config)?;
        Ok(Self::assemble(config, rules, fetcher, deliverer, store))
    }

    fn assemble(
        config: Arc<Config>,
        rules: Rules,
        fetcher: Fetcher,
        deliverer: Deliverer,
        store: Arc<Store>,
    ) -> Self {
        let poll_slots = Arc::new(tokio::sync::Semaphore::new(config.fetch.concurrency.max(1)));
        Self {
            poll_slots,
            config,
            rules,
            fetcher: Arc::new(fetcher),
            store,
            deliverer: Arc::new(deliverer),
        }
    }
}

/// What one cycle over all feeds did.
#[derive(Debug, Clone, Default)]
pub struct CycleReport {
    /// Feeds polled.
    pub feeds: usize,
    /// Feeds that answered 304.
    pub not_modified: usize,
    /// Feeds that failed.
    pub failed: usize,
    /// New entries evaluated.
    pub new_entries: usize,
    /// Alerts produced (queued, or printed in a dry run).
    pub alerts: Vec<Alert>,
    /// Alerts newly queued in the outbox (0 in a dry run).
    pub queued: usize,
    /// Delivery results (empty in a dry run).
    pub delivery: DeliveryReport,
}

/// Polls every feed once, now, then delivers what is due. With `dry_run`, nothing is
/// written and nothing is delivered: the alerts are only returned.
pub async fn run_once(pipeline: &Arc<Pipeline>, dry_run: bool) -> Result<CycleReport, SetupError> {
    let mut states = pipeline.store.feed_states()?;
    let now = Timestamp::now();
    let mut tasks = JoinSet::new();
    for (index, feed) in pipeline.config.feeds.iter().enumerate() {
        // Each feed is configured once, so its state is taken, not copied; the task borrows
        // its feed from the pipeline it holds instead of carrying a copy.
        let previous = states.remove(&feed.url);
        let span = tracing::info_span!("poll", feed = %feed.name);
        let pipeline = pipeline.clone();
        tasks.spawn(
            async move {
                let feed = &pipeline.config.feeds[index];
                poll_feed(&pipeline, feed, previous, now).await
            }
            .instrument(span),
        );
    }
    let mut report = CycleReport::default();
    // Nothing is written unless the rules passed their checks: a configuration error stops
    // the cycle.
    if let Err(error) = pipeline.rules.checked().await {
        return Err(SetupError::Config(ConfigError::clone(&error)));
    }
    while let Some(first) = tasks.join_next().await {
        // Polls finishing within a short window are written together: a commit rewrites
        // every page it touched, so one commit for many polls writes far less.
        let mut finished = vec![first];
        let window_end = tokio::time::Instant::now() + WRITE_WINDOW;
        while finished.len() < WRITE_BATCH {
            match tokio::time::timeout_at(window_end, tasks.join_next()).await {
                Ok(Some(joined)) => finished.push(joined),
                Ok(None) | Err(_) => break,
            }
        }
        let mut polls = Vec::with_capacity(finished.len());
        for joined in finished {
            match joined {
                Ok(polled) => polls.push(polled),
                Err(join_error) => {
                    tracing::error!(%join_error, "a poll task failed");
                    report.failed += 1;
                }
            }
        }
        // Entries are recorded as seen only once the rules they were evaluated by exist:
        // should building them fail, the cycle stops before recording entries it did not
        // evaluate (polls answered with 304 or without new entries, written before, lose
        // nothing).
        if pipeline.rules.demanded()
            && let Err(error) = pipeline.rules.get().await
        {
            return Err(SetupError::Config(ConfigError::clone(&error)));
        }
        if !dry_run {
            let records: Vec<&PollRecord> = polls.iter().map(|p| &p.record).collect();
            report.queued += pipeline.store.record_polls(&records)?;
        }
        for polled in polls {
            tally(&mut report, &polled);
            report.alerts.extend(polled.alerts);
        }
    }
    if !dry_run {
        report.delivery = pipeline.deliverer.deliver_due(&pipeline.store).await?;
    }
    Ok(report)
}

fn tally(report: &mut CycleReport, polled: &Polled) {
    report.feeds += 1;
    match &polled.outcome {
        PollOutcome::NotModified => report.not_modified += 1,
        PollOutcome::Updated { new, changed, .. } => report.new_entries += new + changed,
        PollOutcome::Failed { .. } => report.failed += 1,
    }
}

/// Runs until `shutdown` becomes true: every feed is polled when due, results are written
/// as each poll finishes, and the delivery worker sends what the polls queued. The
/// configuration stays fixed; [`run_reloadable`] takes new ones while running.
pub async fn run(
    pipeline: Arc<Pipeline>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), StoreError> {
    // The sender stays alive (and silent) until the scheduler returns.
    let (_fixed, pipelines) = watch::channel(pipeline);
    run_reloadable(pipelines, shutdown, Arc::new(Heartbeat::default())).await
}

/// Like [`run`], but every pipeline sent on `pipelines` replaces the running one (a
/// configuration reload): feeds no longer configured stop being polled, new ones start (with
/// the first-poll backfill rule when never polled before), the others keep their schedule
/// and state; queued alerts stay queued and go to the new destinations. The loop stamps
/// `heartbeat` on every turn and turns at least every `heartbeat.every()`.
pub async fn run_reloadable(
    mut pipelines: watch::Receiver<Arc<Pipeline>>,
    mut shutdown: watch::Receiver<bool>,
    heartbeat: Arc<Heartbeat>,
) -> Result<(), StoreError> {
    let mut pipeline = pipelines.borrow_and_update().clone();
    let store = pipeline.store.clone();
    let wake_delivery = Arc::new(Notify::new());
    let delivery = tokio::spawn(supervise_delivery(
        pipelines.clone(),
        wake_delivery.clone(),
        shutdown.clone(),
    ));
    let mut states = store.feed_states()?;
    let mut feeds: HashMap<String, FeedConfig> = HashMap::new();
    let mut due: HashMap<String, Timestamp> = HashMap::new();
    schedule_feeds(
        &pipeline.config,
        &states,
        &mut feeds,
        &mut due,
        Timestamp::now(),
    );
    tracing::info!(
        feeds = feeds.len(),
        rules = pipeline.rules.if_ready().map_or(0, |r| r.len()),
        "scheduler started"
    );
    let mut reloads_open = true;
    let mut in_flight: HashSet<String> = HashSet::new();
    let mut tasks: JoinSet<(String, Result<FeedState, StoreError>)> = JoinSet::new();
    let mut next_maintenance = tokio::time::Instant::now();
    loop {
        heartbeat.beat();
        let now = Timestamp::now();
        for (url, at) in &due {
            if *at <= now
                && !in_flight.contains(url)
                && let Some(feed) = feeds.get(url)
            {
                in_flight.insert(url.clone());
                spawn_poll(
                    &mut tasks,
                    &pipeline,
                    feed.clone(),
                    states.get(url).cloned(),
                    &wake_delivery,
                );
            }
        }
        if tokio::time::Instant::now() >= next_maintenance {
            maintain(&pipeline);
            next_maintenance = tokio::time::Instant::now() + MAINTENANCE_EVERY;
        }
        let next_due = due
            .iter()
            .filter(|(url, _)| !in_flight.contains(*url))
            .map(|(_, at)| *at)
            .min();
        let sleep_for = next_due
            .map(|at| {
                Duration::from_millis((at.as_millisecond() - now.as_millisecond()).max(0) as u64)
            })
            .unwrap_or(MAINTENANCE_EVERY)
            .min(MAINTENANCE_EVERY)
            .min(heartbeat.every());
        tokio::select! {
            _ = tokio::time::sleep(sleep_for) => {}
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                match joined {
                    Ok((url, Ok(state))) => {
                        in_flight.remove(&url);
                        // A feed removed by a reload while it was polled is not rescheduled.
                        if feeds.contains_key(&url) {
                            due.insert(url.clone(), state.next_poll);
                        }
                        states.insert(url, state);
                    }
                    Ok((url, Err(error))) => {
                        in_flight.remove(&url);
                        // The poll's result could not be written; it is retried from scratch
                        // (validators were not updated either).
                        let again = feeds.get(&url).map_or(RECORD_RETRY, |feed| feed.interval.get().min(RECORD_RETRY));
                        tracing::error!(feed_url = %url, retry_in = ?again, "cannot record poll: {}; the feed is polled again", store.describe_error(&error));
                        if feeds.contains_key(&url) {
                            due.insert(url, Timestamp::now() + jiff::SignedDuration::try_from(again).unwrap_or_default());
                        }
                    }
                    Err(join_error) => {
                        tracing::error!(%join_error, "a poll task failed");
                        in_flight.clear();
                    }
                }
            }
            changed = pipelines.changed(), if reloads_open => {
                if changed.is_err() {
                    reloads_open = false; // nobody can send a new configuration any more
                } else {
                    pipeline = pipelines.borrow_and_update().clone();
                    let changes = schedule_feeds(&pipeline.config, &states, &mut feeds, &mut due, Timestamp::now());
                    tracing::info!(
                        feeds = feeds.len(),
                        added = changes.added,
                        removed = changes.removed,
                        rules = pipeline.rules.if_ready().map_or(0, |r| r.len()),
                        "new configuration in effect"
                    );
                }
            }
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    tracing::info!(
        in_flight = tasks.len(),
        "stopping: letting in-flight polls finish"
    );
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        // Safe to abandon: a poll writes its result in one transaction at its very end.
        tracing::warn!(
            abandoned = tasks.len(),
            "abandoning polls still running after {SHUTDOWN_GRACE:?}"
        );
        tasks.abort_all();
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, delivery).await;
    tracing::info!("stopped");
    Ok(())
}

/// What a new configuration changed in the set of polled feeds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct FeedChanges {
    added: usize,
    removed: usize,
}

/// Makes `feeds` and `due` follow `config`: removed feeds are dropped, new ones are due
/// when their stored state says (or soon, spread out, if never polled), kept ones keep
/// their due time unless a shorter interval brings it forward.
fn schedule_feeds(
    config: &Config,
    states: &HashMap<String, FeedState>,
    feeds: &mut HashMap<String, FeedConfig>,
    due: &mut HashMap<String, Timestamp>,
    now: Timestamp,
) -> FeedChanges {
    let wanted: HashSet<&str> = config.feeds.iter().map(|f| f.url.as_str()).collect();
    let before = feeds.len();
    feeds.retain(|url, _| wanted.contains(url.as_str()));
    due.retain(|url, _| wanted.contains(url.as_str()));
    let mut changes = FeedChanges {
        removed: before - feeds.len(),
        added: 0,
    };
    for feed in &config.feeds {
        match feeds.insert(feed.url.clone(), feed.clone()) {
            None => {
                let at = match states.get(&feed.url) {
                    Some(state) => state.next_poll,
                    None => plan::first_poll(now, feed.interval.get()),
                };
                due.insert(feed.url.clone(), at);
                changes.added += 1;
            }
            Some(old) if feed.interval < old.interval => {
                let sooner = now
                    .checked_add(
                        jiff::SignedDuration::try_from(feed.interval.get()).unwrap_or_default(),
                    )
                    .unwrap_or(now);
                if let Some(at) = due.get_mut(&feed.url) {
                    *at = (*at).min(sooner);
                }
            }
            Some(_) => {}
        }
    }
    changes
}

/// Keeps one delivery worker running with the current pipeline's destinations. On a new
/// pipeline the old worker finishes the pass it is in before the new one starts, so that two
/// workers never deliver the same alert at once.
async fn supervise_delivery(
    mut pipelines: watch::Receiver<Arc<Pipeline>>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut reloads_open = true;
    loop {
        let pipeline = pipelines.borrow_and_update().clone();
        let (stop, stopped) = watch::channel(false);
        let worker = tokio::spawn(crate::deliver::run_worker(
            pipeline.deliverer.clone(),
            pipeline.store.clone(),
            wake.clone(),
            stopped,
        ));
        drop(pipeline);
        let reload = loop {
            tokio::select! {
                changed = pipelines.changed(), if reloads_open => match changed {
                    Ok(()) => break true,
                    Err(_) => reloads_open = false,
                },
                _ = shutdown.wait_for(|stopping| *stopping) => break false,
            }
        };
        let _ = stop.send(true);
        if reload {
            let _ = worker.await;
            // Alerts queued meanwhile are picked up by the new worker's first pass.
        } else {
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, worker).await;
            return;
        }
    }
}

fn spawn_poll(
    tasks: &mut JoinSet<(String, Result<FeedState, StoreError>)>,
    pipeline: &Arc<Pipeline>,
    feed: FeedConfig,
    previous: Option<FeedState>,
    wake_delivery: &Arc<Notify>,
) {
    let pipeline = pipeline.clone();
    let wake = wake_delivery.clone();
    let span = tracing::info_span!("poll", feed = %feed.name);
    tasks.spawn(
        async move {
            let polled = poll_feed(&pipeline, &feed, previous, Timestamp::now()).await;
            crate::observe::record_poll(&polled);
            let result = pipeline.store.record_poll(&polled.record).map(|queued| {
                if queued > 0 {
                    wake.notify_one();
                }
                polled.record.state
            });
            (feed.url, result)
        }
        .instrument(span),
    );
}

fn maintain(pipeline: &Pipeline) {
    let now = Timestamp::now();
    match pipeline
        .store
        .purge_seen(now, pipeline.config.retention.get())
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "forgot entries that left their feeds"),
        Err(error) => tracing::warn!(%error, "cannot purge old entries"),
    }
    if let Err(error) = pipeline.store.purge_outbox(now, OUTBOX_RETENTION) {
        tracing::warn!(%error, "cannot purge old alerts");
    }
}
