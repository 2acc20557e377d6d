//! Caching hints in response headers: how long the publisher says a document stays fresh
//! (`Cache-Control: max-age`, `Expires`) and how long to wait after a 429/503
//! (`Retry-After`).

use std::time::Duration;

use jiff::Timestamp;
use reqwest::header::{self, HeaderMap};

/// Hints from one response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheHints {
    /// `Cache-Control: max-age` (or `s-maxage`).
    pub max_age: Option<Duration>,
    /// `Expires`, as a delay from the response's `Date` (or from now).
    pub expires_in: Option<Duration>,
    /// `Retry-After`, as a delay.
    pub retry_after: Option<Duration>,
}

impl CacheHints {
    /// Reads the hints from response headers.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        let max_age = text(header::CACHE_CONTROL).and_then(parse_max_age);
        let now = text(header::DATE)
            .and_then(parse_http_date)
            .unwrap_or_else(Timestamp::now);
        let expires_in = text(header::EXPIRES)
            .and_then(parse_http_date)
            .and_then(|at| positive_delay(now, at));
        let retry_after = text(header::RETRY_AFTER).and_then(|v| parse_retry_after(v, now));
        Self {
            max_age,
            expires_in,
            retry_after,
        }
    }

    /// How long the publisher asks us to wait before the next poll, if it says so.
    pub fn freshness(&self) -> Option<Duration> {
        self.max_age.or(self.expires_in)
    }
}

fn positive_delay(now: Timestamp, at: Timestamp) -> Option<Duration> {
    let millis = at.as_millisecond() - now.as_millisecond();
    (millis > 0).then(|| Duration::from_millis(millis as u64))
}

fn parse_max_age(cache_control: &str) -> Option<Duration> {
    let mut max_age = None;
    for directive in cache_control.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-cache" || directive == "no-store" {
            return None;
        }
        if let Some(value) = directive
            .strip_prefix("s-maxage=")
            .or_else(|| directive.strip_prefix("max-age="))
            && let Ok(secs) = value.trim_matches('"').parse::<u64>()
        {
            max_age = Some(Duration::from_secs(secs));
        }
    }
    max_age
}

/// Parses an HTTP date (IMF-fixdate; RFC 850 and asctime are obsolete and rare).
pub fn parse_http_date(text: &str) -> Option<Timestamp> {
    jiff::fmt::rfc2822::parse(text.trim())
        .ok()
        .map(|zoned| zoned.timestamp())
}

/// Parses `Retry-After`: delay seconds or an HTTP date.
pub fn parse_retry_after(text: &str, now: Timestamp) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    parse_http_date(text).map(|at| positive_delay(now, at).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn max_age_and_expires() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=600"),
        );
        headers.insert(
            header::DATE,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        headers.insert(
            header::EXPIRES,
            HeaderValue::from_static("Sun, 06 Nov 1994 09:49:37 GMT"),
        );
        let hints = CacheHints::from_headers(&headers);
        assert_eq!(hints.max_age, Some(Duration::from_secs(600)));
        assert_eq!(hints.expires_in, Some(Duration::from_secs(3600)));
        assert_eq!(hints.freshness(), Some(Duration::from_secs(600)));
    }

    #[test]
    fn no_cache_means_no_hint() {
        assert_eq!(parse_max_age("no-cache, max-age=600"), None);
    }

    #[test]
    fn retry_after_seconds_or_date() {
        let now = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap_or_else(Timestamp::now);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
