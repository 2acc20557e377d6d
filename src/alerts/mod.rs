//! Alerts: what a match becomes before delivery, and how it is identified.
//!
//! This stage owns the [`Alert`] payload (a documented, versioned JSON shape that travels
//! through the outbox to every destination), the story key that recognises one story, and
//! the deterministic idempotency key (rule + story + destination) that keeps an alert from
//! being queued or sent twice.
//!
//! It also owns "one story, one alert": URLs are canonicalised ([`canonical`]), near-duplicate
//! texts are recognised by their MinHash sketch ([`similar`]), queued alerts for a story
//! already alerted within the window are folded into the first one ([`dedupe`]), and a later
//! version of an alerted article that brings new evidence becomes an update threaded under
//! the first alert ([`updates`]) — a cosmetic edit brings nothing.

pub mod canonical;
pub mod dedupe;
pub mod similar;

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::extract::Article;
use crate::feed::Entry;
use crate::rules::{Evidence, Match};
use crate::store::{NewAlert, OutboxKind, Store};

/// Version of the [`Alert`] JSON shape. 2 added `update_of` and `new_evidence`.
pub const ALERT_SCHEMA_VERSION: u32 = 2;

/// Longest excerpt of the article text carried in an alert.
const EXCERPT_CHARS: usize = 600;

/// Longest headline carried in an alert, in characters: a hostile feed can send a title of
/// megabytes, which would be stored in the outbox and sent to every destination.
pub const TITLE_CHARS: usize = 300;

/// Longest byline carried in an alert, in characters.
const BYLINE_CHARS: usize = 200;

/// The feed an alert's entry came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertFeed {
    /// Feed name.
    pub name: String,
    /// Feed URL.
    pub url: String,
}

/// The article an alert is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertArticle {
    /// Stable entry key within its feed.
    pub entry_key: String,
    /// Headline.
    pub title: Option<String>,
    /// Link to the article.
    pub link: Option<String>,
    /// Author line.
    pub byline: Option<String>,
    /// Publication instant.
    pub published: Option<Timestamp>,
    /// The first part of the article text.
    pub excerpt: String,
}

/// One alert for one destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Version of this shape ([`ALERT_SCHEMA_VERSION`]).
    pub schema: u32,
    /// Idempotency key: the same rule, story and destination always give the same id.
    pub id: String,
    /// The rule that matched.
    pub rule: String,
    /// The destination it is for.
    pub destination: String,
    /// Story key (canonical URL or entry identity).
    pub story: String,
    /// Where the entry came from.
    pub feed: AlertFeed,
    /// The article.
    pub article: AlertArticle,
    /// Why the rule matched.
    pub evidence: Vec<Evidence>,
    /// When the alert was created.
    pub created: Timestamp,
    /// For an update: the id of the first alert of the story.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_of: Option<String>,
    /// For an update: the evidence the earlier alerts did not have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_evidence: Vec<Evidence>,
    /// Near-duplicate sketch of the article text (stored beside the payload, not in it).
    #[serde(skip)]
    pub sketch: Vec<u64>,
}

/// Another outlet's report of the same story ("also reported by").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outlet {
    /// Feed name.
    pub feed: String,
    /// That outlet's headline.
    pub title: Option<String>,
    /// That outlet's link.
    pub link: Option<String>,
}

impl Outlet {
    /// The outlet of an alert.
    pub fn of(alert: &Alert) -> Self {
        Self {
            feed: alert.feed.name.clone(),
            title: alert.article.title.clone(),
            link: alert.article.link.clone(),
        }
    }
}

/// The key that recognises one story: the entry's canonical link (see [`canonical`]), else
/// the feed URL plus the entry key.
pub fn story_key(feed_url: &str, entry: &Entry) -> String {
    match entry.link.as_deref().and_then(canonical::canonical_url) {
        Some(link) => link,
        None => format!("{feed_url}#{}", entry.key),
    }
}

/// The deterministic idempotency key of (rule, story, destination).
pub fn idempotency_key(rule: &str, story: &str, destination: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [rule, story, destination] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    format!("nh_{}", hex::encode(&hasher.finalize()[..16]))
}

/// Builds one alert per destination of a match.
pub fn from_match(
    found: &Match,
    feed: &AlertFeed,
    entry: &Entry,
    article: &Article,
    now: Timestamp,
) -> Vec<Alert> {
    let story = story_key(&feed.url, entry);
    let excerpt = truncate_chars(&article.text, EXCERPT_CHARS);
    let sketch = article_sketch(article);
    found
        .destinations
        .iter()
        .map(|destination| Alert {
            schema: ALERT_SCHEMA_VERSION,
            id: idempotency_key(&found.rule, &story, destination),
            rule: found.rule.to_string(),
            destination: destination.clone(),
            story: story.clone(),
            feed: feed.clone(),
            article: AlertArticle {
                entry_key: entry.key.clone(),
                title: article
                    .title
                    .as_deref()
                    .or(entry.title.as_deref())
                    .map(|t| truncate_chars(t, TITLE_CHARS)),
                link: entry.link.clone(),
                byline: article
                    .byline
                    .as_deref()
                    .map(|b| truncate_chars(b, BYLINE_CHARS)),
                published: article.published.or(entry.date()),
                excerpt: excerpt.clone(),
            },
            evidence: found.evidence.clone(),
            created: now,
            update_of: None,
            new_evidence: Vec::new(),
            sketch: sketch.clone(),
        })
        .collect()
}

fn article_sketch(article: &Article) -> Vec<u64> {
    let body = similar::sketch(&article.text);
    if body.is_empty() {
        similar::sketch(&format!(
            "{} {}",
            article.title.as_deref().unwrap_or(""),
            article.text
        ))
    } else {
        body
    }
}

/// Evidence keys that only say where or in which words something was found; two pieces of
/// evidence that differ only in these are the same finding (a cosmetic edit moves them).
const PLACEMENT_KEYS: &[&str] = &["snippet", "field", "context", "offset", "start", "end"];

/// What one piece of evidence found, without where: e.g. a term, or a speaker and a quote.
pub fn evidence_identity(evidence: &Evidence) -> String {
    match serde_json::to_value(evidence) {
        Ok(serde_json::Value::Object(mut map)) => {
            for key in PLACEMENT_KEYS {
                map.remove(*key);
            }
            serde_json::Value::Object(map).to_string()
        }
        Ok(other) => other.to_string(),
        Err(_) => format!("{evidence:?}"),
    }
}

/// Updates for a rule that matched an earlier version of this entry already: for each
/// destination whose alerts so far lack some of the evidence now found (a quote was added),
/// an update threaded under the first alert. A cosmetic edit (the same findings) gives none.
pub fn updates(
    store: &Store,
    found: &Match,
    feed: &AlertFeed,
    entry: &Entry,
    article: &Article,
    now: Timestamp,
) -> Vec<Alert> {
    let story = story_key(&feed.url, entry);
    let mut updates = Vec::new();
    for alert in from_match(found, feed, entry, article, now) {
        let first_key = alert.id.clone();
        let thread = match store.thread(&first_key) {
            Ok(thread) => thread,
            Err(error) => {
                tracing::warn!(%error, key = %first_key, "cannot read the alerts of a story; no update");
                continue;
            }
        };
        if thread.is_empty() {
            continue; // never alerted (e.g. recorded during backfill): nothing to update
        }
        let known: BTreeSet<String> = thread
            .iter()
            .filter_map(|item| serde_json::from_str::<Alert>(&item.payload).ok())
            .flat_map(|earlier| earlier.evidence)
            .map(|e| evidence_identity(&e))
            .collect();
        let new_evidence: Vec<Evidence> = alert
            .evidence
            .iter()
            .filter(|e| !known.contains(&evidence_identity(e)))
            .cloned()
            .collect();
        if new_evidence.is_empty() {
            continue;
        }
        let mut hasher = Sha256::new();
        for identity in new_evidence
            .iter()
            .map(evidence_identity)
            .collect::<BTreeSet<_>>()
        {
            hasher.update(identity.as_bytes());
            hasher.update([0u8]);
        }
        let id = format!("{first_key}_u{}", hex::encode(&hasher.finalize()[..8]));
        debug_assert_eq!(alert.story, story);
        updates.push(Alert {
            id,
            update_of: Some(first_key),
            new_evidence,
            ..alert
        });
    }
    updates
}

impl Alert {
    /// The outbox row for this alert.
    pub fn to_outbox(&self) -> Result<NewAlert, serde_json::Error> {
        Ok(NewAlert {
            key: self.id.clone(),
            destination: self.destination.clone(),
            rule: self.rule.clone(),
            story: self.story.clone(),
            payload: serde_json::to_string(self)?,
            kind: if self.update_of.is_some() {
                OutboxKind::Update
            } else {
                OutboxKind::Alert
            },
            thread_of: self.update_of.clone(),
            sketch: self.sketch.clone(),
        })
    }
}

/// At most `max` characters of `text`, cut on a character boundary (an ellipsis marks a
/// cut).
pub fn truncate_chars(text: &str, max: usize) -> String {
    let Some((mut cut, _)) = text.char_indices().nth(max) else {
        return text.to_string();
    };
    // Never separate a character from what belongs to it: combining accents, variation
    // selectors, emoji modifiers and the parts of a zero-width-joiner sequence.
    while cut > 0 {
        let next = text[cut..].chars().next();
        let previous = text[..cut].chars().next_back();
        if next.is_some_and(attaches_to_previous) || previous == Some('\u{200D}') {
            cut -= previous.map_or(1, char::len_utf8);
        } else {
            break;
        }
    }
    format!("{}…", text[..cut].trim_end())
}

/// Whether `c` belongs to the character before it rather than standing alone.
fn attaches_to_previous(c: char) -> bool {
    unicode_normalization::char::is_combining_mark(c)
        || matches!(c, '\u{200D}' | '\u{FE00}'..='\u{FE0F}' | '\u{1F3FB}'..='\u{1F3FF}' | '\u{E0020}'..='\u{E007F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate_chars("abcdef", 3), "abc…");
        assert_eq!(truncate_chars("abc", 3), "abc");
        // "é" written as e + combining acute: the accent is never cut off its letter.
        let decomposed = "cafe\u{301}";
        assert_eq!(truncate_chars(decomposed, 4), "caf…");
        // A family emoji (man ZWJ woman ZWJ girl) is kept whole or dropped whole.
        let family = "ab\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}cd";
        assert_eq!(truncate_chars(family, 3), "ab…");
        assert_eq!(truncate_chars(family, 4), "ab…");
        // Seven characters are "ab" and the five of the family; the eighth is "c".
        assert_eq!(
            truncate_chars(family, 7),
            "ab\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}…"
        );
        assert_eq!(
            truncate_chars(family, 8),
            "ab\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}c…"
        );
        // A thumbs-up with a skin tone.
        assert_eq!(truncate_chars("x\u{1F44D}\u{1F3FD}y", 2), "x…");
    }

    #[test]
    fn keys_are_deterministic_and_distinct() {
        let a = idempotency_key("r", "https://x/1", "mail");
        assert_eq!(a, idempotency_key("r", "https://x/1", "mail"));
        assert_ne!(a, idempotency_key("r", "https://x/1", "hook"));
        assert_ne!(
            idempotency_key("ab", "c", "d"),
            idempotency_key("a", "bc", "d")
        );
    }

    #[test]
    fn story_key_drops_the_fragment() {
        let entry = Entry {
            key: "id:1".into(),
            link: Some("https://news.example/a?id=1#comments".into()),
            ..Entry::default()
        };
        assert_eq!(
            story_key("https://feed", &entry),
            "https://news.example/a?id=1"
        );
        let no_link = Entry {
            key: "id:1".into(),
            ..Entry::default()
        };
        assert_eq!(story_key("https://feed", &no_link), "https://feed#id:1");
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate_chars("Зеленський", 4), "Зеле…");
        assert_eq!(truncate_chars("short", 10), "short");
    }
}
