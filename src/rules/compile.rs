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

use std::collections::HashMap;

use aho_corasick::automaton::Automaton;
use aho_corasick::{Anchored, MatchKind, StartKind};

use super::normalize::{end_of_word, is_word_char, word_ends_at};
use super::query::WordPattern;

/// Index of a pattern in a [`Matcher`].
pub type PatternId = u32;

/// A pattern: words separated by single spaces in the folded text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
    index: HashMap<Pattern, PatternId>,
}

impl MatcherBuilder {
    /// Adds a pattern (or finds the identical one already added) and returns its id.
    pub fn add(&mut self, words: Vec<WordPattern>) -> PatternId {
        let pattern = Pattern { words };
        if let Some(id) = self.index.get(&pattern) {
            return *id;
        }
        let id = self.patterns.len() as PatternId;
        self.index.insert(pattern.clone(), id);
        self.patterns.push(pattern);
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
        let mut literals: Vec<String> = Vec::new();
        let mut literal_index: HashMap<String, usize> = HashMap::new();
        let mut by_literal: Vec<Vec<(PatternId, usize)>> = Vec::new();
        for (id, pattern) in self.patterns.iter().enumerate() {
            let (literal, covered) = pattern.literal();
            let at = *literal_index.entry(literal.clone()).or_insert_with(|| {
                literals.push(literal);
                by_literal.push(Vec::new());
                literals.len() - 1
            });
            by_literal[at].push((id as PatternId, covered));
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
                    .start_kind(StartKind::Anchored)
                    .build(&literals)?,
            )
        } else {
            Walker::Nfa(
                aho_corasick::nfa::contiguous::Builder::new()
                    .match_kind(MatchKind::Standard)
                    .build(&literals)?,
            )
        };
        let literal_lengths = literals.iter().map(String::len).collect();
        Ok(Matcher {
            automaton,
            patterns: self.patterns,
            by_literal,
            literal_lengths,
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

/// The compiled patterns.
#[derive(Debug)]
pub struct Matcher {
    automaton: Walker,
    patterns: Vec<Pattern>,
    /// For each literal: the patterns starting with it, and how many of their words it covers.
    by_literal: Vec<Vec<(PatternId, usize)>>,
    /// Byte length of each literal.
    literal_lengths: Vec<usize>,
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
                        let literal = automaton.match_pattern(state, i).as_usize();
                        // Anchored matches start here; skip shorter suffix matches.
                        if end - self.literal_lengths[literal] != at {
                            continue;
                        }
                        for &(pattern, covered) in &self.by_literal[literal] {
                            if let Some(end) = self.verify(pattern, covered, text, end) {
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
    use crate::rules::normalize::fold_str;

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
