//! Rules: decide whether an article matters, and say why.
//!
//! This stage owns compiling the configured rules once at load ([`RuleSet::compile`]) and
//! evaluating them on each article ([`RuleSet::evaluate`]), producing a [`Match`] with its
//! [`Evidence`] for every rule that fires. All literal terms of all rules go into one
//! automaton, so the cost of evaluation does not grow with the number of rules.

use aho_corasick::AhoCorasick;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::config::{Config, ConfigError, RuleConfig};

/// What a rule is evaluated against: one entry of one feed, with its article text.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Name of the feed the entry came from.
    pub feed: &'a str,
    /// Tags of that feed.
    pub tags: &'a [String],
    /// The entry's link.
    pub url: Option<&'a str>,
    /// The headline.
    pub title: &'a str,
    /// The author line.
    pub author: &'a str,
    /// The article text (full text when scraped, else the feed's own content).
    pub content: &'a str,
    /// The article's date.
    pub published: Option<Timestamp>,
}

/// Why a rule matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// A term of the rule was found in a field.
    Term {
        /// The field (`title`, `content`, ...).
        field: String,
        /// The term as written in the rule.
        term: String,
        /// The surrounding text, the match marked with `[[` `]]`.
        snippet: String,
    },
}

/// A rule that fired on a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// The rule's name.
    pub rule: String,
    /// Destinations to alert.
    pub destinations: Vec<String>,
    /// Why it matched.
    pub evidence: Vec<Evidence>,
}

struct CompiledRule {
    name: String,
    feeds: Vec<String>,
    tags: Vec<String>,
    destinations: Vec<String>,
    /// Indexes into the shared automaton's patterns.
    terms: Vec<usize>,
}

/// All rules, compiled.
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    automaton: Option<AhoCorasick>,
    /// The patterns as written (for evidence), by automaton index.
    patterns: Vec<String>,
}

impl RuleSet {
    /// Compiles the rules of a configuration.
    pub fn compile(config: &Config) -> Result<Self, ConfigError> {
        let all_destinations: Vec<String> = config
            .destinations
            .iter()
            .map(|d| d.name().to_string())
            .collect();
        let mut patterns: Vec<String> = Vec::new();
        let mut lowered: Vec<String> = Vec::new();
        let mut rules = Vec::new();
        for rule in &config.rules {
            rules.push(compile_rule(
                rule,
                &all_destinations,
                &mut patterns,
                &mut lowered,
            ));
        }
        let automaton = if lowered.is_empty() {
            None
        } else {
            let built = AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::Standard)
                .build(&lowered)
                .map_err(|e| ConfigError {
                    diagnostics: vec![crate::config::Diagnostic::whole_file(
                        &config.path,
                        format!("cannot compile the rules' keywords: {e}"),
                        None,
                    )],
                })?;
            Some(built)
        };
        Ok(Self {
            rules,
            automaton,
            patterns,
        })
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Evaluates every rule on a subject and returns those that match.
    pub fn evaluate(&self, subject: &Subject<'_>) -> Vec<Match> {
        let Some(automaton) = &self.automaton else {
            return Vec::new();
        };
        let fields = [
            ("title", subject.title),
            ("content", subject.content),
            ("author", subject.author),
        ];
        // hits[pattern] = first (field, snippet) where the pattern occurs as whole words
        let mut hits: Vec<Option<(&'static str, String)>> = vec![None; self.patterns.len()];
        for (field, text) in fields {
            let lowered = text.to_lowercase();
            // Lower-casing can change byte lengths (e.g. 'İ'); only then are snippets taken
            // from the lowered text rather than the original.
            let display = if lowered.len() == text.len() {
                text
            } else {
                &lowered
            };
            for found in automaton.find_overlapping_iter(lowered.as_str()) {
                let index = found.pattern().as_usize();
                if hits[index].is_some() || !is_whole_word(&lowered, found.start(), found.end()) {
                    continue;
                }
                hits[index] = Some((field, snippet(display, found.start(), found.end())));
            }
        }
        self.rules
            .iter()
            .filter(|rule| in_scope(rule, subject))
            .filter_map(|rule| {
                let evidence: Vec<Evidence> = rule
                    .terms
                    .iter()
                    .filter_map(|&index| {
                        hits[index].as_ref().map(|(field, snippet)| Evidence::Term {
                            field: field.to_string(),
                            term: self.patterns[index].clone(),
                            snippet: snippet.clone(),
                        })
                    })
                    .collect();
                (!evidence.is_empty()).then(|| Match {
                    rule: rule.name.clone(),
                    destinations: rule.destinations.clone(),
                    evidence,
                })
            })
            .collect()
    }
}

fn compile_rule(
    rule: &RuleConfig,
    all_destinations: &[String],
    patterns: &mut Vec<String>,
    lowered: &mut Vec<String>,
) -> CompiledRule {
    let mut terms = Vec::new();
    for keyword in &rule.keywords {
        let written = keyword.get_ref().trim().to_string();
        let low = written.to_lowercase();
        let index = match lowered.iter().position(|p| *p == low) {
            Some(index) => index,
            None => {
                lowered.push(low);
                patterns.push(written);
                lowered.len() - 1
            }
        };
        terms.push(index);
    }
    CompiledRule {
        name: rule.name().to_string(),
        feeds: rule.feeds.iter().map(|f| f.get_ref().clone()).collect(),
        tags: rule.tags.clone(),
        destinations: if rule.destinations.is_empty() {
            all_destinations.to_vec()
        } else {
            rule.destinations
                .iter()
                .map(|d| d.get_ref().clone())
                .collect()
        },
        terms,
    }
}

fn in_scope(rule: &CompiledRule, subject: &Subject<'_>) -> bool {
    let feed_ok = rule.feeds.is_empty() || rule.feeds.iter().any(|f| f == subject.feed);
    let tag_ok = rule.tags.is_empty() || rule.tags.iter().any(|t| subject.tags.contains(t));
    feed_ok && tag_ok
}

fn is_whole_word(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    let first = text[start..end].chars().next();
    let last = text[start..end].chars().next_back();
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    // A boundary is only required where the term itself starts or ends with a word character.
    (!word(first) || !word(before)) && (!word(last) || !word(after))
}

/// About 80 characters of context each side of a match, the match marked with `[[ ]]`.
pub fn snippet(text: &str, start: usize, end: usize) -> String {
    const CONTEXT: usize = 80;
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
    let clean = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    format!(
        "{}{}[[{}]]{}{}",
        if from > 0 { "…" } else { "" },
        clean(&text[from..start])
            + if text[..start].ends_with(char::is_whitespace) {
                " "
            } else {
                ""
            },
        &text[start..end],
        if text[end..].starts_with(char::is_whitespace) {
            " "
        } else {
            ""
        }
        .to_string()
            + &clean(&text[end..to]),
        if to < text.len() { "…" } else { "" },
    )
}

#[cfg(test)]
mod tests;
