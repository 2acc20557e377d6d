//! End-to-end tests of the feed-parsing stage on small hand-written feeds in
//! `tests/data/feeds/`: charsets, repairs, field mapping, stable keys and bounds.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use newshound::feed::{self, Entry, ParsedFeed};

fn data(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/feeds")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn parse(name: &str) -> ParsedFeed {
    feed::parse(&data(name), None, None).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn first(feed: &ParsedFeed) -> &Entry {
    feed.entries.first().expect("at least one entry")
}

#[test]
fn entries_without_ids_get_the_same_key_on_every_parse() {
    let a = parse("rss2_no_ids.xml");
    let b = parse("rss2_no_ids.xml");
    assert_eq!(a.entries.len(), 2);
    for (x, y) in a.entries.iter().zip(&b.entries) {
        assert!(x.key.starts_with("hash:"), "{}", x.key);
        assert_eq!(x.key, y.key);
        assert_eq!(x.id, None, "feed-rs's generated ids must not leak");
    }
    assert_ne!(a.entries[0].key, a.entries[1].key);
    // A pubDate is a publication date, not an update.
    assert!(a.entries[0].published.is_some());
    assert_eq!(a.entries[0].updated, None);
}

#[test]
fn sloppy_rss_is_repaired() {
    let feed = parse("rss_sloppy.xml");
    assert_eq!(feed.title.as_deref(), Some("Café & Bar\u{a0}News …"));
    assert_eq!(
        feed.link.as_deref(),
        Some("https://sloppy.example.com/?a=1&b=2")
    );
    let entry = first(&feed);
    assert_eq!(
        entry.title.as_deref(),
        Some("Prices up 5% at Smith & Sons — again")
    );
    assert_eq!(
        entry.link.as_deref(),
        Some("https://sloppy.example.com/item?id=1&lang=en")
    );
    assert_eq!(
        entry.summary.as_deref(),
        Some("Text with <b>naked</b> markup &amp; an © sign")
    );
    assert_eq!(entry.key, "id:sloppy-1");
    assert!(!feed.repairs.is_empty());
}

#[test]
fn atom_0_3_is_read() {
    let feed = parse("atom03.xml");
    assert_eq!(feed.title.as_deref(), Some("Old Atom feed"));
    assert_eq!(feed.subtitle.as_deref(), Some("A tagline"));
    assert_eq!(
        feed.authors[0].uri.as_deref(),
        Some("https://old.example.net/jane")
    );
    assert_eq!(
        feed.updated.map(|t| t.to_string()).as_deref(),
        Some("2004-01-01T19:48:21Z")
    );
    let entry = first(&feed);
    assert_eq!(
        entry.published.map(|t| t.to_string()).as_deref(),
        Some("2003-12-31T18:14:55Z")
    );
    assert_eq!(entry.summary.as_deref(), Some("Plain summary"));
    assert_eq!(entry.content.as_deref(), Some("<p>Hello <b>world</b></p>"));
}

#[test]
fn atom_content_types_do_not_lose_the_feed() {
    let feed = parse("atom10_content_types.xml");
    let entry = first(&feed);
    assert_eq!(entry.title.as_deref(), Some("Example Atom"));
    assert_eq!(entry.summary.as_deref(), Some("evil"));
    assert_eq!(entry.content.as_deref(), Some("Rich <b>content</b>"));
    assert_eq!(entry.enclosures[0].length, Some(1234));
    assert!(
        entry
            .links
            .iter()
            .any(|l| l.rel.as_deref() == Some("enclosure"))
    );
}

#[test]
fn extension_fields_are_mapped() {
    let feed = parse("rss_extensions.xml");
    assert_eq!(feed.authors[0].name.as_deref(), Some("Olena Editor"));
    assert_eq!(
        feed.authors[0].email.as_deref(),
        Some("editor@ext.example.org")
    );
    assert_eq!(feed.ttl, Some(Duration::from_secs(15 * 60)));
    let terms: Vec<&str> = feed.categories.iter().map(|c| c.term.as_str()).collect();
    assert_eq!(terms, ["News", "Politics", "Ukraine"]);
    let entry = first(&feed);
    assert_eq!(entry.title.as_deref(), Some("Title from Dublin Core"));
    assert_eq!(
        entry.link.as_deref(),
        Some("https://ext.example.org/story/1")
    );
    assert_eq!(entry.authors[0].name.as_deref(), Some("Taras Writer"));
    assert_eq!(
        entry.updated.map(|t| t.to_string()).as_deref(),
        Some("2024-05-06T07:08:09Z")
    );
    assert_eq!(
        entry.published.map(|t| t.to_string()).as_deref(),
        Some("2024-05-06T06:00:00Z")
    );
    assert_eq!(entry.categories.len(), 2);
    assert_eq!(entry.enclosures[0].href, "https://ext.example.org/a.mp3");
    assert_eq!(entry.summary.as_deref(), Some("<p>Escaped &amp; HTML</p>"));
}

#[test]
fn rdf_items_without_links_are_kept() {
    let feed = parse("rdf_items.rdf");
    assert_eq!(feed.entries.len(), 2);
    assert_eq!(
        feed.entries[1].id.as_deref(),
        Some("https://rdf.example.com/b")
    );
    assert!(feed.entries[0].updated.is_some());
}

#[test]
fn smart_quotes_and_double_encoding_are_repaired() {
    let feed = parse("smart_quotes.xml");
    let entry = first(&feed);
    assert_eq!(entry.title.as_deref(), Some("Don’t panic"));
    assert_eq!(entry.summary.as_deref(), Some("It’s … fine"));
}

#[test]
fn charsets_come_out_right() {
    let ukrainian = "Україна: «Євроінтеграція» — новини дня";
    assert_eq!(
        parse("cp1251_undeclared.xml").title.as_deref(),
        Some(ukrainian)
    );
    assert_eq!(
        parse("cp1251_labelled_utf8.xml").title.as_deref(),
        Some(ukrainian)
    );
    assert_eq!(
        parse("koi8r_undeclared.xml").title.as_deref(),
        Some("Как пережить новогоднюю ночь и не потерять голову")
    );
    for name in [
        "utf16be_generic_label.xml",
        "utf16be_bom_generic_label.xml",
        "utf32le_bom.xml",
    ] {
        let feed = parse(name);
        assert_eq!(feed.title.as_deref(), Some("Україна: новини"), "{name}");
        assert_eq!(
            first(&feed).title.as_deref(),
            Some("Перша новина"),
            "{name}"
        );
    }
}

#[test]
fn entity_bombs_and_external_entities_are_defused() {
    let started = Instant::now();
    let feed = parse("billion_laughs.xml");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(feed.title.as_deref().is_some_and(|t| t.len() < 100));
    assert_eq!(first(&feed).title.as_deref(), Some("Laughs"));

    let feed = parse("xxe.xml");
    let title = feed.title.unwrap_or_default();
    assert!(title.starts_with("Example site"), "{title}");
    assert!(!title.contains("root:"), "{title}");
}

#[test]
fn lenient_json_feed() {
    let feed = parse("jsonfeed_lenient.json");
    assert_eq!(feed.entries.len(), 2);
    assert_eq!(feed.entries[0].key, "id:17");
    assert_eq!(feed.entries[0].categories.len(), 2);
    assert!(feed.entries[1].key.starts_with("hash:"));
    assert_eq!(
        feed.entries[1].content.as_deref(),
        Some("Just text &amp; more")
    );
}

#[test]
fn entry_count_is_bounded() {
    let mut doc = String::from("<rss version=\"2.0\"><channel><title>big</title>");
    for n in 0..(feed::MAX_ENTRIES + 5_000) {
        doc.push_str(&format!("<item><guid>{n}</guid></item>"));
    }
    doc.push_str("</channel></rss>");
    let feed = feed::parse(doc.as_bytes(), None, None).expect("parses");
    assert_eq!(feed.entries.len(), feed::MAX_ENTRIES);
    assert_eq!(
        feed.entries[feed::MAX_ENTRIES - 1].key,
        format!("id:{}", feed::MAX_ENTRIES - 1)
    );

    let small = feed::parse_with_limit(doc.as_bytes(), None, None, 3).expect("parses");
    assert_eq!(small.entries.len(), 3);
}

#[test]
fn relative_links_resolve_against_the_feed_url() {
    let doc = b"<rss version=\"2.0\"><channel><item><link>/news/1</link></item></channel></rss>";
    let feed = feed::parse(doc, None, Some("https://site.example/feed.xml")).expect("parses");
    assert_eq!(
        first(&feed).link.as_deref(),
        Some("https://site.example/news/1")
    );
}

#[test]
fn xml_base_is_applied_to_links() {
    let doc =
        br#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://www.example.org/news/">
        <link href="index.html"/>
        <entry xml:base="2024/"><id>e1</id><link href="story.html"/>
          <link rel="enclosure" href="../../media/a.mp3"/></entry>
        <entry><id>e2</id><link href="http://Other.Example/ABS"/></entry></feed>"#;
    let feed = feed::parse(doc, None, None).expect("parses");
    assert_eq!(
        feed.link.as_deref(),
        Some("http://www.example.org/news/index.html")
    );
    let entry = first(&feed);
    assert_eq!(
        entry.link.as_deref(),
        Some("http://www.example.org/news/2024/story.html")
    );
    assert_eq!(
        entry.enclosures[0].href,
        "http://www.example.org/media/a.mp3"
    );
    // Absolute links are kept byte for byte (no host lower-casing).
    assert_eq!(
        feed.entries[1].link.as_deref(),
        Some("http://Other.Example/ABS")
    );
}

#[test]
fn http_charset_is_honoured() {
    let doc = encoding_rs::WINDOWS_1251
        .encode("<rss version=\"2.0\"><channel><title>Київ</title></channel></rss>")
        .0
        .into_owned();
    let feed = feed::parse(
        &doc,
        Some("application/rss+xml; charset=windows-1251"),
        None,
    )
    .expect("parses");
    assert_eq!(feed.title.as_deref(), Some("Київ"));
}

#[test]
fn not_a_feed_is_an_error() {
    assert!(feed::parse(b"<html><body>hello</body></html>", None, None).is_err());
    assert!(feed::parse(b"", None, None).is_err());
}

#[test]
fn cli_prints_json_without_panic_reports() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/feeds/utf16be_generic_label.xml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_newshound"))
        .arg("feed")
        .arg(&path)
        .arg("--json")
        .output()
        .expect("runs");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["entries"][0]["key"], "id:u1");
    for field in [
        "title",
        "subtitle",
        "link",
        "id",
        "updated",
        "authors",
        "categories",
        "entries",
    ] {
        assert!(json.get(field).is_some(), "missing {field}");
    }
}

#[test]
fn lengths_are_written_as_feedparser_writes_them() {
    let feed = parse("atom10_content_types.xml");
    let json = serde_json::to_value(first(&feed)).expect("JSON");
    assert_eq!(json["enclosures"][0]["length"], "1234");
    let links = json["links"].as_array().expect("links");
    let enclosure = links
        .iter()
        .find(|l| l["rel"] == "enclosure")
        .expect("the enclosure among the links");
    assert_eq!(enclosure["length"], "1234");
    let alternate = links
        .iter()
        .find(|l| l["rel"] != "enclosure")
        .expect("another link");
    assert!(alternate["length"].is_null(), "absent is null: {alternate}");
}

#[test]
fn feed_level_links_and_publication_date_are_kept() {
    let atom = br#"<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>NATO news</title>
  <link href="https://www.nato.int/news"/>
  <link rel="self" href="https://www.nato.int/news.atom"/>
  <link rel="hub" href="https://hub.example/"/>
  <published>2025-01-02T03:04:05Z</published>
  <entry><id>a</id><title>t</title></entry>
</feed>"#;
    let feed = feed::parse(atom, None, None).expect("atom");
    let links: Vec<_> = feed
        .links
        .iter()
        .map(|l| (l.rel.as_deref(), l.media_type.as_deref(), l.href.as_str()))
        .collect();
    assert_eq!(
        links,
        [
            (Some("alternate"), None, "https://www.nato.int/news"),
            (
                Some("self"),
                Some("application/atom+xml"),
                "https://www.nato.int/news.atom"
            ),
            (Some("hub"), None, "https://hub.example/"),
        ]
    );
    assert_eq!(feed.link.as_deref(), Some("https://www.nato.int/news"));
    assert_eq!(
        feed.published.map(|t| t.to_string()).as_deref(),
        Some("2025-01-02T03:04:05Z")
    );

    // RSS: the channel link (once, not the image's link) and pubDate.
    let rss = br#"<rss version="2.0"><channel><title>EP</title>
  <link>https://www.eurointegration.com.ua/</link>
  <pubDate>Thu, 01 Jan 2004 19:48:21 GMT</pubDate>
  <image><url>https://x/logo.png</url><link>https://www.eurointegration.com.ua/</link></image>
  <item><guid>1</guid><title>t</title></item>
</channel></rss>"#;
    let feed = feed::parse(rss, None, None).expect("rss");
    assert_eq!(feed.links.len(), 1, "{:?}", feed.links);
    assert_eq!(feed.links[0].href, "https://www.eurointegration.com.ua/");
    assert_eq!(feed.links[0].rel.as_deref(), Some("alternate"));
    assert_eq!(
        feed.published.map(|t| t.to_string()).as_deref(),
        Some("2004-01-01T19:48:21Z")
    );
}

/// `dc:date` is the only date of many RSS 1.0 feeds: it dates the items' publication (and
/// an RDF channel's), while an RSS 2.0 channel's `dc:date` stays an update time only.
#[test]
fn dc_date_is_the_publication_date_of_rss_items_without_pub_date() {
    let rdf = br#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://news.example/"><title>Example</title>
    <link>https://news.example/</link><dc:date>2026-11-20T10:00:00+01:00</dc:date></channel>
  <item rdf:about="https://news.example/a"><title>A</title><link>https://news.example/a</link>
    <dc:date>2026-11-19T08:30:00Z</dc:date></item>
</rdf:RDF>"#;
    let feed = feed::parse(rdf, None, None).unwrap_or_else(|e| panic!("rdf: {e}"));
    let stamp = |s: &str| s.parse::<jiff::Timestamp>().ok();
    assert_eq!(feed.published, stamp("2026-11-20T09:00:00Z"));
    assert_eq!(first(&feed).published, stamp("2026-11-19T08:30:00Z"));
    assert_eq!(first(&feed).updated, stamp("2026-11-19T08:30:00Z"));

    let rss2 = br#"<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
  <title>Example</title><dc:date>2026-11-20T09:00:00Z</dc:date>
  <item><title>B</title><link>https://news.example/b</link>
    <pubDate>Thu, 19 Nov 2026 07:00:00 GMT</pubDate><dc:date>2026-11-19T08:30:00Z</dc:date></item>
</channel></rss>"#;
    let feed = feed::parse(rss2, None, None).unwrap_or_else(|e| panic!("rss2: {e}"));
    assert_eq!(feed.published, None);
    assert_eq!(feed.updated, stamp("2026-11-20T09:00:00Z"));
    // pubDate wins over dc:date for the publication date.
    assert_eq!(first(&feed).published, stamp("2026-11-19T07:00:00Z"));
}
