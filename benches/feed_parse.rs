//! Parse throughput of `newshound::feed::parse` beside raw `feed_rs::parser::parse` on the
//! same bytes, in MB/s.
//!
//! Input: the real-world corpus in `../shared/fixtures/feeds-real/` when it is present
//! next to the checkout, else the project's own small feeds in `tests/data/feeds/`.
//! Three groups: the whole corpus (many small and mid-sized feeds), its largest file, and
//! one 20-item RSS document of a news site's shape (~12 KB), what a poll of a changed feed
//! parses most often.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn collect(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect(&path, out);
            continue;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with("LICENSE") || name.ends_with(".md") {
            continue;
        }
        if let Ok(bytes) = std::fs::read(&path) {
            out.push((name, bytes));
        }
    }
}

fn inputs() -> (String, Vec<(String, Vec<u8>)>) {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = manifest.join("../shared/fixtures/feeds-real");
    let mut files = Vec::new();
    if shared.is_dir() {
        collect(&shared, &mut files);
        if !files.is_empty() {
            return ("feeds-real".to_string(), files);
        }
    }
    collect(&manifest.join("tests/data/feeds"), &mut files);
    ("tests-data".to_string(), files)
}

fn bench(c: &mut Criterion) {
    let (label, files) = inputs();
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();

    let mut group = c.benchmark_group(format!("corpus-{label}"));
    group.throughput(Throughput::Bytes(total as u64));
    group.bench_function("newshound::feed::parse", |b| {
        b.iter(|| {
            for (_, bytes) in &files {
                let _ = black_box(newshound::feed::parse(black_box(bytes), None, None));
            }
        })
    });
    group.bench_function("feed_rs::parser::parse", |b| {
        b.iter(|| {
            for (_, bytes) in &files {
                let _ = black_box(feed_rs::parser::parse(black_box(bytes.as_slice())));
            }
        })
    });
    group.finish();

    if let Some((name, bytes)) = files.iter().max_by_key(|(_, b)| b.len()) {
        let mut group = c.benchmark_group(format!("largest-{name}"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("newshound::feed::parse", |b| {
            b.iter(|| black_box(newshound::feed::parse(black_box(bytes), None, None)))
        });
        group.bench_function("feed_rs::parser::parse", |b| {
            b.iter(|| black_box(feed_rs::parser::parse(black_box(bytes.as_slice()))))
        });
        group.finish();
    }

    let poll_sized = news_rss(20);
    let mut group = c.benchmark_group("poll-sized-rss-20-items");
    group.throughput(Throughput::Bytes(poll_sized.len() as u64));
    group.bench_function("newshound::feed::parse", |b| {
        b.iter(|| black_box(newshound::feed::parse(black_box(&poll_sized), None, None)))
    });
    group.bench_function("feed_rs::parser::parse", |b| {
        b.iter(|| black_box(feed_rs::parser::parse(black_box(poll_sized.as_slice()))))
    });
    group.finish();
}

/// An RSS 2.0 document of `items` news items: title, link, guid, date, a one-line teaser.
fn news_rss(items: usize) -> Vec<u8> {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>Outlet</title><link>https://news.example/</link>\
         <description>A news outlet</description>\n",
    );
    for n in 0..items {
        xml.push_str(&format!(
            "<item><title>Report {n}: ministers meet on regional security</title>\
             <link>https://news.example/2026/11/28/report-{n}.html</link>\
             <guid isPermaLink=\"false\">outlet-{n}</guid>\
             <pubDate>Sat, 28 Nov 2026 {:02}:{:02}:00 +0000</pubDate>\
             <description>Officials said on Monday that talks would continue; \
             a teaser of report {n} with a few more words to read.</description></item>\n",
            n % 24,
            n % 60
        ));
    }
    xml.push_str("</channel></rss>\n");
    xml.into_bytes()
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(6));
    targets = bench
}
criterion_main!(benches);
