//! Where the rules stage gets an article's text from a web page. Attribution and
//! `newshound test` call extraction through this one function, so switching to another
//! extractor is a change here only.

use scraper::{Html, Selector};

/// The readable parts of a page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageText {
    /// The headline, as the article extractor finds it.
    pub title: String,
    /// The article text, paragraphs separated by blank lines.
    pub text: String,
}

/// Extracts the headline and text of an HTML page with the article extractor (the same
/// one the daemon uses), falling back to the page's `<article>`/`<main>`/`<body>` text when
/// the extractor finds none.
pub fn page_text(html: &str) -> PageText {
    let overrides = crate::extract::Overrides::default();
    match crate::extract::extract_html(html, None, &overrides) {
        Ok(article) if !article.text.trim().is_empty() => PageText {
            title: article.title.unwrap_or_default(),
            text: article.text,
        },
        _ => fallback_page_text(html),
    }
}

fn fallback_page_text(html: &str) -> PageText {
    let document = Html::parse_document(html);
    let first = |selector: &str, attribute: Option<&str>| -> Option<String> {
        let selector = Selector::parse(selector).ok()?;
        let element = document.select(&selector).next()?;
        let value = match attribute {
            Some(name) => element.value().attr(name)?.to_string(),
            None => element.text().collect::<String>(),
        };
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        (!value.is_empty()).then_some(value)
    };
    let title = first("meta[property='og:title']", Some("content"))
        .or_else(|| first("h1", None))
        .or_else(|| first("title", None))
        .unwrap_or_default();
    let body = first_html(&document, "article")
        .or_else(|| first_html(&document, "main"))
        .or_else(|| first_html(&document, "body"))
        .unwrap_or_else(|| html.to_string());
    let mut text = crate::extract::html_to_text(&body);
    // The headline is usually repeated as the first paragraph of the body.
    if let Some(rest) = text.strip_prefix(title.as_str()) {
        text = rest.trim_start().to_string();
    }
    PageText { title, text }
}

fn first_html(document: &Html, selector: &str) -> Option<String> {
    let selector = Selector::parse(selector).ok()?;
    document.select(&selector).next().map(|e| e.inner_html())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_headline_and_article_text() {
        let page = page_text(
            "<html><head><title>Rutte: talks must go on | Site News</title></head><body><nav>Menu</nav><article>\
             <h1>Rutte: talks must go on</h1><p>He said <b>so</b>.</p><p>Second.</p>\
             </article></body></html>",
        );
        assert_eq!(page.title, "Rutte: talks must go on");
        assert_eq!(page.text, "He said so.\n\nSecond.");
    }
}
