//! A small, tolerant, namespace-aware element tree of a feed document.
//!
//! The field mapping needs to look around freely (child elements in any order, Dublin
//! Core beside RSS, mixed content inside descriptions), which a streaming parser makes
//! awkward. The tree is built with quick-xml from text that `repair` has made well-formed;
//! should quick-xml still stop on an error, the tree keeps everything read so far. It
//! never expands entities beyond XML's own and character references, stops after
//! [`super::MAX_ENTRIES`] entries, and can serialise itself back to XML (for the feed-rs
//! retry path and for inline XHTML content).

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use smallvec::SmallVec;

/// Index of an element in [`Doc::elements`].
pub type NodeId = usize;

/// The namespaces the mapping distinguishes. Several URIs map to one variant (the RSS
/// 0.90/1.0/2.0 namespaces all mean "core RSS").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ns {
    /// No namespace.
    None,
    /// One of the RSS namespaces (0.90, 1.0, Userland/Harvard 2.0).
    Rss,
    /// Atom 1.0.
    Atom10,
    /// Atom 0.3 and its pre-release names (Echo, Pie).
    Atom03,
    /// RDF syntax.
    Rdf,
    /// Dublin Core elements.
    Dc,
    /// Dublin Core terms.
    Dcterms,
    /// RSS 1.0 content module.
    Content,
    /// Apple podcasts.
    Itunes,
    /// Media RSS.
    Media,
    /// XHTML.
    Xhtml,
    /// Feedburner.
    Feedburner,
    /// The `xml:` prefix.
    Xml,
    /// Anything else.
    Other,
}

/// An attribute with its resolved namespace.
#[derive(Debug, Clone)]
pub struct Attr<'a> {
    /// The name as written (`rdf:about`).
    pub qname: Cow<'a, str>,
    /// Offset of the local part within `qname`.
    local_at: usize,
    /// Namespace (unprefixed attributes have none).
    pub ns: Ns,
    /// Unescaped value.
    pub value: Cow<'a, str>,
}

impl Attr<'_> {
    /// The local part of the name.
    pub fn local(&self) -> &str {
        &self.qname[self.local_at..]
    }
}

/// A child of an element.
#[derive(Debug, Clone)]
pub enum Node<'a> {
    /// Character data (text, CDATA and references, merged).
    Text(Cow<'a, str>),
    /// A child element.
    Element(NodeId),
}

/// An element.
#[derive(Debug, Clone)]
pub struct Element<'a> {
    /// The name as written (`dc:creator`).
    pub qname: Cow<'a, str>,
    local_at: usize,
    /// Resolved namespace.
    pub ns: Ns,
    /// Attributes in document order.
    pub attrs: Vec<Attr<'a>>,
    /// Children in document order. Most elements of a feed have one (their text), which
    /// is kept inline rather than in an allocation of its own (5 % of a 20-item parse).
    pub children: SmallVec<[Node<'a>; 1]>,
    /// The `xml:base` in effect, as an index into [`Doc::bases`].
    base: Option<usize>,
}

impl<'a> Element<'a> {
    /// A new element without attributes or children.
    pub fn new(qname: &str, ns: Ns) -> Element<'a> {
        Element {
            qname: Cow::Owned(qname.to_string()),
            local_at: colon_at(qname).map_or(0, |colon| colon + 1),
            ns,
            attrs: Vec::new(),
            children: SmallVec::new(),
            base: None,
        }
    }

    /// The local part of the name.
    pub fn local(&self) -> &str {
        &self.qname[self.local_at..]
    }

    /// Renames the element, keeping its namespace.
    pub fn rename(&mut self, qname: &str) {
        self.local_at = colon_at(qname).map_or(0, |colon| colon + 1);
        self.qname = Cow::Owned(qname.to_string());
    }

    /// Sets (or adds) an unprefixed attribute.
    pub fn set_attr(&mut self, qname: &str, value: &str) {
        match self.attrs.iter_mut().find(|a| a.qname == qname) {
            Some(attr) => attr.value = Cow::Owned(value.to_string()),
            None => self.attrs.push(Attr {
                qname: Cow::Owned(qname.to_string()),
                local_at: colon_at(qname).map_or(0, |colon| colon + 1),
                ns: Ns::None,
                value: Cow::Owned(value.to_string()),
            }),
        }
    }

    /// Removes an attribute by its written name.
    pub fn remove_attr(&mut self, qname: &str) {
        self.attrs.retain(|a| a.qname != qname);
    }
}

/// A parsed document.
#[derive(Debug, Default, Clone)]
pub struct Doc<'a> {
    /// All elements; the root is [`Doc::root`].
    pub elements: Vec<Element<'a>>,
    /// The root element, if the text had one.
    pub root: Option<NodeId>,
    /// Where reading stopped because the entry limit was reached: the byte offset of the
    /// first entry not read, and the names of the elements open there (outermost first).
    pub truncated: Option<(usize, Vec<String>)>,
    /// The distinct `xml:base` values in effect somewhere, resolved against each other.
    bases: Vec<String>,
}

/// Most elements reserved up front (~0.5 MB); a larger document grows its vector.
const ELEMENTS_RESERVED_AT_MOST: usize = 4096;

/// Builds the tree of `text`, reading at most `max_entries` `item`/`entry` elements.
pub fn build(text: &str, max_entries: usize) -> Doc<'_> {
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    config.allow_dangling_amp = true;
    config.expand_empty_elements = false;
    config.trim_text(false);

    // Every element starts with a `<`, and so does every end tag: half the count is
    // about the number of elements, and reserving it spares the growing vector's copies.
    let tags = memchr::memchr_iter(b'<', text.as_bytes()).count();
    let mut doc = Doc {
        elements: Vec::with_capacity((tags / 2).min(ELEMENTS_RESERVED_AT_MOST)),
        ..Doc::default()
    };
    // Open elements, with the namespace declarations each one made.
    let mut stack: Vec<NodeId> = Vec::new();
    let mut scopes: Vec<Scope> = Vec::new();
    let mut entries = 0usize;
    loop {
        let position = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = match reader.read_event() {
            Ok(event) => event,
            // The text was repaired, so this is rare; keep what was read.
            Err(_) => break,
        };
        match event {
            Event::Start(start) | Event::Empty(start) if doc.root.is_some() && stack.is_empty() => {
                // A second root element: not part of the document.
                let _ = start;
                break;
            }
            Event::Start(start) => {
                if is_entry_name(local_name(start.name().into_inner())) && stack.len() <= 2 {
                    if entries >= max_entries {
                        let open = stack
                            .iter()
                            .map(|&id| doc.elements[id].qname.to_string())
                            .collect();
                        doc.truncated = Some((position, open));
                        break;
                    }
                    entries += 1;
                }
                let id = open_element(text, &mut doc, &stack, &mut scopes, &start);
                if stack.is_empty() {
                    adopt_root_vocabulary(&mut doc, id, &mut scopes);
                }
                stack.push(id);
            }
            Event::Empty(start) => {
                if is_entry_name(local_name(start.name().into_inner())) && stack.len() <= 2 {
                    entries += 1;
                }
                open_element(text, &mut doc, &stack, &mut scopes, &start);
                let depth = stack.len() + 1;
                scopes.retain(|scope| scope.depth < depth);
            }
            Event::End(end) => {
                let name = end.name().into_inner();
                if let Some(pos) = stack.iter().rposition(|&id| doc.elements[id].qname == name) {
                    stack.truncate(pos);
                    let depth = stack.len();
                    scopes.retain(|scope| scope.depth <= depth);
                }
            }
            Event::Text(t) => push_text(&mut doc, &stack, normalize_eol(reborrow(text, &t))),
            Event::CData(t) => push_text(&mut doc, &stack, normalize_eol(reborrow(text, &t))),
            Event::GeneralRef(r) => {
                let resolved = resolve_reference(&r);
                push_text(&mut doc, &stack, Cow::Owned(resolved));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    doc
}

/// The text of an event as a slice of the source, when it is one (always, for text read
/// from a `&str`, unless quick-xml had to build it), so the tree can borrow instead of
/// copying.
fn reborrow<'a>(source: &'a str, part: &str) -> Cow<'a, str> {
    let start = (part.as_ptr() as usize).wrapping_sub(source.as_ptr() as usize);
    match source.get(start..start.wrapping_add(part.len())) {
        Some(slice) if slice.as_ptr() == part.as_ptr() => Cow::Borrowed(slice),
        _ => Cow::Owned(part.to_string()),
    }
}

fn is_entry_name(local: &str) -> bool {
    local == "item" || local == "entry"
}

/// Where the prefix of a qualified name ends (its last `:`). Names are a few bytes long:
/// a plain loop beats `rfind`'s search routine on them.
fn colon_at(qname: &str) -> Option<usize> {
    qname.bytes().rposition(|b| b == b':')
}

fn local_name(qname: &str) -> &str {
    colon_at(qname).map_or(qname, |colon| &qname[colon + 1..])
}

/// A namespace declaration in scope, classified once when it is declared.
struct Scope {
    depth: usize,
    prefix: String,
    uri: String,
    ns: Ns,
}

/// An unknown namespace on a feed's root element is that feed's own vocabulary (e.g. a
/// future "rss2.1" URI): elements in it are read as core elements.
fn adopt_root_vocabulary(doc: &mut Doc<'_>, root: NodeId, scopes: &mut [Scope]) {
    let el = &doc.elements[root];
    if el.ns != Ns::Other {
        return;
    }
    let ns = match el.local().to_ascii_lowercase().as_str() {
        "rss" | "channel" => Ns::Rss,
        "feed" | "entry" => Ns::Atom10,
        _ => return,
    };
    let prefix = colon_at(&el.qname).map_or("", |colon| &el.qname[..colon]);
    let Some(uri) = scopes
        .iter()
        .rev()
        .find(|scope| scope.prefix == prefix)
        .map(|scope| scope.uri.clone())
    else {
        return;
    };
    for scope in scopes.iter_mut().filter(|scope| scope.uri == uri) {
        scope.ns = ns;
    }
    // The root was classified before its vocabulary was known.
    doc.elements[root].ns = ns;
}

fn open_element<'a>(
    source: &'a str,
    doc: &mut Doc<'a>,
    stack: &[NodeId],
    scopes: &mut Vec<Scope>,
    start: &BytesStart,
) -> NodeId {
    let depth = stack.len() + 1;
    let qname = reborrow(source, start.name().into_inner());
    let mut raw_attrs: Vec<(Cow<'a, str>, Cow<'a, str>)> = Vec::new();
    for attr in start.attributes().with_checks(false).flatten() {
        let key = reborrow(source, attr.key.into_inner());
        let value = unescape(reborrow(source, &attr.value));
        let prefix = if key == "xmlns" {
            Some("")
        } else {
            key.strip_prefix("xmlns:")
        };
        if let Some(prefix) = prefix {
            scopes.push(Scope {
                depth,
                prefix: prefix.to_string(),
                ns: classify(&value),
                uri: value.to_string(),
            });
        }
        raw_attrs.push((key, value));
    }
    let (prefix, local_at) = match colon_at(&qname) {
        Some(colon) => (&qname[..colon], colon + 1),
        None => ("", 0),
    };
    let ns = resolve(scopes, prefix);
    let parent_base = stack.last().and_then(|&parent| doc.elements[parent].base);
    let base = match raw_attrs.iter().find(|(key, _)| key == "xml:base") {
        Some((_, value)) => {
            let resolved = match parent_base {
                Some(parent) => super::uri::resolve(&doc.bases[parent], value),
                None => value.trim().to_string(),
            };
            doc.bases.push(resolved);
            Some(doc.bases.len() - 1)
        }
        None => parent_base,
    };
    let attrs = raw_attrs
        .into_iter()
        .map(|(key, value)| {
            let (ns, local_at) = match colon_at(&key) {
                Some(colon) => (resolve(scopes, &key[..colon]), colon + 1),
                None => (Ns::None, 0),
            };
            Attr {
                qname: key,
                local_at,
                ns,
                value,
            }
        })
        .collect();
    let id = doc.elements.len();
    doc.elements.push(Element {
        qname,
        local_at,
        ns,
        attrs,
        children: SmallVec::new(),
        base,
    });
    match stack.last() {
        Some(&parent) => doc.elements[parent].children.push(Node::Element(id)),
        None => {
            if doc.root.is_none() {
                doc.root = Some(id);
            }
        }
    }
    id
}

/// Resolves a prefix against the declarations in scope. An undeclared prefix is guessed
/// from its conventional name (`dc`, `media`, ...): feeds often use `dc:creator` without
/// declaring `xmlns:dc`, and feedparser reads them the same way.
fn resolve(scopes: &[Scope], prefix: &str) -> Ns {
    if prefix == "xml" {
        return Ns::Xml;
    }
    if let Some(scope) = scopes.iter().rev().find(|scope| scope.prefix == prefix) {
        return scope.ns;
    }
    match prefix {
        "" => Ns::None,
        "dc" => Ns::Dc,
        "dcterms" => Ns::Dcterms,
        "content" => Ns::Content,
        "itunes" => Ns::Itunes,
        "media" => Ns::Media,
        "atom" => Ns::Atom10,
        "rdf" => Ns::Rdf,
        "xhtml" => Ns::Xhtml,
        "feedburner" => Ns::Feedburner,
        _ => Ns::Other,
    }
}

/// Maps a namespace URI to the namespace it means, ignoring case and trailing `/` or `#`
/// (both appear in the wild for the same namespace).
fn classify(uri: &str) -> Ns {
    let lower = uri.trim().to_ascii_lowercase();
    let key = lower.trim_end_matches(['/', '#']);
    match key {
        "" => Ns::None,
        "http://www.w3.org/2005/atom" => Ns::Atom10,
        "http://purl.org/atom/ns"
        | "http://example.com/newformat"
        | "http://example.com/necho"
        | "http://purl.org/echo"
        | "uri/of/echo/namespace"
        | "http://purl.org/pie" => Ns::Atom03,
        "http://purl.org/rss/1.0"
        | "http://my.netscape.com/rdf/simple/0.9"
        | "http://backend.userland.com/rss"
        | "http://backend.userland.com/rss2"
        | "http://blogs.law.harvard.edu/tech/rss"
        | "http://purl.org/rss/1.0/modules/rss091" => Ns::Rss,
        "http://www.w3.org/1999/02/22-rdf-syntax-ns" => Ns::Rdf,
        "http://purl.org/dc/elements/1.1" => Ns::Dc,
        "http://purl.org/dc/terms" => Ns::Dcterms,
        "http://purl.org/rss/1.0/modules/content" => Ns::Content,
        "http://www.itunes.com/dtds/podcast-1.0.dtd"
        | "http://example.com/dtds/podcast-1.0.dtd" => Ns::Itunes,
        "http://search.yahoo.com/mrss" => Ns::Media,
        "http://www.w3.org/1999/xhtml" => Ns::Xhtml,
        "http://rssnamespace.org/feedburner/ext/1.0" => Ns::Feedburner,
        "http://www.w3.org/xml/1998/namespace" => Ns::Xml,
        _ => Ns::Other,
    }
}

fn push_text<'a>(doc: &mut Doc<'a>, stack: &[NodeId], text: Cow<'a, str>) {
    let Some(&parent) = stack.last() else {
        return;
    };
    if text.is_empty() {
        return;
    }
    let children = &mut doc.elements[parent].children;
    if let Some(Node::Text(previous)) = children.last_mut() {
        previous.to_mut().push_str(&text);
    } else {
        children.push(Node::Text(text));
    }
}

fn normalize_eol(text: Cow<'_, str>) -> Cow<'_, str> {
    if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        text
    }
}

/// Resolves a reference (`amp`, `#8217`, `#X41`); unknown names stay literal.
fn resolve_reference(name: &str) -> String {
    if let Some(number) = name.strip_prefix('#') {
        let value = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => number.parse().ok(),
        };
        if let Some(c) = value
            .map(super::repair::fix_code_point)
            .and_then(char::from_u32)
        {
            return c.to_string();
        }
        return format!("&{name};");
    }
    match name {
        "amp" => "&".to_string(),
        "lt" => "<".to_string(),
        "gt" => ">".to_string(),
        "quot" => "\"".to_string(),
        "apos" => "'".to_string(),
        other => match super::repair::html_entity(other) {
            Some(value) => value.to_string(),
            None => format!("&{other};"),
        },
    }
}

/// Unescapes an attribute value; malformed references stay literal.
fn unescape(raw: Cow<'_, str>) -> Cow<'_, str> {
    if !raw.contains('&') {
        return normalize_eol(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest: &str = &raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        match after
            .bytes()
            .take(33)
            .position(|b| b == b';')
            .filter(|&semi| semi > 0)
        {
            Some(semi)
                if after[..semi]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'#') =>
            {
                out.push_str(&resolve_reference(&after[..semi]));
                rest = &after[semi + 1..];
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(normalize_eol(Cow::Borrowed(&out)).into_owned())
}

impl<'a> Doc<'a> {
    /// The element with this id.
    pub fn el(&self, id: NodeId) -> &Element<'a> {
        &self.elements[id]
    }

    /// Resolves a link found in element `id` against the `xml:base` in effect there.
    pub fn resolve_href(&self, id: NodeId, href: &str) -> String {
        match self.elements[id].base {
            Some(base) => super::uri::resolve(&self.bases[base], href),
            None => href.trim().to_string(),
        }
    }

    /// The element children of `id`.
    pub fn children(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.elements[id]
            .children
            .iter()
            .filter_map(|node| match node {
                Node::Element(child) => Some(*child),
                Node::Text(_) => None,
            })
    }

    /// The value of the unprefixed attribute `local` (or, failing that, of a prefixed
    /// one with that local name, since feeds prefix attributes inconsistently).
    pub fn attr(&self, id: NodeId, local: &str) -> Option<&str> {
        let attrs = &self.elements[id].attrs;
        attrs
            .iter()
            .find(|a| a.ns == Ns::None && a.local() == local)
            .or_else(|| {
                attrs
                    .iter()
                    .find(|a| a.local() == local && !a.qname.starts_with("xmlns"))
            })
            .map(|a| a.value.as_ref())
    }

    /// All text below `id`, in document order.
    pub fn text(&self, id: NodeId) -> String {
        let mut out = String::new();
        self.collect_text(id, &mut out);
        out
    }

    fn collect_text(&self, id: NodeId, out: &mut String) {
        for node in &self.elements[id].children {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Element(child) => self.collect_text(*child, out),
            }
        }
    }

    /// Whether `id` has element children.
    pub fn has_element_children(&self, id: NodeId) -> bool {
        self.children(id).next().is_some()
    }

    /// The children of `id` serialised as markup. Namespace declarations are dropped and
    /// XHTML prefixes removed, because the result is meant to be read as HTML.
    pub fn inner_html(&self, id: NodeId) -> String {
        let mut out = String::new();
        for node in &self.elements[id].children {
            self.write_node(node, &mut out, true);
        }
        out
    }

    /// Adds a detached element and returns its id.
    pub fn add(&mut self, element: Element<'a>) -> NodeId {
        self.elements.push(element);
        self.elements.len() - 1
    }

    /// Moves all children of `id` into a new child element `qname`.
    pub fn wrap_children(&mut self, id: NodeId, qname: &str) -> NodeId {
        let ns = self.elements[id].ns;
        let mut wrapper = Element::new(qname, ns);
        wrapper.children = std::mem::take(&mut self.elements[id].children);
        let wrapper = self.add(wrapper);
        self.elements[id].children.push(Node::Element(wrapper));
        wrapper
    }

    /// Every element id in document order, starting at the root.
    pub fn descendants(&self) -> Vec<NodeId> {
        let mut out = Vec::new();
        let mut pending: Vec<NodeId> = self.root.into_iter().collect();
        while let Some(id) = pending.pop() {
            out.push(id);
            let children: Vec<NodeId> = self.children(id).collect();
            pending.extend(children.into_iter().rev());
        }
        out
    }

    /// Serialises the whole document as well-formed XML.
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        if let Some(root) = self.root {
            self.write_node(&Node::Element(root), &mut out, false);
        }
        out
    }

    fn write_node(&self, node: &Node<'a>, out: &mut String, as_html: bool) {
        match node {
            Node::Text(t) => escape_into(t, out, false),
            Node::Element(id) => {
                let el = &self.elements[*id];
                let name = if as_html && (el.ns == Ns::Xhtml || el.ns == Ns::None) {
                    el.local()
                } else {
                    el.qname.as_ref()
                };
                out.push('<');
                out.push_str(name);
                for attr in &el.attrs {
                    if as_html && (attr.qname == "xmlns" || attr.qname.starts_with("xmlns:")) {
                        continue;
                    }
                    out.push(' ');
                    out.push_str(&attr.qname);
                    out.push_str("=\"");
                    escape_into(&attr.value, out, true);
                    out.push('"');
                }
                if el.children.is_empty() {
                    out.push_str(" />");
                    return;
                }
                out.push('>');
                for child in &el.children {
                    self.write_node(child, out, as_html);
                }
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
        }
    }
}

fn escape_into(text: &str, out: &mut String, attribute: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_resolved_and_guessed() {
        let doc = build(
            "<rss xmlns:d='http://purl.org/dc/elements/1.1/'><channel><d:creator>a</d:creator><dc:subject>b</dc:subject><media:title>c</media:title></channel></rss>",
            10,
        );
        let root = doc.root.unwrap_or_default();
        let channel = doc.children(root).next().unwrap_or_default();
        let kinds: Vec<(Ns, &str)> = doc
            .children(channel)
            .map(|id| (doc.el(id).ns, doc.el(id).local()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (Ns::Dc, "creator"),
                (Ns::Dc, "subject"),
                (Ns::Media, "title")
            ]
        );
    }

    #[test]
    fn text_and_markup() {
        let doc = build(
            "<feed xmlns='http://www.w3.org/2005/Atom'><content type='xhtml'><div xmlns='http://www.w3.org/1999/xhtml'>A &amp; <b title=\"x&quot;\">B</b>&#x2019;</div></content></feed>",
            10,
        );
        let root = doc.root.unwrap_or_default();
        let content = doc.children(root).next().unwrap_or_default();
        assert_eq!(doc.text(content), "A & B’");
        assert_eq!(
            doc.inner_html(content),
            "<div>A &amp; <b title=\"x&quot;\">B</b>’</div>"
        );
    }

    #[test]
    fn entry_limit_truncates() {
        let doc = build(
            "<rss><channel><item>1</item><item>2</item><item>3</item></channel></rss>",
            2,
        );
        let (offset, open) = doc.truncated.clone().unwrap_or_default();
        assert_eq!(open, vec!["rss".to_string(), "channel".to_string()]);
        assert_eq!(offset, "<rss><channel><item>1</item><item>2</item>".len());
        let root = doc.root.unwrap_or_default();
        let channel = doc.children(root).next().unwrap_or_default();
        assert_eq!(doc.children(channel).count(), 2);
    }
}
