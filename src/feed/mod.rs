//! Feed parsing: turns the bytes of an RSS, Atom, RDF or JSON Feed document into a
//! normalised [`ParsedFeed`] with a stable identity ([`Entry::key`]) for every entry.
//!
//! This stage owns everything between "bytes arrived" and "here are the entries":
//! charset transcoding, repairing documents that feed-rs rejects, containing parser panics,
//! and mapping the fields the rest of the pipeline relies on. It does no I/O.

use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Everything that can make a document unusable as a feed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The document could not be parsed even after all repairs were tried.
    #[error("not a parseable feed: {0}")]
    Unparseable(String),
    /// The parser panicked; the panic was contained and reported for this document only.
    #[error("feed parser crashed on this document: {0}")]
    ParserPanic(String),
}

/// A person named by a feed or entry (author, contributor).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Person {
    /// Display name, when given.
    pub name: Option<String>,
    /// E-mail address, when given.
    pub email: Option<String>,
    /// Home page or profile URI, when given.
    pub uri: Option<String>,
}

/// A category or tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Category {
    /// The category term.
    pub term: String,
    /// The categorisation scheme (domain), when given.
    pub scheme: Option<String>,
}

/// A link of an entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Link {
    /// Target URL.
    pub href: String,
    /// Relation (`alternate`, `enclosure`, ...), when given.
    pub rel: Option<String>,
    /// Media type, when given.
    #[serde(rename = "type")]
    pub media_type: Option<String>,
    /// Length in bytes, when given.
    pub length: Option<u64>,
}

/// A media enclosure (podcast audio, image).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Enclosure {
    /// Target URL.
    pub href: String,
    /// Media type, when given.
    #[serde(rename = "type")]
    pub media_type: Option<String>,
    /// Length in bytes, when given.
    pub length: Option<u64>,
}

/// One item of a feed, normalised.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Entry {
    /// Stable identity: the same entry gets the same key on every poll and after a restart.
    pub key: String,
    /// The id (guid) the feed gave the entry, when it gave one.
    pub id: Option<String>,
    /// Title as plain text with entities decoded.
    pub title: Option<String>,
    /// The entry's main (alternate) link.
    pub link: Option<String>,
    /// All links, enclosures included with `rel = "enclosure"`.
    pub links: Vec<Link>,
    /// Media enclosures.
    pub enclosures: Vec<Enclosure>,
    /// Publication instant.
    pub published: Option<Timestamp>,
    /// Last update instant.
    pub updated: Option<Timestamp>,
    /// Summary / description (may contain HTML).
    pub summary: Option<String>,
    /// Full content (may contain HTML).
    pub content: Option<String>,
    /// Authors.
    pub authors: Vec<Person>,
    /// Categories and tags.
    pub categories: Vec<Category>,
}

/// A parsed, normalised feed document.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ParsedFeed {
    /// Feed title.
    pub title: Option<String>,
    /// Feed subtitle / description.
    pub subtitle: Option<String>,
    /// The feed's home page.
    pub link: Option<String>,
    /// Feed id.
    pub id: Option<String>,
    /// Last update instant of the feed.
    pub updated: Option<Timestamp>,
    /// Feed authors.
    pub authors: Vec<Person>,
    /// Feed categories.
    pub categories: Vec<Category>,
    /// The entries, in document order.
    pub entries: Vec<Entry>,
    /// RSS `<ttl>`: minimum time between polls the publisher asks for.
    #[serde(skip)]
    pub ttl: Option<std::time::Duration>,
}

impl Entry {
    /// A fingerprint of what a reader sees of the entry; changes when the entry is edited.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for part in [&self.title, &self.summary, &self.content, &self.link] {
            hasher.update(part.as_deref().unwrap_or("").as_bytes());
            hasher.update([0u8]);
        }
        hasher.update(
            self.updated
                .map(|t| t.as_second().to_string())
                .unwrap_or_default(),
        );
        hex::encode(&hasher.finalize()[..12])
    }

    /// The best date for the entry: when it was published, else when it was updated.
    pub fn date(&self) -> Option<Timestamp> {
        self.published.or(self.updated)
    }
}

/// Computes the stable identity of an entry: its id (guid), else its link, else a hash of
/// title, date and summary.
pub fn entry_key(
    id: Option<&str>,
    link: Option<&str>,
    title: Option<&str>,
    date: Option<Timestamp>,
    summary: Option<&str>,
) -> String {
    if let Some(id) = id.map(str::trim).filter(|s| !s.is_empty()) {
        return format!("id:{id}");
    }
    if let Some(link) = link.map(str::trim).filter(|s| !s.is_empty()) {
        return format!("link:{link}");
    }
    let mut hasher = Sha256::new();
    hasher.update(title.unwrap_or("").as_bytes());
    hasher.update([0u8]);
    hasher.update(date.map(|d| d.to_string()).unwrap_or_default().as_bytes());
    hasher.update([0u8]);
    hasher.update(summary.unwrap_or("").as_bytes());
    format!("hash:{}", hex::encode(&hasher.finalize()[..16]))
}

/// Parses a feed document.
///
/// `content_type` is the HTTP `Content-Type` header (its charset is honoured), `base_url`
/// the URL the document was fetched from (relative links resolve against it).
pub fn parse(
    bytes: &[u8],
    content_type: Option<&str>,
    base_url: Option<&str>,
) -> Result<ParsedFeed, FeedError> {
    let _ = content_type;
    let mut builder = feed_rs::parser::Builder::new();
    if let Some(base) = base_url {
        builder = builder.base_uri(Some(base));
    }
    let parser = builder.build();
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(bytes)))
        .map_err(|panic| FeedError::ParserPanic(panic_message(&panic)))?
        .map_err(|e| FeedError::Unparseable(e.to_string()))?;
    Ok(from_feed_rs(parsed))
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

fn from_feed_rs(feed: feed_rs::model::Feed) -> ParsedFeed {
    let persons = |people: &[feed_rs::model::Person]| -> Vec<Person> {
        people
            .iter()
            .map(|p| Person {
                name: p.name.clone().filter(|s| !s.is_empty()),
                email: p.email.clone(),
                uri: p.uri.clone(),
            })
            .collect()
    };
    let categories = |cats: &[feed_rs::model::Category]| -> Vec<Category> {
        cats.iter()
            .map(|c| Category {
                term: c.term.clone(),
                scheme: c.scheme.clone(),
            })
            .collect()
    };
    let ts = |d: Option<chrono::DateTime<chrono::Utc>>| {
        d.and_then(|d| Timestamp::new(d.timestamp(), d.timestamp_subsec_nanos() as i32).ok())
    };
    let entries = feed
        .entries
        .iter()
        .map(|e| {
            let title = e.title.as_ref().map(|t| t.content.clone());
            let link = e.links.first().map(|l| l.href.clone());
            let summary = e.summary.as_ref().map(|t| t.content.clone());
            let published = ts(e.published);
            let updated = ts(e.updated);
            let id = Some(e.id.clone()).filter(|s| !s.is_empty());
            Entry {
                key: entry_key(
                    id.as_deref(),
                    link.as_deref(),
                    title.as_deref(),
                    published.or(updated),
                    summary.as_deref(),
                ),
                id,
                title,
                link,
                links: e
                    .links
                    .iter()
                    .map(|l| Link {
                        href: l.href.clone(),
                        rel: l.rel.clone(),
                        media_type: l.media_type.clone(),
                        length: l.length,
                    })
                    .collect(),
                enclosures: Vec::new(),
                published,
                updated,
                summary,
                content: e.content.as_ref().and_then(|c| c.body.clone()),
                authors: persons(&e.authors),
                categories: categories(&e.categories),
            }
        })
        .collect();
    ParsedFeed {
        title: feed.title.map(|t| t.content),
        subtitle: feed.description.map(|t| t.content),
        link: feed.links.first().map(|l| l.href.clone()),
        id: Some(feed.id).filter(|s| !s.is_empty()),
        updated: ts(feed.updated),
        authors: persons(&feed.authors),
        categories: categories(&feed.categories),
        entries,
        ttl: feed
            .ttl
            .map(|minutes| std::time::Duration::from_secs(u64::from(minutes) * 60)),
    }
}
