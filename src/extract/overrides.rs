//! Per-feed and per-site extraction overrides, as Miniflux users know them: a CSS selector
//! for the article body and selectors of elements to remove first.
//!
//! Selectors are validated when the configuration is loaded ([`check_selector`]) and
//! compiled again for each page (compiled selectors are not `Send`; compiling one costs a few
//! microseconds).

use dom_query::{Document, Matcher};
use url::Url;

use crate::config::{FeedConfig, SiteConfig};

/// Per-page extraction settings: site or feed overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// CSS selector of the article body.
    pub body: Option<String>,
    /// CSS selectors of elements to remove before extraction.
    pub remove: Vec<String>,
    /// Who set the overrides (`feed "X"`, `site example.org`), for logs.
    pub origin: String,
}

impl Overrides {
    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        self.body.is_none() && self.remove.is_empty()
    }

    /// The overrides for a page of `feed` at `url`: the feed's own, else those of the most
    /// specific `[[sites]]` entry whose host matches the page's host or a parent domain.
    /// Feed and site removal lists are combined.
    pub fn for_page(feed: Option<&FeedConfig>, sites: &[SiteConfig], url: Option<&Url>) -> Self {
        let host = url
            .and_then(Url::host_str)
            .map(|h| h.trim_end_matches('.').to_ascii_lowercase());
        let site = host.as_deref().and_then(|host| {
            sites
                .iter()
                .filter(|s| host_matches(host, &s.host))
                .max_by_key(|s| s.host.len())
        });
        let mut overrides = Overrides::default();
        let mut origins = Vec::new();
        if let Some(site) = site {
            overrides.body = site.extract_selector.as_ref().map(|s| s.get_ref().clone());
            overrides
                .remove
                .extend(site.remove_selectors.iter().map(|s| s.get_ref().clone()));
            origins.push(format!("site {}", site.host));
        }
        if let Some(feed) = feed {
            if feed.extract_selector.is_some() {
                overrides.body = feed.extract_selector.clone();
            }
            overrides
                .remove
                .extend(feed.remove_selectors.iter().cloned());
            if feed.extract_selector.is_some() || !feed.remove_selectors.is_empty() {
                origins.push(format!("feed {:?}", feed.name));
            }
        }
        overrides.origin = origins.join(", ");
        overrides
    }
}

/// Whether `host` is `pattern` or a subdomain of it.
pub fn host_matches(host: &str, pattern: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    host == pattern
        || host
            .strip_suffix(pattern.as_str())
            .is_some_and(|prefix| prefix.ends_with('.'))
}

/// Checks a CSS selector; the error says what the parser did not understand.
pub fn check_selector(selector: &str) -> Result<(), String> {
    if selector.trim().is_empty() {
        return Err("empty CSS selector".to_string());
    }
    Matcher::new(selector)
        .map(|_| ())
        .map_err(|error| format!("invalid CSS selector {selector:?} ({:?})", error.kind))
}

/// Removes the elements matching the removal selectors. Returns how many were removed.
pub fn apply_removals(document: &Document, overrides: &Overrides) -> usize {
    let mut removed = 0;
    for selector in &overrides.remove {
        if let Ok(matcher) = Matcher::new(selector) {
            let selection = document.select_matcher(&matcher);
            removed += selection.length();
            selection.remove();
        }
    }
    removed
}

/// The text of the elements matching the body selector (each one a paragraph or more), or
/// `None` when it matches nothing with text.
pub fn body_text(document: &Document, overrides: &Overrides) -> Option<String> {
    let matcher = Matcher::new(overrides.body.as_deref()?).ok()?;
    let selection = document.select_matcher(&matcher);
    let parts: Vec<String> = selection
        .nodes()
        .iter()
        .map(super::render::render)
        .filter(|t| !t.is_empty())
        .collect();
    Some(parts.join("\n\n")).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_themselves_and_subdomains_only() {
        assert!(host_matches("example.org", "example.org"));
        assert!(host_matches("www.example.org", "example.org"));
        assert!(host_matches("www.example.org", "Example.org."));
        assert!(!host_matches("badexample.org", "example.org"));
        assert!(!host_matches("example.org.evil", "example.org"));
    }

    #[test]
    fn invalid_selectors_are_reported() {
        assert!(check_selector("div.article-body > p").is_ok());
        let message = check_selector("div..x").expect_err("invalid");
        assert!(message.contains("div..x"), "{message}");
        assert!(check_selector("p[").is_err());
        assert!(check_selector(" ").is_err());
    }

    #[test]
    fn body_selector_and_removals() {
        let html = "<body><div class=teaser>Teaser</div><div class=story><p>One.</p>\
                    <div class=promo>Buy now</div><p>Two.</p></div></body>";
        let document = Document::from(html);
        let overrides = Overrides {
            body: Some("div.story".into()),
            remove: vec![".promo".into()],
            origin: "test".into(),
        };
        assert_eq!(apply_removals(&document, &overrides), 1);
        assert_eq!(
            body_text(&document, &overrides).as_deref(),
            Some("One.\n\nTwo.")
        );
        let nothing = Overrides {
            body: Some("div.missing".into()),
            ..Overrides::default()
        };
        assert_eq!(body_text(&document, &nothing), None);
    }
}
