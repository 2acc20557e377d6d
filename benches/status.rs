//! Cost of the read side that runs while the daemon works: `newshound status`'s feed
//! health (with the silence heuristic over every feed's arrival history), the systemd
//! `STATUS=` line (every few seconds) and a `/metrics` scrape (every 15-60 s), on a store
//! with 1000 feeds and 30 days of hourly arrivals each.
//!
//! Run: `cargo bench --bench status`

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use newshound::scheduler::{Heartbeat, Pipeline};
use newshound::store::{FeedState, PollRecord, SeenEntry, Store};

const FEEDS: usize = 1000;
const ARRIVALS: i64 = 30 * 24;

fn setup() -> (tempfile::TempDir, Arc<Pipeline>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = String::from("state_dir = \"state\"\n");
    for i in 0..FEEDS {
        config.push_str(&format!(
            "[[feeds]]\nname = \"Feed {i}\"\nurl = \"https://feed{i}.example/rss\"\n"
        ));
    }
    config.push_str("[[rules]]\nname = \"r\"\nkeywords = [\"x\"]\n");
    let path = dir.path().join("newshound.toml");
    std::fs::write(&path, config).expect("write config");
    let config = newshound::config::load(&path).expect("config");
    let store = Store::open_dir(&config.state_dir).expect("store");
    let start = Timestamp::now() - jiff::SignedDuration::from_hours(ARRIVALS + 1);
    for feed in 0..FEEDS {
        let url = format!("https://feed{feed}.example/rss");
        let mut state = FeedState::new(&url, &format!("Feed {feed}"), start);
        for hour in 0..ARRIVALS {
            let at = start + jiff::SignedDuration::from_hours(hour);
            state.last_success = Some(at);
            state.last_changed = Some(at);
            let record = PollRecord {
                state: state.clone(),
                at,
                entries: vec![SeenEntry {
                    key: format!("{feed}-{hour}"),
                    fingerprint: "f".into(),
                    published: None,
                }],
                matches: Vec::new(),
                alerts: Vec::new(),
            };
            store.record_poll(&record).expect("poll");
            state.entries_seen += 1;
        }
    }
    let pipeline = Pipeline::new(config, Arc::new(store)).expect("pipeline");
    (dir, Arc::new(pipeline))
}

fn read_side(c: &mut Criterion) {
    let (_dir, pipeline) = setup();
    let heartbeat = Heartbeat::new(Duration::from_secs(10));
    heartbeat.beat();
    let mut group = c.benchmark_group("status_1000_feeds_720_arrivals_each");
    group.sample_size(10);
    group.bench_function("feed_health", |b| {
        b.iter(|| {
            newshound::status::feeds(&pipeline.config, &pipeline.store, Timestamp::now())
                .expect("feeds")
        })
    });
    group.bench_function("summary_line", |b| {
        b.iter(|| newshound::status::summary_line(&pipeline.config, &pipeline.store).expect("line"))
    });
    group.bench_function("metrics_scrape", |b| {
        b.iter(|| newshound::observe::render(&pipeline, &heartbeat).expect("render"))
    });
    group.finish();
}

criterion_group!(benches, read_side);
criterion_main!(benches);
