//! Smoke run of every file of a fixture tree (by default `../shared/fixtures`: real feeds,
//! feedparser's conformance suite, the charset matrix, real article pages) through the
//! pipeline a poll runs: feed bytes → entries → article text → rules, and page bytes →
//! charset decoding → article extraction → rules. Each file runs under `catch_unwind`;
//! the run prints counts per kind and exits 1 if anything panicked. Parse and extraction
//! errors are counted, not failures: much of the conformance suite is broken on purpose.
//!
//! ```text
//! scripts/shared-fixtures-smoke.sh            # -v lists every parse/extraction error; or:
//! cargo run --example fixtures_smoke -- ../shared/fixtures
//! ```
//!
//! Not part of `cargo test`: the fixtures are for development, never a test dependency.

use std::collections::BTreeMap;
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use newshound::rules::{RuleSet, Subject};

/// Rules of every kind the engine has: keywords, a query with fields, wildcards and NEAR,
/// a regex, and speaker rules (which run statement attribution on every text).
const RULES: &str = r#"
[[rules]]
name = "keywords"
keywords = ["peace talks", "ceasefire", "переговори", "Apple", "election"]

[[rules]]
name = "query"
query = '(title:(war OR війн* OR войн*) OR "prime minister" NEAR/5 said) AND NOT sport*'

[[rules]]
name = "regex"
query = '/\b(19|20)[0-9]{2}\b/ AND news'

[[rules]]
name = "secretary-general"
speakers = ["role:NATO Secretary General"]

[[rules]]
name = "anyone-on-peace"
speakers = ["role:President of Ukraine", "role:President of the United States"]
says = 'peace OR war OR мир*'
"#;

#[derive(Default)]
struct Counts {
    files: usize,
    ok: usize,
    errors: usize,
    entries: usize,
    articles: usize,
    matches: usize,
    panics: Vec<String>,
    /// (file, reason) of every parse or extraction error, listed with `-v`.
    failed: Vec<(String, String)>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let verbose = std::env::args().any(|a| a == "-v");
    let root = std::env::args()
        .skip(1)
        .find(|a| a != "-v")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/fixtures"));
    if !root.is_dir() {
        return Err(format!("{} is not a directory", root.display()).into());
    }
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("rules.toml");
    std::fs::write(&config_path, format!("state_dir = \"state\"\n{RULES}"))?;
    let config = newshound::config::load(&config_path).map_err(|e| e.to_string())?;
    let rules = RuleSet::compile(&config).map_err(|e| e.to_string())?;
    // A panic is counted and reported below, not printed for every file as it happens.
    std::panic::set_hook(Box::new(|_| {}));

    let mut files = Vec::new();
    walk(&root, &mut files)?;
    files.sort();
    let mut by_kind: BTreeMap<&'static str, Counts> = BTreeMap::new();
    let mut skipped = 0usize;
    for path in &files {
        let Some(kind) = kind_of(path) else {
            skipped += 1;
            continue;
        };
        let bytes = match read(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("cannot read {}: {e}", path.display());
                skipped += 1;
                continue;
            }
        };
        let counts = by_kind.entry(kind).or_default();
        counts.files += 1;
        let outcome = catch_unwind(AssertUnwindSafe(|| match kind {
            "page" => page(&bytes, path, &rules),
            _ => feed(&bytes, &rules),
        }));
        match outcome {
            Ok(Ok((entries, articles, matches))) => {
                counts.ok += 1;
                counts.entries += entries;
                counts.articles += articles;
                counts.matches += matches;
            }
            Ok(Err(reason)) => {
                counts.errors += 1;
                counts.failed.push((path.display().to_string(), reason));
            }
            Err(_) => counts.panics.push(path.display().to_string()),
        }
    }

    let _ = std::panic::take_hook();
    println!("fixtures under {}: {} files", root.display(), files.len());
    println!(
        "{:<6} {:>6} {:>6} {:>7} {:>8} {:>9} {:>8} {:>7}",
        "kind", "files", "ok", "errors", "entries", "articles", "matches", "panics"
    );
    let mut panics = 0;
    for (kind, c) in &by_kind {
        println!(
            "{:<6} {:>6} {:>6} {:>7} {:>8} {:>9} {:>8} {:>7}",
            kind,
            c.files,
            c.ok,
            c.errors,
            c.entries,
            c.articles,
            c.matches,
            c.panics.len()
        );
        panics += c.panics.len();
        for path in &c.panics {
            println!("  PANIC {path}");
        }
        if verbose {
            for (path, reason) in &c.failed {
                println!("  error {path}: {reason}");
            }
        }
    }
    println!("skipped (not a feed or page: READMEs, metadata, scripts): {skipped}");
    println!("panics: {panics}");
    if panics > 0 {
        std::process::exit(1);
    }
    Ok(())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// What a fixture file is, by its name and folder: article pages (`.html`, `.html.gz`),
/// feeds (XML and JSON feeds), or something else (READMEs, expected outputs, metadata).
fn kind_of(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_string_lossy().to_lowercase();
    let in_dir = |d: &str| path.components().any(|c| c.as_os_str() == d);
    // readability's expected output is what an extractor should produce, not a page.
    if name == "expected.html" {
        return None;
    }
    if name.ends_with(".html") || name.ends_with(".html.gz") || name.ends_with(".htm") {
        return Some("page");
    }
    // Article metadata, expected readability metadata and speaker sets are JSON, not feeds.
    if in_dir("articles") || in_dir("speaker-dev") || in_dir("readability-pages") {
        return None;
    }
    let feed_like = [".xml", ".rss", ".atom", ".rdf", ".json", ".xml.gz"];
    feed_like
        .iter()
        .any(|ext| name.ends_with(ext))
        .then_some("feed")
}

fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    let raw = std::fs::read(path)?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out)?;
        return Ok(out);
    }
    Ok(raw)
}

/// Feed bytes → entries → article text from the feed → rules; (entries, articles, matches).
fn feed(bytes: &[u8], rules: &RuleSet) -> Result<(usize, usize, usize), String> {
    let feed = newshound::feed::parse(bytes, None, Some("https://news.example/feed"))
        .map_err(|e| e.to_string())?;
    let mut matches = 0;
    for entry in &feed.entries {
        let article = newshound::extract::from_entry(entry, None);
        matches += evaluate(rules, &article, entry.link.as_deref());
    }
    Ok((feed.entries.len(), feed.entries.len(), matches))
}

/// Page bytes → decoded HTML → extracted article → rules.
fn page(bytes: &[u8], path: &Path, rules: &RuleSet) -> Result<(usize, usize, usize), String> {
    let html = newshound::charset::decode_html(bytes, None).text;
    let url = url::Url::parse(&format!(
        "https://news.example/{}",
        path.file_name().unwrap_or_default().to_string_lossy()
    ))
    .ok();
    let article = newshound::extract::extract_html(
        &html,
        url.as_ref(),
        &newshound::extract::Overrides::default(),
    )
    .map_err(|e| e.to_string())?;
    let matches = evaluate(rules, &article, url.as_ref().map(url::Url::as_str));
    Ok((0, 1, matches))
}

fn evaluate(rules: &RuleSet, article: &newshound::extract::Article, url: Option<&str>) -> usize {
    let subject = Subject {
        feed: "fixtures",
        tags: &[],
        url,
        title: article.title.as_deref().unwrap_or(""),
        author: article.byline.as_deref().unwrap_or(""),
        content: &article.text,
        published: article.published,
    };
    rules.evaluate(&subject).len()
}
