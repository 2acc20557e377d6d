//! Snippets: a match shown with about 80 characters of context on each side, marked with
//! `[[ ]]`, every run of whitespace shown as one space — the evidence text of every term of
//! every rule that fires.
//!
//! Rules that fire quote several terms each, so an article's text is cut into many snippets.
//! [`Collapsed`] does the whitespace work once per text; each snippet is then a few slices.

use std::cell::RefCell;
use std::sync::Arc;

/// Characters of context on each side of a match.
const CONTEXT: usize = 80;

/// A text with every run of whitespace made one space, and where each run was.
#[derive(Debug)]
pub struct Collapsed {
    text: String,
    /// Each whitespace run other than a single ASCII space: its start and end in the
    /// original, and where its one space is in `text`; in the original's order.
    runs: Vec<(u32, u32, u32)>,
}

impl Collapsed {
    /// Collapses `original`. A single ASCII space is already collapsed (the usual case
    /// between two words), so the text is copied in long slices and only other runs are
    /// rewritten and remembered.
    pub fn new(original: &str) -> Self {
        let bytes = original.as_bytes();
        let mut text = String::with_capacity(bytes.len());
        let mut runs = Vec::new();
        let mut copied = 0;
        let mut at = 0;
        while at < bytes.len() {
            // Eight bytes at a time while no whitespace other than lone spaces is in sight.
            if at + 9 <= bytes.len() && plain_chunk(word_at(bytes, at), word_at(bytes, at + 1)) {
                at += 8;
                continue;
            }
            let b = bytes[at];
            if !may_start_whitespace(b) {
                at += 1;
                continue;
            }
            // A lone ASCII space, the usual gap between two words, is already collapsed.
            if b == b' '
                && bytes
                    .get(at + 1)
                    .is_none_or(|&next| !may_start_whitespace(next))
            {
                at += 2;
                continue;
            }
            let run_start = at;
            loop {
                let width = whitespace_len(original, at);
                if width == 0 {
                    break;
                }
                at += width;
            }
            if at == run_start {
                at += 1;
                continue;
            }
            if at - run_start == 1 && bytes[run_start] == b' ' {
                continue;
            }
            text.push_str(&original[copied..run_start]);
            runs.push((run_start as u32, at as u32, text.len() as u32));
            text.push(' ');
            copied = at;
        }
        text.push_str(&original[copied..]);
        Self { text, runs }
    }

    /// Where byte `at` of the original is in the collapsed text (a byte of a whitespace run:
    /// at the run's space).
    fn offset(&self, at: usize) -> usize {
        let at = at as u32;
        let before = self.runs.partition_point(|(start, _, _)| *start <= at);
        let Some(&(_, end, space)) = before.checked_sub(1).and_then(|i| self.runs.get(i)) else {
            return at as usize;
        };
        if at < end {
            space as usize
        } else {
            (at - end + space + 1) as usize
        }
    }

    /// The collapsed form of `original[start..end]`, without whitespace at either end.
    fn words(&self, start: usize, end: usize) -> &str {
        let from = self.offset(start);
        let to = self.offset(end).max(from);
        self.text.get(from..to).unwrap_or("").trim_matches(' ')
    }
}

/// The snippet of `original[start..end]` (byte offsets on character boundaries).
pub fn snippet(original: &str, start: usize, end: usize) -> String {
    let from = chars_back(original, start, CONTEXT);
    let to = chars_forward(original, end, CONTEXT);
    let window = Collapsed::new(&original[from..to]);
    let mut out = String::new();
    assemble(original, &window, from, [from, start, end, to], &mut out);
    out
}

/// The snippet of `original[start..end]`, cut from the text's [`Collapsed`] form, in one
/// shared allocation (evidence of several rules quotes the same snippet).
pub fn snippet_in(original: &str, collapsed: &Collapsed, start: usize, end: usize) -> Arc<str> {
    thread_local! {
        static BUFFER: RefCell<String> = const { RefCell::new(String::new()) };
    }
    let from = chars_back(original, start, CONTEXT);
    let to = chars_forward(original, end, CONTEXT);
    BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        assemble(original, collapsed, 0, [from, start, end, to], buffer);
        Arc::from(buffer.as_str())
    })
}

/// `…left [[match]] right…`: `collapsed` covers `original` from byte `base` on.
fn assemble(
    original: &str,
    collapsed: &Collapsed,
    base: usize,
    [from, start, end, to]: [usize; 4],
    out: &mut String,
) {
    let left = collapsed.words(from - base, start - base);
    let right = collapsed.words(end - base, to - base);
    out.reserve(left.len() + right.len() + (end - start) + 14);
    if from > 0 {
        out.push('…');
    }
    out.push_str(left);
    if original[..start].ends_with(char::is_whitespace) {
        out.push(' ');
    }
    out.push_str("[[");
    out.push_str(&original[start..end]);
    out.push_str("]]");
    if original[end..].starts_with(char::is_whitespace) {
        out.push(' ');
    }
    out.push_str(right);
    if to < original.len() {
        out.push('…');
    }
}

/// A one in the lowest bit of each byte of a word.
const LOW_BITS: u64 = 0x0101_0101_0101_0101;
/// A one in the highest bit of each byte of a word.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Eight bytes of `bytes` from `at` as a little-endian word.
#[inline]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// The high bit of each byte of `x` that is an ASCII byte below `n` (`n` ≤ 0x80). Setting
/// every high bit first means no subtraction borrows from the next byte.
#[inline]
fn ascii_bytes_below(x: u64, n: u8) -> u64 {
    !((x | HIGH_BITS) - LOW_BITS * u64::from(n)) & HIGH_BITS & !x
}

/// The high bit of each byte of `x` that may start whitespace: controls below 0x0E, the
/// space, and the lead bytes 0xC2 and 0xE0–0xE3 (a few more than needed).
#[inline]
fn whitespace_starts(x: u64) -> u64 {
    ascii_bytes_below(x, 0x0E)
        | ascii_bytes_below(x ^ (LOW_BITS * 0x20), 1)
        | ascii_bytes_below(x ^ (LOW_BITS * 0xC2), 1)
        | ascii_bytes_below(x ^ (LOW_BITS * 0xE0), 4)
}

/// Whether the eight bytes `x` hold nothing [`Collapsed::new`] must look at: only lone
/// spaces may start whitespace there (`next` is the text one byte on, so a space at the
/// end is checked against the byte after it).
#[inline]
fn plain_chunk(x: u64, next: u64) -> bool {
    let spaces = ascii_bytes_below(x ^ (LOW_BITS * 0x20), 1);
    (whitespace_starts(x) & !spaces) | (spaces & whitespace_starts(next)) == 0
}

/// Number of characters starting in `bytes` (bytes that are not UTF-8 continuation bytes
/// `10xxxxxx`), eight bytes at a time.
fn char_starts(bytes: &[u8]) -> usize {
    let mut chunks = bytes.chunks_exact(8);
    let mut count = 0;
    for chunk in &mut chunks {
        let x = word_at(chunk, 0);
        // Bit 7 set and bit 6 (shifted up into bit 7's place) clear.
        let continuation = x & !(x << 1) & HIGH_BITS;
        count += 8 - continuation.count_ones() as usize;
    }
    count
        + chunks
            .remainder()
            .iter()
            .filter(|&&b| b & 0xC0 != 0x80)
            .count()
}

/// The start of the `count`th character before byte `at` (or of the first one, when there
/// are fewer). A character is at least a byte, so `remaining` bytes back hold at most
/// `remaining` character starts: whole stretches are counted at once, and the count
/// converges in a few steps whatever the script.
fn chars_back(text: &str, at: usize, count: usize) -> usize {
    let bytes = text.as_bytes();
    let mut position = at;
    let mut remaining = count;
    while remaining > 0 && position > 0 {
        let stretch = remaining.min(position);
        position -= stretch;
        remaining -= char_starts(&bytes[position..position + stretch]);
    }
    // The count only reaches zero on a stretch of one-byte characters (or at the start of
    // the text), so `position` is on a character boundary.
    position
}

/// The end of the `count`th character after byte `at` (or of the text, when there are
/// fewer), counted in stretches like [`chars_back`].
fn chars_forward(text: &str, at: usize, count: usize) -> usize {
    let bytes = text.as_bytes();
    let mut position = at;
    let mut remaining = count;
    while remaining > 0 && position < bytes.len() {
        let stretch = remaining.min(bytes.len() - position);
        remaining -= char_starts(&bytes[position..position + stretch]);
        position += stretch;
        // Finish the last character counted.
        while position < bytes.len() && bytes[position] & 0xC0 == 0x80 {
            position += 1;
        }
    }
    position
}

/// Whether a whitespace character may start with byte `b`.
#[inline]
fn may_start_whitespace(b: u8) -> bool {
    const TABLE: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            table[b] = matches!(b as u8, b' ' | b'\t'..=b'\r' | 0xC2 | 0xE1 | 0xE2 | 0xE3);
            b += 1;
        }
        table
    };
    TABLE[usize::from(b)]
}

/// The byte length of the whitespace character at `at` (0 when there is none). Only four
/// lead bytes start a non-ASCII whitespace character (U+0085, U+00A0, U+1680, U+2000–U+205F,
/// U+3000), so most bytes are decided without decoding.
fn whitespace_len(text: &str, at: usize) -> usize {
    match text.as_bytes().get(at) {
        Some(b' ' | b'\t'..=b'\r') => 1,
        Some(0xC2 | 0xE1 | 0xE2 | 0xE3) => text
            .get(at..)
            .and_then(|rest| rest.chars().next())
            .filter(|c| c.is_whitespace())
            .map_or(0, char::len_utf8),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The snippet as specified, character by character.
    fn reference(text: &str, start: usize, end: usize) -> String {
        let from = text[..start]
            .char_indices()
            .rev()
            .take(CONTEXT)
            .last()
            .map_or(start, |(i, _)| i);
        let to = text[end..]
            .char_indices()
            .take(CONTEXT)
            .last()
            .map_or(end, |(i, c)| end + i + c.len_utf8());
        let words = |part: &str| part.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut out = String::new();
        if from > 0 {
            out.push('…');
        }
        out.push_str(&words(&text[from..start]));
        if text[..start].ends_with(char::is_whitespace) {
            out.push(' ');
        }
        out.push_str(&format!("[[{}]]", &text[start..end]));
        if text[end..].starts_with(char::is_whitespace) {
            out.push(' ');
        }
        out.push_str(&words(&text[end..to]));
        if to < text.len() {
            out.push('…');
        }
        out
    }

    #[test]
    fn snippets_collapse_whitespace_and_mark_cuts() {
        let text = "First  line\n\nof the\tarticle: Rutte   said peace talks\u{a0}were near,  and more text follows here.";
        let start = text.find("Rutte").unwrap_or(0);
        assert_eq!(
            snippet(text, start, start + 5),
            "First line of the article: [[Rutte]] said peace talks were near, and more text follows here."
        );
        // An ellipsis in the text is a character like any other: the space after it stays.
        let text = "Talks resume… NATO chief Rutte said";
        let start = text.find("Rutte").unwrap_or(0);
        assert_eq!(
            snippet(text, start, start + 5),
            "Talks resume… NATO chief [[Rutte]] said"
        );
        let long = format!("{} Rutte said {}", "слово ".repeat(40), "tail ".repeat(40));
        let start = long.find("Rutte").unwrap_or(0);
        let cut = snippet(&long, start, start + 5);
        assert!(cut.starts_with('…') && cut.ends_with('…'), "{cut}");
        assert!(cut.contains(" [[Rutte]] said tail"), "{cut}");
        assert!(!cut.contains("  "), "{cut}");
        // 80 characters each side, counted in characters (Cyrillic letters are two bytes):
        // the space next to the match and 79 letters.
        let long = format!("{} target {}", "а".repeat(200), "б".repeat(200));
        let start = long.find("target").unwrap_or(0);
        let cut = snippet(&long, start, start + 6);
        assert_eq!(
            cut.chars().count(),
            1 + 79 + " [[target]] ".chars().count() + 79 + 1,
            "{cut}"
        );
    }

    proptest::proptest! {
        #[test]
        fn both_ways_of_cutting_match_the_reference(
            text in "[a-z\\u{430}-\\u{44f} \\t\\n\\u{a0}\\u{2003}\\u{85}\\u{3000}«»…\\[\\]]{0,400}",
            a in 0usize..400,
            b in 0usize..400,
        ) {
            let boundaries: Vec<usize> = text
                .char_indices()
                .map(|(i, _)| i)
                .chain([text.len()])
                .collect();
            let start = boundaries[a % boundaries.len()];
            let end = boundaries[b % boundaries.len()].max(start);
            let expected = reference(&text, start, end);
            proptest::prop_assert_eq!(snippet(&text, start, end), expected.clone());
            let collapsed = Collapsed::new(&text);
            proptest::prop_assert_eq!(&*snippet_in(&text, &collapsed, start, end), expected.as_str());
        }
    }
}
