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
/// `newshound check` does. Invariant: every error names a file, a line and a column (except a
/// state directory that cannot be decided from the environment, which is about no line).
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

/// Query text → parsed query → a rule compiled from a configuration that holds it →
/// evaluated on an article, as `newshound check` and a poll do. The text is written into
/// the file as a TOML string (literal when it can be, else escaped), so errors go through
/// the same position mapping as a hand-written rule. Invariants: a parse error's span lies
/// inside the query on character boundaries; a configuration error about the query is on
/// the query's line and inside its quotes; a query that parses compiles.
pub fn query_bytes(data: &[u8]) -> Result<(), String> {
    let query = String::from_utf8_lossy(data);
    let parsed = crate::rules::query::parse(&query);
    if let Err(error) = &parsed {
        let span = &error.span;
        if span.start > span.end
            || span.end > query.len()
            || !query.is_char_boundary(span.start)
            || !query.is_char_boundary(span.end)
        {
            return Err(format!("error span {span:?} outside the query: {error}"));
        }
    }
    let (value, literal) = toml_string(&query);
    let prefix = "[[rules]]\nname = \"fuzz\"\nquery = ";
    let source = format!("{prefix}{value}\n");
    let dir = std::env::temp_dir().join(format!("newshound-robustness-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join("query.toml");
    std::fs::write(&path, &source).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let loaded = crate::config::load(&path);
    let _ = std::fs::remove_file(&path);
    // The value starts after `query = ` on line 3; columns count characters, 1-based.
    let first_column = "query = ".len() + 1;
    let last_column = first_column + value.chars().count();
    let check = |error: &ConfigError| -> Result<(), String> {
        located(error)?;
        for d in error.diagnostics.iter().filter(|d| d.line != 0) {
            if d.line != 3 || d.column < first_column || d.column > last_column {
                return Err(format!("an error outside the query's value: {d}"));
            }
            // In a literal string a byte of the query is a byte of the file.
            if literal && let Err(parse) = &parsed {
                let expected = first_column + 1 + query[..parse.span.start].chars().count();
                if d.column != expected {
                    return Err(format!(
                        "error at column {} instead of {expected} (byte {} of the query): {d}",
                        d.column, parse.span.start
                    ));
                }
            }
        }
        Ok(())
    };
    let config = match loaded {
        Ok(config) => config,
        Err(error) => {
            if parsed.is_ok() && !error.diagnostics.is_empty() {
                // Not a query error: only the state directory may be undecidable here.
                let other = error
                    .diagnostics
                    .iter()
                    .find(|d| !d.message.starts_with("cannot decide where to keep state"));
                if let Some(d) = other {
                    return Err(format!("a query that parses is refused by the loader: {d}"));
                }
                return Ok(());
            }
            return check(&error);
        }
    };
    if parsed.is_err() {
        return Err("the loader accepted a query the parser refuses".into());
    }
    let rules = match crate::rules::RuleSet::compile(&config) {
        Ok(rules) => rules,
        // A regex over the size limit is refused while compiling, at its place.
        Err(error) => return check(&error),
    };
    let subject = crate::rules::Subject {
        feed: "fuzz",
        tags: &[],
        url: Some("https://news.example/2026/11/27/story.html"),
        title: &query,
        author: "",
        content: &query,
        published: None,
    };
    let _ = rules.evaluate(&subject);
    Ok(())
}

/// `text` as a TOML string: a literal string when it has no quote, line break or control
/// character (true is returned then), else a basic string with escapes.
fn toml_string(text: &str) -> (String, bool) {
    if !text.contains('\'') && !text.chars().any(|c| c.is_control() && c != '\t') {
        return (format!("'{text}'"), true);
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    (out, false)
}

fn located(error: &ConfigError) -> Result<(), String> {
    if error.diagnostics.is_empty() {
        return Err("a configuration error without any diagnostic".into());
    }
    if let Some(d) = error
        .diagnostics
        .iter()
        .find(|d| d.file.as_os_str().is_empty())
    {
        return Err(format!("an error that names no file: {d}"));
    }
    match error.diagnostics.iter().find(|d| {
        (d.line == 0 || d.column == 0)
            && !d.message.starts_with("cannot decide where to keep state")
    }) {
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
        for query in [
            "peace AND talks",
            "\"peace talks\" NEAR/5 Rutte",
            "title:(peace OR truce) AND NOT rumour",
            "/sec(retary)? general/",
            "peace AND (",
            "NOT rumour",
            "ne*",
            "мир AND 'переговори'",
            "пе\"ре\\го\nвори AND (",
            "",
        ] {
            assert_eq!(query_bytes(query.as_bytes()), Ok(()), "{query:?}");
        }
        // A file that is not UTF-8 is reported at the offending byte.
        assert_eq!(config_bytes(b"state_dir = \"/tmp\"\n# caf\xe9\n"), Ok(()));
    }
}
