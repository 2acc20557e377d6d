//! Getting an article page and turning it into an [`Article`]: fetch with the shared client
//! (same politeness limits, caps and private-address guard as feeds), bounded retries of
//! temporary failures, charset decoding, extraction off the async threads, and a sensible
//! look at canonical and AMP variants. When the page cannot be used, the entry's own content
//! is used instead and the reason recorded.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use url::Url;

use super::{Article, ArticleSource, Extraction, Overrides, from_entry};
use crate::config::{ExtractSettings, FeedConfig, SiteConfig};
use crate::feed::Entry;
use crate::fetch::{FetchError, Fetcher, Purpose, Request, Response};

/// Longest `Retry-After` honoured within a poll; longer ones give up on the page.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Reads an HTML file, decompressing it when it is gzip-compressed (by content, not name).
pub fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let bytes = std::fs::read(path)?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut decoded = Vec::with_capacity(bytes.len() * 4);
        flate2::read::MultiGzDecoder::new(bytes.as_slice()).read_to_end(&mut decoded)?;
        return Ok(decoded);
    }
    Ok(bytes)
}

/// What fetching and extracting needs besides the entry.
#[derive(Debug, Clone, Copy)]
pub struct PageContext<'a> {
    /// Extraction settings (`[extract]`).
    pub settings: &'a ExtractSettings,
    /// Site overrides (`[[sites]]`).
    pub sites: &'a [SiteConfig],
    /// The entry's feed (its user agent, headers and overrides), when there is one.
    pub feed: Option<&'a FeedConfig>,
    /// The User-Agent header.
    pub user_agent: &'a str,
    /// Extra request headers.
    pub headers: &'a BTreeMap<String, String>,
}

/// The article an entry is matched on when its feed scrapes: the page behind its link, or,
/// when that cannot be used, the entry's own content with the reason in
/// [`ArticleSource::Feed`].
pub async fn fetch_article(fetcher: &Fetcher, context: PageContext<'_>, entry: &Entry) -> Article {
    let Some(link) = entry.link.as_deref().filter(|l| !l.trim().is_empty()) else {
        return from_entry(entry, Some("the entry has no link".to_string()));
    };
    match fetch_page_article(fetcher, context, link).await {
        Ok(mut article) => {
            // The feed knows the headline and date too; use them when the page does not.
            if article.title.is_none() {
                article.title = entry.title.clone();
            }
            if article.published.is_none() {
                article.published = entry.date();
            }
            if article.byline.is_none() {
                article.byline = from_entry(entry, None).byline;
            }
            article
        }
        Err(reason) => {
            tracing::warn!(
                feed = context.feed.map(|f| f.name.as_str()).unwrap_or(""),
                url = %link,
                "article page not used, matching on the feed's content: {reason}"
            );
            from_entry(entry, Some(reason))
        }
    }
}

/// Fetches one page URL and extracts its article; `Err` is a readable reason.
pub async fn fetch_page_article(
    fetcher: &Fetcher,
    context: PageContext<'_>,
    link: &str,
) -> Result<Article, String> {
    let url = Url::parse(link.trim()).map_err(|e| format!("invalid article URL {link:?}: {e}"))?;
    let mut visited = vec![url.clone()];
    let (page_url, extraction) = fetch_and_extract(fetcher, context, &url).await?;
    visited.push(page_url.clone());
    let min_length = context.settings.min_length;
    let length = extraction.article.text.chars().count();
    // An AMP page has a canonical full page; a stub (too short) may have a complete AMP or
    // canonical variant. Try one alternative, never a chain of them.
    let alternative = if extraction.metadata.is_amp {
        extraction.metadata.canonical.as_deref()
    } else if length < min_length {
        extraction
            .metadata
            .amp
            .as_deref()
            .or(extraction.metadata.canonical.as_deref())
    } else {
        None
    };
    let alternative = alternative
        .and_then(|href| page_url.join(href).ok())
        .filter(|alt| !visited.iter().any(|v| same_page(v, alt)));
    let mut best = (page_url, extraction);
    if let Some(alternative) = alternative {
        match fetch_and_extract(fetcher, context, &alternative).await {
            Ok((alt_url, alt)) if alt.article.text.chars().count() >= length => {
                tracing::debug!(from = %best.0, to = %alt_url, "using the canonical/AMP variant");
                best = (alt_url, alt);
            }
            Ok(_) => {}
            Err(reason) => tracing::debug!(url = %alternative, "variant not used: {reason}"),
        }
    }
    let (page_url, extraction) = best;
    let length = extraction.article.text.chars().count();
    if length < min_length {
        return Err(format!(
            "extracted text too short ({length} characters, [extract] min_length is {min_length}) at {page_url}"
        ));
    }
    let mut article = extraction.article;
    article.source = ArticleSource::Page {
        url: page_url.to_string(),
    };
    Ok(article)
}

fn same_page(a: &Url, b: &Url) -> bool {
    let strip = |u: &Url| {
        let mut u = u.clone();
        u.set_fragment(None);
        u.to_string().trim_end_matches('/').to_string()
    };
    strip(a) == strip(b)
}

async fn fetch_and_extract(
    fetcher: &Fetcher,
    context: PageContext<'_>,
    url: &Url,
) -> Result<(Url, Extraction), String> {
    let response = fetch_with_retries(fetcher, context, url.as_str()).await?;
    if !is_html(response.content_type.as_deref(), &response.body) {
        return Err(format!(
            "not an HTML page ({}) at {}",
            response
                .content_type
                .as_deref()
                .unwrap_or("no content type"),
            response.final_url
        ));
    }
    let page_url = Url::parse(&response.final_url).unwrap_or_else(|_| url.clone());
    let overrides = Overrides::for_page(context.feed, context.sites, Some(&page_url));
    let response_truncated = response.truncated;
    let body = response.body;
    let content_type = response.content_type;
    let for_task = page_url.clone();
    let task_overrides = overrides.clone();
    // Parsing and extraction are CPU work; keep them off the threads that drive the network.
    let extraction = tokio::task::spawn_blocking(move || {
        let html = crate::charset::decode_html(&body, content_type.as_deref()).text;
        super::extract(&html, Some(&for_task), &task_overrides)
    })
    .await
    .map_err(|e| format!("extraction task failed: {e}"))?
    .map_err(|e| format!("{e} at {page_url}"))?;
    tracing::debug!(
        url = %page_url,
        strategy = extraction.strategy,
        chars = extraction.article.text.chars().count(),
        truncated = response_truncated,
        "article extracted"
    );
    if extraction.override_missed {
        tracing::warn!(
            overrides = %overrides.origin,
            url = %page_url,
            "extract_selector matched no text; using automatic extraction"
        );
    }
    Ok((page_url, extraction))
}

async fn fetch_with_retries(
    fetcher: &Fetcher,
    context: PageContext<'_>,
    url: &str,
) -> Result<Response, String> {
    let settings = context.settings;
    let request = Request {
        url,
        etag: None,
        last_modified: None,
        timeout: settings.timeout.get(),
        user_agent: context.user_agent,
        headers: context.headers,
        purpose: Purpose::Article,
    };
    let jitter = settings.jitter.get();
    if !jitter.is_zero() {
        tokio::time::sleep(jitter.mul_f64(fastrand::f64())).await;
    }
    let mut attempt = 0;
    loop {
        match fetcher.fetch(&request).await {
            Ok(response) if response.not_modified() => {
                return Err(format!("unexpected 304 from {url}"));
            }
            Ok(response) => return Ok(response),
            Err(error) if is_retryable(&error) && attempt < settings.retries => {
                let delay = retry_delay(&error, settings.retry_delay.get(), attempt)
                    .ok_or_else(|| describe(&error, attempt))?;
                tracing::debug!(%url, attempt, ?delay, "retrying article page: {error}");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(error) => return Err(describe(&error, attempt)),
        }
    }
}

/// Failures worth another try within the poll: timeouts, broken connections, 408, 425,
/// 429 and 5xx. A name that does not resolve will not resolve seconds later either, and a
/// refused address stays refused: the feed content is used at once.
fn is_retryable(error: &FetchError) -> bool {
    use crate::fetch::FetchErrorKind;
    match error.kind {
        FetchErrorKind::Timeout | FetchErrorKind::Connect | FetchErrorKind::Body => true,
        FetchErrorKind::Status => error.is_temporary(),
        _ => false,
    }
}

fn describe(error: &FetchError, retries: u32) -> String {
    let kind = error.kind.as_str();
    if retries == 0 {
        format!("{kind}: {}", error.message)
    } else {
        format!("{kind} after {retries} retries: {}", error.message)
    }
}

/// The wait before retry number `attempt + 1`: the server's `Retry-After` when it gives a
/// short one (`None` when it asks for longer than a poll should wait), else exponential
/// backoff from `base` with ±50 % jitter.
fn retry_delay(error: &FetchError, base: Duration, attempt: u32) -> Option<Duration> {
    if let Some(after) = error.retry_after {
        return (after <= MAX_RETRY_AFTER).then_some(after);
    }
    let backoff = base.saturating_mul(1 << attempt.min(8));
    Some(backoff.mul_f64(0.5 + fastrand::f64()))
}

/// Whether a response is an HTML page: by its content type, or, without one, by a look at
/// the first bytes.
pub fn is_html(content_type: Option<&str>, body: &[u8]) -> bool {
    if let Some(content_type) = content_type {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !essence.is_empty() {
            return matches!(essence.as_str(), "text/html" | "application/xhtml+xml")
                || (essence == "text/plain" && sniff_html(body));
        }
    }
    sniff_html(body)
}

fn sniff_html(body: &[u8]) -> bool {
    let head = &body[..body.len().min(1024)];
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    text.contains("<html")
        || text.contains("<!doctype html")
        || text.contains("<body")
        || text.contains("<p")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_by_content_type_or_sniffing() {
        assert!(is_html(Some("text/html; charset=utf-8"), b""));
        assert!(is_html(Some("application/xhtml+xml"), b""));
        assert!(!is_html(Some("application/pdf"), b"%PDF-1.7"));
        assert!(!is_html(Some("image/jpeg"), b"<html>"));
        assert!(is_html(None, b"<!DOCTYPE html><html>"));
        assert!(!is_html(None, b"\x89PNG"));
    }

    #[test]
    fn retry_delays_back_off_and_honour_short_retry_after() {
        let error = FetchError {
            kind: crate::fetch::FetchErrorKind::Timeout,
            status: None,
            message: String::new(),
            retry_after: None,
        };
        let base = Duration::from_millis(100);
        let first = retry_delay(&error, base, 0).expect("delay");
        let third = retry_delay(&error, base, 2).expect("delay");
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(150));
        assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(600));
        let busy = FetchError {
            retry_after: Some(Duration::from_secs(5)),
            ..error.clone()
        };
        assert_eq!(retry_delay(&busy, base, 0), Some(Duration::from_secs(5)));
        let long = FetchError {
            retry_after: Some(Duration::from_secs(3600)),
            ..error
        };
        assert_eq!(retry_delay(&long, base, 0), None);
    }
}
