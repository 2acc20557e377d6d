//! The daemon's writer: the one task that writes finished polls to the state database.
//!
//! Polls finishing together share a transaction (a commit rewrites every page it touched,
//! so a burst of polls is written in a few commits instead of one each); the writer waits
//! a moment for more only while other polls are running. A poll that changed nothing but
//! times — the usual answer 304, or an unchanged document — does not wait to be written:
//! it is written later together with others like it, when the polls pause (or sooner when
//! many or old ones wait). Nothing in it is needed to de-duplicate or alert, and should
//! the daemon stop without a chance to write it (a crash; a stop writes it), the feed is
//! only polled again a little early after the restart. The writer checkpoints the
//! database once the polls pause.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustc_hash::FxHashMap;
use tokio::sync::Notify;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::store::{FeedState, PollRecord, Store, StoreError};

/// Most polls written in one transaction.
pub(super) const WRITE_BATCH: usize = 256;

/// How long the writer gathers polls finishing after the first before writing them
/// together, while other polls are still running (a burst of polls finishes within tens
/// of milliseconds). The writer does not wait once nothing else runs, so the window does
/// not delay the burst's end; what it changes is the number of commits. Per 1,000-feed
/// sweep with 189 feeds changed: 2 ms wrote ~12 commits, 6 ms 5, 12 ms 3 — but 12 ms
/// left a larger last commit (0.7–1 ms) between the last poll and the burst's end.
const GATHER_WINDOW: Duration = Duration::from_millis(6);

/// How long the writer waits without a poll to write before it checkpoints the state
/// database (see [`Store::checkpoint`]) and writes the waiting polls: longer than the gaps
/// within a burst of polls.
const QUIET: Duration = Duration::from_millis(100);

/// Deferred polls are written once this many wait, polls pausing or not.
const DEFERRED_AT_MOST: usize = 1024;

/// Deferred polls are written once the first has waited this long, polls pausing or not;
/// also how long the writer waits before trying again when they could not be written.
const DEFERRED_AT_MOST_FOR: Duration = Duration::from_secs(2);

/// A finished poll on its way to the writer.
pub(super) enum Finished {
    /// To be written at once; its task waits for the feed's new state (or why it could not
    /// be written).
    Now {
        /// What to write.
        record: PollRecord,
        /// Where the answer goes.
        written: oneshot::Sender<Result<FeedState, String>>,
    },
    /// A poll that changed only times (see [`PollRecord::changes_only_times`]): written
    /// later, and nobody waits for it.
    Later(PollRecord),
}

/// A poll to write now and the way back to its task.
type WriteNow = (PollRecord, oneshot::Sender<Result<FeedState, String>>);

/// Counts the polls started and not yet handed to the writer, so that the writer need not
/// wait for more when none can come.
#[derive(Clone, Default)]
pub(super) struct Running(Arc<AtomicUsize>);

impl Running {
    /// Counts one more poll until the returned guard is dropped.
    pub fn start(&self) -> RunningPoll {
        self.0.fetch_add(1, Ordering::AcqRel);
        RunningPoll(self.0.clone())
    }

    fn none(&self) -> bool {
        self.0.load(Ordering::Acquire) == 0
    }
}

/// One running poll of [`Running`]; dropped when the poll is handed over (or abandoned).
pub(super) struct RunningPoll(Arc<AtomicUsize>);

impl Drop for RunningPoll {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Hands a finished poll's `record` to the writer and returns the feed's new state: once
/// written, or at once when the poll is `deferrable` (changed only times). `running`, the
/// poll's place in [`Running`], is given up only once the record is sent, so that the
/// writer, seeing no poll running, knows nothing more can come.
pub(super) async fn hand_over(
    writer: &UnboundedSender<Finished>,
    record: PollRecord,
    deferrable: bool,
    running: RunningPoll,
) -> Result<FeedState, String> {
    let stopped = || Err("the writer stopped before writing it".to_string());
    if deferrable {
        let state = record.state.clone();
        let sent = writer.send(Finished::Later(record));
        drop(running);
        return sent.map_or_else(|_| stopped(), |()| Ok(state));
    }
    let (written, answer) = oneshot::channel();
    let sent = writer.send(Finished::Now { record, written });
    drop(running);
    match sent {
        Ok(()) => answer.await.unwrap_or_else(|_| stopped()),
        Err(_) => stopped(),
    }
}

/// Polls answered before they were written, the newest per feed.
#[derive(Default)]
struct Deferred {
    by_feed: FxHashMap<String, PollRecord>,
    oldest: Option<Instant>,
    /// When writing them last failed (cleared when it succeeds).
    failed_at: Option<Instant>,
}

impl Deferred {
    fn add(&mut self, record: PollRecord) {
        self.oldest.get_or_insert_with(Instant::now);
        self.by_feed.insert(record.state.url.clone(), record);
    }

    /// A poll written now supersedes one of the same feed waiting here (it carries the
    /// whole newer state), which must not be written after it.
    fn forget(&mut self, feed_url: &str) {
        self.by_feed.remove(feed_url);
        if self.by_feed.is_empty() {
            self.oldest = None;
        }
    }

    /// When to try again to write polls that could not be written, if any wait.
    fn retry_at(&self) -> Option<Instant> {
        let failed_at = self.failed_at.filter(|_| !self.by_feed.is_empty())?;
        Some(failed_at + DEFERRED_AT_MOST_FOR)
    }

    fn due(&self) -> bool {
        self.by_feed.len() >= DEFERRED_AT_MOST
            || self
                .oldest
                .is_some_and(|oldest| oldest.elapsed() >= DEFERRED_AT_MOST_FOR)
    }

    /// Writes every waiting poll in one transaction. What cannot be written stays to be
    /// tried again at the next pause.
    fn write(&mut self, store: &Store) {
        if self.by_feed.is_empty() {
            return;
        }
        let all: Vec<&PollRecord> = self.by_feed.values().collect();
        match store.record_polls(&all) {
            Ok(_) => {
                tracing::debug!(polls = all.len(), "wrote polls that changed only times");
                self.by_feed.clear();
                self.oldest = None;
                self.failed_at = None;
            }
            Err(error) => {
                tracing::warn!(
                    polls = all.len(),
                    "cannot write the times of polls that changed nothing else (retried in {DEFERRED_AT_MOST_FOR:?}): {}",
                    store.describe_error(&error)
                );
                self.oldest = Some(Instant::now());
                self.failed_at = self.oldest;
            }
        }
    }
}

/// Writes finished polls as they come: those finishing within [`GATHER_WINDOW`] of the
/// first go in one transaction (no waiting when no other poll is running), except those
/// that changed only times, which wait (see the module). Should a shared transaction fail,
/// each poll is written alone, so that one poll's problem is not every poll's. Wakes the
/// delivery worker when alerts were queued; once the polls pause for [`QUIET`],
/// checkpoints and then writes the waiting polls. Ends, after writing what waits, when
/// every sender is gone.
pub(super) async fn write_polls(
    store: Arc<Store>,
    mut records: UnboundedReceiver<Finished>,
    running: Running,
    wake_delivery: Arc<Notify>,
) {
    let mut inbox = Vec::new();
    let mut now: Vec<WriteNow> = Vec::new();
    let mut deferred = Deferred::default();
    let mut written_since_checkpoint = false;
    loop {
        // Without this deadline an idle writer sleeps until the next poll, with no timer.
        let pause_ends = if written_since_checkpoint {
            Some(Instant::now() + QUIET)
        } else {
            deferred.retry_at()
        };
        let received = match pause_ends {
            Some(deadline) => {
                let next = records.recv_many(&mut inbox, WRITE_BATCH);
                match tokio::time::timeout_at(deadline, next).await {
                    Ok(received) => received,
                    Err(_) => {
                        // The first write after a checkpoint restarts the log and syncs its
                        // header: the waiting polls pay that now rather than the next burst.
                        if written_since_checkpoint {
                            checkpoint(&store);
                        }
                        deferred.write(&store);
                        written_since_checkpoint = false;
                        continue;
                    }
                }
            }
            None => records.recv_many(&mut inbox, WRITE_BATCH).await,
        };
        if received == 0 {
            break;
        }
        written_since_checkpoint = true;
        sort(&mut inbox, &mut now, &mut deferred);
        let window_end = Instant::now() + GATHER_WINDOW;
        while !now.is_empty() && now.len() < WRITE_BATCH {
            let room = WRITE_BATCH - now.len();
            if running.none() {
                // Nothing else can come but what was sent already.
                while inbox.len() < room
                    && let Ok(finished) = records.try_recv()
                {
                    inbox.push(finished);
                }
                sort(&mut inbox, &mut now, &mut deferred);
                break;
            }
            match tokio::time::timeout_at(window_end, records.recv_many(&mut inbox, room)).await {
                Ok(received) if received > 0 => sort(&mut inbox, &mut now, &mut deferred),
                Ok(_) | Err(_) => break,
            }
        }
        write_now(&store, &mut now, &wake_delivery);
        if deferred.due() {
            deferred.write(&store);
        }
    }
    deferred.write(&store);
}

/// Moves what arrived to the polls to write now or to those that wait.
fn sort(inbox: &mut Vec<Finished>, now: &mut Vec<WriteNow>, deferred: &mut Deferred) {
    for finished in inbox.drain(..) {
        match finished {
            Finished::Later(record) => deferred.add(record),
            Finished::Now { record, written } => {
                deferred.forget(&record.state.url);
                now.push((record, written));
            }
        }
    }
}

fn checkpoint(store: &Store) {
    match store.checkpoint() {
        Ok(pages) => tracing::debug!(pages, "checkpointed the state database"),
        Err(error) => tracing::warn!(
            "cannot checkpoint the state database (it is retried at the next pause): {}",
            store.describe_error(&error)
        ),
    }
}

/// Writes `pending` in one transaction (or each alone should that fail) and answers each
/// poll's task.
fn write_now(store: &Store, pending: &mut Vec<WriteNow>, wake_delivery: &Notify) {
    if pending.is_empty() {
        return;
    }
    let started = std::time::Instant::now();
    let all: Vec<&PollRecord> = pending.iter().map(|(record, _)| record).collect();
    let (queued, results): (usize, Vec<Result<(), StoreError>>) = match store.record_polls(&all) {
        Ok(queued) => (queued, pending.iter().map(|_| Ok(())).collect()),
        Err(error) if pending.len() == 1 => (0, vec![Err(error)]),
        Err(_) => {
            let mut queued = 0;
            let results = all
                .iter()
                .map(|record| store.record_poll(record).map(|new| queued += new))
                .collect();
            (queued, results)
        }
    };
    tracing::debug!(
        polls = pending.len(),
        queued,
        took_us = started.elapsed().as_micros() as u64,
        "wrote finished polls"
    );
    if queued > 0 {
        wake_delivery.notify_one();
    }
    for ((record, written), result) in pending.drain(..).zip(results) {
        let outcome = match result {
            Ok(_) => Ok(record.state),
            Err(error) => Err(store.describe_error(&error)),
        };
        // The task may have been abandoned at shutdown; its poll is written all the same.
        let _ = written.send(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// A successful poll of `url` at `secs` with nothing new.
    fn polled(url: &str, secs: i64, etag: &str) -> PollRecord {
        let mut state = FeedState::new(url, "feed", at(secs));
        state.last_attempt = Some(at(secs));
        state.last_success = Some(at(secs));
        state.last_changed = Some(at(0));
        state.next_poll = at(secs + 900);
        state.etag = Some(etag.to_string());
        PollRecord {
            state,
            at: at(secs),
            entries: Vec::new(),
            matches: Vec::new(),
            alerts: Vec::new(),
        }
    }

    /// Hands `record` to the writer as a poll does, counted as running until it is sent.
    async fn send(
        writer: &UnboundedSender<Finished>,
        running: &Running,
        record: PollRecord,
        deferrable: bool,
    ) -> Result<FeedState, String> {
        hand_over(writer, record, deferrable, running.start()).await
    }

    fn last_attempt(store: &Store, url: &str) -> Result<Option<Timestamp>, StoreError> {
        Ok(store.feed_states()?.get(url).and_then(|s| s.last_attempt))
    }

    /// Waits (in paused time, so at once) until `url`'s stored last attempt is `secs`.
    async fn written_within(
        store: &Store,
        url: &str,
        secs: i64,
        within: Duration,
    ) -> Result<bool, StoreError> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if last_attempt(store, url)? == Some(at(secs)) {
                return Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(false)
    }

    /// A real state database in a temporary directory, and a writer for it.
    struct Harness {
        _dir: tempfile::TempDir,
        store: Arc<Store>,
        writer: UnboundedSender<Finished>,
        running: Running,
        task: tokio::task::JoinHandle<()>,
    }

    fn start() -> Result<Harness, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = Arc::new(Store::open_dir(dir.path())?);
        let running = Running::default();
        let (writer, receiver) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(write_polls(
            store.clone(),
            receiver,
            running.clone(),
            Arc::new(Notify::new()),
        ));
        Ok(Harness {
            _dir: dir,
            store,
            writer,
            running,
            task,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn the_writer_waits_for_more_polls_only_while_others_run() -> TestResult {
        let h = start()?;
        let url = "http://a/feed";

        let asked = Instant::now();
        send(&h.writer, &h.running, polled(url, 0, "v1"), false).await?;
        assert!(
            asked.elapsed() < GATHER_WINDOW,
            "waited {:?}",
            asked.elapsed()
        );

        let other = h.running.start();
        let asked = Instant::now();
        send(&h.writer, &h.running, polled(url, 900, "v2"), false).await?;
        assert!(
            asked.elapsed() >= GATHER_WINDOW,
            "waited {:?}",
            asked.elapsed()
        );
        drop(other);
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_that_changed_only_times_is_answered_at_once_and_written_at_the_pause()
    -> TestResult {
        let h = start()?;
        let url = "http://a/feed";
        send(&h.writer, &h.running, polled(url, 0, "v1"), false).await?;
        assert_eq!(last_attempt(&h.store, url)?, Some(at(0)));

        let answered = send(&h.writer, &h.running, polled(url, 900, "v1"), true).await?;
        assert_eq!(answered.last_attempt, Some(at(900)));
        assert_eq!(last_attempt(&h.store, url)?, Some(at(0)), "not written yet");
        assert!(written_within(&h.store, url, 900, QUIET * 2).await?);
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_written_at_once_supersedes_a_waiting_one_of_the_same_feed() -> TestResult {
        let h = start()?;
        let url = "http://a/feed";
        send(&h.writer, &h.running, polled(url, 0, "v1"), false).await?;
        send(&h.writer, &h.running, polled(url, 900, "v1"), true).await?;
        send(&h.writer, &h.running, polled(url, 1800, "v2"), false).await?;
        tokio::time::sleep(QUIET * 3).await;
        let states = h.store.feed_states()?;
        let state = states.get(url).ok_or("feed not stored")?;
        assert_eq!(state.last_attempt, Some(at(1800)));
        assert_eq!(state.etag.as_deref(), Some("v2"));
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_polls_are_written_when_the_polls_end() -> TestResult {
        let h = start()?;
        let url = "http://a/feed";
        send(&h.writer, &h.running, polled(url, 0, "v1"), false).await?;
        send(&h.writer, &h.running, polled(url, 900, "v1"), true).await?;
        drop(h.writer);
        h.task.await?;
        assert_eq!(last_attempt(&h.store, url)?, Some(at(900)));
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_polls_are_written_within_seconds_when_the_polls_never_pause() -> TestResult {
        let h = start()?;
        let (waiting, busy) = ("http://a/feed", "http://b/feed");
        send(&h.writer, &h.running, polled(waiting, 0, "v1"), false).await?;
        send(&h.writer, &h.running, polled(busy, 0, "v1"), false).await?;
        let deferred_at = Instant::now();
        send(&h.writer, &h.running, polled(waiting, 900, "v1"), true).await?;
        // Another feed's polls every 50 ms: never the pause the writer waits for.
        let mut written_after = None;
        for tick in 1..=60 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            send(&h.writer, &h.running, polled(busy, 900 + tick, "v1"), true).await?;
            if written_after.is_none() && last_attempt(&h.store, waiting)? == Some(at(900)) {
                written_after = Some(deferred_at.elapsed());
            }
        }
        let written_after = written_after.ok_or("the waiting poll was never written")?;
        assert!(
            written_after >= DEFERRED_AT_MOST_FOR
                && written_after <= DEFERRED_AT_MOST_FOR + Duration::from_millis(200),
            "written after {written_after:?}"
        );
        Ok(())
    }
}
