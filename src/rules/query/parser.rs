//! Recursive-descent parser from tokens to a [`Node`] tree, with errors that say where and
//! how to fix.

use std::ops::Range;

use super::lexer::{Token, tokenize};
use super::{Field, FieldSet, Node, NodeKind, QueryError, WordPattern};
use crate::rules::normalize::{fold_str, is_word_char};

/// Shortest stem a wildcard may have, in letters: `ne*` would match half the language.
const MIN_STEM: usize = 3;

/// Deepest nesting of parentheses and `NOT`s a query may have. The parser, the compiler and
/// the evaluator recurse once per level, so without a bound a few kilobytes of `((((`
/// overflow a worker thread's stack and abort the daemon; no real query comes near this.
pub const MAX_NESTING: usize = 32;

/// Parses a query string.
pub fn parse(query: &str) -> Result<Node, QueryError> {
    let tokens = tokenize(query)?;
    if tokens.is_empty() {
        return Err(QueryError::new(
            0..query.len(),
            "the query is empty",
            "write at least one word, e.g. 'peace AND talks'",
        ));
    }
    let mut parser = Parser {
        tokens,
        at: 0,
        len: query.len(),
        depth: 0,
    };
    let node = parser.or(None)?;
    if let Some((token, span)) = parser.peek().cloned() {
        return Err(match token {
            Token::Close => QueryError::new(
                span,
                "unmatched closing parenthesis",
                "remove it, or add the `(` it closes",
            ),
            _ => QueryError::new(span, "unexpected text", ""),
        });
    }
    if node.matches_nothing_positive() {
        return Err(QueryError::new(
            node.span.clone(),
            "this query matches articles by what they do not contain only",
            "it would alert on nearly every article; add a word to look for, e.g. 'summit AND NOT rumour'",
        ));
    }
    Ok(node)
}

struct Parser {
    tokens: Vec<(Token, Range<usize>)>,
    at: usize,
    len: usize,
    /// Parentheses and `NOT`s open at the current token.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&(Token, Range<usize>)> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<(Token, Range<usize>)> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    /// Enters one more level of nesting at `span`, refusing to go past [`MAX_NESTING`].
    fn enter(&mut self, span: &Range<usize>) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(QueryError::new(
                span.clone(),
                format!("the query nests parentheses and NOTs more than {MAX_NESTING} deep"),
                "write it flatter: 'a OR b OR c' needs no parentheses around each part",
            ));
        }
        Ok(())
    }

    /// The span to blame when the query ends too early.
    fn end_span(&self) -> Range<usize> {
        self.len.saturating_sub(1)..self.len
    }

    fn or(&mut self, scope: Option<FieldSet>) -> Result<Node, QueryError> {
        let first = self.and(scope)?;
        let mut children = vec![first];
        while let Some((Token::Or, span)) = self.peek().cloned() {
            self.next();
            if !self.starts_clause() {
                return Err(QueryError::new(
                    span,
                    "OR needs a clause after it",
                    "write what else may match after OR, or remove it",
                ));
            }
            children.push(self.and(scope)?);
        }
        Ok(join(children, NodeKind::Or))
    }

    fn starts_clause(&self) -> bool {
        matches!(
            self.peek(),
            Some((
                Token::Open
                    | Token::Not
                    | Token::Field(_)
                    | Token::Word(_)
                    | Token::Phrase(_)
                    | Token::Regex(..),
                _
            ))
        )
    }

    fn and(&mut self, scope: Option<FieldSet>) -> Result<Node, QueryError> {
        let first = self.unary(scope)?;
        let mut children = vec![first];
        loop {
            match self.peek().cloned() {
                Some((Token::And, span)) => {
                    self.next();
                    if !self.starts_clause() {
                        return Err(QueryError::new(
                            span,
                            "AND needs a clause after it",
                            "write what must also match after AND, or remove it",
                        ));
                    }
                    children.push(self.unary(scope)?);
                }
                // Adjacent clauses: implicit AND.
                Some(_) if self.starts_clause() => children.push(self.unary(scope)?),
                _ => break,
            }
        }
        Ok(join(children, NodeKind::And))
    }

    fn unary(&mut self, scope: Option<FieldSet>) -> Result<Node, QueryError> {
        if let Some((Token::Not, span)) = self.peek().cloned() {
            self.next();
            if !self.starts_clause() {
                return Err(QueryError::new(
                    span,
                    "NOT needs a clause after it",
                    "write what must not match after NOT, e.g. 'summit NOT rumour'",
                ));
            }
            self.enter(&span)?;
            let inner = self.unary(scope)?;
            self.depth -= 1;
            let full = span.start..inner.span.end;
            return Ok(Node {
                kind: NodeKind::Not(Box::new(inner)),
                span: full,
            });
        }
        self.near(scope)
    }

    fn near(&mut self, scope: Option<FieldSet>) -> Result<Node, QueryError> {
        let mut left = self.primary(scope)?;
        while let Some((Token::Near(distance), span)) = self.peek().cloned() {
            self.next();
            if !self.starts_clause() {
                return Err(QueryError::new(
                    span,
                    "NEAR needs a word or phrase after it",
                    "write e.g. 'Rutte NEAR/5 talks'",
                ));
            }
            let right = self.primary(scope)?;
            for side in [&left, &right] {
                if !positional(side) {
                    return Err(QueryError::new(
                        side.span.clone(),
                        "NEAR works on words and phrases only",
                        "each side of NEAR/n must be a word, a phrase, a wildcard word, or ( ... OR ... ) of them",
                    ));
                }
            }
            let full = left.span.start..right.span.end;
            left = Node {
                kind: NodeKind::Near {
                    left: Box::new(left),
                    right: Box::new(right),
                    distance,
                },
                span: full,
            };
        }
        Ok(left)
    }

    fn primary(&mut self, scope: Option<FieldSet>) -> Result<Node, QueryError> {
        let Some((token, span)) = self.next() else {
            return Err(QueryError::new(
                self.end_span(),
                "the query ends where a word was expected",
                "",
            ));
        };
        match token {
            Token::Open => {
                if matches!(self.peek(), Some((Token::Close, _))) {
                    let close = self.peek().map(|(_, s)| s.end).unwrap_or(span.end);
                    return Err(QueryError::new(
                        span.start..close,
                        "empty parentheses",
                        "write something between them, or remove them",
                    ));
                }
                self.enter(&span)?;
                let inner = self.or(scope)?;
                self.depth -= 1;
                match self.next() {
                    Some((Token::Close, close)) => Ok(Node {
                        kind: inner.kind,
                        span: span.start..close.end,
                    }),
                    _ => Err(QueryError::new(
                        span,
                        "this parenthesis is never closed",
                        "add the matching `)`",
                    )),
                }
            }
            Token::Close => Err(QueryError::new(
                span,
                "unexpected `)`",
                "a clause was expected here; remove the parenthesis or add what it should contain",
            )),
            Token::And | Token::Or => Err(QueryError::new(
                span.clone(),
                format!(
                    "{} needs a clause before it",
                    if matches!(token, Token::And) {
                        "AND"
                    } else {
                        "OR"
                    }
                ),
                "put a word or phrase on both sides of the operator",
            )),
            Token::Near(_) => Err(QueryError::new(
                span,
                "NEAR needs a word or phrase before it",
                "write e.g. 'Rutte NEAR/5 talks'",
            )),
            Token::Not => Err(QueryError::new(span, "unexpected NOT", "")),
            Token::Field(field) => {
                if scope.is_some() {
                    return Err(QueryError::new(
                        span,
                        "a field inside another field",
                        "write the field once, e.g. 'title:(peace OR talks)'",
                    ));
                }
                if !self.starts_clause() {
                    return Err(QueryError::new(
                        span,
                        format!(
                            "`{}:` needs a word, phrase or ( ... ) after it",
                            field.name()
                        ),
                        "write it without a space, e.g. 'title:peace' or 'title:\"peace talks\"'",
                    ));
                }
                match field {
                    Field::Tag | Field::Url => self.exact_field(field, span),
                    _ => {
                        let inner = self.primary(Some(FieldSet::only(field)))?;
                        Ok(Node {
                            span: span.start..inner.span.end,
                            kind: inner.kind,
                        })
                    }
                }
            }
            Token::Word(text) | Token::Phrase(text) => {
                let words = term_words(&text, &span)?;
                Ok(Node {
                    kind: NodeKind::Term {
                        words,
                        fields: scope.unwrap_or(FieldSet::DEFAULT),
                    },
                    span,
                })
            }
            Token::Regex(source, flags) => {
                let mut builder = regex::RegexBuilder::new(&source);
                builder.case_insensitive(!flags.contains('c'));
                for flag in flags.chars() {
                    match flag {
                        'i' => builder.case_insensitive(true),
                        's' => builder.dot_matches_new_line(true),
                        'm' => builder.multi_line(true),
                        'x' => builder.ignore_whitespace(true),
                        _ => &mut builder,
                    };
                }
                builder.size_limit(1 << 20);
                match builder.build() {
                    Ok(regex) => Ok(Node {
                        kind: NodeKind::Regex {
                            regex,
                            fields: scope.unwrap_or(FieldSet::DEFAULT),
                        },
                        span,
                    }),
                    Err(error) => Err(QueryError::new(
                        span,
                        format!(
                            "invalid regular expression: {}",
                            first_line(&error.to_string())
                        ),
                        "see https://docs.rs/regex/latest/regex/#syntax",
                    )),
                }
            }
        }
    }

    /// `tag:` and `url:` take one word or phrase, compared exactly (folded).
    fn exact_field(&mut self, field: Field, field_span: Range<usize>) -> Result<Node, QueryError> {
        match self.next() {
            Some((Token::Word(text) | Token::Phrase(text), span)) => {
                let value = fold_str(&text);
                let kind = if field == Field::Tag {
                    NodeKind::Tag(value)
                } else {
                    NodeKind::Url(value)
                };
                Ok(Node {
                    kind,
                    span: field_span.start..span.end,
                })
            }
            other => Err(QueryError::new(
                other.map(|(_, s)| s).unwrap_or(field_span),
                format!("`{}:` takes one word or quoted text", field.name()),
                format!(
                    "write e.g. '{}:{}'",
                    field.name(),
                    if field == Field::Tag {
                        "official"
                    } else {
                        "nato.int"
                    }
                ),
            )),
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(text)
        .trim()
        .to_string()
}

fn join(mut children: Vec<Node>, make: fn(Vec<Node>) -> NodeKind) -> Node {
    if children.len() == 1 {
        return children.remove(0);
    }
    let span = children[0].span.start..children[children.len() - 1].span.end;
    Node {
        kind: make(children),
        span,
    }
}

/// Whether a node can take part in NEAR: terms, or ORs of terms.
fn positional(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Term { .. } => true,
        NodeKind::Or(children) => children.iter().all(positional),
        _ => false,
    }
}

/// Splits a word or phrase into word patterns, checking wildcards.
pub(crate) fn term_words(text: &str, span: &Range<usize>) -> Result<Vec<WordPattern>, QueryError> {
    let mut words = Vec::new();
    for raw in text.split_whitespace() {
        // `raw` is a slice of `text`: its offset is where it starts in memory.
        let at = (raw.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
        // Position of the word in the query, for errors (a phrase starts after its quote).
        let quote_len = if span.end - span.start > text.len() {
            (span.end - span.start - text.len()) / 2
        } else {
            0
        };
        let word_span = span.start + quote_len + at..span.start + quote_len + at + raw.len();
        let prefix = raw.ends_with('*');
        let stem = raw.trim_end_matches('*');
        if stem.contains('*') || raw.ends_with("**") {
            return Err(QueryError::new(
                word_span,
                "a wildcard can only end a word",
                "write the stem and one `*` at its end, e.g. negotiat* or Зеленськ*",
            ));
        }
        let folded = fold_str(stem);
        if prefix && folded.chars().filter(|c| is_word_char(*c)).count() < MIN_STEM {
            return Err(QueryError::new(
                word_span,
                format!("the wildcard `{raw}` is too short"),
                format!("give at least {MIN_STEM} letters before `*`, e.g. negotiat*"),
            ));
        }
        if folded.is_empty() {
            continue;
        }
        words.push(WordPattern {
            text: folded,
            prefix,
        });
    }
    if words.is_empty() {
        return Err(QueryError::new(
            span.clone(),
            "nothing to look for here",
            "write a word with letters or digits",
        ));
    }
    Ok(words)
}
