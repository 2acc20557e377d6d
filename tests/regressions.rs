//! Replays every input kept under `tests/data/regressions/<target>/` through the same
//! invariant functions the fuzz targets of `fuzz/` call (`newshound::robustness`), so an
//! input that once crashed a target, or a hand-written hostile one (deep nesting, unclosed
//! markup), stays fixed. A panic fails the test as well as a broken invariant.
//!
//! Each input runs on a thread with the default 2 MiB stack, the size of the daemon's
//! worker threads, so input that overflows the stack through deep recursion is caught here.

use std::path::{Path, PathBuf};

type Check = fn(&[u8]) -> Result<(), String>;

const TARGETS: &[(&str, Check)] = &[
    ("feed_parse", newshound::robustness::feed_bytes),
    ("html_extract", newshound::robustness::page_bytes),
    ("config_toml", newshound::robustness::config_bytes),
    ("query_compile", newshound::robustness::query_bytes),
];

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, check: Check) {
    let files = inputs(target);
    // An empty or misnamed directory would make this test pass without checking anything.
    assert!(!files.is_empty(), "no regression inputs for {target}");
    let mut failures = Vec::new();
    for path in files {
        let data = std::fs::read(&path).expect("read the regression input");
        let name = path.display().to_string();
        let outcome = std::thread::Builder::new()
            .name(name.clone())
            .stack_size(2 * 1024 * 1024)
            .spawn(move || check(&data))
            .expect("spawn")
            .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(broken)) => failures.push(format!("{name}: {broken}")),
            Err(_) => failures.push(format!("{name}: panicked")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn feed_parse_regressions() {
    replay(TARGETS[0].0, TARGETS[0].1);
}

#[test]
fn html_extract_regressions() {
    replay(TARGETS[1].0, TARGETS[1].1);
}

#[test]
fn config_toml_regressions() {
    replay(TARGETS[2].0, TARGETS[2].1);
}

#[test]
fn query_compile_regressions() {
    replay(TARGETS[3].0, TARGETS[3].1);
}

/// Every directory under `tests/data/regressions/` belongs to a target replayed above.
#[test]
fn every_regression_directory_is_replayed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/regressions");
    for entry in std::fs::read_dir(&root).expect("regressions directory") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .to_string();
        assert!(
            TARGETS.iter().any(|(target, _)| *target == name),
            "tests/data/regressions/{name} is not replayed by any test"
        );
    }
}
