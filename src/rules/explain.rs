//! Explanations: the evidence of a match (which terms matched where, with a snippet), and
//! for a rule that did not match, the first clause that failed — what `newshound test`
//! prints so analysts can see why a rule fired or stayed silent.

use super::eval::{Expr, ExprKind, Scanned};
use super::{CompiledRule, Evaluation, Evidence, Match, RuleSet, SpeakerRef, clause_text};

/// The outcome of one rule on one subject.
#[derive(Debug, Clone)]
pub struct RuleOutcome {
    /// The rule's name.
    pub rule: String,
    /// What happened.
    pub verdict: Verdict,
}

/// Matched (with evidence) or not (with the reason).
#[derive(Debug, Clone)]
pub enum Verdict {
    /// The rule matched.
    Matched(Match),
    /// The rule did not match; the first clause that failed, in words.
    Failed(String),
}

impl RuleSet {
    /// Evaluates every rule on a subject and explains each outcome.
    pub fn explain(&self, subject: &super::Subject<'_>) -> Vec<RuleOutcome> {
        let evaluation = self.evaluation(subject);
        self.rules
            .iter()
            .map(|rule| RuleOutcome {
                rule: rule.name.to_string(),
                verdict: match evaluation.matches(rule) {
                    Some(found) => Verdict::Matched(found),
                    None => Verdict::Failed(evaluation.why_not(rule)),
                },
            })
            .collect()
    }
}

/// Adds evidence for the satisfied positive leaves of an expression (not under NOT).
pub(crate) fn collect_evidence(
    evaluation: &Evaluation<'_>,
    expr: &Expr,
    source: &str,
    out: &mut Vec<Evidence>,
) {
    let scanned = evaluation.scanned();
    if out.len() >= super::MAX_TERM_EVIDENCE {
        return;
    }
    match &expr.kind {
        ExprKind::Term {
            pattern,
            fields,
            written,
        } => {
            if let Some(e) = evaluation.term_evidence(*pattern, *fields, written) {
                push_unique(out, e);
            }
        }
        ExprKind::Regex { regex, fields } => {
            if let Some((index, range)) = scanned.regex_hit(regex, *fields) {
                let text = &scanned.texts[index];
                push_unique(
                    out,
                    Evidence::Term {
                        field: super::field_name(text.name),
                        term: clause_text(source, &expr.span).into(),
                        snippet: super::snippet(&text.original, range.start, range.end).into(),
                    },
                );
            }
        }
        ExprKind::Tag(tag) => {
            if scanned.tags.iter().any(|t| t == tag) {
                push_unique(
                    out,
                    Evidence::Term {
                        field: super::field_name("tag"),
                        term: clause_text(source, &expr.span).into(),
                        snippet: tag.as_str().into(),
                    },
                );
            }
        }
        ExprKind::Url(part) => {
            if scanned.url.contains(part.as_str()) {
                push_unique(
                    out,
                    Evidence::Term {
                        field: super::field_name("url"),
                        term: clause_text(source, &expr.span).into(),
                        snippet: scanned.url.as_str().into(),
                    },
                );
            }
        }
        ExprKind::And(children) | ExprKind::Or(children) => {
            for child in children {
                if scanned.eval(child) {
                    collect_evidence(evaluation, child, source, out);
                }
            }
        }
        ExprKind::Not(_) => {}
        ExprKind::Near {
            left,
            right,
            distance,
        } => {
            if let Some((index, a, b)) = scanned.near(left, right, *distance) {
                let text = &scanned.texts[index];
                let (first, second) = if a.start <= b.start { (a, b) } else { (b, a) };
                let whole = super::compile::Hit {
                    pattern: first.pattern,
                    start: first.start,
                    end: second.end.max(first.end),
                };
                push_unique(
                    out,
                    Evidence::Term {
                        field: super::field_name(text.name),
                        term: clause_text(source, &expr.span).into(),
                        snippet: text.snippet(&whole),
                    },
                );
            }
        }
    }
}

fn push_unique(out: &mut Vec<Evidence>, evidence: Evidence) {
    if !out.contains(&evidence) {
        out.push(evidence);
    }
}

/// The first failing clause of an expression that evaluated to false.
pub(crate) fn failing_clause(scanned: &Scanned<'_>, expr: &Expr, source: &str) -> String {
    let text = clause_text(source, &expr.span);
    match &expr.kind {
        ExprKind::And(children) => children
            .iter()
            .find(|c| !scanned.eval(c))
            .map(|c| failing_clause(scanned, c, source))
            .unwrap_or_else(|| format!("`{text}` did not match")),
        ExprKind::Or(_) => format!("none of `{text}` found"),
        ExprKind::Term { fields, .. } => format!("`{text}` not found in {}", fields.describe()),
        ExprKind::Regex { fields, .. } => {
            format!("`{text}` matched nothing in {}", fields.describe())
        }
        ExprKind::Tag(tag) => format!("the feed has no tag {tag:?}"),
        ExprKind::Url(part) => format!("the URL does not contain {part:?}"),
        ExprKind::Not(inner) => {
            let found = clause_text(source, &inner.span);
            format!("`{found}` was found, and the rule says NOT")
        }
        ExprKind::Near {
            left,
            right,
            distance,
        } => {
            let has = |side: &[(super::compile::PatternId, super::query::FieldSet)]| {
                side.iter().any(|(p, f)| scanned.has(*p, *f))
            };
            match (has(left), has(right)) {
                (true, true) => {
                    format!("`{text}`: both sides occur, but never within {distance} words")
                }
                _ => format!("`{text}`: one side does not occur at all"),
            }
        }
    }
}

impl Evaluation<'_> {
    /// Why a rule did not match, in one line.
    pub(crate) fn why_not(&self, rule: &CompiledRule) -> String {
        if !self.in_scope(rule) {
            return "the entry's feed is not selected by the rule's `feeds`/`tags`".to_string();
        }
        let scanned = self.scanned();
        if !rule.keywords.is_empty()
            && !rule
                .keywords
                .iter()
                .any(|(p, _)| scanned.has(*p, super::query::FieldSet::DEFAULT))
        {
            let list: Vec<&str> = rule.keywords.iter().map(|(_, w)| &**w).collect();
            return format!("keywords: none of {list:?} found");
        }
        if let Some(query) = &rule.query
            && !scanned.eval(&query.expr)
        {
            return format!(
                "query: {}",
                failing_clause(scanned, &query.expr, &query.source)
            );
        }
        if !rule.speakers.is_empty() {
            let by_speaker: Vec<_> = self
                .statements()
                .iter()
                .filter(|s| self.speaker_matches(rule, s).is_some())
                .collect();
            let wanted: Vec<String> = rule
                .speakers
                .iter()
                .map(|(speaker, written)| match speaker {
                    SpeakerRef::Role(r) => {
                        let holders: Vec<String> = self
                            .rule_set()
                            .registry()
                            .holders(*r, self.day())
                            .iter()
                            .map(|p| self.rule_set().registry().people[*p].name.clone())
                            .collect();
                        if holders.is_empty() {
                            format!("{written} (nobody on {})", self.day())
                        } else {
                            format!("{written} (= {} on {})", holders.join(", "), self.day())
                        }
                    }
                    _ => written.clone(),
                })
                .collect();
            if by_speaker.is_empty() {
                let speakers: Vec<String> = self
                    .statements()
                    .iter()
                    .map(|s| s.speaker.clone())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                return format!(
                    "speakers: no statement by {} (statements found by: {})",
                    wanted.join(" or "),
                    if speakers.is_empty() {
                        "nobody".to_string()
                    } else {
                        speakers.join(", ")
                    }
                );
            }
            if let Some(says) = &rule.says {
                let first = by_speaker[0];
                let statement_text = super::eval::ScannedText::new(
                    super::query::FieldSet::DEFAULT,
                    "statement",
                    first.text.as_str(),
                );
                let scanned =
                    Scanned::new(&self.rule_set().matcher, vec![statement_text], &[], None);
                return format!(
                    "says: {} statement(s) by {}, but in none: {}",
                    by_speaker.len(),
                    wanted.join(" or "),
                    failing_clause(&scanned, &says.expr, &says.source)
                );
            }
        }
        "did not match".to_string()
    }
}

/// One article to test rules on (from a page, a file or a feed entry).
#[derive(Debug, Clone)]
pub struct TestSubject {
    /// Headline.
    pub title: String,
    /// Author line.
    pub author: String,
    /// Text.
    pub text: String,
    /// Link.
    pub url: Option<String>,
    /// Date.
    pub published: Option<jiff::Timestamp>,
}

impl TestSubject {
    /// The rules' view of it, as an entry of a feed.
    pub fn view<'a>(&'a self, feed: &'a str, tags: &'a [String]) -> super::Subject<'a> {
        super::Subject {
            feed,
            tags,
            url: self.url.as_deref(),
            title: &self.title,
            author: &self.author,
            content: &self.text,
            published: self.published,
        }
    }
}

/// The articles of a source: every entry of a feed, else the page (HTML), else plain text
/// whose first line is the title.
pub fn subjects_of(
    source: &str,
    bytes: &[u8],
    content_type: Option<&str>,
    final_url: Option<&str>,
    day: Option<jiff::civil::Date>,
) -> Vec<TestSubject> {
    let fallback_date = day.and_then(|d| {
        d.to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    });
    if let Ok(feed) = crate::feed::parse(bytes, content_type, final_url)
        && !feed.entries.is_empty()
    {
        return feed
            .entries
            .iter()
            .map(|entry| {
                let article = crate::extract::from_entry(entry, None);
                TestSubject {
                    title: article.title.unwrap_or_default(),
                    author: article.byline.unwrap_or_default(),
                    text: article.text,
                    url: entry.link.clone(),
                    published: article.published.or(fallback_date),
                }
            })
            .collect();
    }
    let text = crate::charset::decode_html(bytes, content_type).text;
    let looks_html =
        text.trim_start().starts_with('<') || content_type.is_some_and(|c| c.contains("html"));
    let url = final_url
        .map(str::to_string)
        .or_else(|| source.starts_with("http").then(|| source.to_string()));
    if looks_html {
        let page = super::page::page_text(&text);
        return vec![TestSubject {
            title: page.title,
            author: String::new(),
            text: page.text,
            url,
            published: fallback_date,
        }];
    }
    let (title, body) = text.split_once('\n').unwrap_or((&*text, ""));
    vec![TestSubject {
        title: title.trim().to_string(),
        author: String::new(),
        text: body.trim().to_string(),
        url,
        published: fallback_date,
    }]
}

/// Prints the outcome of every rule on one subject.
pub fn print_outcomes(
    out: &mut impl std::io::Write,
    subject: &TestSubject,
    outcomes: &[RuleOutcome],
    matched_only: bool,
) -> std::io::Result<()> {
    writeln!(
        out,
        "== {}{}{}",
        if subject.title.is_empty() {
            "(untitled)"
        } else {
            subject.title.as_str()
        },
        subject
            .url
            .as_deref()
            .map(|u| format!("  <{u}>"))
            .unwrap_or_default(),
        subject
            .published
            .map(|p| format!("  [{}]", p.strftime("%Y-%m-%d")))
            .unwrap_or_default()
    )?;
    for outcome in outcomes {
        match &outcome.verdict {
            Verdict::Matched(found) => {
                writeln!(
                    out,
                    "  MATCH  {}  -> {}",
                    outcome.rule,
                    found.destinations.join(", ")
                )?;
                for evidence in &found.evidence {
                    writeln!(out, "           {}", evidence.describe())?;
                }
            }
            Verdict::Failed(why) if !matched_only => {
                writeln!(out, "  no     {}: {why}", outcome.rule)?;
            }
            Verdict::Failed(_) => {}
        }
    }
    writeln!(out)
}

/// The `quotes --json` document.
#[derive(Debug, serde::Serialize)]
pub struct StatementsJson<'a> {
    /// Every statement, in text order.
    pub statements: Vec<StatementJson<'a>>,
}

/// One statement of `quotes --json`: offsets are in characters of the analysed text.
#[derive(Debug, serde::Serialize)]
pub struct StatementJson<'a> {
    /// Canonical name, or the name as written in its base form.
    pub speaker: &'a str,
    /// The role as written near the attribution.
    pub role: Option<&'a str>,
    /// `direct` or `reported`.
    pub kind: &'static str,
    /// The words.
    pub statement: &'a str,
    /// First character.
    pub start: usize,
    /// One past the last character.
    pub end: usize,
}

/// The `quotes --json` document for the statements of a document.
pub fn statements_json<'a>(
    document: &super::speakers::Document,
    statements: &'a [super::speakers::Statement],
) -> StatementsJson<'a> {
    let chars = |byte: usize| {
        document.text[..byte.min(document.text.len())]
            .chars()
            .count()
    };
    StatementsJson {
        statements: statements
            .iter()
            .map(|s| StatementJson {
                speaker: &s.speaker,
                role: s.role.as_deref(),
                kind: s.kind.as_str(),
                statement: &s.text,
                start: chars(s.start),
                end: chars(s.end),
            })
            .collect(),
    }
}

/// Prints statements for people.
pub fn print_statements(
    out: &mut impl std::io::Write,
    statements: &[super::speakers::Statement],
) -> std::io::Result<()> {
    if statements.is_empty() {
        return writeln!(out, "no statements found");
    }
    for s in statements {
        writeln!(
            out,
            "{}{} [{}]:\n    {}\n",
            s.speaker,
            s.role
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            s.kind.as_str(),
            s.text
        )?;
    }
    Ok(())
}
