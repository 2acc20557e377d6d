//! Speaker attribution: who said what in an article.
//!
//! From the article text this extracts **statements**: the speaker (a registry person by
//! canonical name, or a name as written in its base form and in Latin letters), the role as
//! written near the attribution, the kind (`direct`: verbatim, in quotation marks or a
//! labelled quotation block; `reported`: paraphrase) and the words. It is rule-based and
//! fast:
//!
//! 1. [`text`]: paragraphs, tokens, quotations (every style, nested, across paragraphs) and
//!    sentences that never split a quotation;
//! 2. [`mentions`]: people mentioned — registry names and role titles (a role resolves by
//!    the article's date), and unknown names (capitalised word sequences that are not
//!    places or institutions);
//! 3. [`attribute`]: speech cues (said, told, according to, за словами, по словам, ...),
//!    their subjects (names, pronouns, role follow-ups such as "the chancellor"), and the
//!    content (an adjacent quotation, or the reported clause). Nested speech, hypothetical
//!    speech inside quotations, negated or passive cues ("was asked whether") and mere
//!    mentions produce no statement.

pub mod attribute;
pub mod lexicon;
pub mod mentions;
pub mod text;
pub mod translit;

use jiff::civil::Date;
use serde::Serialize;

use super::people::Registry;

/// The text attribution runs on: the title (first paragraph) and the body.
#[derive(Debug, Clone)]
pub struct Document {
    /// Title, a blank line, then the body.
    pub text: String,
    /// Byte length of the title at the start of `text`.
    pub title_len: usize,
}

impl Document {
    /// A document from a title and a body.
    pub fn new(title: &str, body: &str) -> Self {
        let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut text = String::with_capacity(title.len() + body.len() + 2);
        text.push_str(&title);
        text.push_str("\n\n");
        text.push_str(body);
        Self {
            title_len: title.len(),
            text,
        }
    }

    /// A plain-text document whose first line is the title.
    pub fn from_plain(text: &str) -> Self {
        let title_len = text.find('\n').unwrap_or(text.len());
        Self {
            text: text.to_string(),
            title_len,
        }
    }
}

/// Direct (verbatim) or reported speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementKind {
    /// Presented as the speaker's own words.
    Direct,
    /// Paraphrase, indirect speech.
    Reported,
}

impl StatementKind {
    /// `direct` or `reported`.
    pub fn as_str(self) -> &'static str {
        match self {
            StatementKind::Direct => "direct",
            StatementKind::Reported => "reported",
        }
    }
}

/// One attributed statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The registry person, when known.
    pub person: Option<usize>,
    /// Canonical name (registry) or the name as written, in its base form, in Latin letters
    /// ([`translit`]).
    pub speaker: String,
    /// The role or title as written near the attribution.
    pub role: Option<String>,
    /// Direct or reported.
    pub kind: StatementKind,
    /// The words; pieces of an utterance interrupted by its cue are joined with " ... ".
    pub text: String,
    /// Byte offset of the statement's first piece in the document text.
    pub start: usize,
    /// Byte offset of the end of its last piece.
    pub end: usize,
}

/// Extracts the statements of a document. `day` resolves roles ("the NATO Secretary
/// General" on that day); without it, roles resolve to holders named in the article, else
/// to today's holder.
pub fn attribute(registry: &Registry, document: &Document, day: Option<Date>) -> Vec<Statement> {
    attribute::run(registry, document, day)
}
