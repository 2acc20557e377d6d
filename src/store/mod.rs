//! State: one SQLite file (WAL mode) holding feed state, the seen-entries set, rule matches
//! and the alert outbox. This module owns every SQL statement of the program.
//!
//! The unit of consistency is one poll of one feed: its new validators, the entries it
//! contained and the alerts it produced are written in one transaction by
//! [`Store::record_poll`], so a crash at any point either keeps all of it or none (and the
//! next poll redoes the work, since the old validators are still in place).

mod delivery;
mod faults;
mod inspect;
mod recent;
mod schema;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

pub use delivery::StoryRow;
pub use faults::StorageFault;

/// How stale an entry's `last_seen_ms` may get while the entry is still in its feed. Most
/// entries of a changed feed were already in its previous document; rewriting their row (and
/// the `last_seen` index) on every poll was most of the cost of recording a poll. An entry
/// still in the latest document therefore has `last_seen_ms >= last_changed_ms - this`,
/// which is what [`Store::purge_seen`] relies on.
const LAST_SEEN_GRANULARITY_MS: i64 = 3_600_000;

/// Write-ahead log pages after which a commit checkpoints by itself.
const AUTOCHECKPOINT_PAGES: i64 = 10_000;

/// What an emptied write-ahead log is cut back to when it is next written (the log's usual
/// size before the automatic checkpoint was deferred: 1,000 pages).
const LOG_SIZE_LIMIT_BYTES: i64 = 4 * 1024 * 1024;

/// Name of the database file inside the state directory.
pub const DATABASE_FILE: &str = "newshound.db";

/// Errors of the state store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state directory or database could not be opened or created.
    #[error("cannot open state database {path}: {message}")]
    Open {
        /// The database path.
        path: PathBuf,
        /// What went wrong, with a hint.
        message: String,
    },
    /// The database was written by a newer build.
    #[error(
        "state database {path} has schema version {found}, but this build of newshound knows only up to {known}; it was written by a newer version — run that version, or restore a backup made with this one"
    )]
    TooNew {
        /// The database path.
        path: PathBuf,
        /// Version found in the file.
        found: i64,
        /// Highest version this build knows.
        known: i64,
    },
    /// A statement failed.
    #[error("state database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// Result type of the store.
pub type Result<T> = std::result::Result<T, StoreError>;

/// What is remembered about a feed between polls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedState {
    /// The configured URL (the feed's identity).
    pub url: String,
    /// The feed's name when last polled.
    pub name: String,
    /// The URL actually polled after a permanent redirect.
    pub effective_url: Option<String>,
    /// `ETag` validator of the last 200 response.
    pub etag: Option<String>,
    /// `Last-Modified` validator of the last 200 response.
    pub last_modified: Option<String>,
    /// When the feed is due next.
    pub next_poll: Timestamp,
    /// When it was last tried.
    pub last_attempt: Option<Timestamp>,
    /// When a poll last succeeded (200 or 304).
    pub last_success: Option<Timestamp>,
    /// When the document last changed (200 parsed).
    pub last_changed: Option<Timestamp>,
    /// When an entry never seen before last appeared.
    pub last_new_entry: Option<Timestamp>,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// Text of the last error (cleared on success).
    pub last_error: Option<String>,
    /// HTTP status of the last response.
    pub last_status: Option<u16>,
    /// Number of distinct entries seen so far.
    pub entries_seen: u64,
}

impl FeedState {
    /// State for a feed never polled before.
    pub fn new(url: &str, name: &str, now: Timestamp) -> Self {
        Self {
            url: url.to_string(),
            name: name.to_string(),
            effective_url: None,
            etag: None,
            last_modified: None,
            next_poll: now,
            last_attempt: None,
            last_success: None,
            last_changed: None,
            last_new_entry: None,
            consecutive_failures: 0,
            last_error: None,
            last_status: None,
            entries_seen: 0,
        }
    }

    /// Whether the feed was never polled successfully (first-poll backfill applies).
    pub fn is_new(&self) -> bool {
        self.last_changed.is_none()
    }

    /// Whether this state differs from `earlier` only in when things happened again (the
    /// last attempt, success or change, the next poll): the state of a poll answered 304.
    /// Becoming not new, or any validator, failure or name changing, is more than that.
    pub fn same_but_times(&self, earlier: &FeedState) -> bool {
        self.url == earlier.url
            && self.name == earlier.name
            && self.effective_url == earlier.effective_url
            && self.etag == earlier.etag
            && self.last_modified == earlier.last_modified
            && self.last_attempt.is_some() == earlier.last_attempt.is_some()
            && self.last_success.is_some() == earlier.last_success.is_some()
            && self.last_changed.is_some() == earlier.last_changed.is_some()
            && self.last_new_entry == earlier.last_new_entry
            && self.consecutive_failures == earlier.consecutive_failures
            && self.last_error == earlier.last_error
            && self.last_status == earlier.last_status
    }
}

/// An entry present in the document of a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenEntry {
    /// Stable entry key.
    pub key: String,
    /// Content fingerprint.
    pub fingerprint: String,
    /// Publication date, when known.
    pub published: Option<Timestamp>,
}

/// What the store knows of an entry it has seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownEntry {
    /// Content fingerprint when last seen.
    pub fingerprint: String,
    last_seen_ms: i64,
}

impl KnownEntry {
    /// Whether recording the entry seen again at `at` with `fingerprint` would change
    /// nothing: same content, and its last-seen time recent enough (see
    /// `LAST_SEEN_GRANULARITY_MS`). Such entries are left out of a [`PollRecord`], which
    /// spares two statements for each of them; most entries of a changed feed are these.
    pub fn is_current(&self, fingerprint: &str, at: Timestamp) -> bool {
        self.fingerprint == fingerprint && self.last_seen_ms >= ms(at) - LAST_SEEN_GRANULARITY_MS
    }
}

/// A rule that matched an entry in this poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchRecord {
    /// Rule name.
    pub rule: String,
    /// Entry key.
    pub entry_key: String,
    /// Story key of the entry.
    pub story: String,
    /// Entry fingerprint at the time of the match.
    pub fingerprint: String,
}

/// What an outbox row carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutboxKind {
    /// A first alert for a story.
    #[default]
    Alert,
    /// New evidence for a story already alerted (threads under the first alert).
    Update,
    /// A digest of many alerts.
    Digest,
}

impl OutboxKind {
    fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Alert => "alert",
            OutboxKind::Update => "update",
            OutboxKind::Digest => "digest",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "update" => OutboxKind::Update,
            "digest" => OutboxKind::Digest,
            _ => OutboxKind::Alert,
        }
    }
}

/// An alert to put in the outbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewAlert {
    /// Idempotency key (rule + story + destination); an existing key is not queued again.
    pub key: String,
    /// Destination name.
    pub destination: String,
    /// Rule name.
    pub rule: String,
    /// Story key.
    pub story: String,
    /// The alert as JSON.
    pub payload: String,
    /// What the row carries.
    pub kind: OutboxKind,
    /// For an update: the key of the first alert of the story.
    pub thread_of: Option<String>,
    /// Near-duplicate sketch of the article text (see `alerts::similar`).
    pub sketch: Vec<u64>,
}

/// Everything one poll of one feed changes, written in one transaction.
#[derive(Debug, Clone)]
pub struct PollRecord {
    /// The feed's state after the poll.
    pub state: FeedState,
    /// When the poll happened.
    pub at: Timestamp,
    /// Entries of the fetched document that are new, changed or due a last-seen refresh
    /// (entries [`KnownEntry::is_current`] may be left out; empty for 304 and failures).
    pub entries: Vec<SeenEntry>,
    /// Matches found.
    pub matches: Vec<MatchRecord>,
    /// Alerts to queue.
    pub alerts: Vec<NewAlert>,
}

impl PollRecord {
    /// Whether writing this poll records nothing but times (no entry, match or alert, and
    /// a state [`FeedState::same_but_times`] as `before`), so it can wait to be written.
    pub fn changes_only_times(&self, before: &FeedState) -> bool {
        self.entries.is_empty()
            && self.matches.is_empty()
            && self.alerts.is_empty()
            && self.state.same_but_times(before)
    }
}

/// Delivery status of an outbox item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Waiting to be (re)tried.
    Queued,
    /// Delivered.
    Sent,
    /// Given up after the maximum age; kept for inspection.
    Dead,
    /// Routed to the digest only: never sent on its own.
    Held,
    /// The same story as an earlier alert: listed there ("also reported by"), not sent.
    Duplicate,
}

impl OutboxStatus {
    fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Queued => "queued",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Dead => "dead",
            OutboxStatus::Held => "held",
            OutboxStatus::Duplicate => "duplicate",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "sent" => OutboxStatus::Sent,
            "dead" => OutboxStatus::Dead,
            "held" => OutboxStatus::Held,
            "duplicate" => OutboxStatus::Duplicate,
            _ => OutboxStatus::Queued,
        }
    }
}

/// An alert in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Row id.
    pub id: i64,
    /// Idempotency key.
    pub key: String,
    /// Destination name.
    pub destination: String,
    /// Rule name.
    pub rule: String,
    /// Story key.
    pub story: String,
    /// The alert as JSON.
    pub payload: String,
    /// Delivery status.
    pub status: OutboxStatus,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// When it was queued.
    pub created: Timestamp,
    /// Last delivery error.
    pub last_error: Option<String>,
    /// What the row carries.
    pub kind: OutboxKind,
    /// For an update: the key of the first alert of the story.
    pub thread_of: Option<String>,
    /// For a duplicate: the key of the alert it was folded into.
    pub duplicate_of: Option<String>,
    /// How the row was routed (`None` until the delivery worker routed it).
    pub route: Option<crate::config::Routing>,
    /// For an alert routed to a digest: the key of the digest that carried it.
    pub digest_key: Option<String>,
    /// Near-duplicate sketch of the article text.
    pub sketch: Vec<u64>,
}

/// Outbox counts for one destination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Waiting.
    pub queued: u64,
    /// Delivered.
    pub sent: u64,
    /// Given up.
    pub dead: u64,
    /// Waiting for the digest (digest-only routing).
    pub held: u64,
    /// Folded into an earlier alert for the same story.
    pub duplicates: u64,
    /// Creation time of the oldest queued alert.
    pub oldest_queued: Option<Timestamp>,
}

/// The state database.
pub struct Store {
    /// A second connection for the reads a poll makes while it runs (seen entries, earlier
    /// matches): in WAL mode it reads the last committed state while the writer commits
    /// other polls, so a poll task never waits (blocking a runtime thread) for a write.
    /// `None` for an in-memory database, where a second connection would be another
    /// database; reads then go to the writer.
    reader: Option<Mutex<Connection>>,
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Each feed's latest document as the database holds it, so a poll's seen-entry lookup
    /// reads only the keys that are not in it.
    recent: recent::RecentEntries,
}

/// A row of `key, fingerprint, last_seen_ms` from `entries`.
fn known_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, KnownEntry)> {
    Ok((
        row.get(0)?,
        KnownEntry {
            fingerprint: row.get(1)?,
            last_seen_ms: row.get(2)?,
        },
    ))
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn from_ms(v: i64) -> Timestamp {
    Timestamp::from_millisecond(v).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn opt_from_ms(v: Option<i64>) -> Option<Timestamp> {
    v.map(from_ms)
}

impl Store {
    /// Opens (creating if needed) the database in `state_dir`.
    pub fn open_dir(state_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(state_dir).map_err(|e| StoreError::Open {
            path: state_dir.join(DATABASE_FILE),
            message: format!(
                "cannot create state directory {}: {e} (set `state_dir` to a writable directory)",
                state_dir.display()
            ),
        })?;
        let store = Self::open(&state_dir.join(DATABASE_FILE))?;
        // Whoever opens the state directory means to write: find out now, not at the first
        // poll (a dry run uses `open` and may read a read-only database).
        store.ensure_writable()?;
        Ok(store)
    }

    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let open_error = |e: rusqlite::Error| StoreError::Open {
            path: path.to_path_buf(),
            message: explain_open_error_in(&e, path),
        };
        let conn = Connection::open(path).map_err(open_error)?;
        Self::init(conn, path.to_path_buf())
    }

    /// An in-memory database (tests, dry runs without a state file).
    pub fn open_in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?, PathBuf::from(":memory:"))
    }

    fn init(conn: Connection, path: PathBuf) -> Result<Self> {
        let open_error = |e: rusqlite::Error| StoreError::Open {
            path: path.clone(),
            message: explain_open_error_in(&e, &path),
        };
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_error)?;
        // Room for every statement the store prepares repeatedly (the default is 16), so none
        // is parsed again on each poll.
        conn.set_prepared_statement_cache_capacity(64);
        // Reading the header first turns "not a database" into a clear error before any
        // write is attempted on a file that is not ours.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(open_error)?;
        let known = schema::MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                path,
                found: version,
                known,
            });
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_error)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_error)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_error)?;
        // Checkpoints copy the write-ahead log into the database; by default one runs inside
        // the commit that takes the log past 1,000 pages, in the middle of a burst of
        // polls. The daemon checkpoints when its writes pause (`checkpoint`); this is the
        // bound for when they never do (~40 MB of log).
        conn.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)
            .map_err(open_error)?;
        // A log that grew in a burst keeps its size on disk unless told otherwise; small
        // servers should not carry up to 40 MB of an emptied log.
        conn.pragma_update(None, "journal_size_limit", LOG_SIZE_LIMIT_BYTES)
            .map_err(open_error)?;
        let mut store = Self {
            reader: None,
            conn: Mutex::new(conn),
            path,
            recent: recent::RecentEntries::default(),
        };
        store.migrate(version)?;
        store.reader = store.open_reader().map(Mutex::new);
        Ok(store)
    }

    /// The reading connection, or `None` when there can be none (in memory) or it cannot be
    /// opened; reads then share the writer's connection, as they did before.
    fn open_reader(&self) -> Option<Connection> {
        if self.path == Path::new(":memory:") {
            return None;
        }
        // Like the writer, without creating the file: SQLite itself falls back to reading
        // only where the file is not writable (a dry run on someone else's state).
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let reader = Connection::open_with_flags(&self.path, flags).ok()?;
        reader
            .busy_timeout(std::time::Duration::from_secs(10))
            .ok()?;
        // A safeguard: this connection never writes.
        reader.pragma_update(None, "query_only", true).ok()?;
        reader.set_prepared_statement_cache_capacity(16);
        Some(reader)
    }

    fn migrate(&mut self, from: i64) -> Result<()> {
        let path = self.path.clone();
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        for (index, sql) in schema::MIGRATIONS.iter().enumerate().skip(from as usize) {
            let tx = conn.transaction().map_err(|e| StoreError::Open {
                path: path.clone(),
                message: explain_open_error(&e),
            })?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (index + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Copies the write-ahead log into the database as far as readers allow, without
    /// waiting for them: for a pause in writing, so commits need not do it mid-burst.
    /// Returns the pages copied.
    pub fn checkpoint(&self) -> Result<i64> {
        let conn = self.conn();
        // (busy, pages in the log, pages copied); -1 when the database has no log.
        let copied: i64 = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(2))?;
        Ok(copied.max(0))
    }

    /// The database file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-done transaction behind
        // (rusqlite rolls back on drop), so the connection is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The connection for a poll's reads (the `reader` field): committed state only.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        match &self.reader {
            Some(reader) => reader.lock().unwrap_or_else(|p| p.into_inner()),
            None => self.conn(),
        }
    }

    /// Whether the database answers (for readiness checks).
    pub fn ping(&self) -> Result<()> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    /// The state of every feed ever polled, by configured URL.
    pub fn feed_states(&self) -> Result<HashMap<String, FeedState>> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT url, name, effective_url, etag, last_modified, next_poll_ms, last_attempt_ms,
                    last_success_ms, last_changed_ms, last_new_entry_ms, consecutive_failures,
                    last_error, last_status, entries_seen
             FROM feeds",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(FeedState {
                url: r.get(0)?,
                name: r.get(1)?,
                effective_url: r.get(2)?,
                etag: r.get(3)?,
                last_modified: r.get(4)?,
                next_poll: from_ms(r.get(5)?),
                last_attempt: opt_from_ms(r.get(6)?),
                last_success: opt_from_ms(r.get(7)?),
                last_changed: opt_from_ms(r.get(8)?),
                last_new_entry: opt_from_ms(r.get(9)?),
                consecutive_failures: r.get(10)?,
                last_error: r.get(11)?,
                last_status: r.get(12)?,
                entries_seen: r.get::<_, i64>(13)? as u64,
            })
        })?;
        let mut states = HashMap::new();
        for row in rows {
            let state = row?;
            states.insert(state.url.clone(), state);
        }
        Ok(states)
    }

    /// The entries seen in a feed, by key.
    pub fn seen_entries(&self, feed_url: &str) -> Result<HashMap<String, KnownEntry>> {
        let conn = self.reader();
        let mut statement = conn.prepare_cached(
            "SELECT key, fingerprint, last_seen_ms FROM entries WHERE feed_url = ?1",
        )?;
        let seen = statement
            .query_map([feed_url], known_entry)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(seen)
    }

    /// Which of `keys` were seen in a feed before, by key: a feed keeps up to the retention
    /// period's entries (thousands for a busy one), of which a document lists a few dozen,
    /// so only those are looked up — and of those only the ones not in the feed's previous
    /// document, which the store remembers (see `recent`). The answer becomes what is
    /// remembered of the feed.
    pub fn seen_among<'k>(
        &self,
        feed_url: &str,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<HashMap<String, KnownEntry>> {
        let keys: Vec<&str> = keys.into_iter().collect();
        let (mut known, unknown) = self.recent.lookup(feed_url, &keys);
        if !unknown.is_empty() {
            known.extend(self.seen_among_stored(feed_url, &unknown)?);
        }
        self.recent.replace(feed_url, &known);
        Ok(known)
    }

    /// The part of [`Store::seen_among`] that reads the database.
    fn seen_among_stored(
        &self,
        feed_url: &str,
        keys: &[&str],
    ) -> Result<HashMap<String, KnownEntry>> {
        // One statement for all keys, passed as a JSON array (SQLite's own JSON functions).
        let keys = serde_json::to_string(keys)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let conn = self.reader();
        // A join driven by the keys (CROSS JOIN keeps them the outer loop): one primary-key
        // seek each. `key IN (SELECT value FROM json_each(?2))` built a temporary index of
        // the keys first, on every call.
        let mut statement = conn.prepare_cached(
            "SELECT e.key, e.fingerprint, e.last_seen_ms
             FROM json_each(?2) AS asked CROSS JOIN entries AS e
             WHERE e.feed_url = ?1 AND e.key = asked.value",
        )?;
        let seen = statement
            .query_map([feed_url, &keys], known_entry)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(seen)
    }

    /// Rules that already matched an entry, with the fingerprint they matched.
    pub fn matches_of_entry(
        &self,
        feed_url: &str,
        entry_key: &str,
    ) -> Result<HashMap<String, String>> {
        let conn = self.reader();
        let mut statement = conn.prepare_cached(
            "SELECT rule, fingerprint FROM matches WHERE feed_url = ?1 AND entry_key = ?2",
        )?;
        let rows = statement.query_map([feed_url, entry_key], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let mut found = HashMap::new();
        for row in rows {
            let (rule, fingerprint) = row?;
            found.insert(rule, fingerprint);
        }
        Ok(found)
    }

    /// Writes everything one poll changed, in one transaction. Returns how many alerts were
    /// newly queued (an alert whose key is already in the outbox is not queued again).
    pub fn record_poll(&self, record: &PollRecord) -> Result<usize> {
        self.record_polls(&[record])
    }

    /// Writes several polls in one transaction (all or none of them), for polls that
    /// finished together: a commit costs more than a poll that found nothing new. Returns how
    /// many alerts were newly queued.
    pub fn record_polls(&self, records: &[&PollRecord]) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut queued = 0;
        let mut rows_changed = Vec::with_capacity(records.len());
        for record in records {
            let (alerts, changed) = write_poll(&tx, record)?;
            queued += alerts;
            rows_changed.push(changed);
        }
        tx.commit()?;
        drop(conn);
        // Only now is it what the database holds.
        for (record, changed) in records.iter().zip(rows_changed) {
            for (entry, changed) in record.entries.iter().zip(changed) {
                let now_holds = changed.then_some((entry.fingerprint.as_str(), ms(record.at)));
                self.recent
                    .written(&record.state.url, &entry.key, now_holds);
            }
        }
        Ok(queued)
    }

    /// Queues alerts outside of a poll (test deliveries, digests). Returns how many were new.
    pub fn enqueue(&self, alerts: &[NewAlert], now: Timestamp) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let queued = insert_alerts(&tx, alerts, ms(now))?;
        tx.commit()?;
        Ok(queued)
    }

    /// Queued alerts whose next attempt is due, oldest first.
    pub fn due_alerts(&self, now: Timestamp, limit: usize) -> Result<Vec<OutboxItem>> {
        let conn = self.conn();
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS}
             FROM outbox WHERE status = 'queued' AND route IS NOT NULL AND next_attempt_ms <= ?1
             ORDER BY next_attempt_ms, id LIMIT ?2"
        );
        let mut statement = conn.prepare_cached(&sql)?;
        let rows = statement.query_map(params![ms(now), limit as i64], outbox_item)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// When the next queued alert is due, if any is queued.
    pub fn next_due_alert(&self) -> Result<Option<Timestamp>> {
        let conn = self.conn();
        let next: Option<i64> = conn.query_row(
            "SELECT MIN(CASE WHEN route IS NULL THEN created_ms ELSE next_attempt_ms END)
             FROM outbox WHERE status = 'queued'",
            [],
            |r| r.get(0),
        )?;
        Ok(next.map(from_ms))
    }

    /// Marks an alert delivered.
    pub fn mark_sent(&self, id: i64, now: Timestamp) -> Result<()> {
        self.mark_all_sent(&[id], now)
    }

    /// Marks alerts delivered together (one transaction: all or none of them).
    pub fn mark_all_sent(&self, ids: &[i64], now: Timestamp) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut statement = tx.prepare_cached(
                "UPDATE outbox SET status = 'sent', done_ms = ?2, attempts = attempts + 1, last_error = NULL
                 WHERE id = ?1",
            )?;
            for id in ids {
                statement.execute(params![id, ms(now)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records a failed attempt and when to try again.
    pub fn mark_retry(&self, id: i64, error: &str, next_attempt: Timestamp) -> Result<()> {
        self.conn().execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_ms = ?3
             WHERE id = ?1",
            params![id, error, ms(next_attempt)],
        )?;
        Ok(())
    }

    /// Gives up on an alert: it stays in the outbox as dead, with its last error.
    pub fn mark_dead(&self, id: i64, error: &str, now: Timestamp) -> Result<()> {
        self.conn().execute(
            "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ?2, done_ms = ?3
             WHERE id = ?1",
            params![id, error, ms(now)],
        )?;
        Ok(())
    }

    /// Looks up one outbox item by its idempotency key.
    pub fn outbox_item(&self, key: &str) -> Result<Option<OutboxItem>> {
        let conn = self.conn();
        let item = conn
            .query_row(
                &format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE key = ?1"),
                [key],
                outbox_item,
            )
            .optional()?;
        Ok(item)
    }

    /// Outbox counts by destination.
    pub fn outbox_counts(&self) -> Result<HashMap<String, OutboxCounts>> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT destination, status, COUNT(*), MIN(created_ms) FROM outbox GROUP BY destination, status",
        )?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })?;
        let mut counts: HashMap<String, OutboxCounts> = HashMap::new();
        for row in rows {
            let (destination, status, count, oldest) = row?;
            let entry = counts.entry(destination).or_default();
            match OutboxStatus::parse(&status) {
                OutboxStatus::Queued => {
                    entry.queued = count as u64;
                    entry.oldest_queued = opt_from_ms(oldest);
                }
                OutboxStatus::Sent => entry.sent = count as u64,
                OutboxStatus::Dead => entry.dead = count as u64,
                OutboxStatus::Held => entry.held = count as u64,
                OutboxStatus::Duplicate => entry.duplicates = count as u64,
            }
        }
        Ok(counts)
    }

    /// Forgets entries that left their feed more than `retention` ago. An entry still in its
    /// feed's latest document is never forgotten, however old, so it cannot come back as new.
    pub fn purge_seen(&self, now: Timestamp, retention: std::time::Duration) -> Result<usize> {
        // It never deletes an entry of a latest document, but what is remembered need not
        // be exactly that (a poll whose write failed); being exact costs nothing here.
        self.recent.clear();
        let cutoff = ms(now) - retention.as_millis() as i64;
        let removed = self.conn().execute(
            "DELETE FROM entries WHERE last_seen_ms < ?1 AND last_seen_ms < (
                 SELECT COALESCE(last_changed_ms, 0) FROM feeds WHERE feeds.url = entries.feed_url) - ?2",
            params![cutoff, LAST_SEEN_GRANULARITY_MS],
        )?;
        Ok(removed)
    }

    /// Forgets delivered and dead alerts older than `retention` (matches too).
    pub fn purge_outbox(&self, now: Timestamp, retention: std::time::Duration) -> Result<usize> {
        let cutoff = ms(now) - retention.as_millis() as i64;
        let conn = self.conn();
        // An alert still waiting for its digest is kept, whatever its instant status.
        let removed = conn.execute(
            "DELETE FROM outbox WHERE status IN ('sent', 'dead', 'duplicate', 'held') AND done_ms < ?1
               AND NOT (route IN ('digest', 'both') AND digest_key IS NULL AND kind != 'digest')",
            [cutoff],
        )?;
        conn.execute("DELETE FROM matches WHERE last_ms < ?1", [cutoff])?;
        Ok(removed)
    }

    /// Removes the state of feeds no longer configured after `retention` without a poll.
    pub fn forget_feeds_except(&self, keep: &[&str], unpolled_since: Timestamp) -> Result<usize> {
        self.recent.clear();
        let conn = self.conn();
        let mut statement =
            conn.prepare("SELECT url FROM feeds WHERE COALESCE(last_attempt_ms, 0) < ?1")?;
        let stale: Vec<String> = statement
            .query_map([ms(unpolled_since)], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        drop(statement);
        let mut removed = 0;
        for url in stale.iter().filter(|u| !keep.contains(&u.as_str())) {
            conn.execute("DELETE FROM entries WHERE feed_url = ?1", [url])?;
            removed += conn.execute("DELETE FROM feeds WHERE url = ?1", [url])?;
        }
        Ok(removed)
    }
}

/// Writes what one poll changed inside `tx`; returns how many alerts were newly queued, and
/// for each of the record's entries whether its row now holds its fingerprint and the
/// poll's time as last seen (`false`: the row was already current and left as it was).
fn write_poll(tx: &rusqlite::Transaction<'_>, record: &PollRecord) -> Result<(usize, Vec<bool>)> {
    let at = ms(record.at);
    let state = &record.state;
    let mut new_entries = 0u64;
    let mut rows_changed = Vec::with_capacity(record.entries.len());
    {
        let mut upsert_entry = tx.prepare_cached(
                "INSERT INTO entries (feed_url, key, fingerprint, first_seen_ms, last_seen_ms, published_ms)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5)
                 ON CONFLICT (feed_url, key) DO UPDATE
                 SET fingerprint = excluded.fingerprint, last_seen_ms = excluded.last_seen_ms
                 WHERE entries.fingerprint != excluded.fingerprint
                    OR entries.last_seen_ms < excluded.last_seen_ms - ?6",
            )?;
        let mut exists =
            tx.prepare_cached("SELECT 1 FROM entries WHERE feed_url = ?1 AND key = ?2")?;
        for entry in &record.entries {
            if !exists.exists(params![state.url, entry.key])? {
                new_entries += 1;
            }
            let changed = upsert_entry.execute(params![
                state.url,
                entry.key,
                entry.fingerprint,
                at,
                entry.published.map(ms),
                LAST_SEEN_GRANULARITY_MS
            ])?;
            rows_changed.push(changed > 0);
        }
        let mut upsert_match = tx.prepare_cached(
            "INSERT INTO matches (rule, feed_url, entry_key, story, fingerprint, first_ms, last_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
                 ON CONFLICT (rule, feed_url, entry_key) DO UPDATE
                 SET fingerprint = excluded.fingerprint, last_ms = excluded.last_ms",
        )?;
        for m in &record.matches {
            upsert_match.execute(params![
                m.rule,
                state.url,
                m.entry_key,
                m.story,
                m.fingerprint,
                at
            ])?;
        }
    }
    let queued = insert_alerts(tx, &record.alerts, at)?;
    // Counters are added to what is stored, not taken from `state`: the caller's copy of
    // the state may predate earlier polls recorded since it was read.
    let last_new_entry = (new_entries > 0).then_some(at);
    tx.prepare_cached(
            "INSERT INTO feeds (url, name, effective_url, etag, last_modified, next_poll_ms,
                                last_attempt_ms, last_success_ms, last_changed_ms, last_new_entry_ms,
                                consecutive_failures, last_error, last_status, entries_seen, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT (url) DO UPDATE SET
                name = excluded.name, effective_url = excluded.effective_url, etag = excluded.etag,
                last_modified = excluded.last_modified, next_poll_ms = excluded.next_poll_ms,
                last_attempt_ms = excluded.last_attempt_ms, last_success_ms = excluded.last_success_ms,
                last_changed_ms = excluded.last_changed_ms,
                last_new_entry_ms = COALESCE(excluded.last_new_entry_ms, feeds.last_new_entry_ms),
                consecutive_failures = excluded.consecutive_failures, last_error = excluded.last_error,
                last_status = excluded.last_status,
                entries_seen = feeds.entries_seen + excluded.entries_seen",
        )?
        .execute(
            params![
                state.url,
                state.name,
                state.effective_url,
                state.etag,
                state.last_modified,
                ms(state.next_poll),
                state.last_attempt.map(ms),
                state.last_success.map(ms),
                state.last_changed.map(ms),
                last_new_entry,
                state.consecutive_failures,
                state.last_error,
                state.last_status,
                new_entries as i64,
                at
            ],
    )?;
    Ok((queued, rows_changed))
}

fn insert_alerts(tx: &rusqlite::Transaction<'_>, alerts: &[NewAlert], at: i64) -> Result<usize> {
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO outbox (key, destination, rule, story, payload, next_attempt_ms, created_ms,
                                       kind, thread_of, sketch)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9)",
    )?;
    let mut queued = 0;
    for alert in alerts {
        queued += insert.execute(params![
            alert.key,
            alert.destination,
            alert.rule,
            alert.story,
            alert.payload,
            at,
            alert.kind.as_str(),
            alert.thread_of,
            delivery::encode_sketch(&alert.sketch),
        ])?;
    }
    Ok(queued)
}

fn outbox_item(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxItem> {
    Ok(OutboxItem {
        id: r.get(0)?,
        key: r.get(1)?,
        destination: r.get(2)?,
        rule: r.get(3)?,
        story: r.get(4)?,
        payload: r.get(5)?,
        status: OutboxStatus::parse(&r.get::<_, String>(6)?),
        attempts: r.get(7)?,
        created: from_ms(r.get(8)?),
        last_error: r.get(9)?,
        kind: OutboxKind::parse(&r.get::<_, String>(10)?),
        thread_of: r.get(11)?,
        duplicate_of: r.get(12)?,
        route: r
            .get::<_, Option<String>>(13)?
            .and_then(|r| delivery::parse_route(&r)),
        digest_key: r.get(14)?,
        sketch: delivery::decode_sketch(r.get(15)?),
    })
}

/// The columns [`outbox_item`] reads, in order.
const OUTBOX_COLUMNS: &str = "id, key, destination, rule, story, payload, status, attempts, created_ms, last_error, kind, thread_of, duplicate_of, route, digest_key, sketch";

/// Like [`explain_open_error`], naming the state directory and its fix for storage faults.
fn explain_open_error_in(error: &rusqlite::Error, path: &Path) -> String {
    faults::explain(error, path).unwrap_or_else(|| explain_open_error(error))
}

fn explain_open_error(error: &rusqlite::Error) -> String {
    let text = error.to_string();
    // "not a database": garbage where the header should be; "malformed": a valid header
    // over pages that are missing or damaged (a truncated or partly overwritten file).
    if text.contains("file is not a database") || text.contains("disk image is malformed") {
        format!(
            "{text}: the file is corrupt or not a newshound state file; it was left untouched — move it aside to start with empty state, or restore a backup"
        )
    } else if text.contains("readonly") || text.contains("read-only") {
        format!("{text}: the state directory is read-only; make it writable by the service user")
    } else if text.contains("unable to open") {
        format!("{text}: check that the state directory exists and is writable")
    } else if text.contains("disk") && text.contains("full") {
        format!("{text}: free some disk space")
    } else {
        text
    }
}

#[cfg(test)]
mod tests;

impl OutboxItem {
    /// The status as text (`queued`, `sent`, `dead`).
    pub fn status_text(&self) -> &'static str {
        self.status.as_str()
    }
}
