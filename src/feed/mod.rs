//! Feed parsing: turns the bytes of an RSS, Atom, RDF or JSON Feed document into a
//! normalised [`ParsedFeed`] with a stable identity ([`Entry::key`]) for every entry.
//!
//! This stage owns everything between "bytes arrived" and "here are the entries":
//! charset transcoding, repairing documents that feed-rs rejects, containing parser panics,
//! and mapping the fields the rest of the pipeline relies on. It does no I/O.
//!
//! How a document is read:
//!
//! 1. `charset` transcodes the bytes to UTF-8 (BOM, HTTP charset, XML declaration,
//!    detector) and rewrites the declaration to `utf-8`.
//! 2. `repair` makes the text well-formed XML: undeclared HTML entities, bare `&`,
//!    unclosed or stray tags, the DOCTYPE (internal entities expanded within a budget).
//! 3. `tree` builds a namespace-aware element tree (at most [`MAX_ENTRIES`] entries), and
//!    `map` reads the feed from it with feedparser's field semantics.
//! 4. `feedrs` runs feed-rs, under panic containment and through a chain of repairs when
//!    it rejects the document, on what the mapping could not read at all (and on every JSON
//!    Feed, where whatever it reads that `json` does not fills the gaps).
//! 5. Text values are normalised (`text`) and every entry gets its stable [`Entry::key`].

mod contain;
mod dates;
mod feedrs;
mod json;
mod map;
mod repair;
mod sniff;
mod text;
mod tree;
mod uri;

pub use dates::parse_date;
use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};
pub use sniff::describe_non_feed;

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
    /// A human-readable label (Atom `label`, Media RSS `label`), when given.
    pub label: Option<String>,
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
    /// Length in bytes, when given (in JSON a string of digits, as feedparser gives it).
    #[serde(serialize_with = "length_as_digits")]
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
    /// Length in bytes, when given (in JSON a string of digits, as feedparser gives it).
    #[serde(serialize_with = "length_as_digits")]
    pub length: Option<u64>,
}

/// Writes a link's or enclosure's length as feedparser does, a string of digits (`null` when
/// absent): readers comparing `newshound feed --json` with feedparser get equal values.
fn length_as_digits<S: serde::Serializer>(
    length: &Option<u64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match length {
        Some(length) => serializer.collect_str(length),
        None => serializer.serialize_none(),
    }
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
    /// Summary / description as HTML (plain-text sources are escaped). When the feed
    /// gives only full content, this is a copy of it, as in feedparser.
    pub summary: Option<String>,
    /// Full content as HTML (plain-text sources are escaped).
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
    /// Feed subtitle / description, as HTML.
    pub subtitle: Option<String>,
    /// The feed's home page.
    pub link: Option<String>,
    /// All links of the feed element (home page, `self`, hubs, related pages).
    pub links: Vec<Link>,
    /// Feed id.
    pub id: Option<String>,
    /// Last update instant of the feed.
    pub updated: Option<Timestamp>,
    /// Publication instant of the feed (RSS `pubDate`, `dcterms:issued`, Atom `published`).
    pub published: Option<Timestamp>,
    /// Feed authors.
    pub authors: Vec<Person>,
    /// Feed categories.
    pub categories: Vec<Category>,
    /// The entries, in document order.
    pub entries: Vec<Entry>,
    /// RSS `<ttl>`: minimum time between polls the publisher asks for.
    #[serde(skip)]
    pub ttl: Option<std::time::Duration>,
    /// The repairs that were needed to read the document; empty for a clean one. A
    /// non-empty list means the feed is degraded but usable.
    #[serde(skip)]
    pub repairs: Vec<&'static str>,
}

/// Most entries read from one document. Later entries are ignored, so a feed with a
/// million items costs no more memory or time than one with this many.
pub const MAX_ENTRIES: usize = 10_000;

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
/// the URL the document was fetched from (relative links resolve against it). At most
/// [`MAX_ENTRIES`] entries are read.
pub fn parse(
    bytes: &[u8],
    content_type: Option<&str>,
    base_url: Option<&str>,
) -> Result<ParsedFeed, FeedError> {
    parse_with_limit(bytes, content_type, base_url, MAX_ENTRIES)
}

/// [`parse`] with an explicit entry limit.
pub fn parse_with_limit(
    bytes: &[u8],
    content_type: Option<&str>,
    base_url: Option<&str>,
    max_entries: usize,
) -> Result<ParsedFeed, FeedError> {
    // feed-rs runs under its own containment; this net catches a panic anywhere else in
    // the stage, so that one hostile document can never take a worker thread down.
    contain::quietly(|| parse_contained(bytes, content_type, base_url, max_entries))
        .map_err(FeedError::ParserPanic)?
}

fn parse_contained(
    bytes: &[u8],
    content_type: Option<&str>,
    base_url: Option<&str>,
    max_entries: usize,
) -> Result<ParsedFeed, FeedError> {
    let decoded = crate::charset::decode_xml(bytes, content_type);
    let text = decoded.text;
    let (mut feed, mut repairs) = read_document(&text, base_url, max_entries)?;
    if decoded.had_errors {
        repairs.push("invalid-bytes");
    }
    if !repairs.is_empty() {
        tracing::debug!(?repairs, charset = decoded.name, "feed needed repairs");
    }
    feed.repairs = repairs;
    finish(&mut feed, base_url, max_entries);
    Ok(feed)
}

/// Reads a decoded document (XML or JSON Feed), with the repairs it needed.
fn read_document(
    text: &str,
    base_url: Option<&str>,
    max_entries: usize,
) -> Result<(ParsedFeed, Vec<&'static str>), FeedError> {
    let (ours, theirs, mut repairs) = if text.trim_start().starts_with('{') {
        let ours = json::from_json(text, max_entries);
        let theirs = feedrs::run(text, None, base_url);
        (ours, theirs.feed, theirs.repairs)
    } else {
        let normalised = repair::well_formed(text);
        let doc = tree::build(&normalised.text, max_entries);
        let mut repairs = normalised.repairs;
        // Our mapping reads all that feed-rs reads from XML (the same output on feedparser's
        // conformance suite and the real feeds of the development fixtures), so feed-rs, a
        // second parse as costly as the first, only runs when the mapping cannot read the
        // document at all.
        if let Some(ours) = map::from_tree(&doc, max_entries) {
            return Ok((ours, repairs));
        }
        let theirs = feedrs::run(&normalised.text, Some(&doc), base_url);
        repairs.extend(theirs.repairs);
        (None, theirs.feed, repairs)
    };
    if let Err(FeedError::ParserPanic(message)) = &theirs {
        tracing::warn!(%message, "feed-rs crashed on this document; using our own reading");
    }
    let feed = match (ours, theirs) {
        (Some(ours), Ok(theirs)) => feedrs::merge(ours, theirs),
        (Some(ours), Err(_)) => {
            repairs.push("feed-rs-rejected");
            ours
        }
        (None, Ok(theirs)) => theirs,
        (None, Err(error)) => return Err(error),
    };
    Ok((feed, repairs))
}

/// Final normalisation shared by every path: entry limit, mojibake repair, summary
/// fallback, link resolution and stable keys.
fn finish(feed: &mut ParsedFeed, base_url: Option<&str>, max_entries: usize) {
    feed.entries.truncate(max_entries);
    let base = base_url.filter(|b| uri::is_absolute(b));
    let fix = |value: &mut Option<String>| {
        if let Some(v) = value
            && let std::borrow::Cow::Owned(fixed) = text::demoronize(v)
        {
            *v = fixed;
        }
    };
    let resolve = |href: &mut String| {
        if let Some(base) = base
            && !uri::is_absolute(href)
        {
            *href = uri::resolve(base, href);
        }
    };
    fix(&mut feed.title);
    fix(&mut feed.subtitle);
    if let Some(link) = &mut feed.link {
        resolve(link);
    }
    for person in &mut feed.authors {
        fix(&mut person.name);
    }
    for category in &mut feed.categories {
        category.term = text::demoronize(&category.term).into_owned();
    }
    for entry in &mut feed.entries {
        fix(&mut entry.title);
        fix(&mut entry.summary);
        fix(&mut entry.content);
        for person in &mut entry.authors {
            fix(&mut person.name);
        }
        for category in &mut entry.categories {
            category.term = text::demoronize(&category.term).into_owned();
        }
        if entry.summary.is_none() {
            entry.summary = entry.content.clone();
        }
        if let Some(link) = &mut entry.link {
            resolve(link);
        }
        for link in &mut entry.links {
            resolve(&mut link.href);
        }
        for enclosure in &mut entry.enclosures {
            resolve(&mut enclosure.href);
        }
        entry.key = entry_key(
            entry.id.as_deref(),
            entry.link.as_deref(),
            entry.title.as_deref(),
            entry.date(),
            entry.summary.as_deref(),
        );
    }
}
