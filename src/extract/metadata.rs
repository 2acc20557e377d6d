//! Title, byline, publication date and language of a page, read before any clean-up
//! touches the document: JSON-LD, then `<meta>` (OpenGraph, Dublin Core, `article:*`,
//! `parsely-*`), then the page's own markup (`<title>` and headings, a byline element,
//! `<time>`, `<html lang>`). Also the JSON-LD `articleBody`, which some publishers ship
//! complete and clean.

use dom_query::{Document, NodeRef};
use dom_smoothie::Readability;
use jiff::Timestamp;

use super::render::is_hidden;

/// What the page says about itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageMetadata {
    /// Headline.
    pub title: Option<String>,
    /// Author line.
    pub byline: Option<String>,
    /// Publication instant.
    pub published: Option<Timestamp>,
    /// Language code as the page writes it (`en`, `uk-UA`).
    pub lang: Option<String>,
    /// The `articleBody` of the page's JSON-LD `Article`, as plain text.
    pub json_ld_body: Option<String>,
    /// `<link rel=canonical>`.
    pub canonical: Option<String>,
    /// `<link rel=amphtml>`.
    pub amp: Option<String>,
    /// Whether the page is itself an AMP page (`<html amp>` or `<html ⚡>`).
    pub is_amp: bool,
}

/// Reads the metadata of the document inside `readability` (not modified).
pub fn read(readability: &Readability) -> PageMetadata {
    let document = &readability.doc;
    let json_ld = readability.parse_json_ld();
    let meta = readability.get_article_metadata(json_ld);
    let byline = meta
        .byline
        .as_deref()
        .map(clean_byline)
        .filter(|b| !b.is_empty() && !looks_like_url(b))
        .or_else(|| byline_element(document));
    let published = meta
        .published_time
        .as_deref()
        .and_then(parse_date)
        .or_else(|| time_element(document));
    let lang = meta
        .lang
        .filter(|l| !l.trim().is_empty())
        .or_else(|| meta_content(document, "meta[http-equiv='content-language' i]"))
        .or_else(|| {
            meta_content(document, "meta[property='og:locale']").map(|l| l.replace('_', "-"))
        })
        .map(|l| l.trim().to_string());
    let html = document.select_single("html");
    let is_amp = html.has_attr("amp") || html.has_attr("⚡");
    PageMetadata {
        title: Some(meta.title.trim().to_string()).filter(|t| !t.is_empty()),
        byline,
        published,
        lang,
        json_ld_body: json_ld_article_body(document),
        canonical: link_href(document, "canonical"),
        amp: link_href(document, "amphtml"),
        is_amp,
    }
}

fn meta_content(document: &Document, selector: &str) -> Option<String> {
    document
        .select_single(selector)
        .attr("content")
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
}

fn link_href(document: &Document, rel: &str) -> Option<String> {
    document
        .select("link[rel][href]")
        .nodes()
        .iter()
        .find(|link| {
            link.attr("rel").is_some_and(|r| {
                r.split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case(rel))
            })
        })
        .and_then(|link| link.attr("href"))
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

fn looks_like_url(text: &str) -> bool {
    text.starts_with("http://") || text.starts_with("https://") || text.starts_with("www.")
}

fn clean_byline(byline: &str) -> String {
    byline.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first element that looks like a byline (Readability's rule: `rel=author`,
/// `itemprop~=author`, or a class/id with `byline`, `author`, `dateline`, `writtenby`),
/// with 1 to 99 characters of text; its `itemprop=name` part when it has one.
fn byline_element(document: &Document) -> Option<String> {
    let body = document.body()?;
    body.descendants_it()
        .filter(|n| n.is_element())
        .find(|n| is_byline(n))
        .map(|node| {
            let name = dom_query::Selection::from(node)
                .select_single("[itemprop=name]")
                .nodes()
                .first()
                .map(|n| n.text())
                .unwrap_or_else(|| node.text());
            clean_byline(&name)
        })
        .filter(|b| !b.is_empty())
}

fn is_byline(node: &NodeRef<'_>) -> bool {
    let marked = node.attr("rel").is_some_and(|r| &*r == "author")
        || node.attr("itemprop").is_some_and(|i| i.contains("author"))
        || [node.attr("class"), node.attr("id")]
            .iter()
            .flatten()
            .any(|v| {
                let v = v.to_ascii_lowercase();
                ["byline", "author", "dateline", "writtenby", "p-author"]
                    .iter()
                    .any(|w| v.contains(w))
            });
    if !marked || is_hidden(node) {
        return false;
    }
    let length = node.text().trim().chars().count();
    length > 0 && length < 100
}

/// `<time datetime>` of the article, when no metadata gave a date.
fn time_element(document: &Document) -> Option<Timestamp> {
    document
        .select("time[datetime]")
        .nodes()
        .iter()
        .find_map(|t| t.attr("datetime").as_deref().and_then(parse_date))
}

/// Parses the date forms pages use: RFC 3339, ISO 8601 without zone (taken as UTC), a bare
/// date, or RFC 2822.
pub fn parse_date(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(ts);
    }
    if let Ok(zoned) = text.parse::<jiff::Zoned>() {
        return Some(zoned.timestamp());
    }
    let utc = jiff::tz::TimeZone::UTC;
    if let Ok(datetime) = text.replace(' ', "T").parse::<jiff::civil::DateTime>() {
        return datetime.to_zoned(utc).ok().map(|z| z.timestamp());
    }
    // "2017-11-03 03:01:00.000000 +0000" and similar: retry with the zone glued on.
    if let Some((head, zone)) = text.rsplit_once(' ')
        && (zone.starts_with('+') || zone.starts_with('-'))
        && let Ok(ts) = format!("{}{}", head.replace(' ', "T"), zone).parse::<Timestamp>()
    {
        return Some(ts);
    }
    if let Ok(date) = text.get(..10).unwrap_or(text).parse::<jiff::civil::Date>() {
        return date.to_zoned(utc).ok().map(|z| z.timestamp());
    }
    jiff::fmt::rfc2822::parse(text).ok().map(|z| z.timestamp())
}

/// The `articleBody` of an `Article`-like object in the page's JSON-LD, as plain text.
fn json_ld_article_body(document: &Document) -> Option<String> {
    let mut best: Option<String> = None;
    for script in document
        .select("script[type='application/ld+json' i]")
        .nodes()
    {
        let text = script.text();
        let Ok(value) = serde_json::from_str::<serde_json::Value>(text.trim()) else {
            continue;
        };
        let mut bodies = Vec::new();
        find_article_bodies(&value, &mut bodies, 0);
        for body in bodies {
            let plain = super::text::html_to_text(body);
            if best.as_ref().is_none_or(|b| plain.len() > b.len()) {
                best = Some(plain);
            }
        }
    }
    best.filter(|b| !b.is_empty())
}

fn find_article_bodies<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>, depth: usize) {
    if depth > 8 {
        return;
    }
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(body)) = map.get("articleBody") {
                out.push(body);
            }
            for (key, child) in map {
                if key != "articleBody" {
                    find_article_bodies(child, out, depth + 1);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                find_article_bodies(item, out, depth + 1);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_the_forms_pages_use() {
        let cases = [
            ("2015-07-24T05:36:09+01:00", "2015-07-24T04:36:09Z"),
            ("2019-01-03T07:00:02.000Z", "2019-01-03T07:00:02Z"),
            ("2019-04-28 06:01:07", "2019-04-28T06:01:07Z"),
            ("2017-11-03 03:01:00.000000", "2017-11-03T03:01:00Z"),
            ("2019-11-18", "2019-11-18T00:00:00Z"),
            ("Mon, 18 Nov 2019 10:00:00 +0000", "2019-11-18T10:00:00Z"),
        ];
        for (text, expected) in cases {
            assert_eq!(
                parse_date(text).map(|t| t.to_string()),
                Some(expected.to_string()),
                "{text}"
            );
        }
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn metadata_from_json_ld_meta_and_markup() {
        let html = r#"<html lang="uk"><head><title>Заголовок | Сайт</title>
            <meta property="og:title" content="Рютте про мирні переговори">
            <link rel="canonical" href="https://news.example/a">
            <script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle",
              "datePublished":"2024-03-01T10:00:00+02:00","articleBody":"<p>Перший абзац.</p><p>Другий.</p>"}</script>
            </head><body><div class="byline">Іван Петренко</div><p>Текст.</p></body></html>"#;
        let readability =
            Readability::with_document(Document::from(html), None, None).expect("readability");
        let meta = read(&readability);
        assert_eq!(meta.title.as_deref(), Some("Рютте про мирні переговори"));
        assert_eq!(meta.byline.as_deref(), Some("Іван Петренко"));
        assert_eq!(
            meta.published.map(|p| p.to_string()).as_deref(),
            Some("2024-03-01T08:00:00Z")
        );
        assert_eq!(meta.lang.as_deref(), Some("uk"));
        assert_eq!(
            meta.json_ld_body.as_deref(),
            Some("Перший абзац.\n\nДругий.")
        );
        assert_eq!(meta.canonical.as_deref(), Some("https://news.example/a"));
        assert!(!meta.is_amp);
    }
}
