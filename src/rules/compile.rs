//! One automaton for every literal term of every rule (and every name and role alias of the
//! people registry): patterns are folded, interned, and their literal part goes into a
//! single Aho-Corasick automaton, so scanning a text costs the same with 10 or 10,000 terms.
//!
//! A pattern is a sequence of words; a word may be a prefix (`negotiat*`). The literal put
//! into the automaton is the pattern up to (and including the stem of) its first prefix
//! word; the rest of the pattern is verified at each hit. Hits respect word boundaries.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::normalize::{end_of_word, word_ends_at, word_starts_at};
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
        let automaton = if literals.is_empty() {
            None
        } else {
            // A DFA is the fastest to scan with; past a size it would take too much memory
            // to build, and the contiguous NFA is nearly as fast.
            let kind = if literals.len() <= 20_000 {
                AhoCorasickKind::DFA
            } else {
                AhoCorasickKind::ContiguousNFA
            };
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(kind))
                    .build(&literals)?,
            )
        };
        Ok(Matcher {
            automaton,
            patterns: self.patterns,
            by_literal,
        })
    }
}

/// The compiled patterns.
#[derive(Debug)]
pub struct Matcher {
    automaton: Option<AhoCorasick>,
    patterns: Vec<Pattern>,
    /// For each literal: the patterns starting with it, and how many of their words it covers.
    by_literal: Vec<Vec<(PatternId, usize)>>,
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

    /// Every occurrence of every pattern in a folded text, in order of their ends.
    pub fn scan(&self, folded: &str, hits: &mut Vec<Hit>) {
        let Some(automaton) = &self.automaton else {
            return;
        };
        for found in automaton.find_overlapping_iter(folded) {
            let start = found.start();
            if !word_starts_at(folded, start) {
                continue;
            }
            for &(pattern, covered) in &self.by_literal[found.pattern().as_usize()] {
                if let Some(end) = self.verify(pattern, covered, folded, found.end()) {
                    hits.push(Hit {
                        pattern,
                        start,
                        end,
                    });
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
