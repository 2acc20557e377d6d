//! One automaton for every literal term of every rule (and every name and role alias of the
//! people registry): patterns are folded, interned, and their literal part goes into a
//! single Aho-Corasick automaton, so scanning a text costs the same with 10 or 10,000 terms.
//!
//! A pattern is a sequence of words; a word may be a prefix (`negotiat*`). The literal put
//! into the automaton is the pattern up to (and including the stem of) its first prefix
//! word; the rest of the pattern is verified at each hit. Hits respect word boundaries.
//!
//! Since every match starts where a word starts, the automaton is anchored and walked only
//! from word starts, until it can no longer match: most words are left after a byte or two,
//! which keeps scanning fast however many patterns there are.

use std::hash::{Hash, Hasher};

use aho_corasick::automaton::Automaton;
use aho_corasick::{Anchored, MatchKind, StartKind};
use rustc_hash::{FxHashMap, FxHasher};

use super::normalize::{end_of_word, is_word_char, word_ends_at};
use super::query::WordPattern;

/// Index of a pattern in a [`Matcher`].
pub type PatternId = u32;

/// A pattern: words separated by single spaces in the folded text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The words.
    pub words: Vec<WordPattern>,
}

impl Pattern {
    /// The pattern as folded text (`*` after prefix words), for display and interning.
    pub fn display(&self) -> String {
        self.words
            .iter()
            .map(|w| {
                if w.prefix {
                    format!("{}*", w.text)
                } else {
                    w.text.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The literal part: words up to the first prefix word, and how many words it covers.
    fn literal(&self) -> (String, usize) {
        let mut literal = String::new();
        for (i, word) in self.words.iter().enumerate() {
            if i > 0 {
                literal.push(' ');
            }
            literal.push_str(&word.text);
            if word.prefix {
                return (literal, i + 1);
            }
        }
        (literal, self.words.len())
    }
}

/// Collects patterns, then builds the [`Matcher`].
#[derive(Debug, Default)]
pub struct MatcherBuilder {
    patterns: Vec<Pattern>,
    /// Pattern ids by a hash of their words (the patterns are not copied into the index:
    /// with thousands of them, the copies cost more than the rest of building).
    index: FxHashMap<u64, PatternId>,
    /// Ids of patterns whose hash was already taken by a different pattern.
    colliding: Vec<PatternId>,
}

impl MatcherBuilder {
    /// Adds a pattern (or finds the identical one already added) and returns its id.
    pub fn add(&mut self, words: Vec<WordPattern>) -> PatternId {
        let mut hasher = FxHasher::default();
        words.hash(&mut hasher);
        self.add_hashed(words, hasher.finish())
    }

    fn add_hashed(&mut self, words: Vec<WordPattern>, hash: u64) -> PatternId {
        let same = |id: &PatternId| self.patterns[*id as usize].words == words;
        let earlier = self.index.get(&hash).copied();
        if let Some(id) = earlier.filter(same) {
            return id;
        }
        if earlier.is_some()
            && let Some(id) = self.colliding.iter().copied().find(same)
        {
            return id;
        }
        let id = self.patterns.len() as PatternId;
        if earlier.is_some() {
            self.colliding.push(id);
        } else {
            self.index.insert(hash, id);
        }
        self.patterns.push(Pattern { words });
        id
    }

    /// Number of distinct patterns added.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Builds the automaton.
    pub fn build(self) -> Result<Matcher, aho_corasick::BuildError> {
        // Sorted by literal: patterns sharing a literal come together, and the automaton,
        // which numbers its states as literals are added, gets a depth-first layout in
        // which a path from the root runs mostly through neighbouring states, so a walk
        // touches far fewer cache lines than with the rules' order. Descending, because
        // the automaton keeps each state's transitions in a list sorted by byte: a new
        // transition then goes to the front of it instead of after all the others.
        let mut starts: Vec<(String, PatternId, u32)> = self
            .patterns
            .iter()
            .enumerate()
            .map(|(id, pattern)| {
                let (literal, covered) = pattern.literal();
                (literal, id as PatternId, covered as u32)
            })
            .collect();
        starts.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        // One flat table, so a hit costs one lookup rather than two pointer chases.
        let mut literals: Vec<String> = Vec::new();
        let mut literal_patterns = Vec::with_capacity(starts.len());
        let mut by_literal: Vec<LiteralEntry> = Vec::new();
        for (literal, id, covered) in starts {
            if literals.last() != Some(&literal) {
                by_literal.push(LiteralEntry {
                    length: literal.len() as u32,
                    start: literal_patterns.len() as u32,
                    end: literal_patterns.len() as u32,
                });
                literals.push(literal);
            }
            literal_patterns.push((id, covered));
            if let Some(entry) = by_literal.last_mut() {
                entry.end = literal_patterns.len() as u32;
            }
        }
        // A DFA has one table row per state: with thousands of patterns it grows to tens of
        // megabytes and every step misses the cache. The contiguous NFA is compact (sparse
        // states, a dense start state), which wins for the few bytes walked per word.
        let total: usize = literals.iter().map(String::len).sum();
        let automaton = if literals.is_empty() {
            Walker::Empty
        } else if total <= 4 << 10 {
            Walker::Dfa(
                aho_corasick::dfa::Builder::new()
                    .match_kind(MatchKind::Standard)
                    // Walked by hand from word starts: a prefilter would never be used.
                    .prefilter(false)
                    .start_kind(StartKind::Anchored)
                    .build(&literals)?,
            )
        } else {
            Walker::Nfa(
                aho_corasick::nfa::contiguous::Builder::new()
                    .match_kind(MatchKind::Standard)
                    .prefilter(false)
                    .build(&literals)?,
            )
        };
        Ok(Matcher {
            starts: StartFilter::new(&literals),
            automaton,
            patterns: self.patterns,
            by_literal,
            literal_patterns,
        })
    }
}

/// The automaton of all literals, walked from word starts.
#[derive(Debug)]
enum Walker {
    /// No patterns.
    Empty,
    /// Anchored DFA.
    Dfa(aho_corasick::dfa::DFA),
    /// Contiguous NFA, for very large pattern sets.
    Nfa(aho_corasick::nfa::contiguous::NFA),
}

/// The first bytes of every literal, hashed into a bit set small enough to stay in the
/// CPU cache: a word whose first bytes start no literal is passed over without walking the
/// automaton, whose states are scattered over megabytes (each step a likely cache miss).
///
/// A literal of at least [`StartFilter::KEY`] bytes is entered by its first `KEY` bytes, a
/// shorter one whole (with its length). A text position may start a match only if its first
/// `KEY` bytes, or its first `n` bytes for a length `n` of some short literal, are in the
/// set; hash collisions only let a few more positions through to the automaton.
#[derive(Debug)]
struct StartFilter {
    bits: Vec<u64>,
    /// Bit `n` set: some literal is exactly `n` (< `KEY`) bytes long.
    short_lengths: u32,
}

impl StartFilter {
    /// Bytes of a literal's start that are looked up: six bytes are six Latin letters or
    /// three Cyrillic ones, a selective key in both scripts.
    const KEY: usize = 6;
    /// 2^19 bits: 64 KiB.
    const BITS: u32 = 19;

    fn new(literals: &[String]) -> Self {
        let mut filter = Self {
            bits: vec![0; 1 << (Self::BITS - 6)],
            short_lengths: 0,
        };
        for literal in literals {
            let bytes = literal.as_bytes();
            let length = bytes.len().min(Self::KEY);
            if length < Self::KEY {
                filter.short_lengths |= 1 << length;
            }
            let slot = Self::slot(Self::prefix(bytes), length);
            filter.bits[slot >> 6] |= 1 << (slot & 63);
        }
        filter
    }

    /// The first (up to eight) bytes of `bytes`, little-endian, zero-padded.
    #[inline]
    fn prefix(bytes: &[u8]) -> u64 {
        let mut word = [0u8; 8];
        let length = bytes.len().min(8);
        word[..length].copy_from_slice(&bytes[..length]);
        u64::from_le_bytes(word)
    }

    /// The bit of the first `length` bytes of `prefix`.
    #[inline]
    fn slot(prefix: u64, length: usize) -> usize {
        let kept = prefix & u64::MAX.checked_shr(64 - 8 * length as u32).unwrap_or(0);
        let key = (kept ^ ((length as u64) << 56)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (key >> (64 - Self::BITS)) as usize
    }

    #[inline]
    fn has(&self, slot: usize) -> bool {
        self.bits[slot >> 6] & (1 << (slot & 63)) != 0
    }

    /// Whether a literal may start at the start of `text`.
    #[inline]
    fn may_match(&self, text: &[u8]) -> bool {
        let prefix = Self::prefix(text);
        if text.len() >= Self::KEY && self.has(Self::slot(prefix, Self::KEY)) {
            return true;
        }
        let mut lengths = self.short_lengths;
        while lengths != 0 {
            let length = lengths.trailing_zeros() as usize;
            lengths &= lengths - 1;
            if length <= text.len() && self.has(Self::slot(prefix, length)) {
                return true;
            }
        }
        false
    }
}

/// The compiled patterns.
#[derive(Debug)]
pub struct Matcher {
    /// Rules out most word starts before the automaton is walked.
    starts: StartFilter,
    automaton: Walker,
    patterns: Vec<Pattern>,
    /// For each literal: its length and its range in `literal_patterns`.
    by_literal: Vec<LiteralEntry>,
    /// The patterns starting with each literal, and how many of their words it covers.
    literal_patterns: Vec<(PatternId, u32)>,
}

/// A literal of the automaton.
#[derive(Debug, Clone, Copy)]
struct LiteralEntry {
    /// Its length in bytes.
    length: u32,
    /// Its patterns: `literal_patterns[start..end]`.
    start: u32,
    end: u32,
}

/// One occurrence of a pattern in a folded text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// The pattern.
    pub pattern: PatternId,
    /// Byte range in the folded text.
    pub start: usize,
    /// End of the range.
    pub end: usize,
}

impl Matcher {
    /// Number of patterns.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// A pattern by id.
    pub fn pattern(&self, id: PatternId) -> &Pattern {
        &self.patterns[id as usize]
    }

    /// Every occurrence of every pattern in a folded text, in order of their starts.
    pub fn scan(&self, folded: &str, hits: &mut Vec<Hit>) {
        match &self.automaton {
            Walker::Empty => {}
            Walker::Dfa(dfa) => self.walk(dfa, folded, hits),
            Walker::Nfa(nfa) => self.walk(nfa, folded, hits),
        }
    }

    fn walk<A: Automaton>(&self, automaton: &A, text: &str, hits: &mut Vec<Hit>) {
        let Ok(start_state) = automaton.start_state(Anchored::Yes) else {
            return;
        };
        let bytes = text.as_bytes();
        let mut previous_word = false;
        let mut at = 0;
        while at < bytes.len() {
            let b = bytes[at];
            let (word, width) = if b < 0x80 {
                (b.is_ascii_alphanumeric() || b == b'_', 1)
            } else {
                let c = text[at..].chars().next().unwrap_or(' ');
                (is_word_char(c), c.len_utf8())
            };
            // A match starts where no word character precedes (and never at a space).
            let candidate = !previous_word && b != b' ';
            previous_word = word;
            let here = at;
            at += width;
            if !candidate {
                continue;
            }
            let at = here;
            if !self.starts.may_match(&bytes[at..]) {
                continue;
            }
            let mut state = start_state;
            for (offset, &byte) in bytes[at..].iter().enumerate() {
                state = automaton.next_state(Anchored::Yes, state, byte);
                if !automaton.is_special(state) {
                    continue;
                }
                if automaton.is_dead(state) {
                    break;
                }
                if automaton.is_match(state) {
                    let end = at + offset + 1;
                    for i in 0..automaton.match_len(state) {
                        let literal = self.by_literal[automaton.match_pattern(state, i).as_usize()];
                        // Anchored matches start here; skip shorter suffix matches.
                        if end - literal.length as usize != at {
                            continue;
                        }
                        let patterns =
                            &self.literal_patterns[literal.start as usize..literal.end as usize];
                        for &(pattern, covered) in patterns {
                            if let Some(end) = self.verify(pattern, covered as usize, text, end) {
                                hits.push(Hit {
                                    pattern,
                                    start: at,
                                    end,
                                });
                            }
                        }
                    }
                }
            }
        }
    }

    /// Checks the rest of a pattern after its literal matched up to `at`; returns the end.
    fn verify(&self, id: PatternId, covered: usize, text: &str, mut at: usize) -> Option<usize> {
        let words = &self.patterns[id as usize].words;
        let last_covered = &words[covered - 1];
        if last_covered.prefix {
            at = end_of_word(text, at);
        } else if !word_ends_at(text, at) {
            return None;
        }
        for word in &words[covered..] {
            let rest = text[at..].strip_prefix(' ')?;
            let rest = rest.strip_prefix(word.text.as_str())?;
            at = text.len() - rest.len();
            if word.prefix {
                at = end_of_word(text, at);
            } else if !word_ends_at(text, at) {
                return None;
            }
        }
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::normalize::{fold_str, word_starts_at};

    fn words(text: &str) -> Vec<WordPattern> {
        text.split_whitespace()
            .map(|w| WordPattern {
                text: fold_str(w.trim_end_matches('*')),
                prefix: w.ends_with('*'),
            })
            .collect()
    }

    fn found(matcher: &Matcher, text: &str) -> Vec<(PatternId, String)> {
        let folded = fold_str(text);
        let mut hits = Vec::new();
        matcher.scan(&folded, &mut hits);
        hits.iter()
            .map(|h| (h.pattern, folded[h.start..h.end].to_string()))
            .collect()
    }

    /// Where a pattern matches at `at`, found the slow way: word by word.
    fn reference_match(pattern: &Pattern, text: &str, at: usize) -> Option<usize> {
        let mut position = at;
        for (i, word) in pattern.words.iter().enumerate() {
            if i > 0 {
                position += text[position..].starts_with(' ').then_some(1)?;
            }
            position += text[position..]
                .starts_with(word.text.as_str())
                .then_some(word.text.len())?;
            if word.prefix {
                position = end_of_word(text, position);
            } else if !word_ends_at(text, position) {
                return None;
            }
        }
        Some(position)
    }

    const VOCABULARY: &[&str] = &[
        "a",
        "ab",
        "abc",
        "abcde",
        "abcdef",
        "abcdefgh",
        "peace",
        "talks",
        "p",
        "мир",
        "переговори",
        "пере",
        "я",
        "ґ",
        "o'brien",
        "covid-19",
    ];

    proptest::proptest! {
        /// The start filter and the automaton find exactly what a word-by-word search
        /// finds, for literals shorter and longer than the filter's key.
        #[test]
        fn scanning_finds_what_a_word_by_word_search_finds(
            patterns in proptest::collection::vec(
                proptest::collection::vec((0..VOCABULARY.len(), proptest::bool::ANY), 1..4),
                1..12,
            ),
            text in proptest::collection::vec((0..VOCABULARY.len(), 0..5usize), 0..40),
        ) {
            let mut builder = MatcherBuilder::default();
            let mut ids = Vec::new();
            for words in &patterns {
                ids.push(builder.add(
                    words
                        .iter()
                        .map(|&(w, prefix)| WordPattern { text: VOCABULARY[w].to_string(), prefix })
                        .collect(),
                ));
            }
            let matcher = builder.build().map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let separators = [" ", ", ", "-", "'", ""];
            let text: String = text
                .iter()
                .map(|&(w, s)| format!("{}{}", VOCABULARY[w], separators[s]))
                .collect();
            let mut hits = Vec::new();
            matcher.scan(&text, &mut hits);
            let mut found: Vec<(usize, PatternId, usize)> =
                hits.iter().map(|h| (h.start, h.pattern, h.end)).collect();
            found.sort_unstable();
            let mut expected = Vec::new();
            for (at, c) in text.char_indices() {
                if c == ' ' || !word_starts_at(&text, at) {
                    continue;
                }
                for id in 0..matcher.len() as PatternId {
                    if let Some(end) = reference_match(matcher.pattern(id), &text, at) {
                        expected.push((at, id, end));
                    }
                }
            }
            expected.sort_unstable();
            proptest::prop_assert_eq!(found, expected, "{:?}", text);
        }
    }

    #[test]
    fn patterns_whose_hashes_collide_stay_apart() {
        let mut builder = MatcherBuilder::default();
        let a = builder.add_hashed(words("peace"), 7);
        let b = builder.add_hashed(words("talks"), 7);
        let c = builder.add_hashed(words("truce"), 7);
        assert_eq!(builder.len(), 3);
        assert_eq!(builder.add_hashed(words("talks"), 7), b);
        assert_eq!(builder.add_hashed(words("truce"), 7), c);
        assert_eq!(builder.add_hashed(words("peace"), 7), a);
        assert_eq!(builder.len(), 3);
    }

    #[test]
    fn words_phrases_and_wildcards_respect_boundaries() -> Result<(), aho_corasick::BuildError> {
        let mut builder = MatcherBuilder::default();
        let peace = builder.add(words("peace"));
        let talks = builder.add(words("peace talks"));
        let negotiat = builder.add(words("negotiat*"));
        let sg = builder.add(words("генеральн* секретар* НАТО"));
        assert_eq!(builder.add(words("PEACE")), peace);
        let matcher = builder.build()?;
        assert_eq!(
            found(&matcher, "Peace talks; peacekeeping; NEGOTIATIONS"),
            vec![
                (peace, "peace".to_string()),
                (talks, "peace talks".to_string()),
                (negotiat, "negotiations".to_string())
            ]
        );
        assert_eq!(
            found(&matcher, "заява генерального секретаря НАТО Рютте"),
            vec![(sg, "генерального секретаря нато".to_string())]
        );
        assert!(found(&matcher, "renegotiate генеральний секретарь НАТОвський").is_empty());
        Ok(())
    }
}
