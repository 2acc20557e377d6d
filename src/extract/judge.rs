//! The extraction pipeline and its judge: metadata first (from the untouched page), then the
//! configured overrides, then furniture removal, then the candidates (readability's choice,
//! the page's JSON-LD `articleBody`, the element marked `itemprop=articleBody`, the densest
//! prose block), and a decision between them based on how much prose each holds.

use dom_query::Document;
use url::Url;

use super::metadata::{self, PageMetadata};
use super::overrides::{self, Overrides};
use super::{Article, ArticleSource, ExtractError, candidates, clean, readability, trim};

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

/// Deepest element nesting a page may have to be extracted. The cleaning passes and the
/// readability scorer recurse once per level, so a hostile page nesting tens of thousands of
/// `<div>`s would overflow the worker thread's stack and abort the daemon. Browsers stop
/// nesting at the same depth (Chromium's parser attaches deeper elements to the 512th).
pub const MAX_NESTING: usize = 512;

/// Whether an element of `document` lies more than `limit` elements deep. Iterative, for
/// the reason [`MAX_NESTING`] exists.
fn nests_deeper_than(document: &Document, limit: usize) -> bool {
    let mut pending = vec![(document.root(), 0usize)];
    while let Some((node, depth)) = pending.pop() {
        if depth > limit {
            return true;
        }
        pending.extend(
            node.children_it(false)
                .filter(|child| child.is_element())
                .map(|child| (child, depth + 1)),
        );
    }
    false
}

/// Runs the whole pipeline on one page's HTML. Pure: no I/O, no logging.
pub fn extract(
    html: &str,
    url: Option<&Url>,
    overrides: &Overrides,
) -> Result<Extraction, ExtractError> {
    // The estimate first: parsing itself is quadratic in the nesting depth.
    if super::nesting::nests_deeper_than(html, 2 * MAX_NESTING) {
        return Err(ExtractError::TooDeep { limit: MAX_NESTING });
    }
    let document = Document::from(html);
    if nests_deeper_than(&document, MAX_NESTING) {
        return Err(ExtractError::TooDeep { limit: MAX_NESTING });
    }
    let mut readability = readability::prepare(document);
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
        clean::protect_embedded_posts(document);
        clean::remove_furniture(document, FURNITURE_KEEP_OVER);
        clean::remove_nested_articles(document);
        let marked = candidates::marked_body(document);
        let densest = candidates::densest_block(document);
        // The whole (cleaned) page is the last resort, rendered only when the page has no
        // block of prose: readability is then likely to fail too.
        let whole = match &densest {
            Some(d) if d.text.chars().count() >= FAILED_BELOW => None,
            _ => candidates::whole_page(document),
        };
        let main = readability::main_text(&mut readability);
        chosen = Some(judge(main, &metadata, marked, densest, whole));
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
    Ok(Extraction {
        article,
        strategy,
        metadata,
        override_missed,
    })
}

/// Characters of text below which readability's choice is taken as a failure.
const FAILED_BELOW: usize = 250;

fn judge(
    main: String,
    metadata: &PageMetadata,
    marked: Option<candidates::Candidate>,
    densest: Option<candidates::Candidate>,
    whole: Option<candidates::Candidate>,
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
            .max_by_key(|c| c.text.chars().count())
            .filter(|c| c.text.chars().count() >= FAILED_BELOW)
            .or(whole)
            .filter(|c| !c.text.trim().is_empty());
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

#[cfg(test)]
mod tests {
    use super::*;

    const PARAGRAPH: &str = "The secretary general said on Friday that the ceasefire talks planned for next month deserved the support of every member state, and that he would attend in person.";

    fn page(body: &str) -> String {
        format!("<html><head><title>Talks</title></head><body>{body}</body></html>")
    }

    #[test]
    fn readability_text_is_used_and_furniture_is_not() {
        let html = page(&format!(
            "<nav><a href='/'>Home</a><a href='/w'>World</a></nav><article><p>{PARAGRAPH}</p><p>{PARAGRAPH}</p>\
             <div class='newsletter'>Sign up for our newsletter</div><p>{PARAGRAPH}</p></article>\
             <footer>© 2025 Example</footer>"
        ));
        let extraction = extract(&html, None, &Overrides::default()).expect("extracts");
        assert_eq!(extraction.article.text, [PARAGRAPH; 3].join("\n\n"));
        assert!(!extraction.override_missed);
    }

    #[test]
    fn a_failed_readability_pass_falls_back_to_the_json_ld_body() {
        // Nothing in the markup but a short teaser; the JSON-LD has the whole article.
        let html = format!(
            "<html><head><script type='application/ld+json'>{{\"@context\":\"https://schema.org\",\"@type\":\"NewsArticle\",\"headline\":\"Talks\",\"articleBody\":\"{PARAGRAPH} {PARAGRAPH}\"}}</script></head>\
             <body><div id='app'><p>Loading…</p></div></body></html>"
        );
        let extraction = extract(&html, None, &Overrides::default()).expect("extracts");
        assert_eq!(extraction.strategy, "json-ld");
        assert_eq!(extraction.article.text, format!("{PARAGRAPH} {PARAGRAPH}"));
    }

    #[test]
    fn a_body_selector_wins_and_a_missing_one_is_reported() {
        let html = page(&format!(
            "<article><p>{PARAGRAPH}</p><p class='aside'>An aside that is not the story.</p></article>"
        ));
        let selected = Overrides {
            body: Some("article p:first-child".into()),
            ..Overrides::default()
        };
        let extraction = extract(&html, None, &selected).expect("extracts");
        assert_eq!(extraction.strategy, "selector");
        assert_eq!(extraction.article.text, PARAGRAPH);
        let missing = Overrides {
            body: Some("div.story".into()),
            ..Overrides::default()
        };
        let extraction = extract(&html, None, &missing).expect("extracts");
        assert!(extraction.override_missed);
        assert_ne!(extraction.strategy, "selector");
        assert!(extraction.article.text.starts_with(PARAGRAPH));
    }

    #[test]
    fn a_page_without_prose_blocks_still_gives_its_text() {
        let html = page(
            "<div><div>NATO statement, 14 March</div><div>1. The Council met today in Brussels</div>\
             <div>2. Ministers agreed to support the talks</div><div>3. Guarantees remain essential</div></div>",
        );
        let extraction = extract(&html, None, &Overrides::default()).expect("extracts");
        assert!(
            extraction
                .article
                .text
                .contains("Ministers agreed to support the talks"),
            "{:?}",
            extraction
        );
    }

    #[test]
    fn garbage_input_gives_empty_text_not_a_panic() {
        for html in [
            "",
            "<",
            "\u{0}\u{1}binary",
            "<html><body></body></html>",
            "<p>short</p>",
        ] {
            let extraction = extract(html, None, &Overrides::default()).expect("extracts");
            assert!(extraction.article.text.len() < 10, "{html:?}");
        }
    }

    #[test]
    fn hostile_nesting_is_refused_but_deep_real_pages_extract() {
        let page = |depth: usize| {
            format!(
                "<html><body>{}<p>{PARAGRAPH}</p><p>{PARAGRAPH}</p>{}</body></html>",
                "<div>".repeat(depth),
                "</div>".repeat(depth)
            )
        };
        // html and body are two levels; the paragraphs one more.
        let deep = page(MAX_NESTING - 3);
        let extraction = extract(&deep, None, &Overrides::default()).expect("extracts");
        assert!(extraction.article.text.contains(PARAGRAPH));
        // Past the limit but under the pre-parse estimate's: refused by the exact check.
        assert!(matches!(
            extract(&page(700), None, &Overrides::default()),
            Err(ExtractError::TooDeep { limit: MAX_NESTING })
        ));
        // Far past it: refused before parsing.
        let hostile = page(5_000);
        assert!(matches!(
            extract(&hostile, None, &Overrides::default()),
            Err(ExtractError::TooDeep { limit: MAX_NESTING })
        ));
    }
}
