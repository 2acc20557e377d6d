//! Maps the element tree of an RSS (0.9x, 1.0/RDF, 2.0) or Atom (0.3, 1.0) document to a
//! [`ParsedFeed`].
//!
//! This owns the feedparser-compatible meaning of elements: Dublin Core and dcterms,
//! iTunes and Media RSS categories, channel `author`/`managingEditor`, RSS `guid` as the
//! link when there is no `<link>`, RDF items, Atom 0.3's `mode`/`issued`/`modified`/
//! `tagline`/`url`, Atom text constructs of every type including base64, enclosures, and
//! `<ttl>`. Titles come out as plain text and summaries/contents as HTML (see `text`).

use std::borrow::Cow;

use base64::Engine;
use jiff::Timestamp;

use super::dates::parse_date;
use super::text::{Kind, to_html, to_plain};
use super::tree::{Doc, NodeId, Ns};
use super::{Category, Enclosure, Entry, Link, ParsedFeed, Person};

/// Maps a document tree, or returns `None` when its root is not a feed.
pub fn from_tree(doc: &Doc, max_entries: usize) -> Option<ParsedFeed> {
    let root = doc.root?;
    let el = doc.el(root);
    let local = el.local().to_ascii_lowercase();
    match local.as_str() {
        "rss" | "rdf" | "channel" => Some(map_rss(doc, root, max_entries)),
        "feed" => Some(map_atom_feed(doc, root, max_entries)),
        "entry" => {
            let mut feed = ParsedFeed::default();
            feed.entries.push(map_atom_entry(doc, root));
            Some(feed)
        }
        _ => None,
    }
}

/// Whether an element belongs to the core vocabulary of the document (no namespace, or an
/// RSS or Atom namespace), as opposed to an extension.
fn is_core(ns: Ns) -> bool {
    matches!(ns, Ns::None | Ns::Rss | Ns::Atom10 | Ns::Atom03)
}

/// The lower-cased local name and namespace of an element; element names are matched
/// case-insensitively because feeds write `<pubdate>`, `<PubDate>` and `<TITLE>`.
fn key<'d>(doc: &'d Doc<'_>, id: NodeId) -> (Ns, Cow<'d, str>) {
    let el = doc.el(id);
    let local = el.local();
    if local.bytes().any(|b| b.is_ascii_uppercase()) {
        (el.ns, Cow::Owned(local.to_ascii_lowercase()))
    } else {
        (el.ns, Cow::Borrowed(local))
    }
}

/// Text of a simple element: its own text, trimmed, ignoring nested elements (a
/// `<category>` that wraps an `<image>` is still the category's words).
fn simple_text(doc: &Doc, id: NodeId) -> String {
    let mut out = String::new();
    for node in &doc.el(id).children {
        if let super::tree::Node::Text(t) = node {
            out.push_str(t);
        }
    }
    let trimmed = out.trim();
    if trimmed.is_empty() && doc.has_element_children(id) {
        return doc.text(id).trim().to_string();
    }
    trimmed.to_string()
}

/// The content of an RSS-style element that may hold escaped HTML or, invalidly but
/// commonly, raw child markup.
fn rich_text(doc: &Doc, id: NodeId) -> String {
    if doc.has_element_children(id) {
        doc.inner_html(id)
    } else {
        doc.text(id)
    }
}

/// A value with precedence: a source with a lower rank wins, and among equal ranks the
/// later element wins (feedparser overwrites on repeated elements).
#[derive(Default)]
struct Ranked<T> {
    value: Option<(u8, T)>,
}

impl<T> Ranked<T> {
    fn offer(&mut self, rank: u8, value: T) {
        match &self.value {
            Some((current, _)) if *current < rank => {}
            _ => self.value = Some((rank, value)),
        }
    }
    fn offer_first(&mut self, rank: u8, value: T) {
        match &self.value {
            Some((current, _)) if *current <= rank => {}
            _ => self.value = Some((rank, value)),
        }
    }
    fn get(self) -> Option<T> {
        self.value.map(|(_, v)| v)
    }
}

/// People with precedence by source: the best-ranked source's people are kept, so the
/// same person given as `managingEditor` and `dc:creator` is not listed twice.
#[derive(Default)]
struct People {
    rank: u8,
    people: Vec<Person>,
}

/// Most authors or categories kept per feed or entry; more is spam, and the
/// de-duplication is quadratic.
const MAX_LIST: usize = 256;

impl People {
    fn offer(&mut self, rank: u8, person: Person) {
        if person.name.is_none() && person.email.is_none() && person.uri.is_none() {
            return;
        }
        if rank == self.rank && self.people.len() >= MAX_LIST {
            return;
        }
        if self.people.is_empty() || rank < self.rank {
            self.rank = rank;
            self.people = vec![person];
        } else if rank == self.rank {
            self.people.push(person);
        }
    }
}

fn push_category(categories: &mut Vec<Category>, term: &str, scheme: Option<&str>) {
    push_labelled_category(categories, term, scheme, None);
}

fn push_labelled_category(
    categories: &mut Vec<Category>,
    term: &str,
    scheme: Option<&str>,
    label: Option<&str>,
) {
    if categories.len() >= MAX_LIST {
        return;
    }
    let term = to_plain(term, Kind::Guess);
    if term.is_empty() {
        return;
    }
    let scheme = scheme
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if categories
        .iter()
        .any(|c| c.term == term && c.scheme == scheme)
    {
        return;
    }
    let label = label
        .map(|l| to_plain(l, Kind::Guess))
        .filter(|l| !l.is_empty());
    categories.push(Category {
        term,
        scheme,
        label,
    });
}

const ITUNES_SCHEME: &str = "http://www.itunes.com/";

/// `itunes:category` with its nested subcategories.
fn itunes_categories(doc: &Doc, id: NodeId, categories: &mut Vec<Category>) {
    if let Some(text) = doc.attr(id, "text") {
        push_category(categories, text, Some(ITUNES_SCHEME));
    }
    for child in doc.children(id) {
        if key(doc, child) == (Ns::Itunes, Cow::Borrowed("category")) {
            itunes_categories(doc, child, categories);
        }
    }
}

/// `media:category`, whose scheme defaults to the Media RSS category schema.
fn media_category(doc: &Doc, id: NodeId, categories: &mut Vec<Category>) {
    let scheme = doc
        .attr(id, "scheme")
        .unwrap_or("http://search.yahoo.com/mrss/category_schema");
    push_labelled_category(
        categories,
        &simple_text(doc, id),
        Some(scheme),
        doc.attr(id, "label"),
    );
}

/// Comma-separated keyword lists (`itunes:keywords`, `<tags>`, `media:keywords`).
fn keyword_categories(text: &str, scheme: Option<&str>, categories: &mut Vec<Category>) {
    for keyword in text.split(',') {
        push_category(categories, keyword, scheme);
    }
}

/// Parses an RSS person string: `me@example.com (Name)`, `Name (me@example.com)`,
/// `Name <me@example.com>`, `mailto:me@example.com`, or a bare name.
pub fn parse_person(raw: &str) -> Person {
    let raw = to_plain(raw, Kind::Guess);
    let email = find_email(&raw);
    let mut name = raw.clone();
    if let Some(email) = &email {
        name = name
            .replace(&format!("mailto:{email}"), "")
            .replace(email.as_str(), "");
        name = name.replace("()", "").replace("<>", "").replace("[]", "");
    }
    let name = name
        .trim()
        .trim_start_matches(['(', '<'])
        .trim_end_matches([')', '>'])
        .trim()
        .to_string();
    Person {
        name: Some(name).filter(|n| !n.is_empty()),
        email,
        uri: None,
    }
}

fn find_email(text: &str) -> Option<String> {
    let at = text.find('@')?;
    let is_local = |c: char| c.is_alphanumeric() || "._-+%'".contains(c);
    let is_domain = |c: char| c.is_alphanumeric() || c == '.' || c == '-';
    let start = text[..at]
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_local(c))
        .last()
        .map(|(i, _)| i)?;
    let end = text[at + 1..]
        .char_indices()
        .take_while(|&(_, c)| is_domain(c))
        .last()
        .map(|(i, c)| at + 1 + i + c.len_utf8())?;
    let email = text[start..end].trim_end_matches('.');
    let domain = &email[email.find('@')? + 1..];
    (domain.contains('.') && !email.starts_with('@')).then(|| email.to_string())
}

/// An Atom (or Atom-in-RSS) person construct.
fn atom_person(doc: &Doc, id: NodeId) -> Person {
    let mut person = Person::default();
    for child in doc.children(id) {
        let (_, local) = key(doc, child);
        let value = simple_text(doc, child);
        if value.is_empty() {
            continue;
        }
        match &*local {
            "name" => person.name = Some(to_plain(&value, Kind::Plain)),
            "email" => person.email = Some(value),
            "uri" | "url" | "homepage" => person.uri = Some(value),
            _ => {}
        }
    }
    if person.name.is_none() && person.email.is_none() && person.uri.is_none() {
        // Some feeds put the name straight into <author>.
        let text = simple_text(doc, id);
        if !text.is_empty() {
            return parse_person(&text);
        }
    }
    person
}

fn length(value: Option<&str>) -> Option<u64> {
    value.and_then(|v| v.trim().parse().ok())
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// An Atom `<link>`; its target may be in `href` or, wrongly, in the element text.
fn atom_link(doc: &Doc, id: NodeId) -> Option<Link> {
    let href = match doc.attr(id, "href") {
        Some(href) => href.to_string(),
        None => non_empty(Some(&simple_text(doc, id)))?,
    };
    // `href=""` is a reference to the base itself.
    let href = doc.resolve_href(id, &href);
    if href.is_empty() {
        return None;
    }
    let rel = non_empty(doc.attr(id, "rel")).unwrap_or_else(|| "alternate".to_string());
    // A `self` link points at the Atom document itself when it does not say otherwise.
    let media_type = non_empty(doc.attr(id, "type"))
        .or_else(|| (rel == "self").then(|| "application/atom+xml".to_string()));
    Some(Link {
        href,
        rel: Some(rel),
        media_type,
        length: length(doc.attr(id, "length")),
    })
}

fn is_alternate(link: &Link) -> bool {
    link.rel.as_deref().is_none_or(|r| r == "alternate")
}

/// Decoded value of an Atom text construct (title, subtitle, summary, content, rights)
/// and how it is marked up. Handles Atom 1.0 `type` values and Atom 0.3 `mode`.
fn atom_text(doc: &Doc, id: NodeId, atom03: bool) -> (String, Kind) {
    let raw_type = doc.attr(id, "type").map(|t| t.trim().to_ascii_lowercase());
    let mode = doc.attr(id, "mode").map(|m| m.trim().to_ascii_lowercase());
    let media_type = raw_type
        .as_deref()
        .unwrap_or(if atom03 { "text/plain" } else { "text" });
    if mode.as_deref() == Some("base64") {
        return (
            decode_base64(&doc.text(id)),
            kind_for_media_type(media_type),
        );
    }
    if mode.as_deref() == Some("escaped") {
        return (doc.text(id), kind_for_media_type(media_type));
    }
    match media_type {
        "" | "text" | "text/plain" => {
            if doc.has_element_children(id) {
                // Markup where text was declared: keep it as markup rather than lose it.
                (doc.inner_html(id), Kind::Html)
            } else {
                (doc.text(id), Kind::Plain)
            }
        }
        "html" | "text/html" => (rich_text(doc, id), Kind::Html),
        "xhtml" | "application/xhtml+xml" => (xhtml_content(doc, id), Kind::Html),
        t if t.ends_with("+xml") || t.ends_with("/xml") => {
            if doc.has_element_children(id) {
                (doc.inner_html(id), Kind::Html)
            } else {
                (doc.text(id), Kind::Html)
            }
        }
        t if t.starts_with("text/") => (doc.text(id), Kind::Plain),
        _ => {
            if doc.has_element_children(id) {
                (doc.inner_html(id), Kind::Html)
            } else {
                // Any other media type is base64 (RFC 4287 §4.1.3.3).
                let text = doc.text(id);
                match try_decode_base64(&text) {
                    Some(decoded) => (decoded, Kind::Html),
                    None => (text, Kind::Plain),
                }
            }
        }
    }
}

fn kind_for_media_type(media_type: &str) -> Kind {
    if media_type.contains("html") || media_type.ends_with("xml") {
        Kind::Html
    } else {
        Kind::Plain
    }
}

/// XHTML content: the children, without the wrapping `<div>` the spec requires.
fn xhtml_content(doc: &Doc, id: NodeId) -> String {
    let elements: Vec<NodeId> = doc.children(id).collect();
    let only_text_around = doc.el(id).children.iter().all(|node| match node {
        super::tree::Node::Text(t) => t.trim().is_empty(),
        super::tree::Node::Element(_) => true,
    });
    if let [div] = elements.as_slice()
        && only_text_around
        && doc.el(*div).local().eq_ignore_ascii_case("div")
    {
        return doc.inner_html(*div);
    }
    doc.inner_html(id)
}

fn try_decode_base64(text: &str) -> Option<String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return None;
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let bytes = engine.decode(compact.as_bytes()).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn decode_base64(text: &str) -> String {
    try_decode_base64(text).unwrap_or_else(|| text.to_string())
}

fn date_of(doc: &Doc, id: NodeId) -> Option<Timestamp> {
    parse_date(&simple_text(doc, id))
}

// ----------------------------------------------------------------------------- RSS

fn map_rss(doc: &Doc, root: NodeId, max_entries: usize) -> ParsedFeed {
    let root_local = doc.el(root).local().to_ascii_lowercase();
    let channel = if root_local == "channel" {
        Some(root)
    } else {
        doc.children(root)
            .find(|&c| is_core(doc.el(c).ns) && doc.el(c).local().eq_ignore_ascii_case("channel"))
    };
    // An <rss> without <channel> keeps the channel's elements directly under the root.
    let channel_el = channel.unwrap_or(root);
    let mut feed = map_rss_channel(doc, channel_el, root_local == "rdf");

    // Items sit in the channel (RSS 0.9x/2.0), beside it (RSS 1.0/RDF), or, in broken
    // documents, directly under an <rss> without channel; all count, in document order.
    let is_item = |id: NodeId| {
        let (ns, local) = key(doc, id);
        is_core(ns) && local == "item"
    };
    let mut items = Vec::new();
    for child in doc.children(root) {
        if is_item(child) {
            items.push(child);
        } else if Some(child) == channel {
            items.extend(doc.children(child).filter(|&c| is_item(c)));
        }
    }
    feed.entries = items
        .into_iter()
        .take(max_entries)
        .map(|item| map_rss_item(doc, item))
        .collect();
    feed
}

fn map_rss_channel(doc: &Doc, channel: NodeId, rdf: bool) -> ParsedFeed {
    let mut feed = ParsedFeed::default();
    let mut title = Ranked::default();
    let mut subtitle = Ranked::default();
    let mut link = Ranked::default();
    let mut links = Vec::new();
    let mut id = Ranked::default();
    let mut updated = Ranked::default();
    let mut published = Ranked::default();
    let mut people = People::default();
    let mut categories = Vec::new();
    for child in doc.children(channel) {
        let (ns, local) = key(doc, child);
        let core = is_core(ns) && ns != Ns::Atom10;
        match (ns, &*local) {
            (_, "title") if core => title.offer(0, to_plain(&doc.text(child), Kind::Guess)),
            (Ns::Dc, "title") => title.offer(1, to_plain(&doc.text(child), Kind::Guess)),
            (Ns::Atom10, "title") => {
                let (value, kind) = atom_text(doc, child, false);
                title.offer(2, to_plain(&value, kind));
            }
            (Ns::Itunes | Ns::Media, "title") => {
                title.offer(3, to_plain(&doc.text(child), Kind::Guess))
            }
            (_, "description") if core => {
                subtitle.offer(0, to_html(&rich_text(doc, child), Kind::Guess))
            }
            (_, "tagline" | "subtitle") if core => {
                subtitle.offer(1, to_html(&rich_text(doc, child), Kind::Guess))
            }
            (Ns::Dc, "description") => {
                subtitle.offer(1, to_html(&rich_text(doc, child), Kind::Guess))
            }
            (Ns::Atom10, "subtitle") => {
                let (value, kind) = atom_text(doc, child, false);
                subtitle.offer(2, to_html(&value, kind));
            }
            (Ns::Itunes, "subtitle") => subtitle.offer(3, to_html(&doc.text(child), Kind::Plain)),
            (Ns::Itunes, "summary") => subtitle.offer(4, to_html(&doc.text(child), Kind::Plain)),
            (_, "link") if core => {
                let href = simple_text(doc, child);
                if !href.is_empty() {
                    let href = doc.resolve_href(child, &href);
                    if !links
                        .iter()
                        .any(|l: &Link| l.href == href && is_alternate(l))
                    {
                        links.push(Link {
                            href: href.clone(),
                            rel: Some("alternate".to_string()),
                            media_type: Some("text/html".to_string()),
                            length: None,
                        });
                    }
                    link.offer_first(0, href);
                }
            }
            (Ns::Atom10, "link") => {
                if let Some(l) = atom_link(doc, child) {
                    if is_alternate(&l) {
                        link.offer_first(1, l.href.clone());
                    }
                    links.push(l);
                }
            }
            (Ns::Atom10, "id") | (Ns::Dc, "identifier") => {
                let value = simple_text(doc, child);
                if !value.is_empty() {
                    id.offer(0, value);
                }
            }
            (_, "lastbuilddate" | "updated") if core => offer_date(&mut updated, 0, doc, child),
            (Ns::Dcterms, "modified") => offer_date(&mut updated, 1, doc, child),
            (Ns::Dc, "date") => {
                offer_date(&mut updated, 2, doc, child);
                // RSS 1.0 channels date themselves only with `dc:date`: it is their
                // publication date too (as feed-rs reads it).
                if rdf {
                    offer_date(&mut published, 9, doc, child);
                }
            }
            (Ns::Atom10, "updated") => offer_date(&mut updated, 3, doc, child),
            (_, "pubdate") if core => offer_date(&mut published, 0, doc, child),
            (Ns::Dcterms, "issued" | "created") => offer_date(&mut published, 1, doc, child),
            (Ns::Atom10, "published") => offer_date(&mut published, 2, doc, child),
            (_, "managingeditor" | "author") if core => {
                people.offer(0, parse_person(&simple_text(doc, child)))
            }
            (Ns::Dc, "creator" | "author") => {
                people.offer(1, parse_person(&simple_text(doc, child)))
            }
            (Ns::Itunes, "author") => people.offer(2, parse_person(&simple_text(doc, child))),
            (Ns::Atom10, "author") => people.offer(3, atom_person(doc, child)),
            (_, "category") if core => push_category(
                &mut categories,
                &simple_text(doc, child),
                doc.attr(child, "domain"),
            ),
            (Ns::Dc, "subject") => push_category(&mut categories, &simple_text(doc, child), None),
            (Ns::Itunes, "category") => itunes_categories(doc, child, &mut categories),
            (Ns::Itunes, "keywords") => keyword_categories(
                &simple_text(doc, child),
                Some(ITUNES_SCHEME),
                &mut categories,
            ),
            (Ns::Media, "category") => media_category(doc, child, &mut categories),
            (Ns::Atom10, "category") => {
                if let Some(term) = doc.attr(child, "term") {
                    push_category(&mut categories, term, doc.attr(child, "scheme"));
                }
            }
            (_, "ttl") if core => {
                feed.ttl = simple_text(doc, child)
                    .parse::<u64>()
                    .ok()
                    .map(|minutes| std::time::Duration::from_secs(minutes.saturating_mul(60)));
            }
            _ => {}
        }
    }
    feed.title = title.get();
    feed.subtitle = subtitle.get();
    feed.link = link.get();
    feed.links = links;
    feed.id = id.get();
    feed.published = published.get();
    feed.updated = updated.get().or(feed.published);
    feed.authors = people.people;
    feed.categories = categories;
    feed
}

fn offer_date(slot: &mut Ranked<Timestamp>, rank: u8, doc: &Doc, id: NodeId) {
    if let Some(ts) = date_of(doc, id) {
        slot.offer(rank, ts);
    }
}

fn map_rss_item(doc: &Doc, item: NodeId) -> Entry {
    let mut entry = Entry::default();
    let mut title = Ranked::default();
    let mut link = Ranked::default();
    let mut id = Ranked::default();
    let mut guid_link = None;
    let mut summaries: Vec<String> = Vec::new();
    let mut summary = Ranked::default();
    let mut content = Ranked::default();
    let mut updated = Ranked::default();
    let mut published = Ranked::default();
    let mut people = People::default();
    let mut categories = Vec::new();
    let mut links = Vec::new();
    let mut enclosures = Vec::new();

    if let Some(about) = doc
        .el(item)
        .attrs
        .iter()
        .find(|a| a.ns == Ns::Rdf && a.local() == "about")
    {
        let about = about.value.trim();
        if !about.is_empty() {
            id.offer(3, about.to_string());
        }
    }

    for child in doc.children(item) {
        let (ns, local) = key(doc, child);
        let core = is_core(ns) && ns != Ns::Atom10;
        match (ns, &*local) {
            (_, "title") if core => title.offer(0, to_plain(&rich_text(doc, child), Kind::Guess)),
            (Ns::Dc, "title") => title.offer(1, to_plain(&doc.text(child), Kind::Guess)),
            (Ns::Atom10, "title") => {
                let (value, kind) = atom_text(doc, child, false);
                title.offer(2, to_plain(&value, kind));
            }
            (Ns::Media | Ns::Itunes, "title") => {
                title.offer(3, to_plain(&doc.text(child), Kind::Guess))
            }
            (_, "link") if core => {
                let href = simple_text(doc, child);
                if !href.is_empty() {
                    let href = doc.resolve_href(child, &href);
                    link.offer_first(0, href.clone());
                    links.push(Link {
                        href,
                        rel: Some("alternate".to_string()),
                        media_type: Some("text/html".to_string()),
                        length: None,
                    });
                }
            }
            (Ns::Atom10, "link") => {
                if let Some(l) = atom_link(doc, child) {
                    if is_alternate(&l) {
                        link.offer_first(1, l.href.clone());
                    }
                    if l.rel.as_deref() == Some("enclosure") {
                        enclosures.push(Enclosure {
                            href: l.href.clone(),
                            media_type: l.media_type.clone(),
                            length: l.length,
                        });
                    }
                    links.push(l);
                }
            }
            (_, "guid") if core => {
                let value = simple_text(doc, child);
                if !value.is_empty() {
                    let permalink = doc
                        .attr(child, "isPermaLink")
                        .or_else(|| doc.attr(child, "ispermalink"))
                        .is_none_or(|v| !v.trim().eq_ignore_ascii_case("false"));
                    if permalink && is_web_url(&value) {
                        guid_link = Some(value.clone());
                    }
                    id.offer(0, value);
                }
            }
            (Ns::Atom10, "id") => {
                let value = simple_text(doc, child);
                if !value.is_empty() {
                    id.offer(1, value);
                }
            }
            (Ns::Dc, "identifier") => {
                let value = simple_text(doc, child);
                if !value.is_empty() {
                    id.offer(2, value);
                }
            }
            (_, "description" | "summary") if core => summaries.push(rich_text(doc, child)),
            (Ns::Dc, "description") => {
                summary.offer(1, to_html(&rich_text(doc, child), Kind::Guess))
            }
            (Ns::Atom10, "summary") => {
                let (value, kind) = atom_text(doc, child, false);
                summary.offer(2, to_html(&value, kind));
            }
            (Ns::Itunes, "summary") => summary.offer(3, to_html(&doc.text(child), Kind::Plain)),
            (Ns::Itunes, "subtitle") => summary.offer(4, to_html(&doc.text(child), Kind::Plain)),
            (Ns::Media, "description") => summary.offer(5, media_description(doc, child)),
            (Ns::Media, "group") => {
                media_group(doc, child, &mut title, &mut summary, &mut categories)
            }
            (Ns::Content, "encoded") => {
                content.offer(0, to_html(&rich_text(doc, child), Kind::Html))
            }
            (Ns::Xhtml, "body") => content.offer(1, doc.inner_html(child)),
            (_, "fullitem") if core => {
                content.offer(2, to_html(&rich_text(doc, child), Kind::Html))
            }
            (Ns::Atom10, "content") => {
                let (value, kind) = atom_text(doc, child, false);
                content.offer(3, to_html(&value, kind));
            }
            (_, "pubdate") if core => offer_date(&mut published, 0, doc, child),
            (Ns::Dcterms, "issued") => offer_date(&mut published, 1, doc, child),
            (Ns::Atom10, "published") => offer_date(&mut published, 2, doc, child),
            (Ns::Dcterms, "created") => offer_date(&mut published, 3, doc, child),
            (_, "updated" | "lastbuilddate") if core => offer_date(&mut updated, 0, doc, child),
            (Ns::Dcterms, "modified") => offer_date(&mut updated, 1, doc, child),
            (Ns::Dc, "date") => {
                offer_date(&mut updated, 2, doc, child);
                // Readers (and feed-rs) take `dc:date` as the publication date of an RSS
                // item without `pubDate`; it is the only date many RSS 1.0 feeds give.
                offer_date(&mut published, 9, doc, child);
            }
            (Ns::Atom10, "updated") => offer_date(&mut updated, 3, doc, child),
            (_, "author") if core => people.offer(0, parse_person(&simple_text(doc, child))),
            (Ns::Dc, "creator" | "author") => {
                people.offer(1, parse_person(&simple_text(doc, child)))
            }
            (Ns::Itunes, "author") => people.offer(2, parse_person(&simple_text(doc, child))),
            (Ns::Atom10, "author") => people.offer(3, atom_person(doc, child)),
            (_, "category") if core => push_category(
                &mut categories,
                &simple_text(doc, child),
                doc.attr(child, "domain"),
            ),
            (_, "tags") if core => {
                keyword_categories(&simple_text(doc, child), None, &mut categories)
            }
            (Ns::Dc, "subject") => push_category(&mut categories, &simple_text(doc, child), None),
            (Ns::Itunes, "category") => itunes_categories(doc, child, &mut categories),
            (Ns::Itunes, "keywords") => keyword_categories(
                &simple_text(doc, child),
                Some(ITUNES_SCHEME),
                &mut categories,
            ),
            (Ns::Media, "category") => media_category(doc, child, &mut categories),
            (Ns::Atom10, "category") => {
                if let Some(term) = doc.attr(child, "term") {
                    push_category(&mut categories, term, doc.attr(child, "scheme"));
                }
            }
            (_, "enclosure") if core => {
                let href = non_empty(doc.attr(child, "url"))
                    .or_else(|| non_empty(doc.attr(child, "href")));
                if let Some(href) = href.map(|h| doc.resolve_href(child, &h)) {
                    let media_type = non_empty(doc.attr(child, "type"));
                    let length = length(doc.attr(child, "length"));
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
            }
            _ => {}
        }
    }

    // RSS items with both <description> and <summary>: the first is the summary and the
    // second the fuller content, which is how feedparser reads them.
    let mut summaries = summaries.into_iter();
    if let Some(first) = summaries.next() {
        summary.offer(0, to_html(&first, Kind::Guess));
    }
    if let Some(second) = summaries.next() {
        content.offer(4, to_html(&second, Kind::Guess));
    }

    entry.title = title.get();
    entry.link = link.get().or(guid_link.clone());
    if links.iter().all(|l| !is_alternate(l))
        && let Some(href) = &entry.link
    {
        links.insert(
            0,
            Link {
                href: href.clone(),
                rel: Some("alternate".to_string()),
                media_type: Some("text/html".to_string()),
                length: None,
            },
        );
    }
    entry.links = links;
    entry.enclosures = enclosures;
    entry.id = id.get();
    entry.summary = summary.get();
    entry.content = content.get();
    entry.published = published.get();
    entry.updated = updated.get();
    entry.authors = people.people;
    entry.categories = categories;
    entry
}

fn is_web_url(value: &str) -> bool {
    let lower = value.trim().to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://"))
        && !lower.contains(char::is_whitespace)
}

fn media_description(doc: &Doc, id: NodeId) -> String {
    let kind = if doc
        .attr(id, "type")
        .is_some_and(|t| t.eq_ignore_ascii_case("html"))
    {
        Kind::Html
    } else {
        Kind::Plain
    };
    to_html(&doc.text(id), kind)
}

/// `media:group` carries the title, description and categories of YouTube-style entries.
fn media_group(
    doc: &Doc,
    group: NodeId,
    title: &mut Ranked<String>,
    summary: &mut Ranked<String>,
    categories: &mut Vec<Category>,
) {
    for child in doc.children(group) {
        match key(doc, child) {
            (Ns::Media, local) if local == "title" => {
                title.offer(3, to_plain(&doc.text(child), Kind::Guess))
            }
            (Ns::Media, local) if local == "description" => {
                summary.offer(5, media_description(doc, child))
            }
            (Ns::Media, local) if local == "category" => media_category(doc, child, categories),
            _ => {}
        }
    }
}

// ----------------------------------------------------------------------------- Atom

fn is_atom03_doc(doc: &Doc, root: NodeId) -> bool {
    doc.el(root).ns == Ns::Atom03
        || doc
            .attr(root, "version")
            .is_some_and(|v| v.trim().starts_with("0."))
}

fn map_atom_feed(doc: &Doc, root: NodeId, max_entries: usize) -> ParsedFeed {
    let atom03 = is_atom03_doc(doc, root);
    let mut feed = ParsedFeed::default();
    let mut title = Ranked::default();
    let mut subtitle = Ranked::default();
    let mut link = Ranked::default();
    let mut links = Vec::new();
    let mut id = Ranked::default();
    let mut updated = Ranked::default();
    let mut published = Ranked::default();
    let mut people = People::default();
    let mut categories = Vec::new();
    let mut entries = Vec::new();
    for child in doc.children(root) {
        let (ns, local) = key(doc, child);
        let core = is_core(ns);
        match (ns, &*local) {
            (_, "entry") if core && entries.len() < max_entries => {
                entries.push(map_atom_entry_with(doc, child, atom03));
            }
            (_, "title") if core => {
                let (value, kind) = atom_text(doc, child, atom03);
                title.offer(0, to_plain(&value, kind));
            }
            (Ns::Dc, "title") => title.offer(1, to_plain(&doc.text(child), Kind::Guess)),
            (_, "subtitle" | "tagline") if core => {
                let (value, kind) = atom_text(doc, child, atom03);
                subtitle.offer(0, to_html(&value, kind));
            }
            (Ns::Dc, "description") => subtitle.offer(1, to_html(&doc.text(child), Kind::Guess)),
            (_, "link") if core => {
                if let Some(l) = atom_link(doc, child) {
                    if is_alternate(&l) {
                        link.offer_first(0, l.href.clone());
                    }
                    links.push(l);
                }
            }
            (_, "id") if core => {
                let value = simple_text(doc, child);
                if !value.is_empty() {
                    id.offer(0, value);
                }
            }
            (_, "updated" | "modified") if core => offer_date(&mut updated, 0, doc, child),
            (Ns::Dcterms, "modified") | (Ns::Dc, "date") => offer_date(&mut updated, 1, doc, child),
            (_, "published" | "issued") if core => offer_date(&mut published, 0, doc, child),
            // RSS's element in an Atom document: wrong, but generators do it.
            (_, "pubdate") if core => offer_date(&mut published, 1, doc, child),
            (_, "author") if core => people.offer(0, atom_person(doc, child)),
            (Ns::Dc, "creator" | "author") => {
                people.offer(1, parse_person(&simple_text(doc, child)))
            }
            (_, "category") if core => atom_category(doc, child, &mut categories),
            (Ns::Dc, "subject") => push_category(&mut categories, &simple_text(doc, child), None),
            _ => {}
        }
    }
    feed.title = title.get();
    feed.subtitle = subtitle.get();
    feed.link = link.get();
    feed.links = links;
    feed.id = id.get();
    feed.published = published.get();
    feed.updated = updated.get().or(feed.published);
    feed.authors = people.people;
    feed.categories = categories;
    feed.entries = entries;
    feed
}

fn atom_category(doc: &Doc, id: NodeId, categories: &mut Vec<Category>) {
    let term = doc
        .attr(id, "term")
        .map(str::to_string)
        .unwrap_or_else(|| simple_text(doc, id));
    push_labelled_category(
        categories,
        &term,
        doc.attr(id, "scheme"),
        doc.attr(id, "label"),
    );
}

fn map_atom_entry(doc: &Doc, entry: NodeId) -> Entry {
    let atom03 = is_atom03_doc(doc, entry);
    map_atom_entry_with(doc, entry, atom03)
}

fn map_atom_entry_with(doc: &Doc, node: NodeId, atom03: bool) -> Entry {
    let mut entry = Entry::default();
    let mut title = Ranked::default();
    let mut link = Ranked::default();
    let mut id = Ranked::default();
    let mut summary = Ranked::default();
    let mut content = Ranked::default();
    let mut updated = Ranked::default();
    let mut published = Ranked::default();
    let mut people = People::default();
    let mut categories = Vec::new();
    let mut links = Vec::new();
    let mut enclosures = Vec::new();
    for child in doc.children(node) {
        let (ns, local) = key(doc, child);
        let core = is_core(ns);
        match (ns, &*local) {
            (_, "title") if core => {
                let (value, kind) = atom_text(doc, child, atom03);
                title.offer(0, to_plain(&value, kind));
            }
            (Ns::Dc, "title") => title.offer(1, to_plain(&doc.text(child), Kind::Guess)),
            (Ns::Media, "title") => title.offer(3, to_plain(&doc.text(child), Kind::Guess)),
            (_, "link") if core => {
                if let Some(l) = atom_link(doc, child) {
                    if is_alternate(&l) {
                        link.offer_first(0, l.href.clone());
                    }
                    if l.rel.as_deref() == Some("enclosure") {
                        enclosures.push(Enclosure {
                            href: l.href.clone(),
                            media_type: l.media_type.clone(),
                            length: l.length,
                        });
                    }
                    links.push(l);
                }
            }
            (_, "id") if core => {
                let value = simple_text(doc, child);
                if !value.is_empty() {
                    id.offer(0, value);
                }
            }
            (Ns::Dc, "identifier") => {
                let value = simple_text(doc, child);
                if !value.is_empty() {
                    id.offer(1, value);
                }
            }
            (_, "summary") if core => {
                let (value, kind) = atom_text(doc, child, atom03);
                summary.offer(0, to_html(&value, kind));
            }
            (Ns::Dc, "description") => summary.offer(1, to_html(&doc.text(child), Kind::Guess)),
            (Ns::Media, "description") => summary.offer(5, media_description(doc, child)),
            (Ns::Media, "group") => {
                media_group(doc, child, &mut title, &mut summary, &mut categories)
            }
            (_, "content") if core => {
                if doc.attr(child, "src").is_some() && doc.text(child).trim().is_empty() {
                    continue;
                }
                let (value, kind) = atom_text(doc, child, atom03);
                content.offer(0, to_html(&value, kind));
            }
            (Ns::Content, "encoded") => {
                content.offer(1, to_html(&rich_text(doc, child), Kind::Html))
            }
            (_, "updated" | "modified") if core => offer_date(&mut updated, 0, doc, child),
            (Ns::Dcterms, "modified") | (Ns::Dc, "date") => offer_date(&mut updated, 1, doc, child),
            (_, "published" | "issued") if core => offer_date(&mut published, 0, doc, child),
            // RSS's element in an Atom document: wrong, but generators do it.
            (_, "pubdate") if core => offer_date(&mut published, 1, doc, child),
            (Ns::Dcterms, "issued") => offer_date(&mut published, 1, doc, child),
            (_, "created") if core => offer_date(&mut published, 2, doc, child),
            (_, "author") if core => people.offer(0, atom_person(doc, child)),
            (Ns::Dc, "creator" | "author") => {
                people.offer(1, parse_person(&simple_text(doc, child)))
            }
            (_, "category") if core => atom_category(doc, child, &mut categories),
            (Ns::Dc, "subject") => push_category(&mut categories, &simple_text(doc, child), None),
            (Ns::Media, "category") => media_category(doc, child, &mut categories),
            _ => {}
        }
    }
    entry.title = title.get();
    entry.link = link.get();
    entry.links = links;
    entry.enclosures = enclosures;
    entry.id = id.get();
    entry.summary = summary.get();
    entry.content = content.get();
    entry.published = published.get();
    entry.updated = updated.get();
    entry.authors = people.people;
    entry.categories = categories;
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_strings() {
        let p = parse_person("me@example.com (Example editor)");
        assert_eq!(p.name.as_deref(), Some("Example editor"));
        assert_eq!(p.email.as_deref(), Some("me@example.com"));
        let p = parse_person("Example editor (me+spam@example.com)");
        assert_eq!(p.name.as_deref(), Some("Example editor"));
        assert_eq!(p.email.as_deref(), Some("me+spam@example.com"));
        let p = parse_person("Jane Doe <jane@example.org>");
        assert_eq!(p.name.as_deref(), Some("Jane Doe"));
        assert_eq!(p.email.as_deref(), Some("jane@example.org"));
        let p = parse_person("Just A Name");
        assert_eq!(p.name.as_deref(), Some("Just A Name"));
        assert_eq!(p.email, None);
    }

    #[test]
    fn base64_text() {
        assert_eq!(
            try_decode_base64(" RXhhbXBsZSA8Yj5BdG9tPC9iPg==\n").as_deref(),
            Some("Example <b>Atom</b>")
        );
        assert_eq!(try_decode_base64("not base64!"), None);
    }
}
