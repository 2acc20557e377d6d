//! Paragraph-level clean-up of an extracted text: the short lines that survive element
//! removal because nothing in the markup marks them (a dateline in a plain `<p>`, "Advert",
//! "Join the conversation", a photo credit, a copyright line).
//!
//! A paragraph is dropped only when it is short and either matches a furniture pattern or
//! sits at the very start or end of the text and reads as metadata (a date, "By ..."). Long
//! paragraphs are never touched.

use std::sync::LazyLock;

use regex::Regex;

/// Words in a paragraph above which it is never treated as furniture.
const SHORT_WORDS: usize = 14;

/// How many leading paragraphs are looked at for datelines, bylines and the headline.
const LEADING: usize = 5;

/// Whole-paragraph furniture, case-insensitive.
static FURNITURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^(?:
            advert(?:isement)?s? | sponsored(?:\s+content)? | \d*\s*comments? | comments?\s+\(\d+\) |
            (?:join|start)\s+the\s+(?:conversation|discussion).* | tell\s+us\s+what\s+you\s+think.* |
            (?:leave|post|add)\s+a\s+(?:comment|reply).* | share\s+(?:this|on|via).* |
            (?:follow|like)\s+us\b.* | sign\s+up\b.* | subscribe\b.{0,60} |
            (?:read|see|click)\s+(?:more|also|here)\b.{0,80} | related(?:\s+(?:articles?|stories|posts|coverage))?:?.{0,80} |
            (?:photo|image|picture|video|graphic|illustration)s?\s*(?:credit)?\s*:.* |
            (?:image|photo|slide)\s+\d+\s+(?:of|/)\s*\d+.* | (?:caption|close|enlarge|expand|hide\s+caption|toggle\s+caption) |
            (?:©|\(c\)|copyright\b).* | all\s+rights\s+reserved.* |
            this\s+(?:slideshow|video|content)\s+requires\s+javascript.* |
            want\s+more\s+stories\s+like\s+this.* | (?:tags?|filed\s+under|categories)\s*[:|].*
        )$",
    )
    .expect("constant regex")
});

/// A date or time somewhere in a paragraph.
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        \b(?:19|20)\d{2}\b | \b\d{1,2}:\d{2}\b | \b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b |
        \b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b |
        \b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]* |
        \b(?:updated|published|posted|last\s+modified)\b | \b\d+\s+(?:minutes?|hours?|days?)\s+ago\b
        ",
    )
    .expect("constant regex")
});

/// A byline: "By Jane Doe", "By Jane Doe and John Roe, Reuters".
static BYLINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[Bb]y|BY|[Vv]on|[Pp]ar|[Pp]or|[Dd]i|[Dd]oor|[Аа]втор|[Вв]ід)\s+\p{Lu}")
        .expect("constant regex")
});

/// A "Tags: a, b, c" line, whatever its length.
static TAG_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:tags?|tagged|schlagwörter|теги|мітки|etiquetas|tag)\s*[:|]")
        .expect("constant regex")
});

/// Removes furniture paragraphs from `text` (paragraphs separated by a blank line), and
/// the headline when the text repeats it at the top.
pub fn trim_paragraphs(text: &str, title: Option<&str>) -> String {
    let mut kept: Vec<&str> = text.split("\n\n").filter(|p| !is_furniture(p)).collect();
    // Metadata at the start: datelines, bylines and the repeated headline among the short
    // paragraphs before the first long one.
    let mut index = 0;
    while index < kept.len().min(LEADING) && word_count(kept[index]) <= SHORT_WORDS {
        if is_edge_metadata(kept[index]) || title.is_some_and(|t| repeats_title(kept[index], t)) {
            kept.remove(index);
        } else {
            index += 1;
        }
    }
    while kept.last().is_some_and(|p| is_edge_metadata(p)) {
        kept.pop();
    }
    kept.join("\n\n")
}

/// Letters and digits only, lower case: what is compared when looking for the headline.
fn comparable(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn repeats_title(paragraph: &str, title: &str) -> bool {
    let paragraph = comparable(paragraph);
    let title = comparable(title);
    !paragraph.is_empty()
        && (paragraph == title
            || (paragraph.len() >= 20 && title.contains(&paragraph))
            || (title.len() >= 20
                && paragraph.contains(&title)
                && paragraph.len() <= title.len() + 40))
}

fn word_count(paragraph: &str) -> usize {
    paragraph.split_whitespace().count()
}

fn is_furniture(paragraph: &str) -> bool {
    let paragraph = paragraph.trim();
    if TAG_LINE.is_match(paragraph) {
        return true;
    }
    word_count(paragraph) <= SHORT_WORDS && FURNITURE.is_match(paragraph)
}

fn is_edge_metadata(paragraph: &str) -> bool {
    let paragraph = paragraph.trim();
    let words = word_count(paragraph);
    if words > SHORT_WORDS {
        return false;
    }
    // Datelines and bylines are not sentences; "In 2019, he said no." is.
    let sentence = paragraph.ends_with(['.', '!', '?', '"', '”', '»', '…', ')']);
    !sentence && (DATE.is_match(paragraph) || BYLINE.is_match(paragraph))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn furniture_and_edge_metadata_go() {
        let text = "By Jane Doe - 11/18/19 11:04 PM EST\n\nUpdated Nov 19, 9:41 AM\n\n\
            Rutte said the talks would resume in spring, according to officials.\n\n\
            Advertisement\n\nThe second paragraph of the story is here.\n\nPhoto: AP\n\n\
            Join the conversation...\n\n© 2019 The Paper. All rights reserved.";
        assert_eq!(
            trim_paragraphs(text, None),
            "Rutte said the talks would resume in spring, according to officials.\n\n\
             The second paragraph of the story is here."
        );
    }

    #[test]
    fn bylines_need_a_capitalised_name() {
        assert!(BYLINE.is_match("By Jane Doe and John Roe"));
        assert!(BYLINE.is_match("Від Олени Коваленко"));
        assert!(!BYLINE.is_match("by the way, nothing"));
    }

    #[test]
    fn short_sentences_inside_the_text_stay() {
        let text = "First paragraph of a story.\n\nIn 2019, he said no.\n\nLast one.";
        assert_eq!(trim_paragraphs(text, None), text);
    }

    #[test]
    fn a_repeated_headline_and_tag_lines_go() {
        let text = "Rutte backs peace talks\n\nThe secretary general said on Friday that talks deserve support from every member state.\n\n\
            Tags: NATO, Rutte, peace talks, Ukraine, diplomacy, Brussels, summit, ministers, defence, security, guarantees, ceasefire, Geneva";
        assert_eq!(
            trim_paragraphs(text, Some("Rutte backs peace talks | The Paper")),
            "The secretary general said on Friday that talks deserve support from every member state."
        );
    }
}
