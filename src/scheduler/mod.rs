//! The scheduler: owns time. It polls every feed on its own schedule (or all of them once,
//! or all of them now when asked while running), runs each poll through the pipeline,
//! writes the result, and keeps the delivery worker going; it stops gracefully when asked.

mod heartbeat;
mod plan;
pub mod poll;
mod rules_handle;
mod writer;

use rustc_hash::{FxHashMap, FxHashSet};
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
use writer::{Finished, Running, WRITE_BATCH, write_polls};

/// How long in-flight polls may take to finish after a stop was requested.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How often old seen entries and delivered alerts are purged.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(3600);

/// Longest wait before polling a feed again whose result could not be written (a feed
/// polled more often is retried at its own interval).
const RECORD_RETRY: Duration = Duration::from_secs(60);

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
    let never_asked = Arc::new(Notify::new());
    run_reloadable(
        pipelines,
        shutdown,
        Arc::new(Heartbeat::default()),
        never_asked,
    )
    .await
}

/// Like [`run`], but every pipeline sent on `pipelines` replaces the running one (a
/// configuration reload): feeds no longer configured stop being polled, new ones start (with
/// the first-poll backfill rule when never polled before), the others keep their schedule
/// and state; queued alerts stay queued and go to the new destinations. The loop stamps
/// `heartbeat` on every turn and turns at least every `heartbeat.every()`. Each notification
/// on `poll_now` makes every feed due at once (see [`PollNow`]); when the last of those
/// polls is written, one log line says how long they took and what they found.
pub async fn run_reloadable(
    mut pipelines: watch::Receiver<Arc<Pipeline>>,
    mut shutdown: watch::Receiver<bool>,
    heartbeat: Arc<Heartbeat>,
    poll_now: Arc<Notify>,
) -> Result<(), StoreError> {
    let mut pipeline = pipelines.borrow_and_update().clone();
    let store = pipeline.store.clone();
    let wake_delivery = Arc::new(Notify::new());
    let delivery = tokio::spawn(supervise_delivery(
        pipelines.clone(),
        wake_delivery.clone(),
        shutdown.clone(),
    ));
    let mut states: FxHashMap<String, FeedState> = store.feed_states()?.into_iter().collect();
    let mut feeds: FxHashMap<String, Arc<FeedConfig>> = FxHashMap::default();
    let mut due = plan::DueTimes::default();
    schedule_feeds(
        &pipeline.config,
        &states,
        &FxHashSet::default(),
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
    // A feed is either waiting in `due` or being polled in `in_flight`, never both: a turn
    // of the loop then looks at the waiting ones' due times only, with no lookups.
    let mut in_flight: FxHashMap<tokio::task::Id, String> = FxHashMap::default();
    let mut tasks: JoinSet<Result<FeedState, String>> = JoinSet::new();
    let (recorder, records) = tokio::sync::mpsc::unbounded_channel();
    let running = Running::default();
    let writer = tokio::spawn(write_polls(
        store.clone(),
        records,
        running.clone(),
        wake_delivery.clone(),
    ));
    let mut next_maintenance = tokio::time::Instant::now();
    let mut requested: Option<PollNow> = None;
    loop {
        heartbeat.beat();
        let now = Timestamp::now();
        for url in due.take_ready(now) {
            if let Some(feed) = feeds.get(&url) {
                let task = spawn_poll(
                    &mut tasks,
                    &pipeline,
                    feed.clone(),
                    states.get(&url).cloned(),
                    &recorder,
                    &running,
                );
                in_flight.insert(task, url);
            }
        }
        if tokio::time::Instant::now() >= next_maintenance {
            maintain(&pipeline);
            next_maintenance = tokio::time::Instant::now() + MAINTENANCE_EVERY;
        }
        let sleep_for = due
            .earliest()
            .map(|at| {
                Duration::from_millis((at.as_millisecond() - now.as_millisecond()).max(0) as u64)
            })
            .unwrap_or(MAINTENANCE_EVERY)
            .min(MAINTENANCE_EVERY)
            .min(heartbeat.every());
        tokio::select! {
            _ = tokio::time::sleep(sleep_for) => {}
            Some(first) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                // Every poll that has finished is taken in this turn: a burst of polls
                // ending costs a few turns of the loop, not one each.
                let mut finished = vec![first];
                while let Some(more) = tasks.try_join_next_with_id() {
                    finished.push(more);
                }
                for joined in finished {
                    let (url, outcome) = match joined {
                        Ok((task, outcome)) => {
                            let Some(url) = in_flight.remove(&task) else {
                                continue;
                            };
                            (url, outcome)
                        }
                        Err(join_error) => {
                            let Some(url) = in_flight.remove(&join_error.id()) else {
                                continue;
                            };
                            (url, Err(format!("the poll task failed: {join_error}")))
                        }
                    };
                    if let Some(sweep) = &mut requested {
                        sweep.polled(&url, outcome.as_ref().ok());
                    }
                    // A feed removed by a reload while it was polled is not rescheduled.
                    let Some(feed) = feeds.get(&url) else {
                        continue;
                    };
                    match outcome {
                        Ok(state) => {
                            due.insert(url.clone(), state.next_poll);
                            states.insert(url, state);
                        }
                        Err(error) => {
                            // The poll's result was not written; it is retried from scratch
                            // (validators were not updated either).
                            let again = feed.interval.get().min(RECORD_RETRY);
                            tracing::error!(feed_url = %url, retry_in = ?again, "cannot record poll: {error}; the feed is polled again");
                            due.insert(url, Timestamp::now() + jiff::SignedDuration::try_from(again).unwrap_or_default());
                        }
                    }
                }
                if let Some(sweep) = requested.take_if(|sweep| sweep.done()) {
                    sweep.report();
                }
            }
            () = poll_now.notified() => {
                requested
                    .get_or_insert_with(PollNow::default)
                    .ask(&mut due, in_flight.values(), &states, Timestamp::now());
                if let Some(sweep) = requested.take_if(|sweep| sweep.done()) {
                    sweep.report();
                }
            }
            changed = pipelines.changed(), if reloads_open => {
                if changed.is_err() {
                    reloads_open = false; // nobody can send a new configuration any more
                } else {
                    pipeline = pipelines.borrow_and_update().clone();
                    let polling: FxHashSet<&String> = in_flight.values().collect();
                    let changes = schedule_feeds(&pipeline.config, &states, &polling, &mut feeds, &mut due, Timestamp::now());
                    if let Some(sweep) = &mut requested {
                        // Feeds the new configuration dropped will not be polled.
                        sweep.waiting.retain(|url| feeds.contains_key(url) || polling.contains(url));
                    }
                    if let Some(sweep) = requested.take_if(|sweep| sweep.done()) {
                        sweep.report();
                    }
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
        // Safe to abandon: a poll's result is written in one transaction after the poll.
        tracing::warn!(
            abandoned = tasks.len(),
            "abandoning polls still running after {SHUTDOWN_GRACE:?}"
        );
        tasks.abort_all();
    }
    // The writer ends once it has written what the finished polls sent it (bounded, like
    // the polls: a write that cannot finish is lost as an abandoned poll would be).
    drop(recorder);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, writer).await;
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, delivery).await;
    tracing::info!("stopped");
    Ok(())
}

/// A request to poll every feed now (SIGUSR1 to `newshound run`), followed until the last
/// of its polls is written. Feeds whose server last answered 429 or 503 keep their later
/// due time: the server asked to wait, and asking again sooner is what gets clients
/// blocked. Feeds being polled already count when their poll ends.
#[derive(Debug)]
struct PollNow {
    started: std::time::Instant,
    waiting: FxHashSet<String>,
    polled: usize,
    not_modified: usize,
    failed: usize,
    /// Polls whose result could not be written, or whose task failed.
    lost: usize,
    held_back: usize,
}

impl Default for PollNow {
    fn default() -> Self {
        Self {
            started: std::time::Instant::now(),
            waiting: FxHashSet::default(),
            polled: 0,
            not_modified: 0,
            failed: 0,
            lost: 0,
            held_back: 0,
        }
    }
}

impl PollNow {
    /// Makes every waiting feed due at `now`, except those whose server asked to wait, and
    /// follows those and the feeds being `polling` already. A second request while the
    /// first is followed adds to it.
    fn ask<'a>(
        &mut self,
        due: &mut plan::DueTimes,
        polling: impl Iterator<Item = &'a String>,
        states: &FxHashMap<String, FeedState>,
        now: Timestamp,
    ) {
        self.held_back = 0;
        self.waiting.extend(polling.cloned());
        due.update_all(|url, at| {
            let asked_to_wait = *at > now
                && states
                    .get(url)
                    .is_some_and(|state| matches!(state.last_status, Some(429 | 503)));
            if asked_to_wait {
                self.held_back += 1;
            } else {
                *at = (*at).min(now);
                self.waiting.insert(url.clone());
            }
        });
        tracing::info!(
            feeds = self.waiting.len(),
            held_back = self.held_back,
            "polling every feed now, as asked"
        );
    }

    /// Counts a finished poll of `url` (`None`: its result could not be written).
    fn polled(&mut self, url: &str, state: Option<&FeedState>) {
        if !self.waiting.remove(url) {
            return;
        }
        match state {
            None => self.lost += 1,
            Some(state) => {
                self.polled += 1;
                if state.consecutive_failures > 0 {
                    self.failed += 1;
                } else if state.last_status == Some(304) {
                    self.not_modified += 1;
                }
            }
        }
    }

    fn done(&self) -> bool {
        self.waiting.is_empty()
    }

    fn report(self) {
        tracing::info!(
            polled = self.polled,
            not_modified = self.not_modified,
            failed = self.failed,
            not_recorded = self.lost,
            held_back = self.held_back,
            elapsed_ms = self.started.elapsed().as_secs_f64() * 1000.0,
            "polled every feed as asked"
        );
    }
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
    states: &FxHashMap<String, FeedState>,
    polling: &FxHashSet<&String>,
    feeds: &mut FxHashMap<String, Arc<FeedConfig>>,
    due: &mut plan::DueTimes,
    now: Timestamp,
) -> FeedChanges {
    let wanted: FxHashSet<&str> = config.feeds.iter().map(|f| f.url.as_str()).collect();
    let before = feeds.len();
    feeds.retain(|url, _| wanted.contains(url.as_str()));
    due.retain(|url| wanted.contains(url));
    let mut changes = FeedChanges {
        removed: before - feeds.len(),
        added: 0,
    };
    for feed in &config.feeds {
        match feeds.insert(feed.url.clone(), Arc::new(feed.clone())) {
            // Dropped by an earlier configuration while being polled: the poll's end
            // schedules it.
            None if polling.contains(&feed.url) => changes.added += 1,
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
                due.bring_forward(&feed.url, sooner);
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

/// Polls `feed` in a new task of `tasks` and hands its result to the writer; the task ends
/// with the feed's new state once that is written (or at once when the poll changed only
/// times: see [`writer`]). Returns the task's id, which its result comes back with.
fn spawn_poll(
    tasks: &mut JoinSet<Result<FeedState, String>>,
    pipeline: &Arc<Pipeline>,
    feed: Arc<FeedConfig>,
    previous: Option<FeedState>,
    recorder: &tokio::sync::mpsc::UnboundedSender<Finished>,
    running: &Running,
) -> tokio::task::Id {
    let pipeline = pipeline.clone();
    let recorder = recorder.clone();
    let running = running.start();
    let span = tracing::info_span!("poll", feed = %feed.name);
    tasks
        .spawn(
            async move {
                let polled = poll_feed(&pipeline, &feed, previous.clone(), Timestamp::now()).await;
                crate::observe::record_poll(&polled);
                let deferrable = previous
                    .as_ref()
                    .is_some_and(|before| polled.record.changes_only_times(before));
                writer::hand_over(&recorder, polled.record, deferrable, running).await
            }
            .instrument(span),
        )
        .id()
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
