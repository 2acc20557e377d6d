//! Splits a query into tokens, each with its byte span.

use std::ops::Range;

use super::{Field, QueryError};

/// A token of the query language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// `(`
    Open,
    /// `)`
    Close,
    /// `AND`
    And,
    /// `OR`
    Or,
    /// `NOT`
    Not,
    /// `NEAR/n`
    Near(u32),
    /// `title:` and the other field prefixes.
    Field(Field),
    /// A bare word, maybe ending in `*`.
    Word(String),
    /// A quoted phrase (without its quotes).
    Phrase(String),
    /// `/regex/` (without its slashes) and its flags.
    Regex(String, String),
}

/// Opening quote characters and their closing twins.
const QUOTES: &[(char, char)] = &[
    ('"', '"'),
    ('\u{201C}', '\u{201D}'),
    ('\u{201E}', '\u{201C}'),
    ('\u{00AB}', '\u{00BB}'),
];

fn closing_quote(open: char) -> Option<char> {
    QUOTES.iter().find(|(o, _)| *o == open).map(|(_, c)| *c)
}

fn is_word_delimiter(c: char) -> bool {
    c.is_whitespace() || c == '(' || c == ')' || closing_quote(c).is_some() || c == '\u{201D}'
}

/// Tokenises a query.
pub fn tokenize(query: &str) -> Result<Vec<(Token, Range<usize>)>, QueryError> {
    let mut tokens = Vec::new();
    let mut chars = query.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '(' || c == ')' {
            chars.next();
            let token = if c == '(' { Token::Open } else { Token::Close };
            tokens.push((token, start..start + 1));
            continue;
        }
        if let Some(close) = closing_quote(c) {
            chars.next();
            let mut end = None;
            for (i, d) in chars.by_ref() {
                if d == close || (close != '"' && d == '"') {
                    end = Some(i);
                    break;
                }
            }
            let Some(end) = end else {
                return Err(QueryError::new(
                    start..start + c.len_utf8(),
                    "this phrase is never closed",
                    format!("add the closing {close} after the phrase"),
                ));
            };
            let inner = &query[start + c.len_utf8()..end];
            if inner.trim().is_empty() {
                return Err(QueryError::new(
                    start..end + close.len_utf8(),
                    "empty phrase",
                    "write words between the quotes, or remove them",
                ));
            }
            tokens.push((
                Token::Phrase(inner.to_string()),
                start..end + close.len_utf8(),
            ));
            continue;
        }
        if c == '/' {
            chars.next();
            let mut end = None;
            let mut escaped = false;
            for (i, d) in chars.by_ref() {
                if escaped {
                    escaped = false;
                } else if d == '\\' {
                    escaped = true;
                } else if d == '/' {
                    end = Some(i);
                    break;
                }
            }
            let Some(end) = end else {
                return Err(QueryError::new(
                    start..start + 1,
                    "this regular expression is never closed",
                    "end it with `/`; write `\\/` for a slash inside it",
                ));
            };
            let mut flags = String::new();
            while let Some(&(_, f)) = chars.peek() {
                if f.is_ascii_alphabetic() {
                    flags.push(f);
                    chars.next();
                } else {
                    break;
                }
            }
            if let Some(bad) = flags.chars().find(|f| !"ismux".contains(*f)) {
                let at = end + 1 + flags.find(bad).unwrap_or(0);
                return Err(QueryError::new(
                    at..at + 1,
                    format!("unknown regular expression flag `{bad}`"),
                    "flags are i (default: case-insensitive), s, m, u, x; write `c` nowhere",
                ));
            }
            let source = query[start + 1..end].replace("\\/", "/");
            tokens.push((
                Token::Regex(source, flags.clone()),
                start..end + 1 + flags.len(),
            ));
            continue;
        }
        // A word: up to whitespace, a parenthesis or a quote. Right after a field prefix the
        // word is taken whole, so `url:https://x` is one URL, not another field.
        let after_field = matches!(tokens.last(), Some((Token::Field(_), _)));
        let mut end = start;
        while let Some(&(i, d)) = chars.peek() {
            if is_word_delimiter(d) {
                break;
            }
            // `title:` ends a word so that `title:"peace talks"` lexes as field + phrase.
            if d == ':' && !after_field {
                let name = &query[start..i];
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphabetic()) {
                    chars.next();
                    end = i + 1;
                    break;
                }
            }
            chars.next();
            end = i + d.len_utf8();
        }
        let text = &query[start..end];
        let span = start..end;
        if let Some(name) = text.strip_suffix(':')
            && !after_field
            && !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphabetic())
        {
            match Field::from_name(&name.to_ascii_lowercase()) {
                Some(field) => tokens.push((Token::Field(field), span)),
                None => {
                    return Err(QueryError::new(
                        start..end - 1,
                        format!("unknown field `{name}`"),
                        field_help(name),
                    ));
                }
            }
            continue;
        }
        let token = match text {
            "AND" | "&&" => Token::And,
            "OR" | "||" => Token::Or,
            "NOT" => Token::Not,
            "and" | "or" | "not" | "And" | "Or" | "Not" => {
                return Err(QueryError::new(
                    span,
                    format!("`{text}` in lower case is not an operator"),
                    format!(
                        "operators are written in capitals: `{}`; to look for the word itself, quote it: \"{text}\"",
                        text.to_uppercase()
                    ),
                ));
            }
            _ if text.starts_with("NEAR") => {
                let distance = text
                    .strip_prefix("NEAR/")
                    .and_then(|n| n.parse::<u32>().ok())
                    .filter(|n| *n <= 1000);
                match distance {
                    Some(n) => Token::Near(n),
                    None if text == "NEAR" || text.starts_with("NEAR/") => {
                        return Err(QueryError::new(
                            span,
                            "NEAR needs a distance in words (0 to 1000)",
                            "write NEAR/n, e.g. `Rutte NEAR/5 talks` (at most 5 words apart)",
                        ));
                    }
                    None => Token::Word(text.to_string()),
                }
            }
            _ => Token::Word(text.to_string()),
        };
        tokens.push((token, span));
    }
    Ok(tokens)
}

fn field_help(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let closest = Field::NAMES
        .iter()
        .map(|n| (strsim::jaro_winkler(&lower, n), *n))
        .filter(|(score, _)| *score > 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match closest {
        Some((_, n)) => format!(
            "did you mean `{n}:`? (fields: {}; quote a word that contains a colon)",
            Field::NAMES.join(", ")
        ),
        None => format!(
            "fields are {}; quote a word that contains a colon",
            Field::NAMES.join(", ")
        ),
    }
}
