//! Article extraction: what the rules match on for each entry.
//!
//! This stage turns an entry (and, when scraping is on, the page behind it) into an
//! [`Article`]: title, byline, date, language and plain text with paragraph breaks. The text
//! never contains markup, rendered link lists or URLs.

pub mod text;

use jiff::Timestamp;
use serde::Serialize;

use crate::feed::Entry;

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
