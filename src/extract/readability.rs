//! The readability pass: Mozilla Readability's algorithm as ported by `dom_smoothie`. Its
//! choice of the main content is one candidate among several; [`super::judge`] decides
//! whether to keep it.

use dom_query::Document;
use dom_smoothie::{Config, Readability, TextMode};

use super::render;

/// Wraps a parsed document for readability (and for reading its metadata first). No page
/// URL is given: readability only uses it to absolutise links, and links are never part of
/// the text.
pub fn prepare(document: Document) -> Readability {
    Readability {
        doc: document,
        doc_url: None,
        config: Config {
            text_mode: TextMode::Raw,
            ..Config::default()
        },
    }
}

/// Runs readability and renders the content it chose; empty when it found nothing.
pub fn main_text(readability: &mut Readability) -> String {
    if readability.parse().is_err() {
        return String::new();
    }
    let root = readability.doc.select_single("#readability-page-1");
    root.nodes().first().map(render::render).unwrap_or_default()
}
