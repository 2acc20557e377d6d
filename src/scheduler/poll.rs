//! One poll of one feed, end to end: fetch, parse, recognise new and changed entries, build
//! each entry's article, match the rules and turn matches into alerts. The result is a
//! [`PollRecord`] that the caller writes to the store in one transaction (or, in a dry run,
//! only prints).

use std::collections::{HashMap, HashSet};

use futures_util::StreamExt;
use jiff::{SignedDuration, Timestamp};

use super::{Pipeline, plan};
use crate::alerts::{self, Alert, AlertFeed};
use crate::config::FeedConfig;
use crate::extract::{self, Article};
use crate::feed::{self, Entry, ParsedFeed};
use crate::fetch::{FetchError, Purpose, Request};
use crate::rules::Subject;
use crate::store::{FeedState, MatchRecord, PollRecord, SeenEntry};

/// Entries of one poll processed (article + rules) at the same time.
const ENTRY_CONCURRENCY: usize = 4;

/// Feed documents up to this size are parsed on the polling task itself (~0.5 ms at most).
const PARSE_INLINE_UP_TO: usize = 64 * 1024;

/// What a poll found, for logs, reports and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    /// The server said nothing changed; nothing was parsed.
    NotModified,
    /// A new document was parsed.
    Updated {
        /// Entries in the document.
        entries: usize,
        /// Entries never seen before that were evaluated.
        new: usize,
        /// Entries seen before whose content changed, re-evaluated.
        changed: usize,
        /// New entries recorded without evaluation (first-poll backfill).
        backfilled: usize,
    },
    /// The poll failed.
    Failed {
        /// Error category.
        kind: &'static str,
        /// The error.
        message: String,
    },
}

/// Everything a poll produced.
#[derive(Debug, Clone)]
pub struct Polled {
    /// What to write to the store.
    pub record: PollRecord,
    /// The alerts (also inside `record`, as outbox rows).
    pub alerts: Vec<Alert>,
    /// What happened.
    pub outcome: PollOutcome,
}

/// Polls one feed. Never fails: a failure is recorded in the feed's health and the next
/// poll is planned with backoff.
pub async fn poll_feed(
    pipeline: &Pipeline,
    feed: &FeedConfig,
    previous: Option<FeedState>,
    now: Timestamp,
) -> Polled {
    // Closed only when the pipeline is dropped, which cannot happen while it is borrowed.
    let _slot = pipeline.poll_slots.acquire().await.ok();
    let mut state = previous.unwrap_or_else(|| FeedState::new(&feed.url, &feed.name, now));
    state.name = feed.name.clone();
    state.last_attempt = Some(now);
    let url = state
        .effective_url
        .clone()
        .unwrap_or_else(|| feed.url.clone());
    let request = Request {
        url: &url,
        etag: state.etag.as_deref(),
        last_modified: state.last_modified.as_deref(),
        timeout: feed.timeout.get(),
        user_agent: &feed.user_agent,
        headers: &feed.headers,
        purpose: Purpose::Feed,
    };
    let response = match crate::observe::timed_fetch(pipeline.fetcher.fetch(&request)).await {
        Ok(response) => response,
        Err(error) => return failed(pipeline, feed, state, now, &error, error.kind.as_str()),
    };
    state.last_status = Some(response.status);
    if let Some(moved) = &response.moved_permanently_to {
        tracing::warn!(from = %url, to = %moved,
            "feed moved permanently; polling the new URL from now on (update the configuration to make it stick)");
        state.effective_url = Some(moved.clone());
    }
    let settings = &pipeline.config.fetch;
    if response.not_modified() {
        state.last_success = Some(now);
        state.consecutive_failures = 0;
        state.last_error = None;
        let delay = plan::success_delay(
            feed.interval.get(),
            None,
            response.hints.freshness(),
            settings.max_interval.get(),
        );
        state.next_poll = plan::after(now, delay);
        tracing::debug!("not modified");
        return Polled {
            record: record(state, now),
            alerts: Vec::new(),
            outcome: PollOutcome::NotModified,
        };
    }
    let parsed = parse_off_thread(response.body, response.content_type, response.final_url).await;
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(NotParsed {
            message,
            body,
            content_type,
        }) => {
            // What the body is when it is not a feed, for a message that says what to fix.
            let non_feed = body.and_then(|body| {
                feed::describe_non_feed(&body, content_type.as_deref(), response.status)
            });
            let message = match non_feed {
                Some(what) => format!("{message}: the response is {what}"),
                None => message,
            };
            let error = FetchError {
                kind: crate::fetch::FetchErrorKind::Body,
                status: Some(response.status),
                message,
                retry_after: None,
            };
            return failed(pipeline, feed, state, now, &error, "parse");
        }
    };
    let first_poll = state.is_new();
    state.etag = response.etag;
    state.last_modified = response.last_modified;
    state.last_success = Some(now);
    state.last_changed = Some(now);
    state.consecutive_failures = 0;
    state.last_error = None;
    let delay = plan::success_delay(
        feed.interval.get(),
        parsed.ttl,
        response.hints.freshness(),
        settings.max_interval.get(),
    );
    state.next_poll = plan::after(now, delay);
    evaluate_entries(pipeline, feed, state, parsed, first_poll, now).await
}

/// A response body that is not a feed: why, and the body to describe (when there is one).
struct NotParsed {
    message: String,
    body: Option<Vec<u8>>,
    content_type: Option<String>,
}

async fn parse_off_thread(
    body: Vec<u8>,
    content_type: Option<String>,
    base_url: String,
) -> Result<ParsedFeed, NotParsed> {
    let small = body.len() <= PARSE_INLINE_UP_TO;
    let parse = move || match feed::parse(&body, content_type.as_deref(), Some(&base_url)) {
        Ok(parsed) => Ok(parsed),
        Err(error) => Err(NotParsed {
            message: error.to_string(),
            body: Some(body),
            content_type,
        }),
    };
    // A small document parses in well under a millisecond: handing it to another thread
    // would cost more than it saves. Larger ones are CPU work kept off the threads that
    // drive the network.
    if small {
        return parse();
    }
    tokio::task::spawn_blocking(parse)
        .await
        .unwrap_or_else(|join_error| {
            Err(NotParsed {
                message: format!("feed parser task failed: {join_error}"),
                body: None,
                content_type: None,
            })
        })
}

fn record(state: FeedState, now: Timestamp) -> PollRecord {
    PollRecord {
        state,
        at: now,
        entries: Vec::new(),
        matches: Vec::new(),
        alerts: Vec::new(),
    }
}

fn failed(
    pipeline: &Pipeline,
    feed: &FeedConfig,
    mut state: FeedState,
    now: Timestamp,
    error: &FetchError,
    kind: &'static str,
) -> Polled {
    state.consecutive_failures = state.consecutive_failures.saturating_add(1);
    state.last_error = Some(error.message.clone());
    if let Some(status) = error.status {
        state.last_status = Some(status);
    }
    let settings = &pipeline.config.fetch;
    let delay = plan::failure_delay(
        feed.interval.get(),
        state.consecutive_failures,
        error.retry_after,
        settings.max_backoff.get(),
        settings.max_interval.get(),
    );
    state.next_poll = plan::after(now, delay);
    tracing::warn!(
        kind, failures = state.consecutive_failures, retry_in = ?delay,
        "poll failed: {}", error.message
    );
    Polled {
        record: record(state, now),
        alerts: Vec::new(),
        outcome: PollOutcome::Failed {
            kind,
            message: error.message.clone(),
        },
    }
}

async fn evaluate_entries(
    pipeline: &Pipeline,
    feed: &FeedConfig,
    state: FeedState,
    parsed: ParsedFeed,
    first_poll: bool,
    now: Timestamp,
) -> Polled {
    let keys = parsed.entries.iter().map(|entry| entry.key.as_str());
    let seen = match pipeline.store.seen_among(&feed.url, keys) {
        Ok(seen) => seen,
        Err(error) => {
            let error = FetchError {
                kind: crate::fetch::FetchErrorKind::Body,
                status: None,
                message: format!("cannot read seen entries: {error}"),
                retry_after: None,
            };
            return failed(pipeline, feed, state, now, &error, "store");
        }
    };
    let backfill_cutoff = now
        .checked_sub(SignedDuration::try_from(feed.backfill.get()).unwrap_or(SignedDuration::ZERO))
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let mut unique = HashSet::new();
    let mut entries = Vec::new();
    let mut to_evaluate: Vec<(&Entry, bool)> = Vec::new();
    let (mut new, mut changed, mut backfilled) = (0, 0, 0);
    for entry in &parsed.entries {
        if !unique.insert(entry.key.as_str()) {
            continue; // the same entry twice in one document
        }
        let fingerprint = entry.fingerprint();
        let previously = seen.get(&entry.key);
        if previously.is_some_and(|known| known.is_current(&fingerprint, now)) {
            continue;
        }
        entries.push(SeenEntry {
            key: entry.key.clone(),
            fingerprint: fingerprint.clone(),
            published: entry.date(),
        });
        match previously {
            Some(known) if known.fingerprint == fingerprint => {}
            Some(_) => {
                changed += 1;
                to_evaluate.push((entry, true));
            }
            None if first_poll && entry.date().is_none_or(|d| d < backfill_cutoff) => {
                backfilled += 1;
            }
            None => {
                new += 1;
                to_evaluate.push((entry, false));
            }
        }
    }
    if !to_evaluate.is_empty() {
        // Building the rules (a single cycle builds them only when needed) overlaps
        // fetching the articles.
        pipeline.rules.demand();
    }
    let feed_ref = AlertFeed {
        name: feed.name.clone(),
        url: feed.url.clone(),
    };
    // Boxed so the compiler need not prove the closure's future generic over lifetimes
    // (it cannot, and the poll future must be Send to be spawned).
    let pending: Vec<EntryFuture<'_>> = to_evaluate
        .into_iter()
        .map(|(entry, was_seen)| {
            Box::pin(evaluate_entry(
                pipeline, feed, &feed_ref, entry, was_seen, now,
            )) as EntryFuture<'_>
        })
        .collect();
    let evaluated: Vec<EntryResult> = futures_util::stream::iter(pending)
        .buffered(ENTRY_CONCURRENCY)
        .collect()
        .await;
    let mut matches = Vec::new();
    let mut alerts = Vec::new();
    for result in evaluated {
        matches.extend(result.matches);
        alerts.extend(result.alerts);
    }
    let outbox = alerts
        .iter()
        .filter_map(|alert| match alert.to_outbox() {
            Ok(row) => Some(row),
            Err(error) => {
                tracing::error!(feed = %feed.name, %error, "cannot encode alert");
                None
            }
        })
        .collect();
    tracing::info!(
        entries = parsed.entries.len(),
        new,
        changed,
        backfilled,
        alerts = alerts.len(),
        "feed updated"
    );
    Polled {
        record: PollRecord {
            state,
            at: now,
            entries,
            matches,
            alerts: outbox,
        },
        alerts,
        outcome: PollOutcome::Updated {
            entries: parsed.entries.len(),
            new,
            changed,
            backfilled,
        },
    }
}

type EntryFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = EntryResult> + Send + 'a>>;

struct EntryResult {
    matches: Vec<MatchRecord>,
    alerts: Vec<Alert>,
}

async fn evaluate_entry(
    pipeline: &Pipeline,
    feed: &FeedConfig,
    feed_ref: &AlertFeed,
    entry: &Entry,
    was_seen: bool,
    now: Timestamp,
) -> EntryResult {
    let article = article_for(pipeline, feed, entry).await;
    let author = article.byline.clone().unwrap_or_default();
    let subject = Subject {
        feed: &feed.name,
        tags: &feed.tags,
        url: entry.link.as_deref(),
        title: article.title.as_deref().unwrap_or(""),
        author: &author,
        content: &article.text,
        published: article.published,
    };
    let found = match pipeline.rules.get().await {
        Ok(rules) => rules.evaluate(&subject),
        Err(error) => {
            // `run_once` reports this and records none of the entries; a daemon's rules
            // are compiled before its first poll.
            tracing::error!(%error, "rules unavailable; entry not evaluated");
            Vec::new()
        }
    };
    let already: HashMap<String, String> = if was_seen && !found.is_empty() {
        pipeline
            .store
            .matches_of_entry(&feed.url, &entry.key)
            .unwrap_or_default()
    } else {
        HashMap::new()
    };
    let fingerprint = entry.fingerprint();
    let story = alerts::story_key(&feed.url, entry);
    let mut result = EntryResult {
        matches: Vec::new(),
        alerts: Vec::new(),
    };
    for found in found {
        result.matches.push(MatchRecord {
            rule: found.rule.to_string(),
            entry_key: entry.key.clone(),
            story: story.clone(),
            fingerprint: fingerprint.clone(),
        });
        if already.contains_key(&*found.rule) {
            // This rule alerted on an earlier version of the entry already: only new
            // evidence (a quote was added) makes an update, threaded under the first alert.
            result.alerts.extend(alerts::updates(
                &pipeline.store,
                &found,
                feed_ref,
                entry,
                &article,
                now,
            ));
            continue;
        }
        result
            .alerts
            .extend(alerts::from_match(&found, feed_ref, entry, &article, now));
    }
    result
}

/// The article an entry is matched on: with scraping on, the page behind its link (or the
/// feed's content, with the reason recorded, when the page cannot be used).
async fn article_for(pipeline: &Pipeline, feed: &FeedConfig, entry: &Entry) -> Article {
    if !feed.scrape {
        return extract::from_entry(entry, None);
    }
    let config = &pipeline.config;
    let context = extract::page::PageContext {
        settings: &config.extract,
        sites: &config.sites,
        feed: Some(feed),
        user_agent: &feed.user_agent,
        headers: &feed.headers,
    };
    extract::page::fetch_article(&pipeline.fetcher, context, entry).await
}
