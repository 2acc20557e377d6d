//! Article extraction: what the rules match on for each entry.
//!
//! This stage turns an entry (and, when scraping is on, the page behind it) into an
//! [`Article`]: title, byline, date, language and plain text with paragraphs separated by a
//! blank line. The text never contains markup, link targets, rendered link lists or
//! footnote URLs (a URL the author wrote inside a sentence stays a word of that sentence).
//!
//! Files, in pipeline order:
//! - [`page`]: fetch the page (retries, canonical/AMP variants, fallback to the feed's
//!   content with the reason), read `.html`/`.html.gz` files;
//! - [`metadata`]: title, byline, date, language, JSON-LD `articleBody`, canonical/AMP links,
//!   read from the untouched page;
//! - [`overrides`]: per-feed and per-site CSS selectors (`extract_selector`,
//!   `remove_selectors`);
//! - [`clean`]: removal of page furniture (captions, share bars, related lists, consent and
//!   paywall boxes, comments, nested articles);
//! - [`candidates`] and [`readability`]: the main-text candidates (readability via
//!   `dom_smoothie`, the densest prose block, `itemprop=articleBody`);
//! - [`judge`]: the pipeline and the choice between candidates ([`extract`]);
//! - [`render`] and [`trim`]: DOM to text, and paragraph-level clean-up;
//! - [`text`]: feed HTML snippets to text ([`html_to_text`]).

pub mod candidates;
pub mod clean;
pub mod judge;
pub mod metadata;
pub mod nesting;
pub mod overrides;
pub mod page;
pub mod readability;
pub mod render;
pub mod text;
pub mod trim;

use jiff::Timestamp;
use serde::Serialize;
use url::Url;

use crate::feed::Entry;

pub use judge::{Extraction, extract};
pub use overrides::Overrides;
pub use page::{PageContext, fetch_article, fetch_page_article};
pub use text::html_to_text;

/// Where an article's text came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ArticleSource {
    /// Extracted from the article page.
    Page {
        /// The page URL (after redirects).
        url: String,
    },
    /// Taken from the feed entry itself.
    Feed {
        /// Why the page was not used, when scraping was wanted.
        reason: Option<String>,
    },
}

/// The text of an entry the rules are matched against.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Article {
    /// Headline.
    pub title: Option<String>,
    /// Author line.
    pub byline: Option<String>,
    /// Publication instant.
    pub published: Option<Timestamp>,
    /// Language code, when known.
    pub lang: Option<String>,
    /// Plain text, paragraphs separated by a blank line.
    pub text: String,
    /// Where the text came from.
    #[serde(skip)]
    pub source: ArticleSource,
}

/// The JSON form `newshound extract --json` prints: exactly these keys, in this order;
/// `published` is RFC 3339 in UTC.
#[derive(Debug, Serialize)]
pub struct ArticleJson<'a> {
    /// Headline.
    pub title: Option<&'a str>,
    /// Author line.
    pub byline: Option<&'a str>,
    /// Publication instant, RFC 3339 UTC.
    pub published: Option<String>,
    /// Language code.
    pub lang: Option<&'a str>,
    /// Plain text, paragraphs separated by a blank line.
    pub text: &'a str,
}

impl<'a> From<&'a Article> for ArticleJson<'a> {
    fn from(article: &'a Article) -> Self {
        Self {
            title: article.title.as_deref(),
            byline: article.byline.as_deref(),
            published: article.published.map(|p| p.to_string()),
            lang: article.lang.as_deref(),
            text: &article.text,
        }
    }
}

/// Why a page gave no usable article.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The page has no main text at all.
    #[error("no article text found in the page")]
    NoText,
    /// The page nests elements deeper than any real page does (a hostile page); it is not
    /// extracted rather than risk the stack.
    #[error("the page nests elements more than {limit} deep; not extracted")]
    TooDeep {
        /// The deepest nesting allowed.
        limit: usize,
    },
}

/// Extracts the article from a page's HTML. Pure: no I/O. A configured body selector that
/// matches nothing falls back to automatic extraction and is logged (as a warning naming
/// the override's origin and the URL).
pub fn extract_html(
    html: &str,
    url: Option<&Url>,
    overrides: &Overrides,
) -> Result<Article, ExtractError> {
    let extraction = judge::extract(html, url, overrides)?;
    if extraction.override_missed {
        tracing::warn!(
            overrides = %overrides.origin,
            url = %url.map(Url::as_str).unwrap_or("(file)"),
            "extract_selector matched no text; using automatic extraction"
        );
    }
    if extraction.article.text.trim().is_empty() {
        return Err(ExtractError::NoText);
    }
    Ok(extraction.article)
}

/// The article as the feed itself tells it: the entry's content, else its summary.
pub fn from_entry(entry: &Entry, reason: Option<String>) -> Article {
    let body = entry
        .content
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .or(entry.summary.as_deref())
        .unwrap_or("");
    let byline = entry
        .authors
        .iter()
        .filter_map(|a| a.name.clone().or_else(|| a.email.clone()))
        .collect::<Vec<_>>()
        .join(", ");
    Article {
        title: entry.title.clone(),
        byline: Some(byline).filter(|b| !b.is_empty()),
        published: entry.date(),
        lang: None,
        text: html_to_text(body),
        source: ArticleSource::Feed { reason },
    }
}
