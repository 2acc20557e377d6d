//! Text folding for matching: lower case, no diacritics, one apostrophe, one space, one
//! dash — with the way back from every folded byte to the original text, so matches can be
//! shown (snippets, statements) exactly as written.
//!
//! Folding is per character, so it is the same for a pattern and for the text it is looked
//! for in. Word boundaries are Unicode-aware: a word character is any letter, digit or
//! combining mark of any script (Latin and Cyrillic alike); apostrophes are not word
//! characters, so "Ukraine" matches in "Ukraine's" and "об'єднання" matches whatever
//! apostrophe the article uses.

use std::sync::OnceLock;

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// Folded text and the way back from each of its bytes to the original.
#[derive(Debug, Clone, Default)]
pub struct Folded {
    /// The folded text.
    pub text: String,
    /// Where folded and original offsets part ways, in folded order. Most characters fold
    /// to as many bytes as they had (lower-casing ASCII or Cyrillic, any unchanged text),
    /// so offsets stay in step for long stretches and a segment per stretch is all the
    /// map there is: no table with an entry per byte to write for every article.
    segments: Vec<Segment>,
}

/// A stretch of folded text and where it came from.
#[derive(Debug, Clone, Copy)]
struct Segment {
    /// First folded byte of the stretch.
    folded: u32,
    /// The original byte it came from.
    original: u32,
    /// `true`: the stretch is one character folded to a different length, all of whose
    /// bytes map to the character's start. `false`: folded byte `folded + n` came from
    /// the character containing original byte `original + n`.
    one_character: bool,
}

impl Folded {
    /// The original offset of folded byte `at`: the start of the character it came from
    /// (`at` = the folded length maps to the original length).
    pub fn original_offset(&self, original: &str, at: usize) -> usize {
        if at >= self.text.len() {
            return original.len();
        }
        let after = self
            .segments
            .partition_point(|segment| segment.folded as usize <= at);
        let Some(segment) = after.checked_sub(1).and_then(|i| self.segments.get(i)) else {
            return at.min(original.len());
        };
        if segment.one_character {
            return segment.original as usize;
        }
        let mut offset =
            (segment.original as usize + (at - segment.folded as usize)).min(original.len());
        while !original.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }

    /// Original byte range of a folded byte range: from the start of the first folded
    /// character to the end of the original character that produced the last one.
    pub fn original_range(&self, original: &str, start: usize, end: usize) -> (usize, usize) {
        let from = self.original_offset(original, start);
        if end == 0 || end <= start {
            return (from, from);
        }
        let last = self.original_offset(original, end - 1);
        let to = original[last..]
            .chars()
            .next()
            .map_or(original.len(), |c| last + c.len_utf8());
        (from, to.max(from))
    }

    /// Folded and original offsets part ways here: what follows is in step from `original`.
    fn resume(&mut self, original: usize) {
        let segment = Segment {
            folded: self.text.len() as u32,
            original: original as u32,
            one_character: false,
        };
        match self.segments.last_mut() {
            Some(last) if last.folded == segment.folded => *last = segment,
            _ => self.segments.push(segment),
        }
    }

    /// Appends one character's folded form; `at` and `width` are its place in the original.
    fn push_folded(&mut self, at: usize, width: usize, output: &str) {
        if output.len() == width {
            self.text.push_str(output);
            return;
        }
        if !output.is_empty() {
            self.resume(at);
            if let Some(last) = self.segments.last_mut() {
                last.one_character = true;
            }
            self.text.push_str(output);
        }
        self.resume(at + width);
    }
}

/// Sentinel in the fold table: the character needs the slow path.
const SLOW: u32 = u32::MAX;
/// Sentinel in the fold table: the character folds to nothing.
const DROP: u32 = 0;
/// Characters below this are folded through a table built once.
const TABLE_SIZE: usize = 0x2100;

fn table() -> &'static [u32] {
    static TABLE: OnceLock<Vec<u32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0..TABLE_SIZE as u32)
            .map(|code| match char::from_u32(code) {
                Some(c) => {
                    let mut out = Vec::new();
                    fold_char_slow(c, &mut |f| out.push(f));
                    match out.as_slice() {
                        [] => DROP,
                        [one] => *one as u32,
                        _ => SLOW,
                    }
                }
                None => DROP,
            })
            .collect()
    })
}

/// Whether `c` is an apostrophe variant (folded to `'`).
pub fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2019}' | '\u{02BC}' | '\u{2018}' | '`' | '\u{00B4}' | '\u{02B9}' | '\u{2032}'
    )
}

/// Whether `c` is a dash variant (folded to `-`).
pub fn is_dash(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}'
            | '\u{2011}'
            | '\u{2012}'
            | '\u{2013}'
            | '\u{2014}'
            | '\u{2015}'
            | '\u{2212}'
    )
}

fn fold_char_slow(c: char, out: &mut impl FnMut(char)) {
    if is_apostrophe(c) {
        return out('\'');
    }
    if is_dash(c) {
        return out('-');
    }
    if c.is_whitespace() {
        return out(' ');
    }
    // Invisible characters that only break words apart in copy-pasted text.
    if matches!(
        c,
        '\u{00AD}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
    ) {
        return;
    }
    for lower in c.to_lowercase() {
        decompose_canonical(lower, |d| {
            if !is_combining_mark(d) {
                out(d)
            }
        });
    }
}

/// Folds one character, calling `out` for each resulting character (usually exactly one).
#[inline]
pub fn fold_char(c: char, out: &mut impl FnMut(char)) {
    let code = c as usize;
    if code < 0x80 {
        return out(fold_ascii(c as u8) as char);
    }
    if code < TABLE_SIZE {
        match table()[code] {
            DROP => return,
            SLOW => {}
            folded => {
                if let Some(f) = char::from_u32(folded) {
                    return out(f);
                }
            }
        }
    }
    fold_char_slow(c, out)
}

/// The ASCII byte `b` folded (lower case, one space, one apostrophe).
#[inline]
fn fold_ascii(b: u8) -> u8 {
    match b {
        b'A'..=b'Z' => b + 32,
        b'\t' | b'\n' | b'\r' | 0x0B | 0x0C => b' ',
        b'`' => b'\'',
        _ => b,
    }
}

/// Folds a text, keeping the way back to the original. Runs of whitespace become one
/// space.
///
/// Most characters of most texts fold to themselves (lower-case letters, digits,
/// punctuation, single spaces): such runs are copied as slices, and only the characters
/// that change are folded one by one.
pub fn fold(text: &str) -> Folded {
    let bytes = text.as_bytes();
    let table = table();
    let mut folded = Folded {
        text: String::with_capacity(text.len()),
        segments: Vec::new(),
    };
    folded.resume(0);
    // Start of the run of unchanged characters not yet copied.
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            let f = fold_ascii(b);
            if f == b && b != b' ' {
                i += 1;
                continue;
            }
            let follows_space = if i > run {
                bytes[i - 1] == b' '
            } else {
                folded.text.ends_with(' ')
            };
            if b == b' ' && !follows_space {
                i += 1;
                continue;
            }
            folded.text.push_str(&text[run..i]);
            if f != b' ' || !follows_space {
                // One byte for one byte: offsets stay in step.
                folded.text.push(f as char);
            } else {
                folded.resume(i + 1);
            }
            i += 1;
            run = i;
            continue;
        }
        // Two-byte characters (Latin accents, Greek, Cyrillic) are decoded inline.
        let (code, width) = if b & 0xE0 == 0xC0 && i + 1 < bytes.len() {
            (
                (u32::from(b & 0x1F) << 6) | u32::from(bytes[i + 1] & 0x3F),
                2,
            )
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            (c as u32, c.len_utf8())
        };
        if (code as usize) < TABLE_SIZE && table[code as usize] == code {
            i += width;
            continue;
        }
        folded.text.push_str(&text[run..i]);
        let c = char::from_u32(code).unwrap_or(' ');
        let mut output = [0u8; 16];
        let mut length = 0;
        let mut space_before = folded.text.ends_with(' ');
        fold_char(c, &mut |f| {
            if f == ' ' && space_before {
                return;
            }
            space_before = f == ' ';
            if length + f.len_utf8() <= output.len() {
                length += f.encode_utf8(&mut output[length..]).len();
            }
        });
        folded.push_folded(
            i,
            width,
            std::str::from_utf8(&output[..length]).unwrap_or(""),
        );
        i += width;
        run = i;
    }
    folded.text.push_str(&text[run..]);
    folded
}

/// Folds a text without keeping the map (patterns, names, tokens), trimmed.
pub fn fold_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_space = true; // drops leading whitespace
    for c in text.chars() {
        fold_char(c, &mut |f| {
            if f == ' ' {
                if !last_space {
                    out.push(' ');
                }
                last_space = true;
            } else {
                out.push(f);
                last_space = false;
            }
        });
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Whether `c` is part of a word (letters, digits, marks of any script).
#[inline]
pub fn is_word_char(c: char) -> bool {
    match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => true,
        // Cyrillic letters and marks, the common case of the texts newshound reads.
        '\u{0400}'..='\u{0481}' | '\u{0483}'..='\u{04FF}' => true,
        c if c.is_ascii() => false,
        c => c.is_alphanumeric() || is_combining_mark(c),
    }
}

/// The character before byte `at` of `text`.
#[inline]
pub fn char_before(text: &str, at: usize) -> Option<char> {
    text[..at].chars().next_back()
}

/// The character at byte `at` of `text`.
#[inline]
pub fn char_at(text: &str, at: usize) -> Option<char> {
    text[at..].chars().next()
}

/// Whether a word starts at `at` (no word character right before it).
#[inline]
pub fn word_starts_at(text: &str, at: usize) -> bool {
    !char_before(text, at).is_some_and(is_word_char)
}

/// Whether a word ends at `at` (no word character right after it).
#[inline]
pub fn word_ends_at(text: &str, at: usize) -> bool {
    !char_at(text, at).is_some_and(is_word_char)
}

/// End of the word that continues at `at` (for prefix wildcards).
pub fn end_of_word(text: &str, at: usize) -> usize {
    let mut end = at;
    for c in text[at..].chars() {
        if !is_word_char(c) {
            break;
        }
        end += c.len_utf8();
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_diacritics_apostrophes_and_space() {
        let f = fold("Zelenskyy’s  PÉACE\n\nТалкс Ґудзь naïve ʼє");
        assert_eq!(f.text, "zelenskyy's peace талкс ґудзь naive 'є");
        let original = "Zelenskyy’s  PÉACE\n\nТалкс Ґудзь naïve ʼє";
        assert_eq!(f.original_offset(original, f.text.len()), original.len());
    }

    /// The fold as specified: every character through [`fold_char`], whitespace runs
    /// made one space, every byte of the output mapped to its character's first byte (and
    /// one more entry mapping the end).
    fn fold_reference(text: &str) -> (String, Vec<usize>) {
        let mut folded = String::new();
        let mut map = Vec::new();
        for (at, c) in text.char_indices() {
            fold_char(c, &mut |f| {
                if f == ' ' && folded.ends_with(' ') {
                    return;
                }
                let before = folded.len();
                folded.push(f);
                map.extend((before..folded.len()).map(|_| at));
            });
        }
        map.push(text.len());
        (folded, map)
    }

    #[test]
    fn fast_fold_equals_the_per_character_fold() {
        let alphabet: Vec<char> = "aZ 9.`'\t\n\r\u{0B}\u{0C}éÉïĳßİǅйЙёЁїЇґҐ\u{0482}\u{0483}ʼ’—\u{00A0}\u{00AD}\u{200B}\u{3000}Σσﬁẞ𝔘😀中Ⱥ"
            .chars()
            .collect();
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut samples = vec![
            String::new(),
            " ".to_string(),
            "  lead and trail  ".to_string(),
            "Zelenskyy’s  PÉACE\n\nТалкс Ґудзь naïve ʼє".to_string(),
            "\u{00A0} \t x".to_string(),
        ];
        for _ in 0..2000 {
            let len = (next() % 24) as usize;
            samples.push(
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect(),
            );
        }
        for sample in &samples {
            let fast = fold(sample);
            let (text, map) = fold_reference(sample);
            assert_eq!(fast.text, text, "{sample:?}");
            let offsets: Vec<usize> = (0..=fast.text.len())
                .map(|at| fast.original_offset(sample, at))
                .collect();
            assert_eq!(offsets, map, "{sample:?}");
        }
    }

    #[test]
    fn map_points_back_to_original_characters() {
        let text = "Éric said «Мир»";
        let f = fold(text);
        let at = f.text.find("мир").unwrap_or(0);
        let (s, e) = f.original_range(text, at, at + "мир".len());
        assert_eq!(&text[s..e], "Мир");
        let (s, e) = f.original_range(text, 0, 4);
        assert_eq!(&text[s..e], "Éric");
    }

    #[test]
    fn word_boundaries_are_unicode_aware() {
        let t = "переговори, talks";
        assert!(word_starts_at(t, 0));
        assert!(word_ends_at(t, "переговори".len()));
        assert!(!word_ends_at(t, "перего".len()));
        assert_eq!(end_of_word(t, "перего".len()), "переговори".len());
    }
}
