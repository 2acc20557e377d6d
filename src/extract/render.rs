//! DOM to plain text for the rules: visible words only, one blank line between paragraphs.
//!
//! Links keep their words but never their URLs; blocks that are mostly links (menus, "read
//! more" lists, tag clouds, related-article lists) are left out entirely, as are lines that
//! are nothing but a URL (footnotes). Scripts, styles, forms and media are never text.

use std::collections::HashMap;

use dom_query::{NodeData, NodeId, NodeRef};

use super::text::normalise_paragraphs;

/// Elements whose content is never article text.
const INVISIBLE: &[&str] = &[
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "head",
    "title",
    "button",
    "select",
    "option",
    "input",
    "textarea",
    "nav",
    "canvas",
    "audio",
    "video",
    "picture",
    "img",
    "figcaption",
    "label",
    "dialog",
    "menu",
];

/// Elements that start a new paragraph.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "aside",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "pre",
    "table",
    "tr",
    "figure",
    "hr",
    "address",
    "details",
    "summary",
    "center",
    "caption",
];

/// Renders the text of `node` (its children; the node's own tag does not matter).
pub fn render(node: &NodeRef<'_>) -> String {
    let mut densities = Densities::default();
    densities.measure(node);
    let mut out = String::new();
    walk(node, &densities, &mut out);
    clean_lines(&normalise_paragraphs(&out))
}

/// Link density of every element below a node, measured in one bottom-up pass. Asking
/// [`link_density`] of each block on the way down instead counted every text once per
/// enclosing block — quadratic in the nesting depth, and the largest single cost of
/// extracting a page.
#[derive(Default)]
struct Densities(HashMap<NodeId, Density>);

/// What [`link_density`] and a count of descendant links say about one element.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Density {
    /// Visible text length (as [`link_density`] counts it).
    total: usize,
    /// The part of it inside links below the element.
    linked: usize,
    /// `a` elements below the element, visible or not.
    links: usize,
}

impl Densities {
    /// Measures `node` and every element below it; returns the node's own density.
    fn measure(&mut self, node: &NodeRef<'_>) -> Density {
        let mut own = Density::default();
        for child in node.children_it(false) {
            if let Some(length) = text_length(&child) {
                own.total += length;
                continue;
            }
            let Some(name) = child.qual_name_ref().map(|q| q.local.clone()) else {
                continue;
            };
            let below = self.measure(&child);
            let is_link = &*name == "a";
            own.links += below.links + usize::from(is_link);
            if INVISIBLE.contains(&&*name) {
                continue;
            }
            own.total += below.total;
            own.linked += if is_link { below.total } else { below.linked };
        }
        self.0.insert(node.id, own);
        own
    }

    fn of(&self, node: &NodeRef<'_>) -> Density {
        self.0.get(&node.id).copied().unwrap_or_else(|| {
            let (total, linked) = link_density(node);
            let links = dom_query::Selection::from(*node).select("a").length();
            Density {
                total,
                linked,
                links,
            }
        })
    }
}

/// Length of a text node as [`link_density`] counts it (words plus one separator each).
fn text_length(node: &NodeRef<'_>) -> Option<usize> {
    node.query_or(None, |n| match &n.data {
        NodeData::Text { contents } => Some(
            contents
                .split_whitespace()
                .map(|w| w.chars().count() + 1)
                .sum::<usize>(),
        ),
        _ => None,
    })
}

/// The element's local name, lower case.
pub fn name_of(node: &NodeRef<'_>) -> Option<String> {
    node.qual_name_ref().map(|q| q.local.to_string())
}

fn walk(node: &NodeRef<'_>, densities: &Densities, out: &mut String) {
    for child in node.children_it(false) {
        let is_text = child.query_or(false, |n| matches!(n.data, NodeData::Text { .. }));
        if is_text {
            child.query(|n| {
                if let NodeData::Text { contents } = &n.data {
                    push_text(out, contents);
                }
            });
            continue;
        }
        let Some(name) = child.qual_name_ref().map(|q| q.local.clone()) else {
            continue;
        };
        let name: &str = &name;
        if INVISIBLE.contains(&name) || is_hidden(&child) {
            continue;
        }
        match name {
            "br" => {
                out.push('\n');
                continue;
            }
            "td" | "th" => {
                walk(&child, densities, out);
                out.push(' ');
                continue;
            }
            _ => {}
        }
        let block = BLOCKS.contains(&name);
        if block && is_link_block(densities.of(&child), name) {
            out.push_str("\n\n");
            continue;
        }
        if !block && name != "a" && is_link_cluster(densities.of(&child)) {
            // A hover card or "more from this author" cluster inside a sentence.
            continue;
        }
        if block {
            out.push_str("\n\n");
        }
        walk(&child, densities, out);
        if block {
            out.push_str("\n\n");
        }
    }
}

fn push_text(out: &mut String, text: &str) {
    // Whitespace inside a paragraph is collapsed later; keep one space so that words of
    // adjacent inline elements do not run together.
    let mut words = text.split_whitespace();
    let starts_with_space = text.starts_with(char::is_whitespace);
    let ends_with_space = text.ends_with(char::is_whitespace);
    let Some(first) = words.next() else {
        if !text.is_empty() && !out.ends_with([' ', '\n']) {
            out.push(' ');
        }
        return;
    };
    if starts_with_space && !out.ends_with([' ', '\n']) {
        out.push(' ');
    }
    out.push_str(first);
    for word in words {
        out.push(' ');
        out.push_str(word);
    }
    if ends_with_space {
        out.push(' ');
    }
}

/// Elements hidden by the page itself (`hidden`, `aria-hidden`, `display:none`).
pub fn is_hidden(node: &NodeRef<'_>) -> bool {
    node.element_ref().is_some_and(|el| {
        el.attrs.iter().any(|a| {
            let value: &str = &a.value;
            match &*a.name.local {
                "hidden" => true,
                "aria-hidden" => value.eq_ignore_ascii_case("true"),
                "style" => {
                    let compact: String = value
                        .chars()
                        .filter(|c| !c.is_whitespace())
                        .collect::<String>()
                        .to_ascii_lowercase();
                    compact.contains("display:none") || compact.contains("visibility:hidden")
                }
                _ => false,
            }
        })
    })
}

/// Text length and the part of it inside links, whitespace-normalised.
pub fn link_density(node: &NodeRef<'_>) -> (usize, usize) {
    let mut total = 0;
    let mut linked = 0;
    count(node, false, &mut total, &mut linked);
    (total, linked)
}

fn count(node: &NodeRef<'_>, in_link: bool, total: &mut usize, linked: &mut usize) {
    for child in node.children_it(false) {
        if let Some(length) = text_length(&child) {
            *total += length;
            if in_link {
                *linked += length;
            }
            continue;
        }
        let Some(name) = child.qual_name_ref().map(|q| q.local.clone()) else {
            continue;
        };
        if INVISIBLE.contains(&&*name) {
            continue;
        }
        count(&child, in_link || &*name == "a", total, linked);
    }
}

/// Whether an inline element is a cluster of several links and nothing else.
fn is_link_cluster(density: Density) -> bool {
    let Density {
        total,
        linked,
        links,
    } = density;
    links >= 2 && total >= 60 && linked * 10 >= total * 9
}

/// Whether a block is a list of links rather than prose: a menu, "related articles", tags,
/// share buttons. Paragraphs that merely contain links are kept.
fn is_link_block(density: Density, name: &str) -> bool {
    let Density { total, linked, .. } = density;
    if total == 0 || linked == 0 {
        return false;
    }
    let density = linked as f64 / total as f64;
    match name {
        "ul" | "ol" | "dl" | "table" => density > 0.5,
        "li" | "dt" | "dd" | "tr" => density > 0.9 && total < 300,
        "p" | "blockquote" | "pre" => density > 0.85 && total < 200,
        _ => density > 0.6 && total < 400,
    }
}

/// Drops lines that are only a URL (footnotes) or mostly URLs ("Listen: https://... |
/// Download: https://...").
fn clean_lines(text: &str) -> String {
    if !text.contains("://") && !text.contains("www.") {
        return text.to_string();
    }
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .map(|p| {
            p.lines()
                .filter(|line| !is_bare_url(line))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|p| !p.trim().is_empty())
        .collect();
    paragraphs.join("\n\n")
}

fn is_bare_url(line: &str) -> bool {
    let url_chars: usize = line
        .split_whitespace()
        .filter(|w| w.contains("://") || w.starts_with("www."))
        .map(str::len)
        .sum();
    if url_chars * 2 > line.trim().len() {
        return true;
    }
    let line = line
        .trim()
        .trim_start_matches(|c: char| c == '[' || c.is_ascii_digit() || c == ']' || c == '^')
        .trim();
    let stripped = line
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .trim_end_matches(|c: char| !c.is_alphanumeric() && c != '/');
    !stripped.is_empty()
        && !stripped.contains(char::is_whitespace)
        && (stripped.starts_with("http://")
            || stripped.starts_with("https://")
            || stripped.starts_with("www."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dom_query::Document;

    fn text_of(html: &str) -> String {
        let document = Document::from(html);
        let body = document.body().expect("body");
        render(&body)
    }

    #[test]
    fn paragraphs_are_separated_by_a_blank_line() {
        assert_eq!(
            text_of("<p>One <b>bold</b> word.</p><div>Two</div><p>Three<br>four</p>"),
            "One bold word.\n\nTwo\n\nThree\nfour"
        );
    }

    #[test]
    fn link_lists_and_url_footnotes_are_left_out() {
        let html = "<p>Rutte said <a href='https://x.example/a'>peace</a> was near.</p>\
            <ul><li><a href='/1'>Related story one</a></li><li><a href='/2'>Related two</a></li></ul>\
            <p>https://example.org/source-of-it</p><p>[1] https://example.org/footnote</p>";
        assert_eq!(text_of(html), "Rutte said peace was near.");
    }

    #[test]
    fn one_pass_densities_equal_counting_each_element() {
        let html = "<div><p>Rutte <a href='/a'>said <b>peace</b></a> was near.</p>\
            <ul><li><a href='/1'>One</a></li><li><a href='/2'>Two <script>x</script></a></li></ul>\
            <nav><a href='/n'>menu</a></nav><span><a>x</a><a>y</a> tail</span>\
            <a href='/z'><div><p>block in link</p></div></a></div>";
        let document = Document::from(html);
        let body = document.body().expect("body");
        let mut densities = Densities::default();
        densities.measure(&body);
        let mut checked = 0;
        for element in body.descendants_it() {
            if !element.is_element() {
                continue;
            }
            let (total, linked) = link_density(&element);
            let links = dom_query::Selection::from(element).select("a").length();
            let expected = Density {
                total,
                linked,
                links,
            };
            assert_eq!(densities.0.get(&element.id).copied(), Some(expected));
            checked += 1;
        }
        assert!(checked > 10);
    }

    #[test]
    fn hidden_and_invisible_elements_are_skipped() {
        let html = "<p>Shown</p><p hidden>secret</p><div style='display: none'>gone</div>\
            <script>var x</script><figure><img src=a.jpg><figcaption>Photo: AP</figcaption></figure>";
        assert_eq!(text_of(html), "Shown");
    }
}
