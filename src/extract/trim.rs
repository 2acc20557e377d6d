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
    Regex::new(r"(?i)^(?:by|von|par|por|di|door|автор|від)\s+\p{Lu}").expect("constant regex")
});

/// Removes furniture paragraphs from `text` (paragraphs separated by a blank line).
pub fn trim_paragraphs(text: &str) -> String {
    let paragraphs: Vec<&str> = text.split("\n\n").collect();
    let keep: Vec<bool> = paragraphs.iter().map(|p| !is_furniture(p)).collect();
    let mut kept: Vec<&str> = paragraphs
        .iter()
        .zip(&keep)
        .filter(|(_, keep)| **keep)
        .map(|(p, _)| *p)
        .collect();
    // Metadata at the edges: datelines and bylines before the first real paragraph and
    // after the last.
    while kept.first().is_some_and(|p| is_edge_metadata(p)) {
        kept.remove(0);
    }
    while kept.last().is_some_and(|p| is_edge_metadata(p)) {
        kept.pop();
    }
    kept.join("\n\n")
}

fn word_count(paragraph: &str) -> usize {
    paragraph.split_whitespace().count()
}

fn is_furniture(paragraph: &str) -> bool {
    let paragraph = paragraph.trim();
    word_count(paragraph) <= SHORT_WORDS && FURNITURE.is_match(paragraph)
}

fn is_edge_metadata(paragraph: &str) -> bool {
    let paragraph = paragraph.trim();
    let words = word_count(paragraph);
    if words > SHORT_WORDS {
        return false;
    }
    let sentence = paragraph.ends_with(['.', '!', '?', '"', '”', '»']) && words > 6;
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
            trim_paragraphs(text),
            "Rutte said the talks would resume in spring, according to officials.\n\n\
             The second paragraph of the story is here."
        );
    }

    #[test]
    fn short_sentences_inside_the_text_stay() {
        let text = "First paragraph of a story.\n\nIn 2019, he said no.\n\nLast one.";
        assert_eq!(trim_paragraphs(text), text);
    }
}
