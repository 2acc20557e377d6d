//! Normalisation of the text values of a feed: titles become plain text, summaries and
//! contents become HTML, and common mojibake is repaired.
//!
//! The contract for the rest of the pipeline is simple: `title` (and names, categories)
//! are plain text with entities decoded; `summary` and `content` are HTML, with
//! plain-text sources escaped. Windows-1252 "smart quotes" that arrive as C1 control
//! characters and UTF-8 that was decoded twice (`â€™`, `Ã©`) are repaired in every field.

use std::borrow::Cow;

use super::repair::cp1252_c1;

/// How a source marked up its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Declared plain text (Atom `type="text"`): `<` is a literal character.
    Plain,
    /// HTML or XHTML markup.
    Html,
    /// Undeclared (RSS): HTML if it looks like HTML, plain text otherwise.
    Guess,
}

/// A title-like value as plain text: markup removed, entities decoded, whitespace
/// collapsed.
pub fn to_plain(value: &str, kind: Kind) -> String {
    let is_html = match kind {
        Kind::Plain => false,
        Kind::Html => true,
        Kind::Guess => looks_like_html(value),
    };
    let text = if is_html {
        Cow::Owned(strip_tags_and_decode(value))
    } else {
        Cow::Borrowed(value)
    };
    collapse_whitespace(&text)
}

/// A summary-like value as HTML: plain text is escaped, markup is kept.
pub fn to_html(value: &str, kind: Kind) -> String {
    let is_html = match kind {
        Kind::Plain => false,
        Kind::Html => true,
        // RSS descriptions are HTML by convention, even without visible markup.
        Kind::Guess => true,
    };
    if is_html {
        value.trim().to_string()
    } else {
        escape_html(value.trim())
    }
}

/// How far a tag's `>` is looked for; bounds the work on hostile values full of `<`.
const TAG_LOOKAHEAD: usize = 256;

/// feedparser's test for "this undeclared text is HTML": it has an end tag, a
/// self-closing tag, or an entity reference. A lone `<` or `&` stays text.
pub fn looks_like_html(value: &str) -> bool {
    let bytes = value.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' => {
                let rest = &bytes[i + 1..];
                if rest.first() == Some(&b'/') && rest.get(1).is_some_and(u8::is_ascii_alphabetic) {
                    return true;
                }
                if rest.first().is_some_and(u8::is_ascii_alphabetic)
                    && let Some(end) = rest.iter().take(TAG_LOOKAHEAD).position(|&c| c == b'>')
                    && end > 0
                    && rest[end - 1] == b'/'
                {
                    return true;
                }
            }
            b'&' => {
                let rest = &bytes[i + 1..];
                let name_len = rest
                    .iter()
                    .take(32)
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'#'))
                    .unwrap_or(rest.len().min(32));
                if name_len > 0 && rest.get(name_len) == Some(&b';') {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// Removes tags (block-level ones become a space) and decodes HTML entities.
pub fn strip_tags_and_decode(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt + 1..];
        let is_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!' || c == '?');
        if !is_tag {
            out.push('<');
            rest = after;
            continue;
        }
        let Some(gt) = tag_end(after) else {
            out.push_str(&rest[lt..]);
            rest = "";
            break;
        };
        let name: String = after
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if is_block(&name) {
            out.push(' ');
        }
        rest = &after[gt + 1..];
    }
    out.push_str(rest);
    html_escape::decode_html_entities(&out).into_owned()
}

/// Offset of the `>` that ends a tag, skipping `>` inside quoted attribute values.
fn tag_end(tag: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in tag.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i),
            (None, _) => {}
        }
    }
    None
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "br" | "p"
            | "div"
            | "li"
            | "ul"
            | "ol"
            | "tr"
            | "td"
            | "th"
            | "table"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "blockquote"
            | "pre"
            | "hr"
            | "img"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "dd"
            | "dt"
    )
}

/// Escapes text for use as HTML content.
pub fn escape_html(text: &str) -> String {
    html_escape::encode_text(text).into_owned()
}

/// Trims and collapses runs of XML whitespace to one space (non-breaking spaces are kept:
/// they are the publisher's choice).
pub fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split([' ', '\t', '\n', '\r'])
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Repairs two kinds of mojibake. UTF-8 that was decoded as windows-1252 or Latin-1 and
/// encoded again (`â€™` for `’`, `Ã©` for `é`) is decoded once more, sequence by
/// sequence. Remaining
/// C1 control characters (U+0080–U+009F, invisible and meaningless in feeds) are read as
/// the windows-1252 characters their authors meant (`\u{92}` → `’`).
pub fn demoronize(text: &str) -> Cow<'_, str> {
    if !has_mojibake_bytes(text.as_bytes()) {
        return Cow::Borrowed(text);
    }
    let text = match undo_double_encoding(text) {
        Some(fixed) => Cow::Owned(fixed),
        None => Cow::Borrowed(text),
    };
    if !text.chars().any(|c| ('\u{80}'..='\u{9F}').contains(&c)) {
        return text;
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if ('\u{80}'..='\u{9F}').contains(&c) {
                    cp1252_c1(u32::from(c)).unwrap_or(c)
                } else {
                    c
                }
            })
            .collect(),
    )
}

/// Whether the UTF-8 of `text` contains a C1 control (U+0080-U+009F, bytes C2 80-9F) or
/// a letter that can lead a double-encoded sequence (U+00C2-U+00F4, bytes C3 82-B4).
/// Checked on bytes first because almost no value needs repair and the values include
/// whole article bodies.
fn has_mojibake_bytes(bytes: &[u8]) -> bool {
    memchr::memchr2_iter(0xC2, 0xC3, bytes).any(|at| match bytes.get(at..at + 2) {
        Some([0xC2, b]) => (0x80..=0x9F).contains(b),
        Some([0xC3, b]) => (0x82..=0xB4).contains(b),
        _ => false,
    })
}

fn undo_double_encoding(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if ('\u{C2}'..='\u{F4}').contains(&c)
            && let Some((decoded, used)) = double_encoded_at(rest)
        {
            out.push(decoded);
            rest = &rest[used..];
            changed = true;
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    changed.then_some(out)
}

/// If `chars` starts with the windows-1252/Latin-1 rendering of one UTF-8 multi-byte
/// sequence (a lead byte Â-ô followed by the right number of continuation bytes), the
/// character it encodes and how many characters it spans. Legitimate text practically
/// never puts such a letter directly before the matching number of symbols from the
/// 0x80-0xBF range.
///
/// Returns the character and the number of bytes of `text` it replaces.
fn double_encoded_at(text: &str) -> Option<(char, usize)> {
    let mut chars = text.char_indices();
    let (_, first) = chars.next()?;
    let lead = single_byte(first)?;
    let len = match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return None,
    };
    let mut bytes = [lead, 0, 0, 0];
    let mut used = first.len_utf8();
    for slot in bytes.iter_mut().take(len).skip(1) {
        let (_, c) = chars.next()?;
        let b = single_byte(c)?;
        if !(0x80..=0xBF).contains(&b) {
            return None;
        }
        *slot = b;
        used += c.len_utf8();
    }
    let decoded = std::str::from_utf8(&bytes[..len]).ok()?.chars().next()?;
    Some((decoded, used))
}

/// The byte a character would have been in windows-1252 (falling back to Latin-1 for the
/// five bytes windows-1252 leaves undefined).
fn single_byte(c: char) -> Option<u8> {
    let code = u32::from(c);
    if code < 0x80 || (0xA0..=0xFF).contains(&code) || (0x80..=0x9F).contains(&code) {
        return u8::try_from(code).ok();
    }
    (0x80u32..=0x9F)
        .find(|&b| cp1252_c1(b) == Some(c))
        .and_then(|b| u8::try_from(b).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_titles() {
        assert_eq!(to_plain("Example <b>Atom</b>", Kind::Html), "Example Atom");
        assert_eq!(to_plain("AT&amp;T &hellip;", Kind::Guess), "AT&T …");
        assert_eq!(to_plain("1 < 2 & 3", Kind::Guess), "1 < 2 & 3");
        assert_eq!(
            to_plain("History of the <blink> tag", Kind::Plain),
            "History of the <blink> tag"
        );
        assert_eq!(to_plain("  line\n  break ", Kind::Plain), "line break");
        assert_eq!(to_plain("a<br/>b", Kind::Guess), "a b");
        assert_eq!(
            to_plain("<img alt=\"a<br />b\" src=\"x\" />cat", Kind::Html),
            "cat"
        );
    }

    #[test]
    fn html_summaries() {
        assert_eq!(to_html("a < b", Kind::Plain), "a &lt; b");
        assert_eq!(to_html(" <p>x</p> ", Kind::Guess), "<p>x</p>");
    }

    #[test]
    fn mojibake_is_repaired() {
        assert_eq!(demoronize("don\u{92}t"), "don’t");
        assert_eq!(demoronize("â€™ and CafÃ©"), "’ and Café");
        assert_eq!(demoronize("\u{e2}\u{80}\u{a6}"), "…");
        assert_eq!(demoronize("São Paulo, Zürich"), "São Paulo, Zürich");
        assert_eq!(demoronize("SÃO"), "SÃO");
        assert_eq!(demoronize("It\u{92}s â€¦ fine"), "It’s … fine");
        assert_eq!(demoronize("«café» – naïve"), "«café» – naïve");
    }
}
