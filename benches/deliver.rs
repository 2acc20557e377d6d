//! Delivery hot paths: the near-duplicate sketch of an article, the de-duplication pass the
//! worker runs before every delivery (new alerts against all stories of the window), building
//! an alert email (templates + MIME) and a chat payload.
//!
//! Run: cargo bench --bench deliver

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use newshound::alerts::{dedupe, similar};
use newshound::config::Routing;
use newshound::deliver::{Outgoing, Sink, sample_alert};
use newshound::store::Store;

fn article(seed: usize, words: usize) -> String {
    const VOCABULARY: &[&str] = &[
        "NATO",
        "Rutte",
        "said",
        "peace",
        "talks",
        "Ukraine",
        "must",
        "include",
        "Brussels",
        "allies",
        "air",
        "defence",
        "winter",
        "ministers",
        "Kyiv",
        "Moscow",
        "sanctions",
        "ceasefire",
        "delegation",
        "Istanbul",
        "agreement",
        "reporters",
        "Thursday",
        "support",
    ];
    (0..words)
        .map(|i| VOCABULARY[(i * 7 + seed * 13 + i / 5 * seed) % VOCABULARY.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

/// A store with `sent` alerts already delivered in the window and `new` queued ones, half of
/// which repeat an earlier story.
fn store_with(sent: usize, new: usize) -> Store {
    let store = Store::open_in_memory().expect("store");
    let now = Timestamp::now();
    let rows: Vec<_> = (0..sent + new)
        .map(|i| {
            let mut message = sample_alert("desk", now);
            message.alert.id = format!("nh_{i}");
            message.alert.story = format!("https://news.example/{i}");
            let seed = if i >= sent && i % 2 == 0 { i - sent } else { i };
            message.alert.sketch = similar::sketch(&article(seed, 300));
            message.alert.to_outbox().expect("row")
        })
        .collect();
    store.enqueue(&rows[..sent], now).expect("enqueue");
    store
        .route_new(|_, _, _| Routing::Instant, now)
        .expect("route");
    for item in store.due_alerts(now, sent + 1).expect("due") {
        store.mark_sent(item.id, now).expect("sent");
    }
    store.enqueue(&rows[sent..], now).expect("enqueue");
    store
        .route_new(|_, _, _| Routing::Instant, now)
        .expect("route");
    store
}

fn benches(c: &mut Criterion) {
    let text = article(1, 1000);
    c.bench_function("sketch a 1000-word article", |b| {
        b.iter(|| similar::sketch(black_box(&text)))
    });

    let mut group = c.benchmark_group("dedupe pass");
    group.sample_size(10);
    group.bench_function("50 new alerts against 2000 stories in the window", |b| {
        b.iter_batched(
            || store_with(2000, 50),
            |store| {
                let folded =
                    dedupe::collapse(&store, Timestamp::now(), Duration::from_secs(48 * 3600))
                        .expect("collapse");
                assert!(folded >= 20, "{folded}");
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("no new alert, 2000 stories in the window", |b| {
        let store = store_with(2000, 0);
        b.iter(|| dedupe::collapse(&store, Timestamp::now(), Duration::from_secs(48 * 3600)))
    });
    group.finish();

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "state_dir = \"s\"\n[[destinations]]\nname = \"desk\"\ntype = \"email\"\nfrom = \"a@example.org\"\nto = [\"b@example.org\"]\nmaildir = \"m\"\n\n[[destinations]]\nname = \"slack\"\ntype = \"webhook\"\npreset = \"slack\"\nurl = \"https://hooks.example/x\"\n",
    )
    .expect("config");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let config = newshound::config::load(&path).expect("config");
    let outgoing = Outgoing::Alert(Box::new(sample_alert("desk", Timestamp::now())));
    let Ok(Sink::Email(email)) = Sink::from_config(&config, &config.destinations[0]) else {
        panic!("email sink");
    };
    c.bench_function("build an alert email (templates + MIME)", |b| {
        b.iter(|| {
            email
                .message(black_box(&outgoing))
                .map(|m| m.formatted().len())
        })
    });
    let Ok(Sink::Webhook(slack)) = Sink::from_config(&config, &config.destinations[1]) else {
        panic!("webhook sink");
    };
    c.bench_function("prepare a Slack payload", |b| {
        b.iter(|| slack.prepare(black_box(&outgoing)).map(|r| r.body.len()))
    });
}

criterion_group!(deliver, benches);
criterion_main!(deliver);
