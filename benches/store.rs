//! Write side of the state store on a real SQLite file (WAL, `synchronous = NORMAL`), as the
//! daemon uses it:
//!
//! - `record_poll`: one poll of a changed feed, 20 entries of which 2 are new, with one
//!   match and one alert, in one transaction — reported as entries recorded per second;
//! - a 304 poll (state only, no entries);
//! - the seen-entries lookup of a changed feed's 20 entries in a busy feed that keeps 5,000
//!   (the retention period's worth): as a poll after the first makes it (18 of the 20 were
//!   in the previous document, which the store remembers), as the first poll since start
//!   makes it (all read from the database, right after a write), beside reading all 5,000;
//! - the outbox round trip of one alert: queued (`enqueue`), routed, picked up
//!   (`due_alerts`) and marked sent (`mark_sent`) — reported as alerts per second.
//!
//! Run: `cargo bench --bench store`

use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use jiff::Timestamp;
use newshound::config::Routing;
use newshound::store::{
    FeedState, MatchRecord, NewAlert, OutboxKind, PollRecord, SeenEntry, Store,
};

/// Entries in each changed feed document, as in the load harness's changed feeds.
const ENTRIES_PER_POLL: usize = 20;
/// Feeds the store already knows (the seen-entries set is not empty in real use).
const FEEDS: usize = 1000;

fn payload(i: usize) -> String {
    format!(
        r#"{{"version":2,"rule":"nato","article":{{"title":"Rutte says talks continue {i}","link":"https://news.example/{i}"}}}}"#
    )
}

fn alert(i: usize) -> NewAlert {
    NewAlert {
        key: format!("key-{i}"),
        destination: "mail".into(),
        rule: "nato".into(),
        story: format!("https://news.example/{i}"),
        payload: payload(i),
        kind: OutboxKind::Alert,
        thread_of: None,
        sketch: (0..16u64).map(|k| k.wrapping_mul(i as u64 + 1)).collect(),
    }
}

/// A store on disk with `FEEDS` feeds of `ENTRIES_PER_POLL` entries each already seen.
fn populated() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_dir(dir.path()).expect("store");
    let at = Timestamp::now();
    for feed in 0..FEEDS {
        let url = format!("https://feed{feed}.example/rss");
        first_poll(&store, &url, &format!("{feed}-"), ENTRIES_PER_POLL, at);
    }
    (dir, store)
}

/// Records the first poll of `url`: `entries` entries keyed `{prefix}0`, `{prefix}1`, ….
fn first_poll(store: &Store, url: &str, prefix: &str, entries: usize, at: Timestamp) {
    let record = PollRecord {
        state: FeedState::new(url, url, at),
        at,
        entries: (0..entries)
            .map(|e| SeenEntry {
                key: format!("{prefix}{e}"),
                // The shape of `Entry::fingerprint`: 24 hexadecimal digits.
                fingerprint: format!("{e:024x}"),
                published: Some(at),
            })
            .collect(),
        matches: Vec::new(),
        alerts: Vec::new(),
    };
    store.record_poll(&record).expect("poll");
}

fn record_poll(c: &mut Criterion) {
    let (_dir, store) = populated();
    let mut group = c.benchmark_group("store");
    group.measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(ENTRIES_PER_POLL as u64));
    let mut poll = 0usize;
    group.bench_function(
        "record_poll changed feed (20 entries, 2 new, 1 alert)",
        |b| {
            b.iter(|| {
                poll += 1;
                let feed = poll % FEEDS;
                let url = format!("https://feed{feed}.example/rss");
                let at = Timestamp::now();
                let mut state = FeedState::new(&url, &format!("Feed {feed}"), at);
                state.last_success = Some(at);
                state.last_changed = Some(at);
                // The document slides by two entries per poll: 18 known, 2 new.
                let first = poll * 2;
                let entries = (first..first + ENTRIES_PER_POLL)
                    .map(|e| SeenEntry {
                        key: format!("{feed}-{e}"),
                        fingerprint: format!("{e:024x}"),
                        published: Some(at),
                    })
                    .collect();
                let record = PollRecord {
                    state,
                    at,
                    entries,
                    matches: vec![MatchRecord {
                        rule: "nato".into(),
                        entry_key: format!("{feed}-{}", first + ENTRIES_PER_POLL - 1),
                        story: format!("https://news.example/{poll}"),
                        fingerprint: "fp".into(),
                    }],
                    alerts: vec![alert(poll)],
                };
                store.record_poll(&record).expect("poll")
            })
        },
    );
    group.throughput(Throughput::Elements(1));
    group.bench_function("record_poll 304 (state only)", |b| {
        b.iter(|| {
            poll += 1;
            store
                .record_poll(&not_modified(poll, Timestamp::now()))
                .expect("poll")
        })
    });
    // `once` writes the polls that finished together in one transaction.
    const BATCH: usize = 64;
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("record_polls 64 x 304 in one transaction", |b| {
        b.iter(|| {
            let at = Timestamp::now();
            let records: Vec<PollRecord> = (0..BATCH)
                .map(|_| {
                    poll += 1;
                    not_modified(poll, at)
                })
                .collect();
            let refs: Vec<&PollRecord> = records.iter().collect();
            store.record_polls(&refs).expect("polls")
        })
    });
    group.finish();
}

/// Entries a busy feed keeps within the retention period (90 days of ~55 a day).
const RETAINED: usize = 5000;

fn seen_lookup(c: &mut Criterion) {
    let (_dir, store) = populated();
    let url = "https://busy.example/rss";
    first_poll(&store, url, "busy-", RETAINED, Timestamp::now());
    // The document: the 18 newest known entries and 2 new ones.
    let document: Vec<String> = (RETAINED - 18..RETAINED + 2)
        .map(|e| format!("busy-{e}"))
        .collect();
    let mut group = c.benchmark_group("seen");
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(ENTRIES_PER_POLL as u64));
    group.bench_function("20 document entries looked up among 5,000 kept", |b| {
        b.iter(|| {
            store
                .seen_among(url, document.iter().map(String::as_str))
                .expect("seen")
        })
    });
    // Purging (here: nothing) forgets what the store remembers, and its statement is a
    // write, after which the reading connection reads its pages again, as in the daemon.
    let forget = || {
        store
            .purge_seen(Timestamp::now(), Duration::from_secs(365 * 86_400))
            .expect("purge")
    };
    group.bench_function("20 looked up, none remembered, after a write", |b| {
        b.iter_batched(
            forget,
            |_| {
                store
                    .seen_among(url, document.iter().map(String::as_str))
                    .expect("seen")
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("all 5,000 kept entries read (before)", |b| {
        b.iter(|| store.seen_entries(url).expect("seen"))
    });
    group.finish();
}

/// What a poll answered with 304 writes: the feed's state only.
fn not_modified(poll: usize, at: Timestamp) -> PollRecord {
    let feed = poll % FEEDS;
    let url = format!("https://feed{feed}.example/rss");
    let mut state = FeedState::new(&url, &format!("Feed {feed}"), at);
    state.last_success = Some(at);
    PollRecord {
        state,
        at,
        entries: Vec::new(),
        matches: Vec::new(),
        alerts: Vec::new(),
    }
}

fn outbox(c: &mut Criterion) {
    let (_dir, store) = populated();
    let mut group = c.benchmark_group("outbox");
    group.measurement_time(Duration::from_secs(8));
    const BATCH: usize = 100;
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut next = 0usize;
    group.bench_function(
        "enqueue, route, pick up and mark sent (batch of 100)",
        |b| {
            b.iter_batched(
                || {
                    let batch: Vec<NewAlert> = (next..next + BATCH).map(alert).collect();
                    next += BATCH;
                    batch
                },
                |batch| {
                    let now = Timestamp::now();
                    store.enqueue(&batch, now).expect("enqueue");
                    store
                        .route_new(|_, _, _| Routing::Instant, now)
                        .expect("route");
                    let due = store.due_alerts(now, BATCH).expect("due");
                    for item in &due {
                        store.mark_sent(item.id, now).expect("sent");
                    }
                    due.len()
                },
                BatchSize::SmallInput,
            )
        },
    );
    group.finish();
}

criterion_group!(benches, record_poll, seen_lookup, outbox);
criterion_main!(benches);
