//! A guard run on HTML text before it reaches the HTML parser: an estimate of how deep the
//! parser's stack of open elements will grow. html5ever checks "is there an X in scope" by
//! scanning that stack, on nearly every tag, so a page nesting a million `<div>`s (5 MB,
//! well under the body cap) costs quadratic time — hours of CPU for one hostile page, found
//! by the `html_extract` fuzz target. Pages whose estimate goes past the limit are not
//! parsed as HTML at all.
//!
//! The estimate follows the tree builder's main rules in a single pass and with a stack of
//! names: void and self-closed elements open nothing, raw-text elements (`script`, `style`,
//! ...) hide their content, an end tag closes up to the nearest open element of its name
//! unless a scope boundary (`table`, `td`, `object`, ...) lies in between — where the parser
//! ignores the end tag too — and the common implied end tags (`p`, `li`, `dt`/`dd`, `tr`,
//! `td`/`th`, `option`) close what a browser closes. It is an estimate: the guard's limit
//! leaves room over [`super::judge::MAX_NESTING`], which is checked exactly after parsing.

/// Elements that never have content.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param",
    "source", "track", "wbr", "frame", "basefont", "bgsound", "image",
];

/// Elements whose content is text up to their own end tag.
const RAW_TEXT: &[&str] = &[
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes",
];

/// Scope boundaries: an end tag does not close an element outside the nearest of these.
const BARRIERS: &[&str] = &[
    "applet", "caption", "html", "table", "td", "th", "marquee", "object", "template",
];

/// Start tags that close an open `<p>` (in button scope), as the tree builder does.
const CLOSES_P: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "li",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "ul",
    "dd",
    "dt",
    "listing",
    "plaintext",
    "xmp",
];

/// Whether the HTML's elements would nest more than `limit` deep, by the estimate above.
pub fn nests_deeper_than(html: &str, limit: usize) -> bool {
    let bytes = html.as_bytes();
    let mut open: Vec<String> = Vec::new();
    let mut at = 0;
    while let Some(offset) = memchr(b'<', &bytes[at..]) {
        at += offset + 1;
        let rest = &bytes[at..];
        if rest.starts_with(b"!--") {
            at += find(rest, b"-->").map_or(rest.len(), |i| i + 3);
            continue;
        }
        if rest.first().is_some_and(|b| *b == b'!' || *b == b'?') {
            at += memchr(b'>', rest).map_or(rest.len(), |i| i + 1);
            continue;
        }
        let closing = rest.first() == Some(&b'/');
        let name_start = usize::from(closing);
        if !rest.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
            continue;
        }
        let name_len = rest[name_start..]
            .iter()
            .take_while(|b| !(b.is_ascii_whitespace() || **b == b'/' || **b == b'>'))
            .count();
        let name =
            String::from_utf8_lossy(&rest[name_start..name_start + name_len]).to_ascii_lowercase();
        let tag_len = tag_end(&rest[name_start + name_len..]);
        let self_closed = tag_len >= 2 && rest[name_start + name_len + tag_len - 2] == b'/';
        at += name_start + name_len + tag_len;
        if closing {
            close(&mut open, &name);
            continue;
        }
        if VOID.contains(&name.as_str()) || self_closed {
            continue;
        }
        if name == "plaintext" {
            // Everything after it is text.
            return open.len() + 1 > limit;
        }
        if RAW_TEXT.contains(&name.as_str()) {
            let end = format!("</{name}");
            at += find_ignore_case(&bytes[at..], end.as_bytes()).unwrap_or(bytes.len() - at);
            continue;
        }
        implied_ends(&mut open, &name);
        open.push(name);
        if open.len() > limit {
            return true;
        }
    }
    false
}

/// The ends a start tag of `name` implies.
fn implied_ends(open: &mut Vec<String>, name: &str) {
    if CLOSES_P.contains(&name) {
        close_within(open, "p", &["button"]);
    }
    match name {
        "li" => close_within(open, "li", &["ul", "ol"]),
        "dt" | "dd" => {
            close_within(open, "dt", &["dl"]);
            close_within(open, "dd", &["dl"]);
        }
        // A new row or cell first closes the open cell (a cell is a scope boundary for
        // everything else, but not for the table's own structure).
        "tr" => {
            close_cells(open);
            close_within(open, "tr", &["table", "tbody", "thead", "tfoot"]);
        }
        "td" | "th" => close_cells(open),
        "tbody" | "thead" | "tfoot" => {
            close_cells(open);
            close_within(open, "tr", &["table"]);
            for section in ["tbody", "thead", "tfoot"] {
                close_within(open, section, &["table"]);
            }
        }
        "option" => close_within(open, "option", &["select", "datalist"]),
        _ => {}
    }
}

/// Closes the open cell of the current table row, if any.
fn close_cells(open: &mut Vec<String>) {
    for index in (0..open.len()).rev() {
        match open[index].as_str() {
            "td" | "th" => {
                open.truncate(index);
                return;
            }
            "tr" | "table" => return,
            _ => {}
        }
    }
}

/// Closes the innermost open `name` unless a barrier (or one of `extra`) lies above it.
fn close_within(open: &mut Vec<String>, name: &str, extra: &[&str]) {
    for index in (0..open.len()).rev() {
        let element = open[index].as_str();
        if element == name {
            open.truncate(index);
            return;
        }
        if BARRIERS.contains(&element) || extra.contains(&element) {
            return;
        }
    }
}

/// An end tag: closes up to the innermost open element of its name within scope.
fn close(open: &mut Vec<String>, name: &str) {
    for index in (0..open.len()).rev() {
        let element = open[index].as_str();
        if element == name {
            open.truncate(index);
            return;
        }
        if BARRIERS.contains(&element) {
            return;
        }
    }
}

/// Length of the rest of a tag up to and including its `>`, skipping quoted values.
fn tag_end(rest: &[u8]) -> usize {
    let mut quote: Option<u8> = None;
    for (i, b) in rest.iter().enumerate() {
        match quote {
            Some(q) if *b == q => quote = None,
            Some(_) => {}
            None if *b == b'"' || *b == b'\'' => quote = Some(*b),
            None if *b == b'>' => return i + 1,
            None => {}
        }
    }
    rest.len()
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|b| *b == needle)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_markup_is_shallow() {
        let sloppy = format!(
            "<html><body>{}<ul>{}</ul><table>{}</table><script>{}</script></body></html>",
            "<p>unclosed paragraph".repeat(2000),
            "<li>item".repeat(2000),
            "<tr><td>cell<td>cell".repeat(2000),
            "<div>".repeat(2000)
        );
        assert!(!nests_deeper_than(&sloppy, 64));
        let closed = "<div><section><p>text</p></section></div>".repeat(5000);
        assert!(!nests_deeper_than(&closed, 8));
        let comments = format!("<div><!-- {} --></div>", "<div>".repeat(5000));
        assert!(!nests_deeper_than(&comments, 8));
        let voids = "<br><img src=x><hr/><input>".repeat(5000);
        assert!(!nests_deeper_than(&voids, 2));
    }

    #[test]
    fn hostile_nesting_is_seen() {
        assert!(nests_deeper_than(&"<div>".repeat(2000), 1024));
        assert!(nests_deeper_than(&"<table><tr><td>".repeat(1000), 1024));
        assert!(nests_deeper_than(&"<b>".repeat(2000), 1024));
        // End tags the parser ignores (a <div> outside the table's scope) close nothing.
        assert!(nests_deeper_than(&"<div><table></div>".repeat(1000), 1024));
        // Attributes with '>' inside quotes do not end the tag early.
        assert!(nests_deeper_than(&"<div title='a>b'>".repeat(2000), 1024));
    }
}
