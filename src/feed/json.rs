//! Lenient mapping of JSON Feed (1.0 and 1.1) documents, and of RSS written as JSON
//! (`{"rss": {"channel": {"item": [...]}}}`, served by Scripting News and other
//! Frontier/OPML-era tools).
//!
//! feed-rs deserialises JSON Feed strictly: a missing `version`, an `http://` version URL
//! or `tags` given as a string instead of a list loses the whole feed. Real feeds do all
//! three, so this reads the JSON as an untyped value and takes what is usable, field by
//! field.

use serde_json::{Map, Value};

use super::dates::parse_date;
use super::text::{Kind, to_html, to_plain};
use super::{Category, Enclosure, Entry, Link, ParsedFeed, Person};

/// Maps a JSON Feed document, or returns `None` when the text is not a JSON object that
/// looks like one.
pub fn from_json(text: &str, max_entries: usize) -> Option<ParsedFeed> {
    let value: Value = serde_json::from_str(text).ok()?;
    let object = value.as_object()?;
    if let Some(channel) = object
        .get("rss")
        .and_then(|rss| rss.get("channel"))
        .and_then(Value::as_object)
    {
        return Some(from_rss_json(channel, max_entries));
    }
    let looks_like_feed = object.contains_key("items")
        || object
            .get("version")
            .and_then(Value::as_str)
            .is_some_and(|v| v.contains("jsonfeed"));
    if !looks_like_feed {
        return None;
    }
    let mut feed = ParsedFeed {
        title: string(object, "title").map(|t| to_plain(&t, Kind::Guess)),
        subtitle: string(object, "description").map(|d| to_html(&d, Kind::Plain)),
        link: string(object, "home_page_url"),
        links: [
            ("home_page_url", "alternate", "text/html"),
            ("feed_url", "self", "application/feed+json"),
        ]
        .into_iter()
        .filter_map(|(key, rel, media_type)| {
            Some(Link {
                href: string(object, key)?,
                rel: Some(rel.to_string()),
                media_type: Some(media_type.to_string()),
                length: None,
            })
        })
        .collect(),
        id: string(object, "feed_url"),
        authors: authors(object),
        ..ParsedFeed::default()
    };
    if let Some(items) = object.get("items").and_then(Value::as_array) {
        feed.entries = items
            .iter()
            .filter_map(Value::as_object)
            .take(max_entries)
            .map(item)
            .collect();
    }
    Some(feed)
}

fn item(object: &Map<String, Value>) -> Entry {
    let link = string(object, "url").or_else(|| string(object, "external_url"));
    let mut links = Vec::new();
    if let Some(href) = &link {
        links.push(Link {
            href: href.clone(),
            rel: Some("alternate".to_string()),
            media_type: None,
            length: None,
        });
    }
    let mut enclosures = Vec::new();
    for attachment in object
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
    {
        let Some(href) = string(attachment, "url") else {
            continue;
        };
        let media_type = string(attachment, "mime_type");
        let length = attachment.get("size_in_bytes").and_then(number);
        links.push(Link {
            href: href.clone(),
            rel: Some("enclosure".to_string()),
            media_type: media_type.clone(),
            length,
        });
        enclosures.push(Enclosure {
            href,
            media_type,
            length,
        });
    }
    let content = string(object, "content_html")
        .map(|h| to_html(&h, Kind::Html))
        .or_else(|| string(object, "content_text").map(|t| to_html(&t, Kind::Plain)));
    Entry {
        key: String::new(),
        // Ids are strings by the spec, but numbers are common.
        id: object.get("id").and_then(scalar_string),
        // JSON Feed titles are plain text by the spec, but WordPress writes entities.
        title: string(object, "title").map(|t| to_plain(&t, Kind::Guess)),
        link,
        links,
        enclosures,
        published: string(object, "date_published").and_then(|d| parse_date(&d)),
        updated: string(object, "date_modified").and_then(|d| parse_date(&d)),
        summary: string(object, "summary").map(|s| to_html(&s, Kind::Plain)),
        content,
        authors: authors(object),
        categories: tags(object),
    }
}

/// RSS 2.0 expressed as JSON: element names as keys, repeated elements as arrays,
/// attributes as keys of nested objects.
fn from_rss_json(channel: &Map<String, Value>, max_entries: usize) -> ParsedFeed {
    let mut feed = ParsedFeed {
        title: value_text(channel.get("title")).map(|t| to_plain(&t, Kind::Guess)),
        subtitle: value_text(channel.get("description")).map(|d| to_html(&d, Kind::Guess)),
        link: value_text(channel.get("link")),
        updated: value_text(channel.get("lastBuildDate"))
            .or_else(|| value_text(channel.get("pubDate")))
            .and_then(|d| parse_date(&d)),
        ..ParsedFeed::default()
    };
    feed.entries = as_list(channel.get("item"))
        .into_iter()
        .filter_map(Value::as_object)
        .take(max_entries)
        .map(|item| {
            let guid = value_text(item.get("guid"));
            let permalink = item
                .get("guid")
                .and_then(|g| g.get("isPermaLink"))
                .is_none_or(|v| v.as_str() != Some("false") && v.as_bool() != Some(false));
            let link = value_text(item.get("link")).or_else(|| {
                guid.clone().filter(|g| {
                    permalink && (g.starts_with("http://") || g.starts_with("https://"))
                })
            });
            let mut links: Vec<Link> = link
                .iter()
                .map(|href| Link {
                    href: href.clone(),
                    rel: Some("alternate".to_string()),
                    media_type: Some("text/html".to_string()),
                    length: None,
                })
                .collect();
            let mut enclosures = Vec::new();
            for enclosure in as_list(item.get("enclosure"))
                .into_iter()
                .filter_map(Value::as_object)
            {
                let Some(href) = string(enclosure, "url") else {
                    continue;
                };
                let media_type = string(enclosure, "type");
                let length = enclosure.get("length").and_then(number);
                links.push(Link {
                    href: href.clone(),
                    rel: Some("enclosure".to_string()),
                    media_type: media_type.clone(),
                    length,
                });
                enclosures.push(Enclosure {
                    href,
                    media_type,
                    length,
                });
            }
            let mut categories: Vec<Category> = Vec::new();
            for term in as_list(item.get("category"))
                .into_iter()
                .take(256)
                .filter_map(|c| value_text(Some(c)))
            {
                if !categories.iter().any(|c| c.term == term) {
                    categories.push(Category {
                        term,
                        scheme: None,
                        label: None,
                    });
                }
            }
            Entry {
                key: String::new(),
                id: guid,
                title: value_text(item.get("title")).map(|t| to_plain(&t, Kind::Guess)),
                link,
                links,
                enclosures,
                published: value_text(item.get("pubDate")).and_then(|d| parse_date(&d)),
                updated: None,
                summary: value_text(item.get("description")).map(|d| to_html(&d, Kind::Guess)),
                content: None,
                authors: value_text(item.get("author"))
                    .map(|a| super::map::parse_person(&a))
                    .into_iter()
                    .collect(),
                categories,
            }
        })
        .collect();
    feed
}

/// A JSON value that stands for one element or a list of them.
fn as_list(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

/// The text of an element written as JSON: a string or number, or an object holding the
/// text under a conventional key beside the attributes.
fn value_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Object(object) => ["#value", "value", "#text", "text", "content"]
            .iter()
            .find_map(|key| object.get(*key).and_then(scalar_string)),
        other => scalar_string(other),
    }
}

fn string(object: &Map<String, Value>, key: &str) -> Option<String> {
    object
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

/// JSON Feed 1.1 `authors`, or 1.0 `author`.
fn authors(object: &Map<String, Value>) -> Vec<Person> {
    let list: Vec<&Value> = match object.get("authors") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => object.get("author").into_iter().collect(),
    };
    list.into_iter()
        .filter_map(|value| match value {
            Value::Object(author) => Some(Person {
                name: string(author, "name"),
                email: None,
                uri: string(author, "url"),
            }),
            Value::String(name) => Some(Person {
                name: Some(name.trim().to_string()),
                email: None,
                uri: None,
            }),
            _ => None,
        })
        .filter(|p| p.name.is_some() || p.uri.is_some())
        .collect()
}

/// `tags` as a list, or (non-conforming but common) a single comma-separated string.
fn tags(object: &Map<String, Value>) -> Vec<Category> {
    let terms: Vec<String> = match object.get("tags") {
        Some(Value::Array(list)) => list.iter().filter_map(scalar_string).collect(),
        Some(Value::String(s)) => s.split(',').map(|t| t.trim().to_string()).collect(),
        _ => Vec::new(),
    };
    let mut categories: Vec<Category> = Vec::new();
    // Bounded like the XML mapping: the de-duplication is quadratic.
    for term in terms.into_iter().filter(|t| !t.is_empty()).take(256) {
        if !categories.iter().any(|c| c.term == term) {
            categories.push(Category {
                term,
                scheme: None,
                label: None,
            });
        }
    }
    categories
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_json_feed() {
        let feed = from_json(
            r#"{"version":"http://jsonfeed.org/version/1","title":"T","items":[{"id":7,"url":"https://e.x/1","content_text":"a < b","tags":"x, y","date_published":"2020-01-02T03:04:05+01:00"}]}"#,
            10,
        );
        let feed = feed.unwrap_or_default();
        assert_eq!(feed.title.as_deref(), Some("T"));
        let entry = &feed.entries[0];
        assert_eq!(entry.id.as_deref(), Some("7"));
        assert_eq!(entry.content.as_deref(), Some("a &lt; b"));
        assert_eq!(entry.categories.len(), 2);
        assert!(entry.published.is_some());
        assert!(from_json(r#"{"a":1}"#, 10).is_none());
    }

    #[test]
    fn rss_written_as_json() {
        let feed = from_json(
            r#"{"rss":{"version":"2.0","channel":{"title":"S","item":[{"description":"Hi","guid":"http://s.example/1","pubDate":"Mon, 26 Jun 2017 12:20:05 GMT"},{"title":"T","link":"http://s.example/2","category":["a","b"]}]}}}"#,
            10,
        )
        .unwrap_or_default();
        assert_eq!(feed.title.as_deref(), Some("S"));
        assert_eq!(feed.entries.len(), 2);
        assert_eq!(feed.entries[0].link.as_deref(), Some("http://s.example/1"));
        assert!(feed.entries[0].published.is_some());
        assert_eq!(feed.entries[1].categories.len(), 2);
    }
}
