//! Extraction speed: newshound's extractor side by side with plain dom_smoothie, both
//! parsing and extracting pages already in memory, on one thread.
//!
//! Pages: the development corpus in `../shared/fixtures/articles/*.html.gz` when it is there
//! (or in `$NEWSHOUND_BENCH_PAGES`), else the test pages in `tests/data/extract/`.
//! Run: `cargo bench --bench extract`. Criterion reports throughput in pages per second
//! ("elem/s").

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use newshound::extract::{Overrides, extract};

fn pages() -> (String, Vec<String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = std::env::var_os("NEWSHOUND_BENCH_PAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/fixtures/articles"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&shared)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(".html.gz"))
                .collect()
        })
        .unwrap_or_default();
    let source = if files.is_empty() {
        files = std::fs::read_dir(root.join("tests/data/extract"))
            .map(|dir| dir.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        "tests/data/extract".to_string()
    } else {
        shared.display().to_string()
    };
    files.sort();
    let pages = files
        .iter()
        .filter_map(|path| {
            let bytes = std::fs::read(path).ok()?;
            let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(bytes.as_slice())
                    .read_to_end(&mut out)
                    .ok()?;
                out
            } else {
                bytes
            };
            Some(
                newshound::charset::decode_html(&bytes, None)
                    .text
                    .into_owned(),
            )
        })
        .collect();
    (source, pages)
}

fn bench(c: &mut Criterion) {
    let (source, pages) = pages();
    assert!(!pages.is_empty(), "no pages to benchmark");
    eprintln!("benchmarking {} pages from {source}", pages.len());
    let overrides = Overrides::default();
    let mut group = c.benchmark_group("extract");
    group.throughput(Throughput::Elements(pages.len() as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(3));
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("newshound", |b| {
        b.iter(|| {
            let mut chars = 0;
            for page in &pages {
                // A page refused as too deep counts as no text, as in the daemon.
                chars += extract(page, None, &overrides).map_or(0, |e| e.article.text.len());
            }
            chars
        })
    });
    group.bench_function("dom_smoothie", |b| {
        b.iter(|| {
            let mut chars = 0;
            for page in &pages {
                let config = dom_smoothie::Config {
                    text_mode: dom_smoothie::TextMode::Formatted,
                    ..dom_smoothie::Config::default()
                };
                if let Ok(mut readability) =
                    dom_smoothie::Readability::new(page.as_str(), None, Some(config))
                    && let Ok(article) = readability.parse()
                {
                    chars += article.text_content.len();
                }
            }
            chars
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
