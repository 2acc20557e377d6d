//! The readability pass: Mozilla Readability's algorithm as ported by `dom_smoothie`, run on
//! an already parsed document. Its choice of the main content is one candidate among
//! several; [`super::judge`] decides whether to keep it.

use dom_query::Document;
use dom_smoothie::{Config, Readability, TextMode};

use super::render;

/// What the readability pass found.
#[derive(Debug, Default)]
pub struct ReadabilityOutput {
    /// The article text, rendered by [`render::render`].
    pub text: String,
    /// The title readability settled on.
    pub title: String,
    /// Byline from metadata or a byline-looking element.
    pub byline: Option<String>,
    /// Publication time as written in the page.
    pub published: Option<String>,
    /// The `lang` attribute of the page.
    pub lang: Option<String>,
}

/// Runs readability on `document` (which it consumes: readability rewrites the tree).
pub fn run(document: Document, url: Option<&str>) -> Option<ReadabilityOutput> {
    let config = Config {
        text_mode: TextMode::Raw,
        ..Config::default()
    };
    let mut readability = Readability::with_document(document, url, Some(config)).ok()?;
    let article = readability.parse().ok()?;
    let root = readability.doc.select_single("#readability-page-1");
    let text = root.nodes().first().map(render::render).unwrap_or_default();
    Some(ReadabilityOutput {
        text,
        title: article.title,
        byline: article.byline,
        published: article.published_time,
        lang: article.lang,
    })
}
