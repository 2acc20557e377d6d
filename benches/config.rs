//! Reading the configuration: a file with 1,000 feeds and 1,000 keyword rules (ten terms
//! each), the shape the load harness writes, parsed, checked and resolved as `newshound
//! once` and `run` do before their first request.
//!
//! Run: `cargo bench --bench config`.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn configuration(feeds: usize, rules: usize) -> String {
    let mut toml = String::from(
        "state_dir = \"state\"\n\n[defaults]\ninterval = \"30s\"\ntimeout = \"60s\"\nbackfill = \"24h\"\n\n[fetch]\nconcurrency = 64\nper_host = 64\nallow_private = [\"127.0.0.1/32\"]\n\n",
    );
    for feed in 0..feeds {
        let _ = write!(
            toml,
            "[[feeds]]\nname = \"Outlet {feed}\"\nurl = \"http://127.0.0.1:8080/feed/{feed}.xml\"\n\n"
        );
    }
    for rule in 0..rules {
        let terms: Vec<String> = (0..10)
            .map(|term| format!("\"term{}x{}\"", (rule * 7 + term * 13) % 5000, term))
            .collect();
        let _ = write!(
            toml,
            "[[rules]]\nname = \"rule {rule}\"\nkeywords = [{}]\n\n",
            terms.join(", ")
        );
    }
    toml
}

fn load(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("newshound.toml");
    let text = configuration(1000, 1000);
    std::fs::write(&path, &text).expect("write configuration");
    let mut group = c.benchmark_group("config");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("load 1,000 feeds and 1,000 rules", |b| {
        b.iter(|| black_box(newshound::config::load(&path).expect("valid configuration")))
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
