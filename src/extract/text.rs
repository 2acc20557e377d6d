//! HTML to plain text: visible text only, block elements become paragraph breaks, links
//! keep their words but never their URLs, scripts and styles are dropped.

use ego_tree::iter::Edge;
use scraper::{Html, Node};

/// Elements whose content is never text a reader sees.
const INVISIBLE: &[&str] = &[
    "script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math", "head",
    "title", "button", "select", "option", "form", "input", "textarea",
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
    "nav",
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
    "td",
    "th",
    "figure",
    "figcaption",
    "hr",
    "address",
    "details",
    "summary",
    "center",
];

/// Converts an HTML fragment (or plain text with entities) to plain text with paragraphs
/// separated by a blank line.
pub fn html_to_text(html: &str) -> String {
    if !html.contains('<') {
        return normalise_paragraphs(&html_escape::decode_html_entities(html));
    }
    // Parsing is quadratic in the nesting depth (see `nesting`): hostile markup is reduced
    // to its text without a parser.
    if super::nesting::nests_deeper_than(html, 2 * super::judge::MAX_NESTING) {
        return normalise_paragraphs(&html_escape::decode_html_entities(&strip_tags(html)));
    }
    let fragment = Html::parse_fragment(html);
    let mut out = String::with_capacity(html.len() / 2);
    walk(fragment.tree.root(), &mut out);
    normalise_paragraphs(&out)
}

/// Writes the text under `root` in document order. Iterative on purpose: a hostile page can
/// nest elements tens of thousands deep, and one stack frame per level would overflow the
/// worker thread's stack and abort the daemon.
fn walk(root: ego_tree::NodeRef<'_, Node>, out: &mut String) {
    // The invisible element whose subtree is being skipped, if any.
    let mut skipping: Option<ego_tree::NodeId> = None;
    for edge in root.traverse() {
        match edge {
            Edge::Open(node) => {
                if skipping.is_some() {
                    continue;
                }
                match node.value() {
                    Node::Text(text) => out.push_str(&text.text),
                    Node::Element(element) => {
                        let name = element.name();
                        if INVISIBLE.contains(&name) {
                            skipping = Some(node.id());
                        } else if name == "br" {
                            out.push('\n');
                        } else if BLOCKS.contains(&name) {
                            out.push_str("\n\n");
                        }
                    }
                    _ => {}
                }
            }
            Edge::Close(node) => {
                if skipping == Some(node.id()) {
                    skipping = None;
                    continue;
                }
                if skipping.is_some() {
                    continue;
                }
                if let Node::Element(element) = node.value() {
                    let name = element.name();
                    if BLOCKS.contains(&name) {
                        out.push_str("\n\n");
                    } else if matches!(name, "td" | "th") {
                        out.push(' ');
                    }
                }
            }
        }
    }
}

/// The text outside `<...>`, each tag replaced by a space.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut in_tag = false;
    for c in html.chars() {
        match (in_tag, c) {
            (false, '<') => in_tag = true,
            (true, '>') => {
                in_tag = false;
                out.push(' ');
            }
            (false, c) => out.push(c),
            (true, _) => {}
        }
    }
    out
}

/// Collapses whitespace inside paragraphs and separates paragraphs by one blank line.
pub fn normalise_paragraphs(text: &str) -> String {
    let mut paragraphs = Vec::new();
    for block in text.split("\n\n") {
        let lines: Vec<String> = block
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|line| !line.is_empty())
            .collect();
        if !lines.is_empty() {
            paragraphs.push(lines.join("\n"));
        }
    }
    paragraphs.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_become_paragraphs_and_links_lose_urls() {
        let html = "<p>Rutte <b>said</b> &laquo;peace&raquo;.</p><script>var x=1</script>\
                    <div>See <a href=\"https://example.org/x\">the report</a></div>";
        assert_eq!(html_to_text(html), "Rutte said «peace».\n\nSee the report");
    }

    #[test]
    fn plain_text_with_entities() {
        assert_eq!(
            html_to_text("Tom &amp; Jerry\n\n  second   para "),
            "Tom & Jerry\n\nsecond para"
        );
    }

    #[test]
    fn line_breaks_stay_inside_a_paragraph() {
        assert_eq!(html_to_text("<p>one<br>two</p>"), "one\ntwo");
    }

    #[test]
    fn hostile_nesting_is_reduced_to_text_without_the_parser() {
        let deep = format!(
            "{}Rutte said &amp; left{}",
            "<div class='x'>".repeat(100_000),
            "</div>".repeat(100_000)
        );
        assert_eq!(html_to_text(&deep), "Rutte said & left");
    }
}
