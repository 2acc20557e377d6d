//! The extraction pipeline and its judge: metadata first (from the untouched page), then the
//! configured overrides, then furniture removal, then the candidates (readability's choice,
//! the page's JSON-LD `articleBody`, the element marked `itemprop=articleBody`, the densest
//! prose block), and a decision between them based on how much prose each holds.

use dom_query::Document;
use url::Url;

use super::metadata::{self, PageMetadata};
use super::overrides::{self, Overrides};
use super::{Article, ArticleSource, candidates, clean, readability, trim};

/// Text length (characters) above which an element named like furniture is kept anyway.
const FURNITURE_KEEP_OVER: usize = 1500;

/// The outcome of extracting one page.
#[derive(Debug, Clone)]
pub struct Extraction {
    /// The article (its `source` names the page URL when one was given).
    pub article: Article,
    /// Which strategy produced the text (`selector`, `readability`, `json-ld`, `itemprop`,
    /// `densest`).
    pub strategy: &'static str,
    /// What the page says about itself (canonical and AMP links included).
    pub metadata: PageMetadata,
    /// Set when a body selector was configured but matched no text.
    pub override_missed: bool,
}

/// Runs the whole pipeline on one page's HTML. Pure: no I/O, no logging.
pub fn extract(html: &str, url: Option<&Url>, overrides: &Overrides) -> Extraction {
    let mut readability = readability::prepare(Document::from(html));
    let metadata = metadata::read(&readability);
    let document = &readability.doc;
    overrides::apply_removals(document, overrides);
    let mut override_missed = false;
    let mut chosen: Option<(&'static str, String)> = None;
    if overrides.body.is_some() {
        match overrides::body_text(document, overrides) {
            Some(text) => chosen = Some(("selector", text)),
            None => override_missed = true,
        }
    }
    if chosen.is_none() {
        clean::remove_furniture(document, FURNITURE_KEEP_OVER);
        let marked = candidates::marked_body(document);
        let densest = candidates::densest_block(document);
        let main = readability::main_text(&mut readability);
        chosen = Some(judge(main, &metadata, marked, densest));
    }
    let (strategy, text) = chosen.unwrap_or(("readability", String::new()));
    let article = Article {
        title: metadata.title.clone(),
        byline: metadata.byline.clone(),
        published: metadata.published,
        lang: metadata.lang.clone(),
        text: trim::trim_paragraphs(&text, metadata.title.as_deref()),
        source: ArticleSource::Page {
            url: url.map(Url::to_string).unwrap_or_default(),
        },
    };
    Extraction {
        article,
        strategy,
        metadata,
        override_missed,
    }
}

/// Characters of text below which readability's choice is taken as a failure.
const FAILED_BELOW: usize = 250;

fn judge(
    main: String,
    metadata: &PageMetadata,
    marked: Option<candidates::Candidate>,
    densest: Option<candidates::Candidate>,
) -> (&'static str, String) {
    let main_length = main.chars().count();
    if main_length < FAILED_BELOW {
        // Readability found (almost) nothing: a consent wall, a gallery page, an odd
        // layout. Take the longest alternative.
        let json_ld = metadata
            .json_ld_body
            .clone()
            .map(|text| candidates::Candidate {
                strategy: "json-ld",
                text,
            });
        let best = [marked, densest, json_ld]
            .into_iter()
            .flatten()
            .max_by_key(|c| c.text.chars().count());
        return match best {
            Some(best) if best.text.chars().count() > main_length => (best.strategy, best.text),
            _ => ("readability", main),
        };
    }
    if let Some(densest) = densest {
        // The densest block is the same article without readability's additions (a
        // caption, a boilerplate "about us", a teaser): keep the cleaner one.
        let length = densest.text.chars().count();
        if length < main_length
            && length * 10 >= main_length * 9
            && is_part_of(&densest.text, &main)
        {
            return (densest.strategy, densest.text);
        }
    }
    ("readability", main)
}

/// Whether `part`'s first and last paragraphs occur in `whole`.
fn is_part_of(part: &str, whole: &str) -> bool {
    let paragraphs: Vec<&str> = part.split("\n\n").collect();
    match (paragraphs.first(), paragraphs.last()) {
        (Some(first), Some(last)) => whole.contains(first) && whole.contains(last),
        _ => false,
    }
}
