//! Parse throughput of `newshound::feed::parse` beside raw `feed_rs::parser::parse` on the
//! same bytes, in MB/s.
//!
//! Input: the real-world corpus in `../shared/fixtures/feeds-real/` when it is present
//! next to the checkout, else the project's own small feeds in `tests/data/feeds/`.
//! Two groups: the whole corpus (many small and mid-sized feeds) and its largest file.

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
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(6));
    targets = bench
}
criterion_main!(benches);
