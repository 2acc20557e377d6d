//! Invariants that must hold for any input, checked on the entry points that take untrusted
//! bytes the way the daemon does. The fuzz targets in `fuzz/` and the regression tests
//! (`tests/regressions.rs`, over every file in `tests/data/regressions/`) call these same
//! functions, so an input that once crashed is replayed through exactly the code it
//! crashed. Each returns `Err` with a description when an invariant is broken; a panic
//! anywhere below is a bug as well (the fuzzer reports both).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::ConfigError;

/// The URL feed and page bytes are taken to come from (relative links resolve against it).
const BASE: &str = "https://news.example/section/feed.xml";

/// Feed bytes → parsed feed → the text each entry is matched on when the feed is not
/// scraped. The first byte picks the HTTP `Content-Type` (none, RSS, a legacy charset, JSON),
/// so the charset paths are exercised too. Invariants: at most [`crate::feed::MAX_ENTRIES`]
/// entries, every key non-empty, and the same keys and fingerprints on a second parse
/// (an entry must be recognised again on the next poll).
pub fn feed_bytes(data: &[u8]) -> Result<(), String> {
    let content_type = match data.first().map(|b| b % 4) {
        Some(1) => Some("application/rss+xml; charset=utf-8"),
        Some(2) => Some("text/xml; charset=windows-1251"),
        Some(3) => Some("application/feed+json"),
        _ => None,
    };
    let Ok(feed) = crate::feed::parse(data, content_type, Some(BASE)) else {
        return Ok(());
    };
    if feed.entries.len() > crate::feed::MAX_ENTRIES {
        return Err(format!("{} entries read", feed.entries.len()));
    }
    let identities = |feed: &crate::feed::ParsedFeed| -> Vec<(String, String)> {
        feed.entries
            .iter()
            .map(|e| (e.key.clone(), e.fingerprint()))
            .collect()
    };
    let first = identities(&feed);
    if let Some((key, _)) = first.iter().find(|(key, _)| key.trim().is_empty()) {
        return Err(format!("an entry has an empty key {key:?}"));
    }
    for entry in &feed.entries {
        let article = crate::extract::from_entry(entry, None);
        let _ = crate::alerts::truncate_chars(&article.text, 300);
    }
    let again = crate::feed::parse(data, content_type, Some(BASE))
        .map_err(|e| format!("the second parse failed: {e}"))?;
    if identities(&again) != first {
        return Err("a second parse gives other entry keys or fingerprints".into());
    }
    Ok(())
}

/// Page bytes → charset decoding → article extraction, as an article fetch does (the first
/// byte picks an HTTP charset or none), plus the plain-text conversion used for feed HTML.
pub fn page_bytes(data: &[u8]) -> Result<(), String> {
    let content_type = match data.first().map(|b| b % 3) {
        Some(1) => Some("text/html; charset=utf-8"),
        Some(2) => Some("text/html; charset=koi8-r"),
        _ => None,
    };
    let html = crate::charset::decode_html(data, content_type).text;
    let url = url::Url::parse("https://news.example/2026/11/27/story.html").ok();
    let overrides = crate::extract::Overrides::default();
    if let Ok(article) = crate::extract::extract_html(&html, url.as_ref(), &overrides)
        && article.text.trim().is_empty()
    {
        return Err("an extracted article with no text".into());
    }
    let _ = crate::extract::html_to_text(&html);
    Ok(())
}

/// Configuration bytes → loaded configuration → compiled rules and built destinations, as
/// `newshound check` does. Invariant: every error names a line and column (except a state
/// directory that cannot be decided from the environment, which is about no line).
pub fn config_bytes(data: &[u8]) -> Result<(), String> {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("newshound-robustness-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path: PathBuf = dir.join(format!(
        "newshound-{}.toml",
        CALLS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, data).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let result = check_config(&path);
    let _ = std::fs::remove_file(&path);
    result
}

fn check_config(path: &std::path::Path) -> Result<(), String> {
    let config = match crate::config::load(path) {
        Ok(config) => config,
        Err(error) => return located(&error),
    };
    if let Err(error) = crate::rules::RuleSet::compile(&config) {
        located(&error)?;
    }
    if let Err(error) = crate::deliver::Deliverer::new(&config) {
        // Templates and TLS files are whole files of their own; the message names them.
        let unlocated = error.diagnostics.iter().find(|d| {
            d.line == 0 && !d.message.contains("template") && !d.message.contains("tls_ca_file")
        });
        if let Some(diagnostic) = unlocated {
            return Err(format!("an error without a location: {diagnostic}"));
        }
    }
    Ok(())
}

fn located(error: &ConfigError) -> Result<(), String> {
    if error.diagnostics.is_empty() {
        return Err("a configuration error without any diagnostic".into());
    }
    match error
        .diagnostics
        .iter()
        .find(|d| d.line == 0 && !d.message.starts_with("cannot decide where to keep state"))
    {
        Some(diagnostic) => Err(format!("an error without a location: {diagnostic}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invariants_hold_for_ordinary_input() {
        let feed = b"<rss version=\"2.0\"><channel><item><title>Rutte</title><guid>1</guid></item></channel></rss>";
        assert_eq!(feed_bytes(feed), Ok(()));
        assert_eq!(
            page_bytes(b"<html><body><p>Text.</p></body></html>"),
            Ok(())
        );
        assert_eq!(
            config_bytes(b"[[feeds]]\nurl = \"https://news.example/feed\"\n"),
            Ok(())
        );
        assert_eq!(config_bytes(b"[[feeds]]\nurl = 5\n"), Ok(()));
        // A file that is not UTF-8 is reported at the offending byte.
        assert_eq!(config_bytes(b"state_dir = \"/tmp\"\n# caf\xe9\n"), Ok(()));
    }
}
