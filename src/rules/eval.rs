//! Evaluating compiled queries on scanned texts.
//!
//! A text is scanned once with the shared automaton ([`Scanned::new`]); every rule's
//! expression is then evaluated against the set of patterns found, which costs a few
//! operations per rule. Regular expressions and NEAR positions are only computed when an
//! expression reaches them.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::ops::Range;

use super::compile::{Hit, Matcher, PatternId};
use super::normalize::{Folded, fold, is_word_char};
use super::query::FieldSet;

/// A compiled query expression.
#[derive(Debug, Clone)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it was written in the query string.
    pub span: Range<usize>,
}

/// The kinds of compiled expressions.
#[derive(Debug, Clone)]
pub enum ExprKind {
    /// A pattern in some fields.
    Term {
        /// The pattern.
        pattern: PatternId,
        /// Where to look.
        fields: FieldSet,
        /// The term as written in the query (quoted as evidence).
        written: std::sync::Arc<str>,
    },
    /// A regular expression on the original text of some fields.
    Regex {
        /// The expression.
        regex: regex::Regex,
        /// Where to look.
        fields: FieldSet,
    },
    /// The feed has this tag (folded).
    Tag(String),
    /// The URL contains this text (folded).
    Url(String),
    /// All of them.
    And(Vec<Expr>),
    /// Any of them.
    Or(Vec<Expr>),
    /// Not this.
    Not(Box<Expr>),
    /// Two sets of patterns within `distance` words.
    Near {
        /// One side's patterns and fields.
        left: Vec<(PatternId, FieldSet)>,
        /// The other side's.
        right: Vec<(PatternId, FieldSet)>,
        /// Most words between them.
        distance: u32,
    },
}

/// One text of a subject, folded and scanned.
pub struct ScannedText<'a> {
    /// Which query fields this text stands for.
    pub fields: FieldSet,
    /// The field reported in evidence.
    pub name: &'static str,
    /// The original text.
    pub original: Cow<'a, str>,
    /// The folded text.
    pub folded: Folded,
    /// Folded offsets where words start (for NEAR), computed on first use.
    word_starts: OnceCell<Vec<usize>>,
    /// The original with whitespace collapsed, for snippets, made on first use.
    collapsed: OnceCell<super::snippet::Collapsed>,
}

impl<'a> ScannedText<'a> {
    /// A text standing for some fields.
    pub fn new(fields: FieldSet, name: &'static str, original: impl Into<Cow<'a, str>>) -> Self {
        let original = original.into();
        Self {
            fields,
            name,
            folded: fold(&original),
            original,
            word_starts: OnceCell::new(),
            collapsed: OnceCell::new(),
        }
    }

    fn word_starts(&self) -> &[usize] {
        self.word_starts.get_or_init(|| {
            let mut starts = Vec::new();
            let mut previous_word = false;
            for (i, c) in self.folded.text.char_indices() {
                let word = is_word_char(c);
                if word && !previous_word {
                    starts.push(i);
                }
                previous_word = word;
            }
            starts
        })
    }

    /// Number of words starting before a folded offset.
    fn words_before(&self, at: usize) -> usize {
        self.word_starts().partition_point(|&s| s < at)
    }

    /// The original text of a hit, with context.
    pub fn snippet(&self, hit: &Hit) -> std::sync::Arc<str> {
        let (start, end) = self
            .folded
            .original_range(&self.original, hit.start, hit.end);
        let collapsed = self
            .collapsed
            .get_or_init(|| super::snippet::Collapsed::new(&self.original));
        super::snippet::snippet_in(&self.original, collapsed, start, end)
    }
}

/// The texts of a subject (or of one statement) and the patterns found in them.
pub struct Scanned<'a> {
    /// The texts.
    pub texts: Vec<ScannedText<'a>>,
    /// For each pattern, the fields (a [`FieldSet`] mask) of the texts it occurs in.
    found: Vec<u8>,
    /// For each pattern, the index in `hits` of its first hit (u32::MAX: none).
    first: Vec<u32>,
    /// For each hit, the index of the next hit of the same pattern (u32::MAX: none).
    next_same: Vec<u32>,
    /// Every hit, with the index of its text.
    pub hits: Vec<(usize, Hit)>,
    /// The feed's tags, folded.
    pub tags: Vec<String>,
    /// The URL, folded.
    pub url: String,
}

impl<'a> Scanned<'a> {
    /// Scans texts with the matcher.
    pub fn new(
        matcher: &Matcher,
        texts: Vec<ScannedText<'a>>,
        tags: &[String],
        url: Option<&str>,
    ) -> Self {
        let (mut found, mut first) = PatternTables::take(matcher.len());
        let mut hits = Vec::new();
        let mut buffer = Vec::new();
        for (index, text) in texts.iter().enumerate() {
            buffer.clear();
            matcher.scan(&text.folded.text, &mut buffer);
            hits.reserve(buffer.len());
            for hit in &buffer {
                found[hit.pattern as usize] |= text.fields.0;
                hits.push((index, *hit));
            }
        }
        // Chain the hits of each pattern in text order (built back to front).
        let mut next_same = vec![u32::MAX; hits.len()];
        for (at, (_, hit)) in hits.iter().enumerate().rev() {
            let p = hit.pattern as usize;
            next_same[at] = first[p];
            first[p] = at as u32;
        }
        Self {
            texts,
            found,
            first,
            next_same,
            hits,
            tags: tags.iter().map(|t| super::normalize::fold_str(t)).collect(),
            url: url.map(super::normalize::fold_str).unwrap_or_default(),
        }
    }

    /// Whether a pattern occurs in a text standing for one of `fields`.
    pub fn has(&self, pattern: PatternId, fields: FieldSet) -> bool {
        self.found[pattern as usize] & fields.0 != 0
    }

    /// The first hit of a pattern in one of `fields`.
    pub fn first_hit(&self, pattern: PatternId, fields: FieldSet) -> Option<(usize, &Hit)> {
        self.first_hit_at(pattern, fields)
            .map(|at| (self.hits[at].0, &self.hits[at].1))
    }

    /// The index in [`Scanned::hits`] of a pattern's first hit in one of `fields`.
    pub fn first_hit_at(&self, pattern: PatternId, fields: FieldSet) -> Option<usize> {
        let mut at = self
            .first
            .get(pattern as usize)
            .copied()
            .unwrap_or(u32::MAX);
        while at != u32::MAX {
            let (text, _) = &self.hits[at as usize];
            if self.texts[*text].fields.0 & fields.0 != 0 {
                return Some(at as usize);
            }
            at = self.next_same[at as usize];
        }
        None
    }

    /// Every hit of a pattern, in text order.
    fn hits_of(&self, pattern: PatternId) -> impl Iterator<Item = (usize, &Hit)> + '_ {
        let mut at = self
            .first
            .get(pattern as usize)
            .copied()
            .unwrap_or(u32::MAX);
        std::iter::from_fn(move || {
            if at == u32::MAX {
                return None;
            }
            let (text, hit) = &self.hits[at as usize];
            at = self.next_same[at as usize];
            Some((*text, hit))
        })
    }

    /// Evaluates an expression.
    pub fn eval(&self, expr: &Expr) -> bool {
        match &expr.kind {
            ExprKind::Term {
                pattern, fields, ..
            } => self.has(*pattern, *fields),
            ExprKind::Regex { regex, fields } => self.regex_hit(regex, *fields).is_some(),
            ExprKind::Tag(tag) => self.tags.iter().any(|t| t == tag),
            ExprKind::Url(part) => !part.is_empty() && self.url.contains(part.as_str()),
            ExprKind::And(children) => children.iter().all(|c| self.eval(c)),
            ExprKind::Or(children) => children.iter().any(|c| self.eval(c)),
            ExprKind::Not(inner) => !self.eval(inner),
            ExprKind::Near {
                left,
                right,
                distance,
            } => self.near(left, right, *distance).is_some(),
        }
    }

    /// The first match of a regular expression in one of `fields`: text index and range.
    pub fn regex_hit(
        &self,
        regex: &regex::Regex,
        fields: FieldSet,
    ) -> Option<(usize, Range<usize>)> {
        self.texts
            .iter()
            .enumerate()
            .filter(|(_, t)| t.fields.0 & fields.0 != 0)
            .find_map(|(i, t)| regex.find(&t.original).map(|m| (i, m.range())))
    }

    /// Two hits, one of each side, within `distance` words in the same text.
    pub fn near(
        &self,
        left: &[(PatternId, FieldSet)],
        right: &[(PatternId, FieldSet)],
        distance: u32,
    ) -> Option<(usize, Hit, Hit)> {
        let side = |side: &[(PatternId, FieldSet)]| -> Vec<(usize, Hit)> {
            side.iter()
                .flat_map(|(p, fields)| {
                    self.hits_of(*p)
                        .filter(move |(i, _)| self.texts[*i].fields.0 & fields.0 != 0)
                        .map(|(i, h)| (i, *h))
                })
                .collect()
        };
        if !left.iter().any(|(p, f)| self.has(*p, *f))
            || !right.iter().any(|(p, f)| self.has(*p, *f))
        {
            return None;
        }
        let lefts = side(left);
        let rights = side(right);
        for (li, l) in &lefts {
            for (ri, r) in &rights {
                if li != ri || (l.start == r.start && l.end == r.end) {
                    continue;
                }
                let text = &self.texts[*li];
                let (first, second) = if l.start <= r.start { (l, r) } else { (r, l) };
                let between = text
                    .words_before(second.start)
                    .saturating_sub(text.words_before(first.end));
                if between <= distance as usize {
                    return Some((*li, *l, *r));
                }
            }
        }
        None
    }
}

impl Drop for Scanned<'_> {
    fn drop(&mut self) {
        // Only the entries of patterns that were found are dirty: resetting those is cheaper
        // than allocating and zeroing tables with an entry per pattern for every article.
        for (_, hit) in &self.hits {
            let p = hit.pattern as usize;
            if let Some(bit) = self.found.get_mut(p) {
                *bit = 0;
            }
            if let Some(first) = self.first.get_mut(p) {
                *first = u32::MAX;
            }
        }
        PatternTables::give_back(
            std::mem::take(&mut self.found),
            std::mem::take(&mut self.first),
        );
    }
}

/// Per-thread spare pattern tables (a "found in" byte and a first-hit index per pattern),
/// all clear, so scanning an article does not allocate and zero tables as large as the
/// rule set (10,000 patterns: 50 KB) every time.
struct PatternTables;

thread_local! {
    static SPARE_TABLES: std::cell::RefCell<Vec<(Vec<u8>, Vec<u32>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl PatternTables {
    /// Spare tables are kept for this many scans at once on a thread (an article and the
    /// statements its speaker rules look at).
    const KEEP: usize = 4;

    /// Clear tables for `patterns` patterns.
    fn take(patterns: usize) -> (Vec<u8>, Vec<u32>) {
        let spare = SPARE_TABLES.with(|spare| {
            let mut spare = spare.borrow_mut();
            let at = spare
                .iter()
                .position(|(found, _)| found.len() == patterns)?;
            Some(spare.swap_remove(at))
        });
        spare.unwrap_or_else(|| (vec![0; patterns], vec![u32::MAX; patterns]))
    }

    /// Returns clear tables for reuse.
    fn give_back(found: Vec<u8>, first: Vec<u32>) {
        if found.is_empty() {
            return;
        }
        SPARE_TABLES.with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() < Self::KEEP {
                spare.push((found, first));
            }
        });
    }
}
