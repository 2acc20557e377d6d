//! The keyword query language of rules (`query = '...'`, `says = '...'`): its syntax tree,
//! lexer and parser. Parsing never panics; every error carries the byte span in the query
//! it is about, so the configuration loader can point at the column in the TOML file.
//!
//! ```text
//! query    := or
//! or       := and ( "OR" and )*
//! and      := unary ( ["AND"] unary )*          adjacent clauses are ANDed
//! unary    := "NOT" unary | near
//! near     := primary ( "NEAR/" n primary )*
//! primary  := "(" or ")" | field ":" primary | "\"phrase\"" | word | word* | /regex/
//! field    := title | content | author | feed | tag | url
//! ```

mod lexer;
mod parser;

use std::ops::Range;

pub use parser::{MAX_NESTING, parse};

/// Splits a word or phrase (an alias, a keyword) into word patterns, checking wildcards.
pub fn parser_term_words(text: &str) -> Result<Vec<WordPattern>, QueryError> {
    parser::term_words(text, &(0..text.len()))
}

/// Fields a term can be looked for in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The headline.
    Title,
    /// The article text.
    Content,
    /// The author line.
    Author,
    /// The feed's name.
    Feed,
    /// The feed's tags (exact, case-insensitive).
    Tag,
    /// The entry's URL (substring, case-insensitive).
    Url,
}

impl Field {
    /// Every field, in the order of their names in [`Field::NAMES`].
    pub const ALL: [Field; 6] = [
        Field::Title,
        Field::Content,
        Field::Author,
        Field::Feed,
        Field::Tag,
        Field::Url,
    ];
    /// The names fields are written with in queries.
    pub const NAMES: [&'static str; 6] = ["title", "content", "author", "feed", "tag", "url"];

    /// The field's name as written in queries.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The field with this name (`text` is accepted for `content`).
    pub fn from_name(name: &str) -> Option<Field> {
        if name == "text" || name == "body" {
            return Some(Field::Content);
        }
        Self::NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| Self::ALL[i])
    }

    /// The bit of this field in a [`FieldSet`].
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of fields, as a bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldSet(pub u8);

impl FieldSet {
    /// Where unscoped terms are looked for: title, text and author line.
    pub const DEFAULT: FieldSet = FieldSet(0b111);

    /// Whether the set contains a field.
    pub fn contains(self, field: Field) -> bool {
        self.0 & field.bit() != 0
    }

    /// The set of just one field.
    pub fn only(field: Field) -> FieldSet {
        FieldSet(field.bit())
    }

    /// Names of the fields in the set, joined with "/".
    pub fn describe(self) -> String {
        Field::ALL
            .iter()
            .filter(|f| self.contains(**f))
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// One word of a term: folded text, and whether it is a prefix (`negotiat*`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WordPattern {
    /// The folded word (without the `*`).
    pub text: String,
    /// Whether any ending may follow.
    pub prefix: bool,
}

/// A node of the query tree, with the byte span of its source in the query.
#[derive(Debug, Clone)]
pub struct Node {
    /// What the node is.
    pub kind: NodeKind,
    /// Where it was written in the query string.
    pub span: Range<usize>,
}

/// The kinds of query nodes.
#[derive(Debug, Clone)]
pub enum NodeKind {
    /// A word, wildcard word or phrase, looked for in some fields.
    Term {
        /// The words of the term.
        words: Vec<WordPattern>,
        /// Where to look.
        fields: FieldSet,
    },
    /// A regular expression (case-insensitive unless it says otherwise).
    Regex {
        /// The compiled expression.
        regex: regex::Regex,
        /// Where to look.
        fields: FieldSet,
    },
    /// `tag:x`: the feed has this tag.
    Tag(String),
    /// `url:x`: the entry's URL contains this text.
    Url(String),
    /// All of the clauses.
    And(Vec<Node>),
    /// Any of the clauses.
    Or(Vec<Node>),
    /// The clause does not match.
    Not(Box<Node>),
    /// Both sides occur within `distance` words of each other, in either order.
    Near {
        /// One side (terms, or an OR of terms).
        left: Box<Node>,
        /// The other side.
        right: Box<Node>,
        /// Largest number of words between the two.
        distance: u32,
    },
}

/// A syntax error in a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// Byte span in the query string.
    pub span: Range<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl QueryError {
    fn new(span: Range<usize>, message: impl Into<String>, help: impl Into<String>) -> Self {
        Self {
            span,
            message: message.into(),
            help: Some(help.into()).filter(|h: &String| !h.is_empty()),
        }
    }
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.span.start)
    }
}

impl Node {
    /// Whether the query can match an article without finding anything (e.g. `NOT x`):
    /// such a query would alert on nearly everything.
    pub fn matches_nothing_positive(&self) -> bool {
        match &self.kind {
            NodeKind::Not(_) => true,
            NodeKind::And(children) => children.iter().all(Node::matches_nothing_positive),
            NodeKind::Or(children) => children.iter().any(Node::matches_nothing_positive),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;
