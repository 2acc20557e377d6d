//! Makes feed text well-formed XML before any parser sees it.
//!
//! Publishers hand-write and template their feeds, so the XML is often broken in small
//! ways that make a strict parser reject the whole document: HTML entities that XML does
//! not define (`&nbsp;`, `&hellip;`), bare `&` in URLs, a `<` in text, unquoted attribute
//! values, an unterminated root tag, unclosed elements at the end of a truncated body,
//! stray end tags, an XML declaration after a comment, control characters. This module
//! rewrites exactly those spots and copies everything else, so a clean document comes back
//! unchanged and borrowed.
//!
//! The DOCTYPE is removed. Entities its internal subset declares as plain text are
//! expanded within a fixed budget; external entities are never fetched and recursive
//! definitions that outgrow the budget are left unexpanded, which defuses billion-laughs
//! and XXE documents.

use std::borrow::Cow;
use std::collections::HashMap;

/// Deepest element nesting kept. Deeper start tags are dropped, so recursive consumers
/// of the tree need no stack-depth checks of their own.
pub const MAX_DEPTH: usize = 256;

/// Most characters that internal DTD entities may add to a document in total.
const ENTITY_EXPANSION_BUDGET: usize = 1 << 20;
/// Longest replacement text kept for one internal DTD entity.
const ENTITY_VALUE_LIMIT: usize = 4096;
/// Most internal DTD entities honoured.
const ENTITY_COUNT_LIMIT: usize = 256;

/// The result of [`well_formed`].
#[derive(Debug)]
pub struct Normalised<'a> {
    /// The well-formed text (borrowed when nothing had to change).
    pub text: Cow<'a, str>,
    /// Names of the repairs that were applied, for diagnostics.
    pub repairs: Vec<&'static str>,
}

/// Rewrites `src` into well-formed XML: see the module documentation for what is fixed.
pub fn well_formed(src: &str) -> Normalised<'_> {
    let mut fixer = Fixer {
        src,
        bytes: src.as_bytes(),
        out: None,
        copied: 0,
        stack: Vec::new(),
        root_closed: false,
        root_seen: false,
        entities: HashMap::new(),
        budget: ENTITY_EXPANSION_BUDGET,
        repairs: Vec::new(),
    };
    fixer.run();
    let repairs = std::mem::take(&mut fixer.repairs);
    let text = match fixer.out {
        None => Cow::Borrowed(src),
        Some(mut out) => {
            out.push_str(&src[fixer.copied..]);
            Cow::Owned(out)
        }
    };
    Normalised { text, repairs }
}

struct Fixer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    /// The rewritten text so far; `None` while nothing has changed.
    out: Option<String>,
    /// How much of `src` has been accounted for in `out`.
    copied: usize,
    /// Names of the open elements.
    stack: Vec<&'a str>,
    root_seen: bool,
    root_closed: bool,
    entities: HashMap<String, String>,
    budget: usize,
    repairs: Vec<&'static str>,
}

impl<'a> Fixer<'a> {
    /// Replaces `src[start..end]` with `with`.
    fn replace(&mut self, start: usize, end: usize, with: &str, repair: &'static str) {
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(self.src.len() + 64));
        out.push_str(&self.src[self.copied..start]);
        out.push_str(with);
        self.copied = end;
        if !self.repairs.contains(&repair) {
            self.repairs.push(repair);
        }
    }

    fn run(&mut self) {
        let len = self.bytes.len();
        let mut i = 0;
        // An XML declaration is only allowed at the very start; whitespace before it
        // (common after templating) makes strict parsers fail.
        let lead = self
            .bytes
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
        if lead > 0 && self.src[lead..].starts_with("<?xml") {
            self.replace(0, lead, "", "leading-whitespace");
            i = lead;
        }
        let mut text_start = i;
        while let Some(lt) = memchr::memchr(b'<', &self.bytes[i..]) {
            i += lt;
            self.text_run(text_start, i);
            i = self.markup(i);
            text_start = i;
            if self.root_closed && self.stack.is_empty() {
                i = self.after_root(i);
                text_start = i;
            }
        }
        self.text_run(text_start, len);
        if !self.stack.is_empty() {
            let mut closing = String::new();
            for name in self.stack.iter().rev() {
                closing.push_str("</");
                closing.push_str(name);
                closing.push('>');
            }
            self.stack.clear();
            self.replace(len, len, &closing, "unclosed-elements");
        }
    }

    /// Handles character data between markup: entities, control characters, and text
    /// outside the root element.
    fn text_run(&mut self, start: usize, end: usize) {
        if start >= end {
            return;
        }
        if self.stack.is_empty() {
            let run = &self.src[start..end];
            if !run.trim().is_empty() {
                self.replace(start, end, "", "text-outside-root");
            }
            return;
        }
        let mut i = start;
        while i < end {
            let Some(k) = self.bytes[i..end]
                .iter()
                .position(|&b| b == b'&' || (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')))
            else {
                break;
            };
            i += k;
            if self.bytes[i] == b'&' {
                i = self.entity(i, end);
            } else {
                self.replace(i, i + 1, "", "control-character");
                i += 1;
            }
        }
    }

    /// Everything after the root element's end: only comments, PIs and whitespace are
    /// allowed there; anything else (a second root, trailing junk) is dropped.
    fn after_root(&mut self, from: usize) -> usize {
        let rest = &self.src[from..];
        if rest.trim().is_empty() {
            return self.bytes.len();
        }
        self.replace(from, self.bytes.len(), "", "content-after-root");
        self.bytes.len()
    }

    /// Handles markup starting with `<` at `i`; returns where scanning resumes.
    fn markup(&mut self, i: usize) -> usize {
        let rest = &self.src[i..];
        let len = self.bytes.len();
        if let Some(comment) = rest.strip_prefix("<!--") {
            return match comment.find("-->") {
                Some(end) => i + 4 + end + 3,
                None => {
                    self.replace(i, len, "", "unterminated-comment");
                    len
                }
            };
        }
        if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            if self.stack.is_empty() {
                let end = rest.find("]]>").map_or(len, |e| i + e + 3);
                self.replace(i, end, "", "text-outside-root");
                return end;
            }
            return match cdata.find("]]>") {
                Some(end) => i + 9 + end + 3,
                None => {
                    self.replace(len, len, "]]>", "unterminated-cdata");
                    len
                }
            };
        }
        if rest.len() >= 9 && rest.as_bytes()[..9].eq_ignore_ascii_case(b"<!DOCTYPE") {
            let end = self.doctype(i);
            self.replace(i, end, "", "doctype-removed");
            return end;
        }
        if rest.starts_with("<!") {
            // An incomplete CDATA opener or another declaration: not parseable markup.
            let end = rest.find('>').map_or(len, |e| i + e + 1);
            self.replace(i, end, "", "bad-declaration");
            return end;
        }
        if rest.starts_with("<?") {
            let end = rest.find("?>").map_or(len, |e| i + e + 2);
            let is_decl = rest.len() > 5
                && rest.as_bytes()[2..5].eq_ignore_ascii_case(b"xml")
                && rest
                    .as_bytes()
                    .get(5)
                    .is_some_and(|b| b.is_ascii_whitespace() || *b == b'?');
            let at_start = self
                .out
                .as_ref()
                .map_or(i == 0, |o| o.is_empty() && self.copied == i);
            if (is_decl && !at_start) || end == len && !rest.ends_with("?>") {
                self.replace(i, end, "", "misplaced-declaration");
            }
            return end;
        }
        if rest.starts_with("</") {
            return self.end_tag(i);
        }
        match rest[1..].chars().next() {
            Some(c) if is_name_start(c) => self.start_tag(i),
            _ => {
                if !self.stack.is_empty() {
                    self.replace(i, i + 1, "&lt;", "bare-less-than");
                } else {
                    self.replace(i, i + 1, "", "text-outside-root");
                }
                i + 1
            }
        }
    }

    fn end_tag(&mut self, i: usize) -> usize {
        let len = self.bytes.len();
        let name_start = i + 2;
        let name_end = self.name_end(name_start);
        let name = &self.src[name_start..name_end];
        let mut j = name_end;
        while j < len && self.bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        let (end, terminated) = if j < len && self.bytes[j] == b'>' {
            (j + 1, true)
        } else {
            // `</rss` at the end of the body, or junk inside the end tag.
            (self.src[j..].find('>').map_or(len, |e| j + e + 1), false)
        };
        if name.is_empty() {
            self.replace(i, end, "", "stray-end-tag");
            return end;
        }
        match self.stack.iter().rposition(|open| *open == name) {
            Some(pos) => {
                let mut replacement = String::new();
                let auto_closed = self.stack.len() - 1 - pos;
                for open in self.stack[pos + 1..].iter().rev() {
                    replacement.push_str("</");
                    replacement.push_str(open);
                    replacement.push('>');
                }
                self.stack.truncate(pos);
                if self.stack.is_empty() {
                    self.root_closed = true;
                }
                if auto_closed > 0 || !terminated {
                    replacement.push_str("</");
                    replacement.push_str(name);
                    replacement.push('>');
                    self.replace(
                        i,
                        end,
                        &replacement,
                        if terminated {
                            "unclosed-elements"
                        } else {
                            "unterminated-end-tag"
                        },
                    );
                }
            }
            None => self.replace(i, end, "", "stray-end-tag"),
        }
        end
    }

    fn start_tag(&mut self, i: usize) -> usize {
        let len = self.bytes.len();
        let name_start = i + 1;
        let name_end = self.name_end(name_start);
        let name = &self.src[name_start..name_end];
        let Some(mut tag) = self.scan_tag(name_end, false) else {
            // The document ends inside the tag: a truncated body.
            self.replace(i, len, "", "truncated-tag");
            return len;
        };
        if self.root_closed && self.stack.is_empty() {
            return tag.end;
        }
        let void = !tag.self_closing && is_html_void(name);
        let too_deep = self.stack.len() >= MAX_DEPTH;
        if too_deep {
            self.replace(i, tag.end, "", "too-deep");
            return tag.end;
        }
        if tag.needs_rewrite || void {
            if let Some(collected) = self.scan_tag(name_end, true) {
                tag = collected;
            }
            let mut rebuilt = String::with_capacity(tag.end - i + 16);
            rebuilt.push('<');
            rebuilt.push_str(name);
            let mut seen: Vec<&str> = Vec::new();
            for (attr, value) in &tag.attributes {
                if seen.contains(attr) || !attr.chars().next().is_some_and(is_name_start) {
                    continue;
                }
                seen.push(attr);
                rebuilt.push(' ');
                rebuilt.push_str(attr);
                rebuilt.push_str("=\"");
                let value = value.unwrap_or(attr);
                rebuilt.push_str(&self.attribute_value(value));
                rebuilt.push('"');
            }
            rebuilt.push_str(if tag.self_closing || void { "/>" } else { ">" });
            self.replace(i, tag.end, &rebuilt, "attribute-syntax");
        }
        if !tag.self_closing && !void {
            self.stack.push(name);
            self.root_seen = true;
        } else if self.stack.is_empty() {
            self.root_seen = true;
            self.root_closed = true;
        }
        tag.end
    }

    /// Escapes an attribute value for re-serialisation, fixing its entities.
    fn attribute_value(&mut self, value: &str) -> String {
        let mut out = String::with_capacity(value.len());
        let bytes = value.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'&' => {
                    let (end, replacement) = self.entity_replacement(value, i, bytes.len());
                    match replacement {
                        Some(r) => out.push_str(&r),
                        None => out.push_str(&value[i..end]),
                    }
                    i = end;
                    continue;
                }
                b'<' => out.push_str("&lt;"),
                b'"' => out.push_str("&quot;"),
                b if b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r') => {}
                _ => {
                    let ch_len = utf8_len(bytes[i]);
                    out.push_str(&value[i..(i + ch_len).min(bytes.len())]);
                    i += ch_len;
                    continue;
                }
            }
            i += 1;
        }
        out
    }

    /// Scans the attributes of a start tag from just after its name, collecting them only
    /// when asked (most tags need no rewrite). Returns `None` when the document ends before
    /// the tag does.
    fn scan_tag(&self, from: usize, collect: bool) -> Option<Tag<'a>> {
        let bytes = self.bytes;
        let len = bytes.len();
        let mut tag = Tag {
            end: 0,
            self_closing: false,
            needs_rewrite: false,
            attributes: Vec::new(),
        };
        let mut i = from;
        if i < len && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' && bytes[i] != b'/' {
            // Junk glued to the name, e.g. `<a"b">`.
            tag.needs_rewrite = true;
        }
        loop {
            while i < len && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i >= len {
                return None;
            }
            match bytes[i] {
                b'>' => {
                    tag.end = i + 1;
                    return Some(tag);
                }
                b'/' if bytes.get(i + 1) == Some(&b'>') => {
                    tag.self_closing = true;
                    tag.end = i + 2;
                    return Some(tag);
                }
                b'/' => {
                    tag.needs_rewrite = true;
                    i += 1;
                    continue;
                }
                _ => {}
            }
            let name_start = i;
            while i < len
                && !bytes[i].is_ascii_whitespace()
                && !matches!(bytes[i], b'=' | b'>' | b'/')
            {
                if matches!(bytes[i], b'"' | b'\'' | b'<') {
                    tag.needs_rewrite = true;
                }
                i += 1;
            }
            let name = &self.src[name_start..i];
            let mut j = i;
            while j < len && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < len && bytes[j] == b'=' {
                j += 1;
                while j < len && bytes[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j >= len {
                    return None;
                }
                let value = if bytes[j] == b'"' || bytes[j] == b'\'' {
                    let quote = bytes[j];
                    let value_start = j + 1;
                    let value_end = bytes[value_start..]
                        .iter()
                        .position(|&b| b == quote)
                        .map(|p| value_start + p)?;
                    i = value_end + 1;
                    &self.src[value_start..value_end]
                } else {
                    let value_start = j;
                    while j < len && !bytes[j].is_ascii_whitespace() && bytes[j] != b'>' {
                        j += 1;
                    }
                    tag.needs_rewrite = true;
                    i = j;
                    &self.src[value_start..j]
                };
                if value_needs_fix(value) {
                    tag.needs_rewrite = true;
                }
                if collect {
                    tag.attributes.push((name, Some(value)));
                }
            } else {
                tag.needs_rewrite = true;
                if collect {
                    tag.attributes.push((name, None));
                }
                i = j;
            }
            if name.is_empty() {
                tag.needs_rewrite = true;
                i += 1;
            }
        }
    }

    fn name_end(&self, from: usize) -> usize {
        // Names are nearly always ASCII: step over those bytes before decoding characters.
        let ascii = self.bytes[from..]
            .iter()
            .take_while(|&&b| b.is_ascii() && is_name_char(char::from(b)))
            .count();
        let from = from + ascii;
        if self.bytes.get(from).is_none_or(|b| b.is_ascii()) {
            return from;
        }
        self.src[from..]
            .char_indices()
            .find(|&(_, c)| !is_name_char(c))
            .map_or(self.bytes.len(), |(k, _)| from + k)
    }

    /// Handles `&` at `i` in text; returns where scanning resumes.
    fn entity(&mut self, i: usize, end: usize) -> usize {
        let (stop, replacement) = self.entity_replacement(self.src, i, end);
        if let Some(replacement) = replacement {
            self.replace(i, stop, &replacement, "entity");
        }
        stop
    }

    /// Decides what `&...` at `i` in `text` becomes. Returns the end of the reference and
    /// the replacement, or `None` when the reference is already fine for XML.
    fn entity_replacement(&mut self, text: &str, i: usize, end: usize) -> (usize, Option<String>) {
        let bytes = text.as_bytes();
        let mut j = i + 1;
        if bytes.get(j) == Some(&b'#') {
            j += 1;
            let hex = matches!(bytes.get(j), Some(b'x' | b'X'));
            if hex {
                j += 1;
            }
            let digits_start = j;
            while j < end
                && (if hex {
                    bytes[j].is_ascii_hexdigit()
                } else {
                    bytes[j].is_ascii_digit()
                })
            {
                j += 1;
            }
            if j == digits_start || j - digits_start > 8 {
                return (i + 1, Some("&amp;".to_string()));
            }
            let value = u32::from_str_radix(&text[digits_start..j], if hex { 16 } else { 10 })
                .unwrap_or(0xFFFD);
            let terminated = bytes.get(j) == Some(&b';');
            let stop = if terminated { j + 1 } else { j };
            let fixed = fix_code_point(value);
            let canonical = terminated && fixed == value && bytes.get(i + 2) != Some(&b'X');
            return (stop, (!canonical).then(|| format!("&#{fixed};")));
        }
        let name_start = j;
        // HTML's longest entity name has 31 characters.
        while j < end && j - name_start < 40 && bytes[j].is_ascii_alphanumeric() {
            j += 1;
        }
        let name = &text[name_start..j];
        if name.is_empty()
            || !name.as_bytes()[0].is_ascii_alphabetic()
            || bytes.get(j) != Some(&b';')
        {
            return (i + 1, Some("&amp;".to_string()));
        }
        let stop = j + 1;
        if matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") {
            return (stop, None);
        }
        if let Some(value) = self.entities.get(name) {
            if value.len() <= self.budget {
                self.budget -= value.len();
                return (stop, Some(escape_text(value)));
            }
            return (stop, Some(format!("&amp;{name};")));
        }
        match html_entity(name) {
            Some(value) => {
                let mut refs = String::new();
                for c in value.chars() {
                    refs.push_str(&format!("&#{};", u32::from(c)));
                }
                (stop, Some(refs))
            }
            None => (stop, Some(format!("&amp;{name};"))),
        }
    }

    /// Reads a DOCTYPE starting at `i`, records its simple internal entities, and returns
    /// its end.
    fn doctype(&mut self, i: usize) -> usize {
        let bytes = self.bytes;
        let len = bytes.len();
        let mut j = i + 9;
        let mut quote = 0u8;
        while j < len {
            let b = bytes[j];
            if quote != 0 {
                if b == quote {
                    quote = 0;
                }
            } else if b == b'"' || b == b'\'' {
                quote = b;
            } else if b == b'[' {
                let subset_start = j + 1;
                let subset_end = self.src[subset_start..]
                    .find(']')
                    .map_or(len, |e| subset_start + e);
                self.internal_subset(subset_start, subset_end);
                j = subset_end;
                continue;
            } else if b == b'>' {
                return j + 1;
            }
            j += 1;
        }
        len
    }

    fn internal_subset(&mut self, start: usize, end: usize) {
        let subset = &self.src[start..end];
        for decl in subset.split("<!ENTITY").skip(1) {
            if self.entities.len() >= ENTITY_COUNT_LIMIT {
                break;
            }
            let decl = decl.trim_start();
            if decl.starts_with('%') {
                continue;
            }
            let name_len = decl.find(|c: char| c.is_whitespace()).unwrap_or(decl.len());
            let name = &decl[..name_len];
            let after = decl[name_len..].trim_start();
            let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                // SYSTEM / PUBLIC: an external entity, never fetched.
                continue;
            };
            let Some(value_len) = after[1..].find(quote) else {
                continue;
            };
            let raw = &after[1..1 + value_len];
            if let Some(value) = self.expand_entity_value(raw)
                && !name.is_empty()
            {
                self.entities.insert(name.to_string(), value);
            }
        }
    }

    /// Expands character references and earlier entities in an entity value; gives up
    /// when the result would exceed the per-entity limit (the billion-laughs pattern).
    fn expand_entity_value(&self, raw: &str) -> Option<String> {
        let mut out = String::new();
        let mut rest = raw;
        while let Some(amp) = rest.find('&') {
            out.push_str(&rest[..amp]);
            let after = &rest[amp + 1..];
            let semi = after.find(';')?;
            let reference = &after[..semi];
            if let Some(number) = reference.strip_prefix('#') {
                let value = match number.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => number.parse().ok()?,
                };
                out.push(char::from_u32(fix_code_point(value)).unwrap_or('\u{FFFD}'));
            } else if let Some(value) = self.entities.get(reference) {
                out.push_str(value);
            } else if let Some(value) = predefined(reference).or_else(|| html_entity(reference)) {
                out.push_str(value);
            } else {
                return None;
            }
            if out.len() > ENTITY_VALUE_LIMIT {
                return None;
            }
            rest = &after[semi + 1..];
        }
        out.push_str(rest);
        (out.len() <= ENTITY_VALUE_LIMIT).then_some(out)
    }
}

struct Tag<'a> {
    end: usize,
    self_closing: bool,
    needs_rewrite: bool,
    attributes: Vec<(&'a str, Option<&'a str>)>,
}

fn value_needs_fix(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.iter().enumerate().any(|(k, &b)| match b {
        b'<' => true,
        b'&' => !is_clean_reference(&bytes[k..]),
        b if b < 0x20 => !matches!(b, b'\t' | b'\n' | b'\r'),
        _ => false,
    })
}

/// Whether the bytes start with a reference an XML parser accepts as is.
fn is_clean_reference(bytes: &[u8]) -> bool {
    let Some(semi) = bytes.iter().take(12).position(|&b| b == b';') else {
        return false;
    };
    let body = &bytes[1..semi];
    match body {
        b"amp" | b"lt" | b"gt" | b"quot" | b"apos" => true,
        [b'#', b'x', hex @ ..] => !hex.is_empty() && hex.iter().all(u8::is_ascii_hexdigit),
        [b'#', dec @ ..] => !dec.is_empty() && dec.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

fn predefined(name: &str) -> Option<&'static str> {
    match name {
        "amp" => Some("&"),
        "lt" => Some("<"),
        "gt" => Some(">"),
        "quot" => Some("\""),
        "apos" => Some("'"),
        _ => None,
    }
}

/// The value of an HTML named entity (`hellip` → `…`).
pub fn html_entity(name: &str) -> Option<&'static str> {
    html_escape::NAMED_ENTITIES
        .binary_search_by(|(entity, _)| (*entity).cmp(name.as_bytes()))
        .ok()
        .map(|index| html_escape::NAMED_ENTITIES[index].1)
}

/// Maps a numeric character reference to the code point it should produce: windows-1252
/// meanings for 128–159 (what every browser does, and what `&#146;` authors meant), and
/// U+FFFD for values XML forbids.
pub fn fix_code_point(value: u32) -> u32 {
    match value {
        0x80..=0x9F => u32::from(cp1252_c1(value).unwrap_or('\u{FFFD}')),
        0x9 | 0xA | 0xD => value,
        0..=0x1F | 0xD800..=0xDFFF | 0xFFFE | 0xFFFF => 0xFFFD,
        v if v > 0x10FFFF => 0xFFFD,
        v => v,
    }
}

/// The windows-1252 character for a C1 code point (0x80–0x9F), if it has one.
pub fn cp1252_c1(value: u32) -> Option<char> {
    const TABLE: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    let index = usize::try_from(value.checked_sub(0x80)?).ok()?;
    TABLE
        .get(index)
        .copied()
        .filter(|c| !('\u{80}'..='\u{9F}').contains(c))
}

fn escape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | ':' | '-' | '.') || c as u32 == 0xB7
}

/// HTML elements that never have content; feeds embed unescaped HTML with `<br>`.
fn is_html_void(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "br" | "hr" | "img" | "wbr" | "col" | "embed" | "param" | "area" | "input"
    )
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(s: &str) -> String {
        well_formed(s).text.into_owned()
    }

    #[test]
    fn clean_document_is_borrowed() {
        let doc = "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title a=\"x &amp; y\">A &amp; B &#8217; &#x41;</title></channel></rss>\n";
        assert!(matches!(well_formed(doc).text, Cow::Borrowed(_)));
    }

    #[test]
    fn html_entities_become_character_references() {
        assert_eq!(
            fix("<rss><title>caf&eacute; &hellip; &nbsp; &bogus;</title></rss>"),
            "<rss><title>caf&#233; &#8230; &#160; &amp;bogus;</title></rss>"
        );
    }

    #[test]
    fn bare_ampersands_and_less_than_are_escaped() {
        assert_eq!(
            fix("<a href=\"?a=1&b=2\">x & y < z</a>"),
            "<a href=\"?a=1&amp;b=2\">x &amp; y &lt; z</a>"
        );
    }

    #[test]
    fn c1_character_references_are_windows_1252() {
        assert_eq!(fix("<a>don&#146;t &#X41;</a>"), "<a>don&#8217;t &#65;</a>");
    }

    #[test]
    fn unterminated_root_and_unclosed_elements_are_closed() {
        assert_eq!(
            fix("<rss><channel><title>x</title></channel></rss"),
            "<rss><channel><title>x</title></channel></rss>"
        );
        assert_eq!(
            fix("<rss><channel><item><title>x"),
            "<rss><channel><item><title>x</title></item></channel></rss>"
        );
        assert_eq!(fix("<a><b>x</a>"), "<a><b>x</b></a>");
        assert_eq!(fix("<a>x</b></a>"), "<a>x</a>");
    }

    #[test]
    fn attributes_are_quoted_and_void_elements_closed() {
        assert_eq!(
            fix("<a><img src=x.png alt></a>"),
            "<a><img src=\"x.png\" alt=\"alt\"/></a>"
        );
        assert_eq!(fix("<a><br></a>"), "<a><br/></a>");
    }

    #[test]
    fn misplaced_declaration_and_junk_are_dropped() {
        assert_eq!(
            fix("<!-- c -->\n<?xml version=\"1.0\"?>\n<rss/>"),
            "<!-- c -->\n\n<rss/>"
        );
        assert_eq!(
            fix("  <?xml version=\"1.0\"?><a/>trailing"),
            "<?xml version=\"1.0\"?><a/>"
        );
        assert_eq!(fix("<a><![CDATA[x"), "<a><![CDATA[x]]></a>");
        assert_eq!(fix("<a><![CD\n"), "<a></a>");
    }

    #[test]
    fn internal_entities_are_expanded_within_bounds() {
        assert_eq!(
            fix("<!DOCTYPE rss [<!ENTITY id \"tag:x,\">]><rss>&id;1</rss>"),
            "<rss>tag:x,1</rss>"
        );
        let mut laughs = String::from("<!DOCTYPE lolz [<!ENTITY lol \"lol\">");
        for n in 1..=9 {
            let previous = if n == 1 {
                "lol".to_string()
            } else {
                format!("lol{}", n - 1)
            };
            laughs.push_str(&format!(
                "<!ENTITY lol{n} \"{}\">",
                format!("&{previous};").repeat(10)
            ));
        }
        laughs.push_str("]><lolz>&lol9;</lolz>");
        let started = std::time::Instant::now();
        let fixed = fix(&laughs);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert!(fixed.len() < 100, "{fixed}");
        let xxe = "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>";
        assert_eq!(fix(xxe), "<r>&amp;x;</r>");
    }
}
