//! The text layer of attribution: tokens, quotations (every quote style, nesting, quotes
//! that span paragraphs) and sentences that never split inside a quotation.

use std::ops::Range;

use crate::rules::normalize::{fold_str, is_apostrophe, is_word_char};

/// A token: a word or one punctuation character.
#[derive(Debug, Clone)]
pub struct Token {
    /// Byte range in the document.
    pub start: usize,
    /// End of the range.
    pub end: usize,
    /// Folded text.
    pub text: String,
    /// Whether it is a word (letters/digits).
    pub word: bool,
    /// Whether its first letter is upper case.
    pub capitalized: bool,
    /// The paragraph it is in.
    pub paragraph: usize,
    /// The top-level quotation it is inside (not counting its marks), if any.
    pub quote: Option<usize>,
}

/// A top-level quotation.
#[derive(Debug, Clone)]
pub struct Quote {
    /// Byte offset of the opening mark.
    pub open: usize,
    /// The quoted text (without marks).
    pub inner: Range<usize>,
    /// Byte offset just after the closing mark (or the paragraph end when unclosed).
    pub end: usize,
}

/// A sentence: a token range that never splits a quotation.
#[derive(Debug, Clone)]
pub struct Sentence {
    /// Tokens.
    pub tokens: Range<usize>,
    /// The paragraph it starts in.
    pub paragraph: usize,
}

/// The analysed text.
#[derive(Debug)]
pub struct Analysed {
    /// Paragraph byte ranges (non-empty lines).
    pub paragraphs: Vec<Range<usize>>,
    /// Tokens.
    pub tokens: Vec<Token>,
    /// Quotations.
    pub quotes: Vec<Quote>,
    /// Sentences.
    pub sentences: Vec<Sentence>,
}

/// How a character works as a quotation mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// “ (opens, or closes a „)
    LeftDouble,
    /// ”
    RightDouble,
    /// „
    LowDouble,
    /// «
    LeftGuillemet,
    /// »
    RightGuillemet,
    /// ‹
    LeftSingleGuillemet,
    /// ›
    RightSingleGuillemet,
    /// "
    Straight,
    /// ‘
    LeftSingle,
    /// ’ (also an apostrophe)
    RightSingle,
    /// ‚ (low single)
    LowSingle,
    /// ' (also an apostrophe)
    StraightSingle,
}

fn mark(c: char) -> Option<Mark> {
    Some(match c {
        '\u{201C}' => Mark::LeftDouble,
        '\u{201D}' => Mark::RightDouble,
        '\u{201E}' => Mark::LowDouble,
        '\u{00AB}' => Mark::LeftGuillemet,
        '\u{00BB}' => Mark::RightGuillemet,
        '\u{2039}' => Mark::LeftSingleGuillemet,
        '\u{203A}' => Mark::RightSingleGuillemet,
        '"' | '\u{FF02}' => Mark::Straight,
        '\u{2018}' => Mark::LeftSingle,
        '\u{2019}' => Mark::RightSingle,
        '\u{201A}' => Mark::LowSingle,
        '\'' => Mark::StraightSingle,
        _ => return None,
    })
}

/// Whether `c` closes a quotation opened by `open`.
fn closes(open: Mark, c: Mark) -> bool {
    matches!(
        (open, c),
        (Mark::LeftDouble, Mark::RightDouble)
            | (Mark::LowDouble, Mark::LeftDouble)
            | (Mark::LowDouble, Mark::RightDouble)
            | (Mark::LeftGuillemet, Mark::RightGuillemet)
            | (Mark::LeftSingleGuillemet, Mark::RightSingleGuillemet)
            | (Mark::Straight, Mark::Straight)
            | (Mark::LeftSingle, Mark::RightSingle)
            | (Mark::LowSingle, Mark::LeftSingle)
            | (Mark::LowSingle, Mark::RightSingle)
            | (Mark::StraightSingle, Mark::StraightSingle)
            // Some outlets close a “ with another “, or a « with “ after a mistake.
            | (Mark::LeftDouble, Mark::Straight)
            | (Mark::Straight, Mark::RightDouble)
    )
}

fn is_opening(m: Mark) -> bool {
    matches!(
        m,
        Mark::LeftDouble
            | Mark::LowDouble
            | Mark::LeftGuillemet
            | Mark::LeftSingleGuillemet
            | Mark::Straight
            | Mark::LeftSingle
            | Mark::LowSingle
            | Mark::StraightSingle
    )
}

/// Whether a character is a quotation mark of any style.
pub fn is_quote_char(c: char) -> bool {
    mark(c).is_some()
}

/// Paragraphs: the non-empty lines of the text.
fn paragraphs(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let end = start + line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        let lead = content.len() - content.trim_start().len();
        let trimmed = content.trim();
        if !trimmed.is_empty() {
            out.push(start + lead..start + lead + trimmed.len());
        }
        start = end;
    }
    out
}

/// Finds top-level quotations, paragraph by paragraph, letting a quotation continue into
/// the following paragraphs when its closing mark is there.
fn quotations(text: &str, paragraphs: &[Range<usize>]) -> Vec<Quote> {
    let mut quotes = Vec::new();
    let mut p = 0;
    // (mark, byte offset) of the open quotations, outermost first.
    let mut stack: Vec<(Mark, usize)> = Vec::new();
    while p < paragraphs.len() {
        let range = paragraphs[p].clone();
        let para = &text[range.clone()];
        let chars: Vec<(usize, char)> = para.char_indices().collect();
        for (k, &(i, c)) in chars.iter().enumerate() {
            let Some(m) = mark(c) else { continue };
            let at = range.start + i;
            let before = if k > 0 { Some(chars[k - 1].1) } else { None };
            let after = chars.get(k + 1).map(|x| x.1);
            let letter = |x: Option<char>| x.is_some_and(is_word_char);
            // ’ between letters is an apostrophe (Ukraine’s, п’ять); ‘ likewise.
            let single = matches!(
                m,
                Mark::RightSingle | Mark::LeftSingle | Mark::StraightSingle
            );
            if single && letter(before) && letter(after) {
                continue;
            }
            if let Some(&(open, open_at)) = stack.last() {
                let apostrophe = matches!(m, Mark::RightSingle | Mark::StraightSingle)
                    && (letter(after) || before.is_none_or(char::is_whitespace));
                if closes(open, m) && !apostrophe {
                    stack.pop();
                    if stack.is_empty() {
                        quotes.push(Quote {
                            open: open_at,
                            inner: open_at + mark_len(text, open_at)..at,
                            end: at + c.len_utf8(),
                        });
                    }
                    continue;
                }
            }
            if is_opening(m) && stack.len() < 3 {
                // An opening mark is followed by text, not by a space.
                let opens = !(after.is_none_or(char::is_whitespace)
                    || matches!(m, Mark::LeftSingle | Mark::Straight | Mark::StraightSingle)
                        && letter(before)
                    || m == Mark::StraightSingle && !after.is_some_and(char::is_alphanumeric));
                if opens {
                    stack.push((m, at));
                }
            }
        }
        if let Some(&(open, open_at)) = stack.first() {
            // Unclosed at the end of the paragraph. Newspaper convention: a quotation that
            // goes on in the next paragraph reopens there; else look for its close further.
            let next_opens = paragraphs
                .get(p + 1)
                .and_then(|r| text[r.clone()].chars().next())
                .and_then(mark)
                .is_some_and(|m| m == open || is_opening(m));
            let closes_later = !next_opens
                && paragraphs[p + 1..paragraphs.len().min(p + 4)]
                    .iter()
                    .any(|r| {
                        text[r.clone()]
                            .chars()
                            .filter_map(mark)
                            .any(|m| closes(open, m))
                    });
            if closes_later {
                p += 1;
                continue;
            }
            quotes.push(Quote {
                open: open_at,
                inner: open_at + mark_len(text, open_at)..range.end,
                end: range.end,
            });
            stack.clear();
        }
        p += 1;
    }
    quotes.sort_by_key(|q| q.open);
    quotes
}

/// Splits a quotation that its author's words interrupt between dashes, the Ukrainian and
/// Russian convention: «Перша частина, — сказав він. — Друга частина». The pieces become
/// two quotations around the author's words, as "A," he said. "B." is written in English,
/// so that the cue between them attributes both. The first piece keeps its punctuation
/// and ends at the first dash; the second starts at the second dash.
fn split_interrupted(text: &str, quotes: Vec<Quote>) -> Vec<Quote> {
    let mut out = Vec::with_capacity(quotes.len());
    for quote in quotes {
        let mut rest = quote;
        while let Some(split) = interruption(text, &rest) {
            out.push(Quote {
                open: rest.open,
                inner: rest.inner.start..split.first_end,
                end: split.first_dash_end,
            });
            rest = Quote {
                open: split.second_dash,
                inner: split.second_start..rest.inner.end,
                end: rest.end,
            };
        }
        out.push(rest);
    }
    out
}

/// Where the author's words interrupt a quotation.
struct Interruption {
    /// End of the first piece (after its comma, `!`, `?` or `…`).
    first_end: usize,
    /// Just after the dash that opens the author's words.
    first_dash_end: usize,
    /// The dash that closes them.
    second_dash: usize,
    /// Start of the second piece.
    second_start: usize,
}

/// Longest run of the author's words between the dashes ("сказав речник Кремля журналістам").
const MAX_INTERRUPTION_WORDS: usize = 8;

fn interruption(text: &str, quote: &Quote) -> Option<Interruption> {
    let inner = &text[quote.inner.clone()];
    let is_dash = |c: char| matches!(c, '—' | '–');
    let mut search = 0;
    while let Some(found) = inner[search..].find(['—', '–']) {
        let dash = search + found;
        let dash_len = inner[dash..].chars().next().map_or(1, char::len_utf8);
        search = dash + dash_len;
        // "Piece, — " : punctuation, space, the dash, space.
        let before = inner[..dash].trim_end();
        let Some(last) = before.chars().last() else {
            continue;
        };
        if before.len() == dash || !matches!(last, ',' | '!' | '?' | '…') {
            continue;
        }
        let after = &inner[dash + dash_len..];
        if !after.starts_with(char::is_whitespace) {
            continue;
        }
        let words_start = dash + dash_len + (after.len() - after.trim_start().len());
        // The author's words: lowercase, short, no quotation marks, up to ". — ", ", — " or ": — ".
        let words = &inner[words_start..];
        if !words.chars().next().is_some_and(char::is_lowercase) {
            continue;
        }
        let Some(stop) = words.find(|c: char| {
            matches!(c, '.' | ',' | ':' | '!' | '?') || is_dash(c) || mark(c).is_some()
        }) else {
            continue;
        };
        if !matches!(words[stop..].chars().next(), Some('.' | ',' | ':')) {
            continue;
        }
        let segment = &words[..stop];
        let count = segment.split_whitespace().count();
        let said = segment.split_whitespace().any(|word| {
            super::lexicon::cues()
                .get(&fold_str(word))
                .is_some_and(|cues| {
                    cues.iter().any(|cue| {
                        cue.words.len() == 1
                            && matches!(
                                cue.class,
                                super::lexicon::CueClass::Say | super::lexicon::CueClass::Urge
                            )
                    })
                })
        });
        if count == 0 || count > MAX_INTERRUPTION_WORDS || !said {
            continue;
        }
        // Then whitespace, the closing dash, whitespace and the second piece.
        let tail = &words[stop + 1..];
        let trimmed = tail.trim_start();
        if trimmed.len() == tail.len() || !trimmed.starts_with(is_dash) {
            continue;
        }
        let second_dash = words_start + stop + 1 + (tail.len() - trimmed.len());
        let second_dash_len = trimmed.chars().next().map_or(1, char::len_utf8);
        let second = &inner[second_dash + second_dash_len..];
        let second_text = second.trim_start();
        if second_text.len() == second.len() || second_text.is_empty() {
            continue;
        }
        let base = quote.inner.start;
        return Some(Interruption {
            first_end: base + before.len(),
            first_dash_end: base + dash + dash_len,
            second_dash: base + second_dash,
            second_start: base + second_dash + second_dash_len + (second.len() - second_text.len()),
        });
    }
    None
}

fn mark_len(text: &str, at: usize) -> usize {
    text[at..].chars().next().map_or(1, char::len_utf8)
}

/// Abbreviations after which a period does not end a sentence (folded).
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "gen", "col", "lt", "sgt", "st", "jr", "sr", "prof", "gov", "sen",
    "rep", "no", "vs", "etc", "jan", "feb", "mar", "apr", "aug", "sep", "sept", "oct", "nov",
    "dec", "u.s", "u.k", "e.g", "i.e", "approx", "inc", "ltd", "corp", "co", "maj", "capt", "adm",
    "cmdr", "gov", "pres", "amb", "т", "д", "ст", "им", "г", "гг", "р", "рр", "млн", "млрд", "тис",
    "тыс", "см", "див", "обл", "п", "пп", "ч", "вул", "ул", "проф", "акад", "ген", "м", "км",
    "грн", "руб", "дол", "долл",
];

/// Tokenises, finds quotations and splits sentences.
pub fn analyse(text: &str) -> Analysed {
    let paragraphs = paragraphs(text);
    let quotes = split_interrupted(text, quotations(text, &paragraphs));
    let mut tokens = Vec::new();
    for (index, range) in paragraphs.iter().enumerate() {
        tokenize(text, range.clone(), index, &mut tokens);
    }
    // Mark the tokens inside each quotation.
    let mut q = 0;
    for token in &mut tokens {
        while q < quotes.len() && quotes[q].end <= token.start {
            q += 1;
        }
        if let Some(quote) = quotes.get(q)
            && token.start >= quote.inner.start
            && token.end <= quote.inner.end
        {
            token.quote = Some(q);
        }
    }
    let sentences = sentences(text, &tokens, &quotes);
    Analysed {
        paragraphs,
        tokens,
        quotes,
        sentences,
    }
}

fn tokenize(text: &str, range: Range<usize>, paragraph: usize, out: &mut Vec<Token>) {
    let slice = &text[range.clone()];
    let chars: Vec<(usize, char)> = slice.char_indices().collect();
    let mut k = 0;
    while k < chars.len() {
        let (i, c) = chars[k];
        if c.is_whitespace() {
            k += 1;
            continue;
        }
        let start = range.start + i;
        if is_word_char(c) {
            let mut j = k + 1;
            while j < chars.len() {
                let d = chars[j].1;
                if is_word_char(d) {
                    j += 1;
                    continue;
                }
                let next = chars.get(j + 1).map(|x| x.1);
                let joiner = is_apostrophe(d) || d == '-' || d == '\u{2010}' || d == '\u{2011}';
                if joiner && next.is_some_and(is_word_char) {
                    // English possessive 's stays a token of its own.
                    let possessive = is_apostrophe(d)
                        && matches!(next, Some('s' | 'S'))
                        && !chars.get(j + 2).is_some_and(|x| is_word_char(x.1));
                    if possessive {
                        break;
                    }
                    j += 2;
                    continue;
                }
                break;
            }
            let end = range.start + chars.get(j).map_or(slice.len(), |x| x.0);
            out.push(Token {
                start,
                end,
                text: fold_str(&text[start..end]),
                word: true,
                capitalized: c.is_uppercase(),
                paragraph,
                quote: None,
            });
            k = j;
        } else {
            let end = start + c.len_utf8();
            // A possessive 's: one token.
            if is_apostrophe(c)
                && matches!(chars.get(k + 1).map(|x| x.1), Some('s' | 'S'))
                && !chars.get(k + 2).is_some_and(|x| is_word_char(x.1))
                && k > 0
                && is_word_char(chars[k - 1].1)
            {
                let end = end + 1;
                out.push(Token {
                    start,
                    end,
                    text: "'s".into(),
                    word: false,
                    capitalized: false,
                    paragraph,
                    quote: None,
                });
                k += 2;
                continue;
            }
            out.push(Token {
                start,
                end,
                text: fold_str(&text[start..end]),
                word: false,
                capitalized: false,
                paragraph,
                quote: None,
            });
            k += 1;
        }
    }
}

fn is_terminal(text: &str) -> bool {
    matches!(text, "." | "!" | "?" | "…")
}

fn sentences(text: &str, tokens: &[Token], quotes: &[Quote]) -> Vec<Sentence> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let close_sentence = |out: &mut Vec<Sentence>, from: usize, to: usize| {
        if to > from {
            out.push(Sentence {
                tokens: from..to,
                paragraph: tokens[from].paragraph,
            });
        }
    };
    while i < tokens.len() {
        let token = &tokens[i];
        let next = tokens.get(i + 1);
        // A paragraph break ends a sentence unless a quotation goes on across it.
        if let Some(next) = next
            && next.paragraph != token.paragraph
        {
            let spans = token.quote.is_some() && token.quote == next.quote;
            if !spans {
                close_sentence(&mut out, start, i + 1);
                start = i + 1;
            }
            i += 1;
            continue;
        }
        if token.quote.is_none() && is_terminal(&token.text) {
            // Skip closing marks and brackets after the terminal.
            let mut j = i + 1;
            while j < tokens.len()
                && !tokens[j].word
                && (tokens[j].text == ")" || is_closing_mark_at(text, quotes, tokens[j].start))
            {
                j += 1;
            }
            let ends = match tokens.get(j) {
                None => true,
                Some(n) => {
                    n.paragraph != token.paragraph
                        || n.capitalized
                        || n.text.chars().next().is_some_and(|c| c.is_ascii_digit())
                        || is_opening_mark_at(quotes, n.start)
                        || matches!(n.text.as_str(), "-" | "(")
                }
            };
            let abbreviation = i > 0
                && token.text == "."
                && tokens[i - 1].end == token.start
                && (ABBREVIATIONS.contains(&tokens[i - 1].text.as_str())
                    || (tokens[i - 1].word
                        && tokens[i - 1].text.chars().count() == 1
                        && tokens[i - 1].capitalized));
            if ends && !abbreviation {
                close_sentence(&mut out, start, j);
                start = j;
                i = j;
                continue;
            }
        }
        // A quotation ending in a terminal, followed by a capital, ends the sentence.
        if let Some(q) = token.quote
            && is_terminal(&token.text)
            && tokens
                .get(i + 1)
                .is_some_and(|n| n.quote != Some(q) && n.start >= quotes[q].inner.end)
        {
            let close = i + 1;
            let after = close + usize::from(tokens[close].start < quotes[q].end);
            if let Some(n) = tokens.get(after)
                && n.paragraph == token.paragraph
                && (n.capitalized || is_opening_mark_at(quotes, n.start))
            {
                close_sentence(&mut out, start, after);
                start = after;
                i = after;
                continue;
            }
        }
        i += 1;
    }
    close_sentence(&mut out, start, tokens.len());
    out
}

fn is_closing_mark_at(text: &str, quotes: &[Quote], at: usize) -> bool {
    quotes
        .iter()
        .any(|q| q.inner.end == at && q.end > at && text[at..q.end].chars().count() == 1)
}

fn is_opening_mark_at(quotes: &[Quote], at: usize) -> bool {
    quotes.iter().any(|q| q.open == at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(text: &str) -> Vec<String> {
        let a = analyse(text);
        a.quotes
            .iter()
            .map(|q| text[q.inner.clone()].to_string())
            .collect()
    }

    #[test]
    fn finds_quotations_of_every_style() {
        assert_eq!(quoted("He said: “We will win.” Then"), ["We will win."]);
        assert_eq!(
            quoted("Він сказав: «Ми „переможемо“ скоро»."),
            ["Ми „переможемо“ скоро"]
        );
        assert_eq!(quoted("Er sagte: „Wir gewinnen“."), ["Wir gewinnen"]);
        assert_eq!(quoted("\"Yes,\" he said, \"and no.\""), ["Yes,", "and no."]);
        assert_eq!(quoted("‹Oui›, dit-il."), ["Oui"]);
        assert_eq!(
            quoted("Ukraine’s ‘plan’ is ‘good’ and Kyiv’s too."),
            ["plan", "good"]
        );
    }

    #[test]
    fn quotations_span_paragraphs() {
        let text = "“First part of it,\nand the second part,” he said.\n“Next.”";
        assert_eq!(
            quoted(text),
            ["First part of it,\nand the second part,", "Next."]
        );
        // Reopened in the next paragraph: two quotations.
        let text = "“One paragraph.\n“Two paragraphs,” he said.";
        assert_eq!(quoted(text), ["One paragraph.", "Two paragraphs,"]);
    }

    #[test]
    fn sentences_do_not_split_quotations_or_abbreviations() {
        let text =
            "“We do this. It works,” Mr. Rutte said in the U.S. on Monday. He left.\nNew one.";
        let a = analyse(text);
        let s: Vec<String> = a
            .sentences
            .iter()
            .map(|s| {
                text[a.tokens[s.tokens.start].start..a.tokens[s.tokens.end - 1].end].to_string()
            })
            .collect();
        assert_eq!(
            s,
            [
                "“We do this. It works,” Mr. Rutte said in the U.S. on Monday.",
                "He left.",
                "New one."
            ]
        );
    }
}
