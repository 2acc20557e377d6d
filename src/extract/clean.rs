//! Removing page furniture before the main text is chosen: captions and galleries, bylines
//! and datelines, share bars, newsletter and subscription boxes, consent and paywall notices,
//! related-article lists, tags and comments.
//!
//! The decision is made on the words of an element's `class` and `id` (split on `-`, `_` and
//! case changes), on ARIA roles and on a few tag names, and is kept conservative: an element
//! that holds much of the page's prose is never removed for its name alone.

use dom_query::{Document, NodeRef};

use super::render::{is_hidden, link_density};

/// Class/id words of elements that are never article text.
const FURNITURE_WORDS: &[&str] = &[
    "caption",
    "captions",
    "credit",
    "credits",
    "dateline",
    "timestamp",
    "share",
    "sharing",
    "sharebar",
    "social",
    "newsletter",
    "newsletters",
    "subscribe",
    "subscription",
    "signup",
    "related",
    "recommended",
    "recommendations",
    "trending",
    "popular",
    "tags",
    "tagged",
    "taglist",
    "comments",
    "comment",
    "disqus",
    "footer",
    "copyright",
    "promo",
    "advert",
    "advertisement",
    "ad",
    "ads",
    "sponsored",
    "sponsor",
    "outbrain",
    "taboola",
    "popup",
    "modal",
    "cookie",
    "cookies",
    "consent",
    "gdpr",
    "paywall",
    "gallery",
    "slideshow",
    "carousel",
    "breadcrumb",
    "breadcrumbs",
    "toolbar",
    "sidebar",
    "skip",
    "sronly",
    "sr",
    "visuallyhidden",
    "print",
    "pagination",
    "pager",
];

/// Class/id words of furniture that can be long (comment threads, recommendation
/// blocks with teasers): removed whatever their size.
const STRONG_WORDS: &[&str] = &[
    "comment",
    "comments",
    "disqus",
    "outbrain",
    "taboola",
    "related",
    "recommended",
    "recommendations",
    "cookie",
    "consent",
    "gdpr",
];

/// Pairs of class/id words that together mark furniture (`read more`, `more stories`).
const FURNITURE_PAIRS: &[(&str, &str)] = &[
    ("read", "more"),
    ("more", "stories"),
    ("more", "articles"),
    ("see", "also"),
    ("you", "may"),
    ("also", "like"),
    ("screen", "reader"),
    ("visually", "hidden"),
    ("image", "credit"),
    ("photo", "credit"),
    ("pub", "date"),
    ("publish", "date"),
    ("post", "date"),
    ("post", "meta"),
    ("entry", "meta"),
    ("article", "meta"),
    ("story", "meta"),
];

/// Tag names that are furniture wherever they are.
const FURNITURE_TAGS: &[&str] = &[
    "nav",
    "aside",
    "footer",
    "button",
    "figcaption",
    "noscript",
    "iframe",
    "dialog",
    "menu",
    "select",
    "template",
    "svg",
];

/// ARIA roles of furniture.
const FURNITURE_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "dialog",
    "alertdialog",
    "menu",
    "menubar",
    "search",
    "toolbar",
];

/// Removes furniture from the document's body. `keep_over` is a text length (characters)
/// above which an element is kept even when its name says furniture, unless it is mostly
/// links.
pub fn remove_furniture(document: &Document, keep_over: usize) {
    let Some(body) = document.body() else {
        return;
    };
    let mut doomed = Vec::new();
    collect(&body, keep_over, &mut doomed);
    for node in doomed {
        node.remove_from_parent();
    }
}

fn collect<'a>(node: &NodeRef<'a>, keep_over: usize, doomed: &mut Vec<NodeRef<'a>>) {
    for child in node.children_it(false) {
        if !child.is_element() {
            continue;
        }
        if is_furniture(&child, keep_over) {
            doomed.push(child);
        } else {
            collect(&child, keep_over, doomed);
        }
    }
}

/// Embedded posts (tweets and the like) quote what someone said, which is exactly what
/// rules look for, but their markup (a `blockquote` of links in a `social-embed` wrapper)
/// makes them look like share widgets, to readability too. Each one becomes a plain
/// paragraph, and its wrappers lose the names that condemn them.
pub fn protect_embedded_posts(document: &Document) {
    let posts = document.select(
        "blockquote.twitter-tweet, blockquote.twitter-video, blockquote.instagram-media, \
         blockquote.tiktok-embed, blockquote.bluesky-embed, blockquote.mastodon-embed, \
         blockquote.threads-embed",
    );
    for post in posts.nodes() {
        // Collected first: the iterators borrow the tree that the loop changes.
        let wrappers = post.ancestors(Some(4));
        let inner: Vec<NodeRef<'_>> = post
            .descendants()
            .into_iter()
            .filter(|n| n.is_element() && BLOCK_LIKE.iter().any(|b| n.has_name(b)))
            .collect();
        for node in inner {
            node.rename("span");
            node.remove_all_attrs();
            node.after_html("<br>");
        }
        post.rename("p");
        post.remove_all_attrs();
        for wrapper in wrappers {
            let mut words = Vec::new();
            for attribute in ["class", "id"] {
                if let Some(value) = wrapper.attr(attribute) {
                    split_words(&value, &mut words);
                }
            }
            let is_wrapper = words.iter().any(|w| {
                matches!(
                    w.as_str(),
                    "embed" | "embedded" | "social" | "tweet" | "twitter" | "instagram" | "oembed"
                )
            });
            if !is_wrapper {
                break;
            }
            wrapper.remove_all_attrs();
        }
    }
}

/// Elements inside an embedded post that would break its paragraph.
const BLOCK_LIKE: &[&str] = &["p", "div", "blockquote", "section"];

/// Removes `<article>` elements nested in another `<article>`: by HTML's definition they are
/// related content (comments, related posts), not the article. Only done when the outer
/// article keeps more prose of its own than the nested ones hold, so that a page-wide
/// `<article>` wrapper around the real one is left alone.
pub fn remove_nested_articles(document: &Document) {
    let articles = document.select("article");
    for outer in articles.nodes() {
        if outer.ancestors_it(None).any(|a| a.has_name("article")) {
            continue;
        }
        let nested: Vec<NodeRef<'_>> = dom_query::Selection::from(*outer)
            .select("article")
            .nodes()
            .iter()
            .filter(|n| n.id != outer.id)
            .copied()
            .collect();
        if nested.is_empty() {
            continue;
        }
        let own_prose = |node: &NodeRef<'_>| {
            let (total, linked) = link_density(node);
            total.saturating_sub(linked)
        };
        let outer_prose = own_prose(outer);
        let nested_prose: usize = nested
            .iter()
            .filter(|n| {
                !n.ancestors_it(None).any(|a| {
                    a.id != outer.id && a.has_name("article") && nested.iter().any(|m| m.id == a.id)
                })
            })
            .map(own_prose)
            .sum();
        if outer_prose.saturating_sub(nested_prose) > nested_prose.clamp(200, 500) {
            for node in nested {
                node.remove_from_parent();
            }
        }
    }
}

/// Whether an element is page furniture rather than article text.
pub fn is_furniture(node: &NodeRef<'_>, keep_over: usize) -> bool {
    let Some(element) = node.element_ref() else {
        return false;
    };
    let tag = element.name.local.to_string();
    let tag = tag.as_str();
    if matches!(tag, "html" | "body" | "main" | "article" | "p" | "h1") {
        return false;
    }
    let mut words: Vec<String> = Vec::new();
    let mut role = None;
    for attribute in &element.attrs {
        match &*attribute.name.local {
            "class" | "id" => split_words(&attribute.value, &mut words),
            "role" => role = Some(attribute.value.to_ascii_lowercase()),
            "itemprop" if attribute.value.contains("articleBody") => return false,
            _ => {}
        }
    }
    drop(element);
    if is_hidden(node) {
        return true;
    }
    let named = FURNITURE_TAGS.contains(&tag)
        || role
            .as_deref()
            .is_some_and(|r| FURNITURE_ROLES.contains(&r))
        || words.iter().any(|w| FURNITURE_WORDS.contains(&w.as_str()))
        || FURNITURE_PAIRS
            .iter()
            .any(|(a, b)| words.windows(2).any(|pair| pair[0] == *a && pair[1] == *b));
    if !named {
        return false;
    }
    if words.iter().any(|w| is_content_word(w)) {
        // "article-body share-enabled", "entry-content comments-open": the content wins.
        return false;
    }
    if words.iter().any(|w| STRONG_WORDS.contains(&w.as_str())) {
        return true;
    }
    let (total, linked) = link_density(node);
    // Big blocks go only when they are nearly all links (a page-wide `<form>` or a
    // mislabelled wrapper can hold the article).
    total <= keep_over || linked * 10 > total * 8
}

fn is_content_word(word: &str) -> bool {
    matches!(
        word,
        "articlebody"
            | "articlecontent"
            | "articletext"
            | "storybody"
            | "storycontent"
            | "storytext"
            | "postbody"
            | "postcontent"
            | "entrycontent"
            | "entrybody"
            | "maincontent"
            | "bodytext"
    )
}

/// Splits class and id values into lower-case words at spaces, `-`, `_`, digits and
/// lower-to-upper case changes: `"articleByline share-bar"` gives `article byline share bar`.
/// A compound of two known words is also kept whole (`articlebody`).
fn split_words(value: &str, words: &mut Vec<String>) {
    for token in value.split_ascii_whitespace() {
        let mut parts: Vec<String> = Vec::new();
        let mut current = String::new();
        let mut previous_lower = false;
        for c in token.chars() {
            if !c.is_alphabetic() {
                if !current.is_empty() {
                    parts.push(std::mem::take(&mut current));
                }
                previous_lower = false;
                continue;
            }
            if c.is_uppercase() && previous_lower && !current.is_empty() {
                parts.push(std::mem::take(&mut current));
            }
            previous_lower = c.is_lowercase();
            current.extend(c.to_lowercase());
        }
        if !current.is_empty() {
            parts.push(current);
        }
        if parts.len() == 2 {
            words.push(parts.concat());
        }
        words.extend(parts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_at_separators_and_case_changes() {
        let mut words = Vec::new();
        split_words("articleByline share-bar c_3", &mut words);
        assert_eq!(
            words,
            vec![
                "articlebyline",
                "article",
                "byline",
                "sharebar",
                "share",
                "bar",
                "c"
            ]
        );
    }

    #[test]
    fn embedded_posts_become_paragraphs() {
        let html = "<body><article><p>Before.</p><div class='social-media-embed'><blockquote class='twitter-tweet'>\
            <p lang='en'>We are ready to talk: <a href='https://t.co/x'>https://t.co/x</a></p>— Minister (@min) \
            <a href='https://twitter.com/min/status/1'>May 1, 2025</a></blockquote><script src='w.js'></script></div>\
            <p>After.</p></article></body>";
        let document = Document::from(html);
        protect_embedded_posts(&document);
        remove_furniture(&document, 1500);
        assert_eq!(
            document.select("blockquote, .social-media-embed").length(),
            0
        );
        let body = document.body().expect("body");
        assert_eq!(
            crate::extract::render::render(&body),
            "Before.\n\nWe are ready to talk: https://t.co/x\n— Minister (@min) May 1, 2025\n\nAfter."
        );
    }

    #[test]
    fn nested_articles_go_unless_the_outer_one_is_only_a_wrapper() {
        let prose = "The minister said the talks would resume in spring. ".repeat(12);
        let comments = format!(
            "<body><article><p>{prose}</p><section><article><p>First comment here.</p></article>\
             <article><p>Second comment here.</p></article></section></article></body>"
        );
        let document = Document::from(comments.as_str());
        remove_nested_articles(&document);
        let text = document.select("body").text();
        assert!(
            text.contains("talks would resume") && !text.contains("comment"),
            "{text}"
        );

        let live_blog = format!(
            "<body><article><h1>Live</h1><article><p>{prose}</p></article><article><p>{prose}</p></article></article></body>"
        );
        let document = Document::from(live_blog.as_str());
        remove_nested_articles(&document);
        assert_eq!(document.select("article").length(), 3);
    }

    #[test]
    fn furniture_goes_prose_stays() {
        let html = "<body><div class='story-body'><p>Rutte said the talks would resume in spring.</p>\
            <div class='share-bar'><a href='/x'>Facebook</a><a href='/y'>Twitter</a></div>\
            <figure><img src=a.jpg><figcaption>Photo: AP</figcaption></figure>\
            <div class='article-dateline'>Nov 18, 2019</div>\
            <aside class='related'><a href='/r'>Related story</a></aside></div></body>";
        let document = Document::from(html);
        remove_furniture(&document, 1500);
        let text = document.select("body").text();
        assert!(text.contains("Rutte said"), "{text}");
        for gone in ["Facebook", "Photo: AP", "Nov 18", "Related story"] {
            assert!(!text.contains(gone), "{gone} in {text}");
        }
    }
}
