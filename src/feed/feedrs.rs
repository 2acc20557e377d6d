//! Runs feed-rs on a document: with the lenient date parser, without its random ids,
//! inside panic containment, and through a chain of repairs when it rejects the document.
//!
//! feed-rs aborts a whole feed for faults that cost one field: an `<rss>` without a
//! version it knows, an `<rss>` without `<channel>`, an Atom text construct with a media
//! type it does not expect, an empty Atom `<title/>`. Each repair here is a small edit of
//! the document tree for one such fault; after a rejection every applicable repair is
//! applied and the re-serialised tree is parsed again. Atom 0.3 documents are converted to
//! Atom 1.0 up front, because feed-rs accepts them but silently reads nothing.
//!
//! The result also converts feed-rs's model to ours, so that what feed-rs reads and the
//! own mapping does not can fill the gaps (see `merge`).

use std::borrow::Cow;
use std::io::Cursor;

use jiff::Timestamp;

use super::contain::quietly;
use super::dates::parse_date_chrono;
use super::text::{Kind, to_html, to_plain};
use super::tree::{Doc, Element, NodeId, Ns};
use super::{Category, Enclosure, Entry, FeedError, Link, ParsedFeed, Person};

/// What running feed-rs produced.
pub struct Outcome {
    /// The converted feed, when feed-rs accepted the document (possibly after repairs).
    pub feed: Result<ParsedFeed, FeedError>,
    /// The repairs that were needed.
    pub repairs: Vec<&'static str>,
}

/// Parses `text` (well-formed XML or JSON) with feed-rs; `doc` is its tree, used for
/// repairs and to bound the input to the entries the tree kept.
pub fn run(text: &str, doc: Option<&Doc>, base_url: Option<&str>) -> Outcome {
    let mut repairs = Vec::new();
    let mut input = match doc.and_then(|d| d.truncated.as_ref()) {
        Some((offset, open)) => {
            let mut truncated = text.get(..*offset).unwrap_or(text).to_string();
            for name in open.iter().rev() {
                truncated.push_str("</");
                truncated.push_str(name);
                truncated.push('>');
            }
            Cow::Owned(truncated)
        }
        None => Cow::Borrowed(text),
    };
    if let Some(doc) = doc
        && let Some(root) = doc.root
        && doc.el(root).ns == Ns::Atom03
    {
        let mut repaired = doc.clone();
        atom03_to_atom10(&mut repaired);
        input = Cow::Owned(repaired.to_xml());
        repairs.push("atom-0.3");
    }

    let first = attempt(&input, base_url);
    let error = match first {
        Ok(feed) => {
            return Outcome {
                feed: Ok(from_feed_rs(feed)),
                repairs,
            };
        }
        Err(error) => error,
    };
    let Some(doc) = doc.filter(|d| d.root.is_some()) else {
        return Outcome {
            feed: Err(error),
            repairs,
        };
    };
    let mut repaired = doc.clone();
    if repairs.contains(&"atom-0.3") {
        atom03_to_atom10(&mut repaired);
    }
    repairs.extend(repair_tree(&mut repaired));
    repairs.push("reserialised");
    let feed = attempt(&repaired.to_xml(), base_url)
        .map(from_feed_rs)
        .map_err(|second| match (&error, second) {
            // Report the first failure: the repaired document is ours, not the publisher's.
            (FeedError::ParserPanic(_), _) => error,
            (_, panic @ FeedError::ParserPanic(_)) => panic,
            _ => error,
        });
    Outcome { feed, repairs }
}

fn attempt(input: &str, base_url: Option<&str>) -> Result<feed_rs::model::Feed, FeedError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(base_url)
        // feed-rs invents a random UUID for entries without id or link; an id must be
        // stable across polls, so entries without one get none and `entry_key` decides.
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(parse_date_chrono)
        .sanitize_content(false)
        .build();
    quietly(|| parser.parse(Cursor::new(input.as_bytes())))
        .map_err(FeedError::ParserPanic)?
        .map_err(|e| FeedError::Unparseable(e.to_string()))
}

/// Applies every repair whose fault is present; returns their names.
fn repair_tree(doc: &mut Doc) -> Vec<&'static str> {
    let mut applied = Vec::new();
    let Some(root) = doc.root else {
        return applied;
    };
    let root_local = doc.el(root).local().to_ascii_lowercase();
    if root_local == "channel" {
        // A bare <channel> document (some RSS 0.9x generators): give it its <rss>.
        let mut rss = Element::new("rss", Ns::None);
        rss.set_attr("version", "2.0");
        rss.children.push(super::tree::Node::Element(root));
        doc.root = Some(doc.add(rss));
        applied.push("rss-wrapped");
    } else if root_local == "rss" {
        let version = doc
            .attr(root, "version")
            .unwrap_or("missing")
            .trim()
            .to_string();
        if !matches!(version.as_str(), "2.0" | "0.91" | "0.92") {
            doc.elements[root].set_attr("version", "2.0");
            applied.push("rss-version");
        }
        let has_channel = doc
            .children(root)
            .any(|c| doc.el(c).local().eq_ignore_ascii_case("channel"));
        if !has_channel {
            doc.wrap_children(root, "channel");
            applied.push("rss-channel");
        }
    } else if root_local == "feed" || root_local == "entry" {
        if fix_atom_text_types(doc) {
            applied.push("atom-content-types");
        }
        if drop_empty_text_constructs(doc) {
            applied.push("atom-empty-text");
        }
    }
    applied
}

const TEXT_CONSTRUCTS: [&str; 6] = [
    "title", "subtitle", "summary", "content", "rights", "tagline",
];

fn is_text_construct(doc: &Doc, id: NodeId) -> bool {
    let el = doc.el(id);
    matches!(el.ns, Ns::Atom10 | Ns::None) && TEXT_CONSTRUCTS.contains(&el.local())
}

/// feed-rs accepts only `text`, `html`, `xhtml` and `text/html` on text constructs (and
/// parseable media types on `content`); anything else aborts the feed.
fn fix_atom_text_types(doc: &mut Doc) -> bool {
    let mut changed = false;
    for id in doc.descendants() {
        if !is_text_construct(doc, id) {
            continue;
        }
        let Some(kind) = doc.attr(id, "type").map(|t| t.trim().to_ascii_lowercase()) else {
            continue;
        };
        if matches!(kind.as_str(), "text" | "html" | "xhtml" | "text/html") {
            continue;
        }
        let is_content = doc.el(id).local() == "content";
        if is_content && kind.contains('/') && !kind.contains(char::is_whitespace) {
            continue;
        }
        let replacement = if kind.contains("xhtml") {
            "xhtml"
        } else if kind.contains("html") || kind.ends_with("xml") {
            "html"
        } else {
            "text"
        };
        doc.elements[id].set_attr("type", replacement);
        changed = true;
    }
    changed
}

/// An empty Atom `<title/>` or `<summary></summary>` makes feed-rs reject the feed
/// ("missing text"), so empty text constructs are removed.
fn drop_empty_text_constructs(doc: &mut Doc) -> bool {
    let mut changed = false;
    for id in doc.descendants() {
        let empty: Vec<NodeId> = doc
            .children(id)
            .filter(|&c| {
                is_text_construct(doc, c)
                    && doc.text(c).trim().is_empty()
                    && !doc.has_element_children(c)
            })
            .filter(|&c| doc.attr(c, "src").is_none())
            .collect();
        if empty.is_empty() {
            continue;
        }
        doc.elements[id].children.retain(|node| match node {
            super::tree::Node::Element(c) => !empty.contains(c),
            super::tree::Node::Text(_) => true,
        });
        changed = true;
    }
    changed
}

/// Rewrites an Atom 0.3 document as Atom 1.0: namespace, renamed elements, and `mode`
/// folded into `type`.
fn atom03_to_atom10(doc: &mut Doc) {
    const ATOM10: &str = "http://www.w3.org/2005/Atom";
    for id in doc.descendants() {
        let el = &mut doc.elements[id];
        for attr in &mut el.attrs {
            if (attr.qname == "xmlns" || attr.qname.starts_with("xmlns:"))
                && attr
                    .value
                    .trim()
                    .trim_end_matches(['/', '#'])
                    .eq_ignore_ascii_case("http://purl.org/atom/ns")
            {
                attr.value = Cow::Borrowed(ATOM10);
            }
        }
        if el.ns != Ns::Atom03 {
            continue;
        }
        el.ns = Ns::Atom10;
        el.remove_attr("version");
        let prefix = el
            .qname
            .rfind(':')
            .map(|c| el.qname[..=c].to_string())
            .unwrap_or_default();
        let renamed = match el.local() {
            "tagline" => Some("subtitle"),
            "issued" => Some("published"),
            "modified" => Some("updated"),
            "copyright" => Some("rights"),
            "url" => Some("uri"),
            _ => None,
        };
        if let Some(local) = renamed {
            el.rename(&format!("{prefix}{local}"));
        }
        let mode = el
            .attrs
            .iter()
            .find(|a| a.qname == "mode")
            .map(|a| a.value.trim().to_ascii_lowercase());
        if let Some(mode) = mode {
            el.remove_attr("mode");
            let media = el
                .attrs
                .iter()
                .find(|a| a.qname == "type")
                .map(|a| a.value.to_ascii_lowercase())
                .unwrap_or_default();
            let kind = match mode.as_str() {
                "escaped" if media.contains("html") => "html",
                "escaped" => "text",
                "base64" => "application/octet-stream",
                _ if media.contains("xhtml") => "xhtml",
                _ => "text",
            };
            el.set_attr("type", kind);
        } else if TEXT_CONSTRUCTS.contains(&el.local()) {
            let media = el
                .attrs
                .iter()
                .find(|a| a.qname == "type")
                .map(|a| a.value.to_ascii_lowercase());
            if let Some(media) = media {
                let kind = if media.contains("xhtml") {
                    "xhtml"
                } else if media.contains("html") {
                    "html"
                } else {
                    "text"
                };
                el.set_attr("type", kind);
            }
        }
    }
}

fn timestamp(value: Option<chrono::DateTime<chrono::Utc>>) -> Option<Timestamp> {
    let value = value?;
    Timestamp::new(
        value.timestamp(),
        i32::try_from(value.timestamp_subsec_nanos()).ok()?,
    )
    .ok()
}

fn kind_of(text: &feed_rs::model::Text) -> Kind {
    let media = text.content_type.to_string();
    if media.contains("html") || media.contains("xml") {
        Kind::Html
    } else {
        Kind::Plain
    }
}

fn persons(people: &[feed_rs::model::Person]) -> Vec<Person> {
    people
        .iter()
        .map(|p| Person {
            name: p.name.clone().filter(|s| !s.trim().is_empty()),
            email: p.email.clone().filter(|s| !s.trim().is_empty()),
            uri: p.uri.clone().filter(|s| !s.trim().is_empty()),
        })
        .filter(|p| p.name.is_some() || p.email.is_some() || p.uri.is_some())
        .collect()
}

fn categories(cats: &[feed_rs::model::Category]) -> Vec<Category> {
    cats.iter()
        .filter(|c| !c.term.trim().is_empty())
        .map(|c| Category {
            term: to_plain(&c.term, Kind::Guess),
            scheme: c.scheme.clone(),
            label: c.label.clone(),
        })
        .collect()
}

fn links(links: &[feed_rs::model::Link]) -> Vec<Link> {
    links
        .iter()
        .map(|l| Link {
            href: l.href.clone(),
            rel: l.rel.clone(),
            media_type: l.media_type.clone(),
            length: l.length,
        })
        .collect()
}

fn main_link(links: &[Link]) -> Option<String> {
    links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .map(|l| l.href.clone())
}

/// Converts feed-rs's model to ours (keys are left empty).
pub fn from_feed_rs(feed: feed_rs::model::Feed) -> ParsedFeed {
    let entries = feed
        .entries
        .iter()
        .map(|e| {
            let entry_links = links(&e.links);
            let enclosures = e
                .media
                .iter()
                .flat_map(|m| &m.content)
                .filter_map(|c| {
                    Some(Enclosure {
                        href: c.url.as_ref()?.to_string(),
                        media_type: c.content_type.as_ref().map(ToString::to_string),
                        length: c.size,
                    })
                })
                .collect();
            let media_summary = e
                .media
                .iter()
                .find_map(|m| m.description.as_ref())
                .map(|t| to_html(&t.content, kind_of(t)));
            Entry {
                key: String::new(),
                id: Some(e.id.clone()).filter(|s| !s.trim().is_empty()),
                title: e.title.as_ref().map(|t| to_plain(&t.content, kind_of(t))),
                link: main_link(&entry_links),
                links: entry_links,
                enclosures,
                published: timestamp(e.published),
                updated: timestamp(e.updated),
                summary: e
                    .summary
                    .as_ref()
                    .map(|t| to_html(&t.content, kind_of(t)))
                    .or(media_summary),
                content: e.content.as_ref().and_then(|c| {
                    let kind = if c.content_type.to_string().contains("plain") {
                        Kind::Plain
                    } else {
                        Kind::Html
                    };
                    c.body.as_deref().map(|b| to_html(b, kind))
                }),
                authors: persons(&e.authors),
                categories: categories(&e.categories),
            }
        })
        .collect();
    let feed_links = links(&feed.links);
    ParsedFeed {
        title: feed
            .title
            .as_ref()
            .map(|t| to_plain(&t.content, kind_of(t))),
        subtitle: feed
            .description
            .as_ref()
            .map(|t| to_html(&t.content, kind_of(t))),
        link: main_link(&feed_links),
        links: feed_links,
        id: Some(feed.id.clone()).filter(|s| !s.trim().is_empty()),
        updated: timestamp(feed.updated).or(timestamp(feed.published)),
        published: timestamp(feed.published),
        authors: persons(&feed.authors),
        categories: categories(&feed.categories),
        entries,
        ttl: feed
            .ttl
            .map(|minutes| std::time::Duration::from_secs(u64::from(minutes) * 60)),
        repairs: Vec::new(),
    }
}

/// Fills what `primary` lacks from `secondary`. Entries are paired by position, and only
/// when both sides have the same number of entries and paired ids do not contradict.
pub fn merge(mut primary: ParsedFeed, secondary: ParsedFeed) -> ParsedFeed {
    fill(&mut primary.title, secondary.title);
    fill(&mut primary.subtitle, secondary.subtitle);
    fill(&mut primary.link, secondary.link);
    fill(&mut primary.id, secondary.id);
    fill(&mut primary.updated, secondary.updated);
    fill(&mut primary.published, secondary.published);
    fill(&mut primary.ttl, secondary.ttl);
    fill_vec(&mut primary.links, secondary.links);
    fill_vec(&mut primary.authors, secondary.authors);
    fill_vec(&mut primary.categories, secondary.categories);
    if primary.entries.len() == secondary.entries.len() {
        for (ours, theirs) in primary.entries.iter_mut().zip(secondary.entries) {
            if ours.id.is_some() && theirs.id.is_some() && ours.id != theirs.id {
                continue;
            }
            fill(&mut ours.id, theirs.id);
            fill(&mut ours.title, theirs.title);
            fill(&mut ours.link, theirs.link);
            // feed-rs copies an RSS item's pubDate into `updated`; a copy is not an
            // update and must not look like one.
            let updated = theirs.updated.filter(|u| Some(*u) != theirs.published);
            fill(&mut ours.published, theirs.published);
            fill(&mut ours.updated, updated);
            fill(&mut ours.summary, theirs.summary);
            fill(&mut ours.content, theirs.content);
            fill_vec(&mut ours.links, theirs.links);
            fill_vec(&mut ours.authors, theirs.authors);
            fill_vec(&mut ours.categories, theirs.categories);
        }
    }
    primary
}

fn fill<T>(slot: &mut Option<T>, value: Option<T>) {
    if slot.is_none() {
        *slot = value;
    }
}

fn fill_vec<T>(slot: &mut Vec<T>, value: Vec<T>) {
    if slot.is_empty() {
        *slot = value;
    }
}
