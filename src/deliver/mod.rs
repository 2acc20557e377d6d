//! Delivery: takes alerts out of the outbox and hands them to their destinations.
//!
//! This stage owns the destinations (sinks: JSON-lines file, email, webhook), the routing of
//! each alert to instant delivery and/or the destination's digest, the digest schedule, and
//! the delivery worker. An alert is marked sent only after its destination accepted it; a
//! failure is retried with exponential backoff and jitter (honouring `Retry-After`), and an
//! alert older than the maximum age is marked dead and logged — never silently dropped. The
//! same idempotency key travels with every retry (email `Message-ID`, `webhook-id`, Matrix
//! `txnId`).
//!
//! One pass of the worker ([`Deliverer::deliver_due`]): route new alerts, fold duplicate
//! stories into their first alert, freeze the digests that fell due, then send what is due.

pub mod digest;
pub mod email;
mod file;
pub mod presets;
pub mod render;
pub mod schedule;
pub mod signing;
pub mod webhook;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::Notify;

pub use file::{FileSink, resolve_path as file_path};

use crate::alerts::{self, Alert, AlertArticle, AlertFeed, Outlet};
use crate::config::{Config, ConfigError, DeliverySettings, DestinationConfig, Routing};
use crate::rules::Evidence;
use crate::store::{NewAlert, OutboxItem, OutboxKind, Store, StoreError};
use digest::Digest;
use email::EmailSink;
use webhook::WebhookSink;

/// How long an alert may stay undeliverable before it is marked dead (default of
/// `delivery.max_age`).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// Alerts handled per batch.
const BATCH: usize = 100;

/// Longest sleep of the worker when nothing is due (it also wakes when polls queue alerts).
const IDLE: Duration = Duration::from_secs(60);

/// How long the worker, woken by polls that queued alerts, waits for the wake-ups to stop
/// before its pass: polls finish in bursts, and every pass reads the stories of the
/// de-duplication window, so one pass for a burst instead of one per write.
const WAKE_QUIET: Duration = Duration::from_millis(50);

/// The longest a woken worker waits for a burst to end, so a daemon whose polls never pause
/// (thousands of feeds) still delivers within a second.
const WAKE_GATHER_AT_MOST: Duration = Duration::from_secs(1);

/// The time, injectable so schedules and retries can be tested without waiting.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: Timestamp) -> Self {
        Self(Mutex::new(at))
    }

    /// Sets the time.
    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    /// Moves the time forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now = now
            .checked_add(SignedDuration::try_from(by).unwrap_or_default())
            .unwrap_or(*now);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

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
    /// The receiver said the endpoint is gone for good (HTTP 410): stop calling it.
    pub gone: bool,
}

impl DeliveryError {
    /// A failure worth retrying.
    pub fn temporary(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry_after: None,
            permanent: false,
            gone: false,
        }
    }

    /// A failure retrying cannot fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry_after: None,
            permanent: true,
            gone: false,
        }
    }
}

/// What the receiving side answered to a successful delivery, for logs and
/// `newshound deliver-test`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The answer, e.g. `250 2.0.0 Ok: queued` or `HTTP 200 OK: {"ok":true}`.
    pub answer: String,
}

/// An alert ready to be sent, with what the outbox knows around it.
#[derive(Debug, Clone)]
pub struct AlertMessage {
    /// The alert.
    pub alert: Alert,
    /// Other outlets that reported the same story.
    pub also_reported_by: Vec<Outlet>,
    /// For an update: the first alert of the story the user received.
    pub thread_root: Option<Alert>,
    /// Sent by `newshound deliver-test`.
    pub test: bool,
}

/// What a sink sends.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// One alert (or an update of one).
    Alert(Box<AlertMessage>),
    /// A digest.
    Digest(Box<Digest>),
}

impl Outgoing {
    /// The idempotency key that travels with every attempt.
    pub fn key(&self) -> &str {
        match self {
            Outgoing::Alert(message) => &message.alert.id,
            Outgoing::Digest(digest) => &digest.id,
        }
    }
}

/// A configured destination, ready to send.
pub enum Sink {
    /// A local JSON-lines file.
    File(FileSink),
    /// Email (SMTP, sendmail or a Maildir).
    Email(Box<EmailSink>),
    /// An HTTP endpoint.
    Webhook(Box<WebhookSink>),
}

impl Sink {
    /// Builds the sink of a destination; templates or TLS settings that cannot be used are
    /// configuration errors.
    pub fn from_config(
        config: &Config,
        destination: &DestinationConfig,
    ) -> Result<Self, ConfigError> {
        Ok(match destination {
            DestinationConfig::File(file) => Sink::File(FileSink::new(file::resolve_path(
                &config.state_dir,
                file.path.as_deref(),
            ))),
            DestinationConfig::Email(email) => {
                Sink::Email(Box::new(EmailSink::new(email, &config.path)?))
            }
            DestinationConfig::Webhook(hook) => {
                Sink::Webhook(Box::new(WebhookSink::new(hook, config)?))
            }
        })
    }

    /// Delivers one alert or digest; returns what the receiver answered.
    pub async fn deliver(&self, outgoing: &Outgoing) -> Result<Receipt, DeliveryError> {
        match (self, outgoing) {
            (Sink::File(sink), Outgoing::Alert(message)) => sink.deliver(&message.alert).await,
            (Sink::File(_), Outgoing::Digest(_)) => Err(DeliveryError::permanent(
                "a file destination has no digests",
            )),
            (Sink::Email(sink), outgoing) => sink.deliver(outgoing).await,
            (Sink::Webhook(sink), outgoing) => sink.deliver(outgoing).await,
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
    /// Folded into an earlier alert for the same story.
    pub duplicates: usize,
    /// Digests frozen and queued.
    pub digests: usize,
}

/// An item claimed for an attempt, with what to send (or why nothing can be built).
type Prepared = (OutboxItem, Result<Outgoing, DeliveryError>);

/// All sinks, by destination name, and the delivery policy.
pub struct Deliverer {
    sinks: HashMap<String, Sink>,
    destinations: HashMap<String, DestinationConfig>,
    settings: DeliverySettings,
    clock: Arc<dyn Clock>,
    /// Alerts this process delivered but could not mark sent (the state database refused
    /// the write), with when they were delivered: they are not sent again, only recorded
    /// once the database accepts writes.
    unrecorded: Mutex<HashMap<i64, Timestamp>>,
}

impl Deliverer {
    /// Builds the sinks of every configured destination.
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        let mut sinks = HashMap::new();
        let mut diagnostics = Vec::new();
        for destination in &config.destinations {
            match Sink::from_config(config, destination) {
                Ok(sink) => {
                    sinks.insert(destination.name().to_string(), sink);
                }
                Err(error) => diagnostics.extend(error.diagnostics),
            }
        }
        if !diagnostics.is_empty() {
            return Err(ConfigError { diagnostics });
        }
        Ok(Self {
            sinks,
            destinations: config
                .destinations
                .iter()
                .map(|d| (d.name().to_string(), d.clone()))
                .collect(),
            settings: config.delivery.clone(),
            clock: Arc::new(SystemClock),
            unrecorded: Mutex::new(HashMap::new()),
        })
    }

    /// Sets the age after which an undeliverable alert is marked dead.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.settings.max_age = crate::config::HumanDuration(max_age);
        self
    }

    /// Uses another clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Now, by the deliverer's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The sink of a destination.
    pub fn sink(&self, destination: &str) -> Option<&Sink> {
        self.sinks.get(destination)
    }

    /// How alerts of `rule` reach `destination`: only email destinations have digests.
    pub fn routing(&self, destination: &str, rule: &str, kind: OutboxKind) -> Routing {
        match (self.destinations.get(destination), kind) {
            (_, OutboxKind::Digest) => Routing::Instant,
            (Some(DestinationConfig::Email(email)), _) => email.routing(rule),
            _ => Routing::Instant,
        }
    }

    /// Delivers every alert that is due now; returns what happened.
    pub async fn deliver_due(&self, store: &Store) -> Result<DeliveryReport, StoreError> {
        let mut report = DeliveryReport::default();
        let now = self.now();
        store.route_new(|d, r, k| self.routing(d, r, k), now)?;
        report.duplicates =
            alerts::dedupe::collapse(store, now, self.settings.dedupe_window.get())?;
        report.digests = self.freeze_due_digests(store, now)?;
        loop {
            let due = store.due_alerts(self.now(), BATCH)?;
            if due.is_empty() {
                return Ok(report);
            }
            let batch_size = due.len();
            self.deliver_batch(store, due, &mut report).await?;
            if batch_size < BATCH {
                return Ok(report);
            }
        }
    }

    /// Freezes the digests whose slot fell due (also those missed while the daemon was
    /// down: one digest for the latest slot). Returns how many were queued.
    pub fn freeze_due_digests(&self, store: &Store, now: Timestamp) -> Result<usize, StoreError> {
        let mut queued = 0;
        let mut names: Vec<&String> = self.destinations.keys().collect();
        names.sort();
        for name in names {
            let Some(DestinationConfig::Email(email)) = self.destinations.get(name) else {
                continue;
            };
            let Some(settings) = &email.digest else {
                continue;
            };
            let Some(last) = store.digest_last_slot(name)? else {
                // First start with this digest: its schedule begins now.
                store.freeze_digest(name, None, &[], Some(now), now)?;
                continue;
            };
            let Some(slot) = settings.schedule.latest_due(last, now, &settings.time_zone) else {
                continue;
            };
            if self.freeze_digest(store, name, Some(slot), now)?.is_some() {
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Builds the digest of `destination` now from its pending alerts and freezes it in the
    /// outbox (for `slot`, or by hand when `None`). An empty digest is only queued when the
    /// destination says `send_empty`. Returns the digest's key when one was queued.
    pub fn freeze_digest(
        &self,
        store: &Store,
        destination: &str,
        slot: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let Some(DestinationConfig::Email(email)) = self.destinations.get(destination) else {
            return Ok(None);
        };
        let Some(settings) = &email.digest else {
            return Ok(None);
        };
        store.route_new(|d, r, k| self.routing(d, r, k), now)?;
        let pending = store.digest_pending(destination)?;
        let (digest, included) =
            digest::build(destination, &pending, settings.max_items, slot, now);
        if digest.alerts == 0 && !settings.send_empty {
            store.freeze_digest(destination, None, &[], slot, now)?;
            tracing::info!(
                destination,
                "digest due, but nothing matched since the last one; not sent"
            );
            return Ok(None);
        }
        let row = NewAlert {
            key: digest.id.clone(),
            destination: destination.to_string(),
            rule: "(digest)".into(),
            story: format!("digest:{}", slot.unwrap_or(now)),
            payload: serde_json::to_string(&digest).map_err(|e| {
                StoreError::Sql(rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
            })?,
            kind: OutboxKind::Digest,
            thread_of: None,
            sketch: Vec::new(),
        };
        store.freeze_digest(destination, Some(&row), &included, slot, now)?;
        tracing::info!(destination, alerts = digest.alerts, stories = digest.stories, key = %digest.id, "digest queued");
        Ok(Some(digest.id))
    }

    /// Builds the digest `destination` would get now, without recording anything.
    pub fn preview_digest(
        &self,
        store: &Store,
        destination: &str,
    ) -> Result<Option<Digest>, StoreError> {
        let Some(DestinationConfig::Email(email)) = self.destinations.get(destination) else {
            return Ok(None);
        };
        let Some(settings) = &email.digest else {
            return Ok(None);
        };
        let now = self.now();
        // Alerts queued since the worker's last pass are not routed yet and not shown.
        let pending = store.digest_pending(destination)?;
        let (digest, _) = digest::build(destination, &pending, settings.max_items, None, now);
        Ok(Some(digest))
    }

    /// What an outbox row becomes when sent.
    fn outgoing(
        &self,
        store: &Store,
        item: &OutboxItem,
    ) -> Result<Result<Outgoing, DeliveryError>, StoreError> {
        if item.kind == OutboxKind::Digest {
            return Ok(serde_json::from_str::<Digest>(&item.payload)
                .map(|d| Outgoing::Digest(Box::new(d)))
                .map_err(|e| {
                    DeliveryError::permanent(format!("stored digest cannot be read: {e}"))
                }));
        }
        let alert = match serde_json::from_str::<Alert>(&item.payload) {
            Ok(alert) => alert,
            Err(error) => {
                return Ok(Err(DeliveryError::permanent(format!(
                    "stored alert cannot be read: {error}"
                ))));
            }
        };
        let also_reported_by = store
            .duplicates_of(&item.key)?
            .iter()
            .filter_map(|d| serde_json::from_str::<Alert>(&d.payload).ok())
            .map(|a| Outlet::of(&a))
            .filter(|o| o.feed != alert.feed.name)
            .collect();
        let thread_root = match &item.thread_of {
            Some(first) => {
                // The first alert may itself have been folded into another outlet's report:
                // the update threads under the message the user actually received.
                let mut root = store.outbox_item(first)?;
                if let Some(of) = root.as_ref().and_then(|r| r.duplicate_of.clone()) {
                    root = store.outbox_item(&of)?.or(root);
                }
                root.and_then(|r| serde_json::from_str::<Alert>(&r.payload).ok())
            }
            None => None,
        };
        Ok(Ok(Outgoing::Alert(Box::new(AlertMessage {
            alert,
            also_reported_by,
            thread_root,
            test: false,
        }))))
    }

    /// Delivers a batch of due items: items for file destinations together (see
    /// [`Deliverer::deliver_to_files`]), every other item on its own, in order.
    async fn deliver_batch(
        &self,
        store: &Store,
        due: Vec<OutboxItem>,
        report: &mut DeliveryReport,
    ) -> Result<(), StoreError> {
        let (for_files, others): (Vec<_>, Vec<_>) = due
            .into_iter()
            .partition(|item| matches!(self.sinks.get(&item.destination), Some(Sink::File(_))));
        for item in others {
            let Some((item, outgoing)) = self.prepare(store, item, report)? else {
                continue;
            };
            let outcome = match outgoing {
                Ok(outgoing) => self.send(store, &item, &outgoing).await?,
                Err(error) => Err(error),
            };
            self.settle(store, &item, outcome, report)?;
        }
        self.deliver_to_files(store, for_files, report).await
    }

    /// Alerts for file destinations are claimed in one transaction, appended together and
    /// made durable with one sync per file (a sync costs as much as hundreds of appends),
    /// then recorded as sent in one transaction. The claims are still written before
    /// anything is appended, and a failed append leaves every alert of its file queued.
    async fn deliver_to_files(
        &self,
        store: &Store,
        items: Vec<OutboxItem>,
        report: &mut DeliveryReport,
    ) -> Result<(), StoreError> {
        let mut claimable = Vec::with_capacity(items.len());
        for item in items {
            if !self.record_unrecorded(store, &item, report)? {
                claimable.push(item);
            }
        }
        let now = self.now();
        let claims: Vec<(i64, Timestamp)> = claimable
            .iter()
            .map(|item| (item.id, self.retry_at(now, item.attempts, None)))
            .collect();
        let claimed = store.claim_attempts(&claims)?;
        let mut by_file: BTreeMap<String, Vec<(OutboxItem, Vec<u8>)>> = BTreeMap::new();
        for (item, claimed) in claimable.into_iter().zip(claimed) {
            if !claimed {
                continue;
            }
            match self.outgoing(store, &item)? {
                Ok(Outgoing::Alert(message)) => match FileSink::line(&message.alert) {
                    Ok(line) => by_file
                        .entry(item.destination.clone())
                        .or_default()
                        .push((item, line)),
                    Err(error) => self.settle(store, &item, Err(error), report)?,
                },
                Ok(other) => {
                    let outcome = self.send(store, &item, &other).await?;
                    self.settle(store, &item, outcome, report)?;
                }
                Err(error) => self.settle(store, &item, Err(error), report)?,
            }
        }
        for (destination, group) in by_file {
            let Some(Sink::File(sink)) = self.sinks.get(&destination) else {
                continue; // only file destinations were grouped
            };
            let lines = group
                .iter()
                .flat_map(|(_, line)| line.iter().copied())
                .collect();
            match sink.append_lines(lines).await {
                Ok(receipt) => {
                    let items: Vec<&OutboxItem> = group.iter().map(|(item, _)| item).collect();
                    self.settle_sent(store, &items, &receipt, report)?;
                }
                Err(error) => {
                    for (item, _) in &group {
                        self.settle(store, item, Err(error.clone()), report)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Records an item this process delivered earlier while the database refused the
    /// record; `false` when the item is not one of those.
    fn record_unrecorded(
        &self,
        store: &Store,
        item: &OutboxItem,
        report: &mut DeliveryReport,
    ) -> Result<bool, StoreError> {
        let Some(delivered_at) = self.take_unrecorded(item.id) else {
            return Ok(false);
        };
        if let Err(error) = store.mark_sent(item.id, delivered_at) {
            self.remember_unrecorded(item.id, delivered_at);
            return Err(error);
        }
        tracing::info!(destination = %item.destination, key = %item.key,
            "recorded a delivery made while the state database refused writes");
        report.sent += 1;
        Ok(true)
    }

    /// Claims an item for one attempt and builds what to send. `None` when there is
    /// nothing to send: another worker claimed it, or it was delivered before and only its
    /// record was missing (recorded now).
    fn prepare(
        &self,
        store: &Store,
        item: OutboxItem,
        report: &mut DeliveryReport,
    ) -> Result<Option<Prepared>, StoreError> {
        if self.record_unrecorded(store, &item, report)? {
            return Ok(None);
        }
        // The retry is planned before the attempt is made (see `Store::claim_attempt`): if
        // the database cannot record that, nothing is sent.
        let planned_retry = self.retry_at(self.now(), item.attempts, None);
        if !store.claim_attempt(item.id, planned_retry)? {
            return Ok(None);
        }
        let outgoing = self.outgoing(store, &item)?;
        Ok(Some((item, outgoing)))
    }

    /// One attempt to send a prepared item through its destination's sink.
    async fn send(
        &self,
        store: &Store,
        item: &OutboxItem,
        outgoing: &Outgoing,
    ) -> Result<Result<Receipt, DeliveryError>, StoreError> {
        Ok(match self.sinks.get(&item.destination) {
            Some(sink) => match self.disabled(store, &item.destination, sink)? {
                Some(error) => Err(error),
                None => sink.deliver(outgoing).await,
            },
            None => Err(DeliveryError::temporary(format!(
                "destination {:?} is no longer configured",
                item.destination
            ))),
        })
    }

    /// Records delivered items as sent, in one transaction.
    fn settle_sent(
        &self,
        store: &Store,
        items: &[&OutboxItem],
        receipt: &Receipt,
        report: &mut DeliveryReport,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let ids: Vec<i64> = items.iter().map(|item| item.id).collect();
        if let Err(error) = store.mark_all_sent(&ids, now) {
            for item in items {
                // Delivered, but not recorded: never send it again from this process.
                self.remember_unrecorded(item.id, now);
                tracing::error!(destination = %item.destination, key = %item.key,
                    "alert delivered, but the state database refused to record it; it will be recorded (not sent again) once writes succeed");
            }
            return Err(error);
        }
        for item in items {
            tracing::info!(destination = %item.destination, rule = %item.rule, key = %item.key,
                answer = %receipt.answer, "{} delivered", if item.kind == OutboxKind::Digest { "digest" } else { "alert" });
            report.sent += 1;
            crate::observe::delivery(&item.destination, "sent");
            if item.kind == OutboxKind::Digest {
                crate::observe::digest_sent(&item.destination);
            }
        }
        Ok(())
    }

    /// Records the outcome of an attempt: sent, retried later, or dead.
    fn settle(
        &self,
        store: &Store,
        item: &OutboxItem,
        outcome: Result<Receipt, DeliveryError>,
        report: &mut DeliveryReport,
    ) -> Result<(), StoreError> {
        let now = self.now();
        match outcome {
            Ok(receipt) => self.settle_sent(store, &[item], &receipt, report)?,
            Err(error) => {
                if error.gone
                    && let Some(Sink::Webhook(hook)) = self.sinks.get(&item.destination)
                {
                    store.disable_endpoint(
                        &item.destination,
                        &hook.target_id(),
                        &error.message,
                        now,
                    )?;
                    tracing::error!(destination = %item.destination, error = %error.message,
                        "the endpoint answered 410 Gone: destination disabled; its alerts are marked dead until its url is changed");
                }
                let age = Duration::from_millis(
                    (now.as_millisecond() - item.created.as_millisecond()).max(0) as u64,
                );
                let max_age = self.settings.max_age.get();
                if error.permanent || age >= max_age {
                    store.mark_dead(item.id, &error.message, now)?;
                    tracing::error!(
                        destination = %item.destination, rule = %item.rule, key = %item.key,
                        attempts = item.attempts + 1, error = %error.message,
                        "alert is dead: giving up after {}", if error.permanent { "a permanent failure".to_string() } else { format!("{age:?}") }
                    );
                    report.dead += 1;
                    crate::observe::delivery(&item.destination, "dead");
                } else {
                    let delay = self.retry_delay(item.attempts, error.retry_after);
                    let next = now
                        .checked_add(SignedDuration::try_from(delay).unwrap_or_default())
                        .unwrap_or(now);
                    // When this write fails, the retry planned by the claim stands.
                    store.mark_retry(item.id, &error.message, next)?;
                    tracing::warn!(
                        destination = %item.destination, rule = %item.rule, key = %item.key,
                        attempts = item.attempts + 1, retry_in = ?delay, error = %error.message,
                        "delivery failed; will retry"
                    );
                    report.retried += 1;
                    crate::observe::delivery(&item.destination, "retry");
                }
            }
        }
        Ok(())
    }

    /// The error for a webhook destination disabled by a 410, unless its URL was changed
    /// since (then it is enabled again).
    fn disabled(
        &self,
        store: &Store,
        destination: &str,
        sink: &Sink,
    ) -> Result<Option<DeliveryError>, StoreError> {
        let Sink::Webhook(hook) = sink else {
            return Ok(None);
        };
        let Some((target, reason, since)) = store.disabled_endpoint(destination)? else {
            return Ok(None);
        };
        if target != hook.target_id() {
            store.enable_endpoint(destination)?;
            tracing::info!(
                destination,
                "webhook URL changed since it answered 410; enabled again"
            );
            return Ok(None);
        }
        Ok(Some(DeliveryError::permanent(format!(
            "destination disabled since {since}: {reason}; change its url to enable it again"
        ))))
    }

    fn take_unrecorded(&self, id: i64) -> Option<Timestamp> {
        self.unrecorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
    }

    fn remember_unrecorded(&self, id: i64, delivered_at: Timestamp) {
        self.unrecorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, delivered_at);
    }

    /// When to try again after `attempts` failures, from `now`.
    fn retry_at(&self, now: Timestamp, attempts: u32, retry_after: Option<Duration>) -> Timestamp {
        let delay = self.retry_delay(attempts, retry_after);
        now.checked_add(SignedDuration::try_from(delay).unwrap_or_default())
            .unwrap_or(now)
    }

    /// Delay before the next attempt after `attempts` failures (see [`retry_delay`]).
    pub fn retry_delay(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        retry_delay_with(
            attempts,
            retry_after,
            self.settings.retry_base.get(),
            self.settings.retry_max.get(),
            self.settings.retry_after_max.get(),
        )
    }

    /// When the worker has something to do next: a retry or a digest slot.
    pub fn next_wakeup(&self, store: &Store) -> Option<Timestamp> {
        let retry = store.next_due_alert().ok().flatten();
        let digest = self
            .destinations
            .iter()
            .filter_map(|(name, d)| match d {
                DestinationConfig::Email(email) => email.digest.as_ref().map(|s| (name, s)),
                _ => None,
            })
            .filter_map(|(name, settings)| {
                let last = store.digest_last_slot(name).ok().flatten()?;
                Some(settings.schedule.next_after(last, &settings.time_zone))
            })
            .min();
        match (retry, digest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Delay before the next attempt after `attempts` failures with the default settings:
/// exponential from 30 s, capped at one hour, with ±20 % jitter; never shorter than the
/// receiver's `Retry-After` (itself capped at 6 h).
pub fn retry_delay(attempts: u32, retry_after: Option<Duration>) -> Duration {
    let defaults = DeliverySettings::default();
    retry_delay_with(
        attempts,
        retry_after,
        defaults.retry_base.get(),
        defaults.retry_max.get(),
        defaults.retry_after_max.get(),
    )
}

fn retry_delay_with(
    attempts: u32,
    retry_after: Option<Duration>,
    base: Duration,
    cap: Duration,
    retry_after_cap: Duration,
) -> Duration {
    let exponential = base.saturating_mul(1u32 << attempts.min(16));
    let capped = exponential.min(cap);
    let jitter = 0.8 + fastrand::f64() * 0.4;
    let jittered = capped.mul_f64(jitter);
    match retry_after {
        Some(wait) => jittered.max(wait.min(retry_after_cap)),
        None => jittered,
    }
}

/// Runs delivery until `shutdown` fires: delivers what is due (and freezes digests that fell
/// due), then sleeps until the next retry or digest slot, or until new alerts are announced
/// through `wake`.
pub async fn run_worker(
    deliverer: Arc<Deliverer>,
    store: Arc<Store>,
    wake: Arc<Notify>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    // Passes failed in a row: a state database that refuses writes must not turn the
    // worker into a busy loop re-reading alerts that are due but cannot be settled.
    let mut failures: u32 = 0;
    loop {
        if *shutdown.borrow() {
            return;
        }
        match deliverer.deliver_due(&store).await {
            Ok(_) if failures > 0 => {
                tracing::info!(
                    failed_passes = failures,
                    "delivery resumed: the state database accepts writes again"
                );
                failures = 0;
            }
            Ok(_) => {}
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::error!(
                    retry_in = ?failure_backoff(failures),
                    "delivery pass failed: {}; nothing is lost, the alerts stay queued",
                    store.describe_error(&error)
                );
            }
        }
        let sleep = if failures > 0 {
            failure_backoff(failures)
        } else {
            match deliverer.next_wakeup(&store) {
                Some(at) => {
                    let millis = at.as_millisecond() - deliverer.now().as_millisecond();
                    Duration::from_millis(millis.clamp(0, IDLE.as_millis() as i64) as u64)
                }
                None => IDLE,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = wake.notified() => {
                if !wait_for_quiet(&wake, &mut shutdown, WAKE_QUIET, WAKE_GATHER_AT_MOST).await {
                    return;
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// After a wake-up: waits until `wake` has been silent for `quiet`, or `at_most` has passed
/// since the call. `false` when shutdown was asked for meanwhile.
async fn wait_for_quiet(
    wake: &Notify,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
    quiet: Duration,
    at_most: Duration,
) -> bool {
    let deadline = tokio::time::Instant::now() + at_most;
    loop {
        let until = (tokio::time::Instant::now() + quiet).min(deadline);
        tokio::select! {
            _ = tokio::time::sleep_until(until) => return true,
            _ = wake.notified() => {}
            _ = shutdown.changed() => return false,
        }
        if tokio::time::Instant::now() >= deadline {
            return true;
        }
    }
}

/// Wait after `failures` failed delivery passes in a row: 1 s, doubling, at most [`IDLE`].
fn failure_backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(6)).min(IDLE)
}

/// One line saying where a destination delivers, for `check` and `deliver-test` (never a
/// secret).
pub fn describe(destination: &DestinationConfig) -> String {
    use crate::config::EmailTransport;
    match destination {
        DestinationConfig::File(file) => format!(
            "file {}",
            file.path
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| file::DEFAULT_FILE.into())
        ),
        DestinationConfig::Email(email) => {
            let transport = match &email.transport {
                EmailTransport::Smtp(smtp) => format!(
                    "smtp {}:{} ({:?}{})",
                    smtp.host,
                    smtp.port,
                    smtp.tls,
                    if smtp.username.is_some() {
                        ", AUTH"
                    } else {
                        ""
                    }
                )
                .to_lowercase(),
                EmailTransport::Sendmail { command } => format!(
                    "sendmail {}",
                    command
                        .as_deref()
                        .map(|c| c.display().to_string())
                        .unwrap_or_else(|| "sendmail".into())
                ),
                EmailTransport::Maildir { path } => format!("maildir {}", path.display()),
            };
            let digest = match &email.digest {
                Some(d) => format!("; digest {} ({})", d.schedule, d.time_zone_name),
                None => String::new(),
            };
            format!(
                "email to {} via {transport}; {} delivery{digest}",
                email
                    .to
                    .iter()
                    .chain(&email.cc)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                email.delivery.as_str()
            )
        }
        DestinationConfig::Webhook(hook) => {
            let host = url::Url::parse(&hook.url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_default();
            format!(
                "webhook {} to {host}{}",
                hook.preset.as_str(),
                if hook.secret.is_some() {
                    " (signed)"
                } else {
                    ""
                }
            )
        }
    }
}

/// A sample alert for `newshound deliver-test`: realistic content, a fresh id (so receivers
/// that de-duplicate do not swallow a second test).
pub fn sample_alert(destination: &str, now: Timestamp) -> AlertMessage {
    let alert = Alert {
        schema: alerts::ALERT_SCHEMA_VERSION,
        id: format!("nh_test_{}", now.as_millisecond()),
        rule: "NATO Secretary General on peace talks".into(),
        destination: destination.to_string(),
        story: "https://newshound.invalid/test".into(),
        feed: AlertFeed {
            name: "newshound test".into(),
            url: "https://newshound.invalid/feed.xml".into(),
        },
        article: AlertArticle {
            entry_key: "test".into(),
            title: Some("Test alert: Rutte says peace talks must include Ukraine".into()),
            link: Some("https://newshound.invalid/test".into()),
            byline: Some("newshound".into()),
            published: Some(now),
            excerpt: "This is a sample alert sent by `newshound deliver-test` to check that the destination works. Real alerts look the same.".into(),
        },
        evidence: vec![Evidence::Term {
            field: "title".into(),
            term: "Rutte".into(),
            snippet: "Test alert: [[Rutte]] says peace talks must include Ukraine".into(),
        }],
        created: now,
        update_of: None,
        new_evidence: Vec::new(),
        sketch: Vec::new(),
    };
    AlertMessage {
        alert,
        also_reported_by: vec![Outlet {
            feed: "Another outlet".into(),
            title: Some("Rutte: Ukraine must be at the table".into()),
            link: Some("https://newshound.invalid/other".into()),
        }],
        thread_root: None,
        test: true,
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

    /// Wakes `wake` every 20 ms until `until` (in paused time), then stops.
    fn keep_waking(wake: &Arc<Notify>, until: Duration) {
        let wake = wake.clone();
        tokio::spawn(async move {
            let every = Duration::from_millis(20);
            let end = tokio::time::Instant::now() + until;
            while tokio::time::Instant::now() + every <= end {
                tokio::time::sleep(every).await;
                wake.notify_one();
            }
        });
    }

    #[tokio::test(start_paused = true)]
    async fn a_woken_worker_waits_for_the_burst_to_end() {
        let wake = Arc::new(Notify::new());
        let (_stop, mut shutdown) = tokio::sync::watch::channel(false);
        let quiet = Duration::from_millis(50);
        // Wake-ups every 20 ms for 200 ms: the pass comes 50 ms after the last one.
        keep_waking(&wake, Duration::from_millis(200));
        let start = tokio::time::Instant::now();
        assert!(wait_for_quiet(&wake, &mut shutdown, quiet, Duration::from_secs(1)).await);
        assert_eq!(start.elapsed(), Duration::from_millis(250));
        // No wake-up at all: the pass comes after `quiet`.
        let start = tokio::time::Instant::now();
        assert!(wait_for_quiet(&wake, &mut shutdown, quiet, Duration::from_secs(1)).await);
        assert_eq!(start.elapsed(), quiet);
    }

    #[tokio::test(start_paused = true)]
    async fn wake_ups_that_never_stop_do_not_hold_delivery_back() {
        let wake = Arc::new(Notify::new());
        let (_stop, mut shutdown) = tokio::sync::watch::channel(false);
        keep_waking(&wake, Duration::from_secs(5));
        let start = tokio::time::Instant::now();
        let at_most = Duration::from_secs(1);
        assert!(wait_for_quiet(&wake, &mut shutdown, Duration::from_millis(50), at_most).await);
        assert_eq!(start.elapsed(), at_most);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_the_wait_at_once() {
        let wake = Arc::new(Notify::new());
        let (stop, mut shutdown) = tokio::sync::watch::channel(false);
        keep_waking(&wake, Duration::from_secs(5));
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(130)).await;
            let _ = stop.send(true);
        });
        let start = tokio::time::Instant::now();
        let quiet = Duration::from_millis(50);
        assert!(!wait_for_quiet(&wake, &mut shutdown, quiet, Duration::from_secs(1)).await);
        assert_eq!(start.elapsed(), Duration::from_millis(130));
    }

    #[test]
    fn failed_passes_back_off_to_the_idle_wait() {
        assert_eq!(failure_backoff(1), Duration::from_secs(1));
        assert_eq!(failure_backoff(3), Duration::from_secs(4));
        assert_eq!(failure_backoff(1000), IDLE);
    }

    #[test]
    fn configured_delays_are_used() {
        let fast = retry_delay_with(
            3,
            None,
            Duration::from_millis(10),
            Duration::from_millis(50),
            Duration::from_secs(1),
        );
        assert!(fast <= Duration::from_millis(60), "{fast:?}");
    }
}
