//! Rules: decide whether an article matters, and say why.
//!
//! This stage owns compiling the configured rules once at load ([`RuleSet::compile`]) and
//! evaluating them on each article ([`RuleSet::evaluate`]), producing a [`Match`] with its
//! [`Evidence`] for every rule that fires. All literal terms of all rules go into one
//! automaton, so the cost of evaluation does not grow with the number of rules.
//!
//! - [`query`]: the keyword query language (lexer, parser, syntax tree);
//! - [`normalize`]: case/diacritic/apostrophe folding with a map back to the original;
//! - [`compile`]: the one automaton for every term; [`eval`]: evaluating queries;
//! - [`people`]: the registry of people and roles by date (built in + `[[people]]`);
//! - [`speakers`]: who said what in an article (statements, direct or reported);
//! - [`snippet`]: the context shown around a matched term;
//! - [`explain`]: evidence and "why not" explanations for `newshound test`;
//! - [`page`]: the one place article text is taken from a web page (extraction).

pub mod compile;
pub mod eval;
pub mod explain;
pub mod normalize;
pub mod page;
pub mod people;
pub mod query;
pub mod snippet;
pub mod speakers;

pub use snippet::snippet;

use std::cell::OnceCell;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::config::{Config, ConfigError, Diagnostic, Origin, RuleConfig};
use compile::{Matcher, MatcherBuilder};
use eval::{Expr, ExprKind, Scanned, ScannedText};
use people::Registry;
use query::{FieldSet, Node, NodeKind, QueryError};
use speakers::{Document, Statement};

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
        field: Arc<str>,
        /// The term as written in the rule.
        term: Arc<str>,
        /// The surrounding text, the match marked with `[[` `]]`.
        snippet: Arc<str>,
    },
    /// A statement by one of the rule's speakers (that satisfied its `says`, if any).
    Statement {
        /// Who made it (canonical name when known).
        speaker: String,
        /// The role as written near the attribution, or the role the rule asked for.
        role: Option<String>,
        /// `direct` (quoted) or `reported`.
        statement_kind: String,
        /// What was said.
        text: String,
    },
}

impl Evidence {
    /// One line for people: `title: "Rutte" … [[Rutte]] said …`.
    pub fn describe(&self) -> String {
        match self {
            Evidence::Term {
                field,
                term,
                snippet,
            } => format!("{field}: {term:?}: {snippet}"),
            Evidence::Statement {
                speaker,
                role,
                statement_kind,
                text,
            } => format!(
                "statement ({statement_kind}) by {speaker}{}: \u{201C}{}\u{201D}",
                role.as_ref().map(|r| format!(" ({r})")).unwrap_or_default(),
                alerts_truncate(text, 300)
            ),
        }
    }
}

fn alerts_truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}

/// Terms quoted as evidence per rule (the rest add nothing an analyst needs).
const MAX_TERM_EVIDENCE: usize = 5;

/// A rule that fired on a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// The rule's name.
    pub rule: Arc<str>,
    /// Destinations to alert.
    pub destinations: Arc<[String]>,
    /// Why it matched.
    pub evidence: Vec<Evidence>,
}

/// Who a speaker rule is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpeakerRef {
    /// A registry person.
    Person(usize),
    /// Whoever held a registry role on the article's date.
    Role(usize),
    /// A name not in the registry (folded), matched on the statement's speaker.
    Name(String),
}

/// A compiled query and its source, for explanations.
#[derive(Debug, Clone)]
pub struct CompiledQuery {
    /// The expression.
    pub expr: Expr,
    /// The query as written.
    pub source: String,
}

pub(crate) struct CompiledRule {
    pub(crate) name: Arc<str>,
    feeds: Vec<String>,
    tags: Vec<String>,
    destinations: Arc<[String]>,
    /// `keywords`: any of them (pattern and the keyword as written).
    pub(crate) keywords: Vec<(compile::PatternId, Arc<str>)>,
    pub(crate) query: Option<CompiledQuery>,
    pub(crate) speakers: Vec<(SpeakerRef, String)>,
    pub(crate) says: Option<CompiledQuery>,
}

/// All rules, compiled.
pub struct RuleSet {
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) matcher: Matcher,
    /// For each pattern, the rules that use it: only rules with a found term (or with a
    /// regex, tag, URL or speakers-only condition) need evaluating.
    rules_of_pattern: Vec<Vec<u32>>,
    /// Rules that may match without any pattern found.
    always: Vec<u32>,
    registry: Arc<Registry>,
    needs_statements: bool,
}

/// Rules checked against their configuration and people registry, their terms collected but
/// the automaton that finds them not built yet: every problem a user can make in a rule is
/// known at this point, and building is the costly part (most of compiling a large rule set).
pub struct CheckedRules {
    rules: Vec<CompiledRule>,
    builder: MatcherBuilder,
    registry: Arc<Registry>,
    config_path: PathBuf,
}

impl CheckedRules {
    /// Builds the automaton and the index from terms to rules.
    pub fn build(self) -> Result<RuleSet, ConfigError> {
        let Self {
            rules,
            builder,
            registry,
            config_path,
        } = self;
        let matcher = builder.build().map_err(|e| ConfigError {
            diagnostics: vec![Diagnostic::whole_file(
                &config_path,
                format!("cannot compile the rules' keywords: {e}"),
                None,
            )],
        })?;
        let needs_statements = rules.iter().any(|r| !r.speakers.is_empty());
        let mut rules_of_pattern: Vec<Vec<u32>> = vec![Vec::new(); matcher.len()];
        let mut always = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let mut patterns = Vec::new();
            let mut unindexed = false;
            patterns.extend(rule.keywords.iter().map(|(p, _)| *p));
            if let Some(query) = &rule.query {
                unindexed |= collect_patterns(&query.expr, &mut patterns);
            }
            // A rule with speakers but neither keywords nor query matches on statements.
            unindexed |= rule.keywords.is_empty() && rule.query.is_none();
            if unindexed {
                always.push(index as u32);
            }
            patterns.sort_unstable();
            patterns.dedup();
            for p in patterns {
                rules_of_pattern[p as usize].push(index as u32);
            }
        }
        Ok(RuleSet {
            rules,
            matcher,
            rules_of_pattern,
            always,
            registry,
            needs_statements,
        })
    }
}

impl RuleSet {
    /// Compiles the rules of a configuration (and its people registry).
    pub fn compile(config: &Config) -> Result<Self, ConfigError> {
        Self::check(config)?.build()
    }

    /// Checks the rules of a configuration (and its people registry) and collects their
    /// terms, reporting every problem at once; [`CheckedRules::build`] finishes compiling.
    pub fn check(config: &Config) -> Result<CheckedRules, ConfigError> {
        let mut diagnostics = Vec::new();
        let registry = match Registry::from_config(config) {
            Ok(registry) => Some(Arc::new(registry)),
            Err(found) => {
                diagnostics.extend(found);
                // Still check the rules' speakers against the built-in registry, so every
                // problem is reported at once.
                Registry::builtin().ok().map(Arc::new)
            }
        };
        let all_destinations: Vec<String> = config
            .destinations
            .iter()
            .map(|d| d.name().to_string())
            .collect();
        let mut builder = MatcherBuilder::default();
        let mut rules = Vec::new();
        for rule in &config.rules {
            match compile_rule(
                config,
                rule,
                &all_destinations,
                &mut builder,
                registry.as_deref(),
            ) {
                Ok(compiled) => rules.push(compiled),
                Err(found) => diagnostics.extend(found),
            }
        }
        match registry.filter(|_| diagnostics.is_empty()) {
            Some(registry) => Ok(CheckedRules {
                rules,
                builder,
                registry,
                config_path: config.path.clone(),
            }),
            None => Err(ConfigError { diagnostics }),
        }
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The people registry the rules resolve speakers with.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Whether some rule needs speaker attribution.
    pub fn needs_statements(&self) -> bool {
        self.needs_statements
    }

    /// Evaluates every rule on a subject and returns those that match.
    pub fn evaluate(&self, subject: &Subject<'_>) -> Vec<Match> {
        let evaluation = self.evaluation(subject);
        // Only rules that a found term (or an unindexed condition) can satisfy.
        let rules_of_hits = || {
            evaluation
                .scanned
                .hits
                .iter()
                .map(|(_, hit)| &self.rules_of_pattern[hit.pattern as usize])
        };
        let mut candidates: Vec<u32> =
            Vec::with_capacity(self.always.len() + rules_of_hits().map(Vec::len).sum::<usize>());
        candidates.extend_from_slice(&self.always);
        for rules in rules_of_hits() {
            candidates.extend_from_slice(rules);
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .iter()
            .filter_map(|&index| evaluation.matches(&self.rules[index as usize]))
            .collect()
    }

    /// Scans a subject once, for evaluating (and explaining) every rule on it.
    pub fn evaluation<'s>(&'s self, subject: &Subject<'s>) -> Evaluation<'s> {
        let texts = vec![
            ScannedText::new(
                FieldSet::only(query::Field::Title),
                "title",
                plain(subject.title),
            ),
            ScannedText::new(
                FieldSet::only(query::Field::Content),
                "content",
                subject.content,
            ),
            ScannedText::new(
                FieldSet::only(query::Field::Author),
                "author",
                plain(subject.author),
            ),
            ScannedText::new(FieldSet::only(query::Field::Feed), "feed", subject.feed),
        ];
        let scanned = Scanned::new(&self.matcher, texts, subject.tags, subject.url);
        let day = subject
            .published
            .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date())
            .unwrap_or_else(today);
        Evaluation {
            set: self,
            subject: *subject,
            scanned,
            day,
            statements: OnceCell::new(),
            snippets: Default::default(),
        }
    }
}

/// Titles and author lines from feeds sometimes carry markup or entities; rules never see
/// them, only the text a reader sees.
fn plain(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('<') || text.contains('&') {
        std::borrow::Cow::Owned(
            crate::extract::html_to_text(text)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        )
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Today's date (UTC), for articles without a date.
pub fn today() -> Date {
    Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// One subject, scanned, with its statements computed on first need.
pub struct Evaluation<'s> {
    set: &'s RuleSet,
    subject: Subject<'s>,
    scanned: Scanned<'s>,
    day: Date,
    statements: OnceCell<(Document, Vec<Statement>)>,
    /// Snippets already cut, by index of the hit: rules sharing a term share its snippet.
    snippets: std::cell::RefCell<Vec<Option<Arc<str>>>>,
}

impl<'s> Evaluation<'s> {
    /// The statements of the subject's article (attribution runs on first call only).
    pub fn statements(&self) -> &[Statement] {
        &self.document_and_statements().1
    }

    fn document_and_statements(&self) -> &(Document, Vec<Statement>) {
        self.statements.get_or_init(|| {
            let document = Document::new(self.subject.title, self.subject.content);
            let statements = speakers::attribute(&self.set.registry, &document, Some(self.day));
            (document, statements)
        })
    }

    /// The date roles are resolved with.
    pub fn day(&self) -> Date {
        self.day
    }

    /// The rule's match on this subject, if it matches.
    pub(crate) fn matches(&self, rule: &CompiledRule) -> Option<Match> {
        if !self.in_scope(rule) {
            return None;
        }
        // Decide first, then gather evidence: most candidate rules do not match.
        let found = |(pattern, _): &&(compile::PatternId, Arc<str>)| {
            self.scanned.has(*pattern, FieldSet::DEFAULT)
        };
        if !rule.keywords.is_empty() && !rule.keywords.iter().any(|k| found(&k)) {
            return None;
        }
        if let Some(query) = &rule.query
            && !self.scanned.eval(&query.expr)
        {
            return None;
        }
        let statements = if rule.speakers.is_empty() {
            Vec::new()
        } else {
            let statements = self.satisfying_statements(rule);
            if statements.is_empty() {
                return None;
            }
            statements
        };
        let mut evidence = Vec::with_capacity(MAX_TERM_EVIDENCE);
        // The first few keywords found are evidence enough.
        evidence.extend(
            rule.keywords
                .iter()
                .filter(found)
                .take(MAX_TERM_EVIDENCE)
                .filter_map(|(pattern, written)| {
                    self.term_evidence(*pattern, FieldSet::DEFAULT, written)
                }),
        );
        if let Some(query) = &rule.query {
            explain::collect_evidence(self, &query.expr, &query.source, &mut evidence);
        }
        for (statement, asked) in statements.into_iter().take(3) {
            evidence.push(Evidence::Statement {
                speaker: statement.speaker.clone(),
                role: statement.role.clone().or(asked),
                statement_kind: statement.kind.as_str().to_string(),
                text: statement.text.clone(),
            });
        }
        evidence.truncate(12);
        Some(Match {
            rule: rule.name.clone(),
            destinations: rule.destinations.clone(),
            evidence,
        })
    }

    pub(crate) fn in_scope(&self, rule: &CompiledRule) -> bool {
        let feed_ok = rule.feeds.is_empty() || rule.feeds.iter().any(|f| f == self.subject.feed);
        let tag_ok =
            rule.tags.is_empty() || rule.tags.iter().any(|t| self.subject.tags.contains(t));
        feed_ok && tag_ok
    }

    /// Statements by one of the rule's speakers that satisfy its `says`, with the role the
    /// rule named (for roles).
    pub(crate) fn satisfying_statements(
        &self,
        rule: &CompiledRule,
    ) -> Vec<(&Statement, Option<String>)> {
        let mut out = Vec::new();
        for statement in self.statements() {
            let Some(asked) = self.speaker_matches(rule, statement) else {
                continue;
            };
            if let Some(says) = &rule.says
                && !self.statement_says(statement, &says.expr)
            {
                continue;
            }
            out.push((statement, asked));
        }
        out
    }

    /// Whether a statement is by one of the rule's speakers; `Some(role)` names the role
    /// the rule asked for, when it was a role.
    pub(crate) fn speaker_matches(
        &self,
        rule: &CompiledRule,
        statement: &Statement,
    ) -> Option<Option<String>> {
        let registry = &self.set.registry;
        for (speaker, _) in &rule.speakers {
            match speaker {
                SpeakerRef::Person(p) => {
                    if statement.person == Some(*p) {
                        return Some(None);
                    }
                }
                SpeakerRef::Role(r) => {
                    if let Some(p) = statement.person
                        && registry.holders(*r, self.day).contains(&p)
                    {
                        return Some(Some(registry.roles[*r].title.clone()));
                    }
                }
                SpeakerRef::Name(name) => {
                    let spoken = normalize::fold_str(&statement.speaker);
                    let last = |s: &str| s.rsplit(' ').next().map(str::to_string);
                    if spoken == *name || (name.contains(' ') && last(&spoken) == last(name)) {
                        return Some(None);
                    }
                }
            }
        }
        None
    }

    /// Evaluates a `says` query on one statement's text.
    pub(crate) fn statement_says(&self, statement: &Statement, says: &Expr) -> bool {
        let text = ScannedText::new(FieldSet::DEFAULT, "statement", &statement.text);
        let scanned = Scanned::new(
            &self.set.matcher,
            vec![text],
            self.subject.tags,
            self.subject.url,
        );
        scanned.eval(says)
    }

    /// Evidence for a pattern found in `fields`, if it was.
    pub(crate) fn term_evidence(
        &self,
        pattern: compile::PatternId,
        fields: FieldSet,
        written: &Arc<str>,
    ) -> Option<Evidence> {
        let at = self.scanned.first_hit_at(pattern, fields)?;
        let (index, hit) = &self.scanned.hits[at];
        let text = &self.scanned.texts[*index];
        let mut snippets = self.snippets.borrow_mut();
        if snippets.len() < self.scanned.hits.len() {
            snippets.resize(self.scanned.hits.len(), None);
        }
        let snippet = snippets[at]
            .get_or_insert_with(|| text.snippet(hit))
            .clone();
        Some(Evidence::Term {
            field: field_name(text.name),
            term: written.clone(),
            snippet,
        })
    }

    /// The scanned texts.
    pub fn scanned(&self) -> &Scanned<'s> {
        &self.scanned
    }

    /// The rule set.
    pub fn rule_set(&self) -> &RuleSet {
        self.set
    }
}

/// Maps a byte offset in a string value to its byte offset in the file. Literal strings
/// ('...', '''...''') map one to one; basic strings ("...") are walked escape by escape.
fn value_offset(source: Option<&str>, value: &Spanned<String>, offset: usize) -> usize {
    let span = value.span();
    let Some(source) = source else {
        return span.start;
    };
    let raw = source.get(span.clone()).unwrap_or("");
    let (delimiter, literal) = if raw.starts_with("'''") {
        (3, true)
    } else if raw.starts_with("\"\"\"") {
        (3, false)
    } else {
        (1, raw.starts_with('\''))
    };
    let mut start = span.start + delimiter;
    // A newline right after a multi-line string's opening delimiter is not part of it.
    if delimiter == 3 && source.get(start..start + 1) == Some("\n") {
        start += 1;
    }
    if literal {
        return start + offset;
    }
    let body = source.get(start..span.end).unwrap_or("");
    let mut produced = 0;
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if produced >= offset {
            return start + i;
        }
        if c == '\\' {
            let escape_len = match chars.peek().map(|(_, e)| *e) {
                Some('u') => 5,
                Some('U') => 9,
                _ => 1,
            };
            for _ in 0..escape_len {
                chars.next();
            }
            // One escape produces one character; its width decides the unescaped bytes.
            let produced_char = value
                .get_ref()
                .get(produced..)
                .and_then(|v| v.chars().next())
                .map_or(1, char::len_utf8);
            produced += produced_char;
        } else {
            produced += c.len_utf8();
        }
    }
    start + body.len()
}

fn source_of<'c>(config: &'c Config, origin: &Origin) -> Option<&'c str> {
    config.sources.get(origin.file.as_ref()).map(|s| s.as_ref())
}

fn query_diagnostic(
    config: &Config,
    rule: &RuleConfig,
    value: &Spanned<String>,
    error: QueryError,
    what: &str,
) -> Diagnostic {
    let (span, message, help) = locate(source_of(config, &rule.origin), rule, value, error, what);
    config.diagnostic_at(&rule.origin, span, message, help)
}

/// A query error as a file span, message and help.
fn locate(
    source: Option<&str>,
    rule: &RuleConfig,
    value: &Spanned<String>,
    error: QueryError,
    what: &str,
) -> (Range<usize>, String, Option<String>) {
    // Offsets are in the value as written; keywords are trimmed before parsing.
    let lead = if what == "keywords" {
        value.get_ref().len() - value.get_ref().trim_start().len()
    } else {
        0
    };
    let start = value_offset(source, value, lead + error.span.start);
    let end = value_offset(source, value, lead + error.span.end).min(value.span().end);
    (
        start..end.max(start + 1),
        format!("in `{what}` of rule {:?}: {}", rule.name(), error.message),
        error.help,
    )
}

/// Syntax errors in a rule's `keywords`, `query` and `says`, located in the file whose text
/// is `source`: the configuration loader reports them with every other problem at once.
pub fn rule_syntax_errors(
    rule: &RuleConfig,
    source: Option<&str>,
) -> Vec<(Range<usize>, String, Option<String>)> {
    let mut found = Vec::new();
    for keyword in &rule.keywords {
        let written = keyword.get_ref().trim();
        if written.is_empty() {
            continue;
        }
        if let Err(error) = query::parser_term_words(written) {
            found.push(locate(source, rule, keyword, error, "keywords"));
        }
    }
    for (value, what) in [(&rule.query, "query"), (&rule.says, "says")] {
        if let Some(value) = value
            && let Err(error) = query::parse(value.get_ref())
        {
            found.push(locate(source, rule, value, error, what));
        }
    }
    found
}

/// Adds an expression's patterns; true when it has conditions that are not patterns (a
/// regex, tag or URL), so the rule cannot be found through its patterns alone.
fn collect_patterns(expr: &Expr, out: &mut Vec<compile::PatternId>) -> bool {
    match &expr.kind {
        ExprKind::Term { pattern, .. } => {
            out.push(*pattern);
            false
        }
        ExprKind::Regex { .. } | ExprKind::Tag(_) | ExprKind::Url(_) => true,
        ExprKind::And(children) | ExprKind::Or(children) => children
            .iter()
            .fold(false, |unindexed, c| collect_patterns(c, out) | unindexed),
        ExprKind::Not(inner) => collect_patterns(inner, out),
        ExprKind::Near { left, right, .. } => {
            out.extend(left.iter().chain(right).map(|(p, _)| *p));
            false
        }
    }
}

/// Compiles a parsed query into an expression on the shared matcher.
fn lower(node: &Node, source: &str, builder: &mut MatcherBuilder) -> Expr {
    let kind = match &node.kind {
        NodeKind::Term { words, fields } => ExprKind::Term {
            pattern: builder.add(words.clone()),
            fields: *fields,
            written: Arc::from(clause_text(source, &node.span)),
        },
        NodeKind::Regex { regex, fields } => ExprKind::Regex {
            regex: regex.clone(),
            fields: *fields,
        },
        NodeKind::Tag(tag) => ExprKind::Tag(tag.clone()),
        NodeKind::Url(url) => ExprKind::Url(url.clone()),
        NodeKind::And(children) => {
            ExprKind::And(children.iter().map(|c| lower(c, source, builder)).collect())
        }
        NodeKind::Or(children) => {
            ExprKind::Or(children.iter().map(|c| lower(c, source, builder)).collect())
        }
        NodeKind::Not(inner) => ExprKind::Not(Box::new(lower(inner, source, builder))),
        NodeKind::Near {
            left,
            right,
            distance,
        } => ExprKind::Near {
            left: near_side(left, builder),
            right: near_side(right, builder),
            distance: *distance,
        },
    };
    Expr {
        kind,
        span: node.span.clone(),
    }
}

fn near_side(node: &Node, builder: &mut MatcherBuilder) -> Vec<(compile::PatternId, FieldSet)> {
    match &node.kind {
        NodeKind::Term { words, fields } => vec![(builder.add(words.clone()), *fields)],
        NodeKind::Or(children) => children
            .iter()
            .flat_map(|c| near_side(c, builder))
            .collect(),
        _ => Vec::new(),
    }
}

fn compile_query(
    config: &Config,
    rule: &RuleConfig,
    value: &Spanned<String>,
    what: &str,
    builder: &mut MatcherBuilder,
) -> Result<CompiledQuery, Diagnostic> {
    let source = value.get_ref();
    let node = query::parse(source).map_err(|e| query_diagnostic(config, rule, value, e, what))?;
    Ok(CompiledQuery {
        expr: lower(&node, source, builder),
        source: source.clone(),
    })
}

fn resolve_speaker(
    config: &Config,
    rule: &RuleConfig,
    written: &Spanned<String>,
    registry: &Registry,
) -> Result<SpeakerRef, Diagnostic> {
    let text = written.get_ref().trim();
    let fail = |message: String, help: String| {
        config.diagnostic_at(&rule.origin, written.span(), message, Some(help))
    };
    if let Some(id) = text.strip_prefix("person:") {
        return registry
            .person_by_id(id.trim())
            .map(SpeakerRef::Person)
            .ok_or_else(|| {
                fail(
                    format!("rule {:?}: no person with id {:?}", rule.name(), id.trim()),
                    did_you_mean(
                        id.trim(),
                        &registry.person_ids(),
                        "add them as a [[people]] entry with this id",
                    ),
                )
            });
    }
    if let Some(title) = text.strip_prefix("role:") {
        return registry
            .role_by_name(title.trim())
            .map(SpeakerRef::Role)
            .ok_or_else(|| {
                fail(
                    format!("rule {:?}: no role {:?}", rule.name(), title.trim()),
                    did_you_mean(
                        title.trim(),
                        &registry.role_titles(),
                        "add the role to a person under [[people]] (roles = [{ title = \"...\", from = \"YYYY-MM-DD\" }])",
                    ),
                )
            });
    }
    if let Some(name) = text.strip_prefix("name:") {
        let folded = normalize::fold_str(name);
        if folded.is_empty() {
            return Err(fail(
                "empty speaker name".into(),
                "write the name as articles write it, e.g. \"name:Oleh Syniehubov\"".into(),
            ));
        }
        return Ok(SpeakerRef::Name(folded));
    }
    registry
        .person_by_name(text)
        .or_else(|| registry.person_by_id(text))
        .map(SpeakerRef::Person)
        .ok_or_else(|| {
            fail(
                format!(
                    "rule {:?}: speaker {text:?} is not in the people registry",
                    rule.name()
                ),
                "write `person:<id>` or `role:<title>` for registry entries, `name:<name>` for anyone else, or add them under [[people]]".into(),
            )
        })
}

fn did_you_mean(got: &str, known: &[&str], otherwise: &str) -> String {
    let lower = got.to_lowercase();
    let best = known
        .iter()
        .map(|k| (strsim::jaro_winkler(&lower, &k.to_lowercase()), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, k)) => format!("did you mean {k:?}?"),
        None => otherwise.to_string(),
    }
}

fn compile_rule(
    config: &Config,
    rule: &RuleConfig,
    all_destinations: &[String],
    builder: &mut MatcherBuilder,
    registry: Option<&Registry>,
) -> Result<CompiledRule, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let mut keywords = Vec::new();
    for keyword in &rule.keywords {
        let written = keyword.get_ref().trim().to_string();
        if written.is_empty() {
            continue; // reported by the config checks
        }
        match query::parser_term_words(&written) {
            Ok(words) => keywords.push((builder.add(words), Arc::from(written))),
            Err(error) => {
                let (span, message, help) = locate(
                    source_of(config, &rule.origin),
                    rule,
                    keyword,
                    error,
                    "keywords",
                );
                problems.push(config.diagnostic_at(&rule.origin, span, message, help));
            }
        }
    }
    let mut compile = |value: &Option<Spanned<String>>, what: &str| {
        value
            .as_ref()
            .and_then(|v| match compile_query(config, rule, v, what, builder) {
                Ok(q) => Some(q),
                Err(d) => {
                    problems.push(d);
                    None
                }
            })
    };
    let query = compile(&rule.query, "query");
    let says = compile(&rule.says, "says");
    let mut speakers = Vec::new();
    if let Some(registry) = registry {
        for written in &rule.speakers {
            match resolve_speaker(config, rule, written, registry) {
                Ok(speaker) => speakers.push((speaker, written.get_ref().clone())),
                Err(d) => problems.push(d),
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(CompiledRule {
        name: Arc::from(rule.name()),
        feeds: rule.feeds.iter().map(|f| f.get_ref().clone()).collect(),
        tags: rule.tags.clone(),
        destinations: if rule.destinations.is_empty() {
            Arc::from(all_destinations)
        } else {
            rule.destinations
                .iter()
                .map(|d| d.get_ref().clone())
                .collect()
        },
        keywords,
        query,
        speakers,
        says,
    })
}

/// A field's name for evidence, shared: rules that fire name the same few fields
/// thousands of times.
pub(crate) fn field_name(name: &str) -> Arc<str> {
    static NAMES: std::sync::LazyLock<Vec<Arc<str>>> = std::sync::LazyLock::new(|| {
        [
            "title",
            "content",
            "author",
            "feed",
            "statement",
            "tag",
            "url",
        ]
        .into_iter()
        .map(Arc::from)
        .collect()
    });
    NAMES
        .iter()
        .find(|known| &***known == name)
        .cloned()
        .unwrap_or_else(|| Arc::from(name))
}

/// Byte range helper for explanations.
pub(crate) fn clause_text(source: &str, span: &Range<usize>) -> String {
    source
        .get(span.clone())
        .unwrap_or(source)
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests;
