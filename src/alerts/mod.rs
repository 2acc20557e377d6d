//! Alerts: what a match becomes before delivery, and how it is identified.
//!
//! This stage owns the [`Alert`] payload (a documented, versioned JSON shape that travels
//! through the outbox to every destination), the story key that recognises one story, and
//! the deterministic idempotency key (rule + story + destination) that keeps an alert from
//! being queued or sent twice.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::extract::Article;
use crate::feed::Entry;
use crate::rules::{Evidence, Match};
use crate::store::NewAlert;

/// Version of the [`Alert`] JSON shape.
pub const ALERT_SCHEMA_VERSION: u32 = 1;

/// Longest excerpt of the article text carried in an alert.
const EXCERPT_CHARS: usize = 600;

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
}

/// The key that recognises one story: the entry's link without fragment, else the feed URL
/// plus the entry key.
pub fn story_key(feed_url: &str, entry: &Entry) -> String {
    match entry.link.as_deref().and_then(|l| url::Url::parse(l).ok()) {
        Some(mut link) => {
            link.set_fragment(None);
            link.to_string()
        }
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
    found
        .destinations
        .iter()
        .map(|destination| Alert {
            schema: ALERT_SCHEMA_VERSION,
            id: idempotency_key(&found.rule, &story, destination),
            rule: found.rule.clone(),
            destination: destination.clone(),
            story: story.clone(),
            feed: feed.clone(),
            article: AlertArticle {
                entry_key: entry.key.clone(),
                title: article.title.clone().or_else(|| entry.title.clone()),
                link: entry.link.clone(),
                byline: article.byline.clone(),
                published: article.published.or(entry.date()),
                excerpt: excerpt.clone(),
            },
            evidence: found.evidence.clone(),
            created: now,
        })
        .collect()
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
        })
    }
}

/// At most `max` characters of `text`, cut on a character boundary (an ellipsis marks a
/// cut).
pub fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
