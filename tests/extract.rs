//! Full-article extraction against a real HTTP server on loopback: charsets (HTTP header,
//! BOM, `<meta>` after the first KiB), the private-address guard (IP literals in every
//! spelling, names resolving to loopback, redirects), the body cap, timeouts and retries
//! falling back to the feed's content, site and feed selector overrides, configuration
//! errors, gzip input to `newshound extract`, and an end-to-end poll that alerts on text
//! found only in the article page.

mod common;

use std::io::Write;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{Resource, TestServer, delivered, minutes_ago, write_config};
use newshound::config::Config;
use newshound::extract::page::{PageContext, fetch_article, fetch_page_article};
use newshound::extract::{ArticleSource, Overrides};
use newshound::feed::Entry;
use newshound::fetch::Fetcher;
use newshound::scheduler::{self, Pipeline};
use newshound::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_newshound");
const STORY: &str = include_str!("data/extract/story.html");
const CP1251_PAGE: &[u8] = include_bytes!("data/extract/cp1251_late_meta.html");
/// A sentence that is in the story's body only.
const BODY_SENTENCE: &str = "the best chance in a year";

/// Loads a configuration written around `body` (loopback allowed unless `body` has its own
/// `allow_private`; no article jitter).
fn config(dir: &std::path::Path, body: &str) -> Config {
    // No politeness pauses: these tests make many requests in a row.
    let body = &if body.contains("[extract]\n") {
        body.replacen("[extract]\n", "[extract]\njitter = \"0s\"\n", 1)
    } else {
        format!("{body}\n[extract]\njitter = \"0s\"\n")
    };
    let path = if body.contains("allow_private") {
        let path = dir.join("custom.toml");
        std::fs::write(&path, format!("state_dir = \"state\"\n{body}")).expect("write");
        path
    } else {
        write_config(dir, body)
    };
    newshound::config::load(&path).expect("valid config")
}

fn context<'a>(
    config: &'a Config,
    headers: &'a std::collections::BTreeMap<String, String>,
) -> PageContext<'a> {
    PageContext {
        settings: &config.extract,
        sites: &config.sites,
        feed: config.feeds.first(),
        user_agent: "newshound-test",
        headers,
    }
}

async fn page(config: &Config, url: &str) -> Result<newshound::extract::Article, String> {
    let fetcher = Fetcher::new(&config.fetch).expect("fetcher");
    let headers = Default::default();
    fetch_page_article(&fetcher, context(config, &headers), url).await
}

#[tokio::test(flavor = "multi_thread")]
async fn charsets_from_header_bom_and_late_meta_decode_right() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), "");

    // windows-1251 declared only by a <meta> after more than 1 KiB of <head>.
    server.set_page("/cp1251", CP1251_PAGE, "text/html");
    let article = page(&config, &server.url("/cp1251"))
        .await
        .expect("article");
    assert!(
        article
            .text
            .contains("Генеральный секретарь НАТО заявил в пятницу"),
        "{}",
        article.text
    );
    assert_eq!(
        article.title.as_deref(),
        Some("Генсек НАТО поддержал переговоры")
    );

    // KOI8-R declared only in the HTTP header.
    let russian = "<html><body><article><p>Переговоры о прекращении огня начнутся в Женеве в конце месяца, сообщили дипломаты трёх стран после встречи министров обороны альянса.</p>\
        <p>Стороны обсудят обмен пленными и гарантии безопасности для атомных станций, добавили они.</p></article></body></html>";
    let (koi8, _, _) = encoding_rs::KOI8_R.encode(russian);
    server.set_page("/koi8", koi8.into_owned(), "text/html; charset=koi8-r");
    let article = page(&config, &server.url("/koi8")).await.expect("article");
    assert!(
        article.text.contains("Переговоры о прекращении огня"),
        "{}",
        article.text
    );

    // A UTF-16LE byte-order mark beats a wrong <meta>.
    let ukrainian = "<html><head><meta charset=\"windows-1252\"></head><body><article><p>Генеральний секретар НАТО заявив, що переговори про припинення вогню заслуговують на підтримку всіх держав альянсу.</p>\
        <p>Наступний раунд консультацій відбудеться в Женеві наприкінці місяця, повідомили дипломати.</p></article></body></html>";
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in ukrainian.encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    server.set_page("/utf16", utf16, "text/html");
    let article = page(&config, &server.url("/utf16")).await.expect("article");
    assert!(
        article.text.contains("Генеральний секретар НАТО заявив"),
        "{}",
        article.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn private_addresses_are_refused_in_every_spelling_and_on_redirects() {
    let server = TestServer::start().await;
    server.set_page("/story", STORY, "text/html; charset=utf-8");
    let port = server.addr.port();
    let dir = tempfile::tempdir().expect("tempdir");

    // Nothing allow-listed: loopback is refused, whatever the spelling.
    let strict = config(dir.path(), "[fetch]\nallow_private = []\n");
    for url in [
        format!("http://127.0.0.1:{port}/story"),
        format!("http://localhost:{port}/story"),
        format!("http://[::ffff:127.0.0.1]:{port}/story"),
        format!("http://2130706433:{port}/story"),
        format!("http://0x7f.0.0.1:{port}/story"),
        format!("http://0177.0.0.1:{port}/story"),
        format!("http://[::1]:{port}/story"),
    ] {
        let error = page(&strict, &url).await.expect_err(&url);
        assert!(error.starts_with("blocked"), "{url}: {error}");
    }
    assert!(
        server.requests("/story").is_empty(),
        "no request got through"
    );

    // Loopback allow-listed: the page is fetched, but a redirect to another private address
    // is refused at that hop.
    let allowed = config(dir.path(), "");
    let article = page(&allowed, &server.url("/story"))
        .await
        .expect("allowed");
    assert!(article.text.contains(BODY_SENTENCE));
    for (path, target) in [
        ("/to-private", format!("http://127.0.0.2:{port}/story")),
        (
            "/to-metadata",
            "http://169.254.169.254/latest/meta-data/".to_string(),
        ),
        ("/to-v6-loopback", format!("http://[::1]:{port}/story")),
        ("/to-decimal", format!("http://2130706434:{port}/story")),
    ] {
        server.set(
            path,
            Resource {
                moved_to: Some(target.clone()),
                ..Resource::default()
            },
        );
        let error = page(&allowed, &server.url(path)).await.expect_err(path);
        assert!(error.starts_with("blocked"), "{path} -> {target}: {error}");
    }

    // A host name on the allow-list may resolve to loopback.
    let by_name = config(dir.path(), "[fetch]\nallow_private = [\"localhost\"]\n");
    let article = page(&by_name, &format!("http://localhost:{port}/story"))
        .await
        .expect("allow-listed name");
    assert!(article.text.contains(BODY_SENTENCE));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversize_page_is_cut_at_the_cap() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let filler = "<p>Filler paragraph that pads the page far beyond the cap.</p>\n".repeat(2000);
    let big = STORY.replace(
        "</main>",
        &format!("{filler}<p>The last paragraph, TAILMARKER.</p></main>"),
    );
    assert!(big.len() > 100_000);
    server.set_page("/big", big, "text/html; charset=utf-8");
    let config = config(dir.path(), "[fetch]\nmax_body = \"8KiB\"\n");
    let article = page(&config, &server.url("/big")).await.expect("article");
    assert!(article.text.contains(BODY_SENTENCE), "{}", article.text);
    assert!(!article.text.contains("TAILMARKER"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unusable_pages_fall_back_to_the_feed_content_with_the_reason() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    server.set_page("/pdf", b"%PDF-1.7 ...".to_vec(), "application/pdf");
    server.set_page(
        "/stub",
        "<html><body><p>Please enable JavaScript.</p></body></html>",
        "text/html",
    );
    server.set(
        "/slow",
        Resource {
            body: STORY.as_bytes().to_vec(),
            content_type: "text/html".into(),
            delay: Some(Duration::from_secs(5)),
            ..Resource::default()
        },
    );
    server.set_page("/flaky", STORY, "text/html");
    server.fail_next("/flaky", 503, &[], 2);
    server.set_page("/gone", STORY, "text/html");
    server.fail_next("/gone", 404, &[], 1);
    let config = config(
        dir.path(),
        "[extract]\ntimeout = \"300ms\"\nretries = 2\nretry_delay = \"20ms\"\n",
    );
    let fetcher = Fetcher::new(&config.fetch).expect("fetcher");
    let headers = Default::default();
    let entry = |path: &str| Entry {
        key: path.into(),
        title: Some("Teaser title".into()),
        link: Some(server.url(path)),
        summary: Some("<p>The feed's own teaser.</p>".into()),
        ..Entry::default()
    };
    let reason = |article: &newshound::extract::Article| match &article.source {
        ArticleSource::Feed { reason } => reason.clone().unwrap_or_default(),
        ArticleSource::Page { url } => panic!("unexpectedly used the page {url}"),
    };
    for (path, expected) in [
        ("/pdf", "not an HTML page (application/pdf)"),
        ("/stub", "extracted text too short"),
        ("/slow", "timeout after 2 retries"),
        ("/gone", "http_status: HTTP 404"),
    ] {
        let started = std::time::Instant::now();
        let article = fetch_article(&fetcher, context(&config, &headers), &entry(path)).await;
        assert_eq!(article.text, "The feed's own teaser.", "{path}");
        assert!(
            reason(&article).contains(expected),
            "{path}: {}",
            reason(&article)
        );
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(4), "{path} took too long");
        if path == "/slow" {
            // Three attempts of 300 ms each (the server answers too late to log them).
            assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
        }
    }
    assert_eq!(server.requests("/gone").len(), 1, "a 404 is not retried");
    // Two 503s, then the page: the retries within the poll get it.
    let article = fetch_article(&fetcher, context(&config, &headers), &entry("/flaky")).await;
    assert!(article.text.contains(BODY_SENTENCE), "{:?}", article.source);
    assert_eq!(
        article.source,
        ArticleSource::Page {
            url: server.url("/flaky")
        }
    );
    assert_eq!(server.requests("/flaky").len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn site_and_feed_selector_overrides_with_fallback() {
    let server = TestServer::start().await;
    server.set_page("/story", STORY, "text/html");
    let dir = tempfile::tempdir().expect("tempdir");
    let automatic = page(&config(dir.path(), ""), &server.url("/story"))
        .await
        .expect("article")
        .text;
    assert!(automatic.contains("Guarantees first"));

    // The site's selector takes only the paragraphs of the story text; the removal
    // selector drops one of them.
    let site = config(
        dir.path(),
        "[[sites]]\nhost = \"127.0.0.1\"\nextract_selector = \"div.story-text > p\"\nremove_selectors = [\"p:last-child\"]\n",
    );
    let text = page(&site, &server.url("/story"))
        .await
        .expect("article")
        .text;
    assert!(
        text.starts_with("The secretary general of the alliance"),
        "{text}"
    );
    assert!(!text.contains("Guarantees first"), "{text}");
    assert!(!text.contains("next round of consultations"), "{text}");
    assert_eq!(text.split("\n\n").count(), 4, "{text}");

    // A selector that matches nothing falls back to automatic extraction.
    let missing = config(
        dir.path(),
        "[[sites]]\nhost = \"example.org\"\n[[sites]]\nhost = \"127.0.0.1\"\nextract_selector = \"div.no-such-thing\"\n",
    );
    let text = page(&missing, &server.url("/story"))
        .await
        .expect("article")
        .text;
    assert_eq!(text, automatic);

    // A feed's own selector wins over the site's.
    let feed = config(
        dir.path(),
        "[[sites]]\nhost = \"127.0.0.1\"\nextract_selector = \"div.no-such-thing\"\n\
         [extract]\nmin_length = 1\n\
         [[feeds]]\nname = \"F\"\nurl = \"http://127.0.0.1:1/feed\"\nextract_selector = \"h2\"\n",
    );
    let overrides = Overrides::for_page(
        feed.feeds.first(),
        &feed.sites,
        Some(&url::Url::parse(&server.url("/story")).expect("url")),
    );
    assert_eq!(overrides.body.as_deref(), Some("h2"));
    let text = page(&feed, &server.url("/story"))
        .await
        .expect("article")
        .text;
    assert!(text.starts_with("Guarantees first"), "{text}");
}

#[test]
fn invalid_selectors_and_allow_list_entries_are_config_errors_with_positions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "state_dir = \"state\"\n[fetch]\nallow_private = [\"10.0.0.0/33\"]\n\
         [[sites]]\nhost = \"example.org\"\nextract_selector = \"div..body\"\n\
         [[feeds]]\nurl = \"https://example.org/feed\"\nremove_selectors = [\"p\", \"##x\"]\n",
    )
    .expect("write");
    let output = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let file = path.display().to_string();
    assert!(stderr.contains(&format!("{file}:3:18:")), "{stderr}");
    assert!(
        stderr.contains(&format!("{file}:6:20: invalid CSS selector \"div..body\"")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}:9:26: invalid CSS selector \"##x\"")),
        "{stderr}"
    );
    assert!(stderr.contains("3 configuration errors"), "{stderr}");

    // Included files may hold [[sites]] too, and their errors name them.
    let main = dir.path().join("main.toml");
    std::fs::write(
        &main,
        "state_dir = \"state\"\ninclude = [\"sites.d/*.toml\"]\n",
    )
    .expect("write");
    std::fs::create_dir_all(dir.path().join("sites.d")).expect("mkdir");
    std::fs::write(
        dir.path().join("sites.d/news.toml"),
        "[[sites]]\nhost = \"example.org\"\nremove_selectors = [\".ok\", \"p >\"]\n",
    )
    .expect("write");
    let output = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&main)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("sites.d/news.toml:3:28: invalid CSS selector \"p >\""),
        "{stderr}"
    );
}

#[test]
fn extract_reads_gzip_files_and_prints_the_json_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("story.html.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(STORY.as_bytes()).expect("gzip");
    std::fs::write(&path, gz.finish().expect("gzip")).expect("write");
    let output = Command::new(BIN)
        .args(["extract", "--json"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let keys: Vec<&str> = [
        "\"title\"",
        "\"byline\"",
        "\"published\"",
        "\"lang\"",
        "\"text\"",
    ]
    .into_iter()
    .filter(|k| stdout.contains(k))
    .collect();
    assert_eq!(keys.len(), 5, "{stdout}");
    let positions: Vec<usize> = keys.iter().map(|k| stdout.find(k).unwrap_or(0)).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "key order: {stdout}"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(json.as_object().map(|o| o.len()), Some(5));
    assert_eq!(json["title"], "Alliance chief backs new ceasefire talks");
    assert_eq!(json["byline"], "Olena Kovalenko");
    assert_eq!(json["published"], "2025-03-14T08:30:00Z");
    assert_eq!(json["lang"], "en");
    let text = json["text"].as_str().expect("text");
    assert!(
        text.starts_with("The secretary general of the alliance said on Friday"),
        "{text}"
    );
    assert!(text.contains(&format!("\"{BODY_SENTENCE}\"")), "{text}");
    assert!(
        text.contains(".\n\nSpeaking to reporters"),
        "paragraphs: {text}"
    );
    for furniture in [
        "Share on Facebook",
        "Photo: Example Agency",
        "Subscribe to our morning briefing",
        "Grain corridor reopens",
        "Storm closes airports",
        "cookies",
        "All rights reserved",
        "http",
    ] {
        assert!(!text.contains(furniture), "{furniture:?} in {text}");
    }
}

/// An RSS feed whose items link to pages of `server`.
fn feed_linking_to(server: &TestServer, items: &[(&str, &str, &str)]) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>T</title><link>http://127.0.0.1/</link>\n",
    );
    for (guid, path, teaser) in items {
        xml.push_str(&format!(
            "<item><title>Item {guid}</title><link>{}</link><guid>{guid}</guid><pubDate>{}</pubDate><description>{teaser}</description></item>\n",
            server.url(path),
            minutes_ago(3)
        ));
    }
    xml.push_str("</channel></rss>\n");
    xml
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poll_matches_text_found_only_in_the_article_page() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    server.set_page("/story", STORY, "text/html; charset=utf-8");
    server.set(
        "/slow",
        Resource {
            body: STORY.as_bytes().to_vec(),
            content_type: "text/html".into(),
            delay: Some(Duration::from_secs(5)),
            ..Resource::default()
        },
    );
    server.set_page(
        "/other",
        STORY.replace("the best chance in a year", "a good opportunity"),
        "text/html",
    );
    server.set_feed(
        "/feed.xml",
        feed_linking_to(
            &server,
            &[
                ("page", "/story", "Ministers met in Brussels."),
                ("slow", "/slow", "He called it the best chance in a year."),
                ("other", "/other", "Ministers met again."),
            ],
        ),
        None,
    );
    let config_path = write_config(
        dir.path(),
        &format!(
            "[extract]\ntimeout = \"300ms\"\nretries = 0\njitter = \"0s\"\n\
             [[feeds]]\nname = \"Wire\"\nurl = \"{}\"\n\
             [[rules]]\nname = \"chance\"\nkeywords = [\"{BODY_SENTENCE}\"]\n",
            server.url("/feed.xml")
        ),
    );
    let config = newshound::config::load(&config_path).expect("config");
    let store = Arc::new(Store::open_dir(&config.state_dir).expect("store"));
    let pipeline = Arc::new(Pipeline::new(config, store).expect("pipeline"));
    let report = scheduler::run_once(&pipeline, false).await.expect("cycle");
    let mut titles: Vec<String> = report
        .alerts
        .iter()
        .filter_map(|a| a.article.title.clone())
        .collect();
    titles.sort();
    // "page" matched on its article text (not in its teaser); "slow" timed out and matched
    // on its teaser; "other" matches neither.
    assert_eq!(
        titles,
        vec![
            "Alliance chief backs new ceasefire talks".to_string(),
            "Item slow".to_string()
        ]
    );
    assert_eq!(delivered(dir.path()).len(), 2);
    assert_eq!(server.requests("/story").len(), 1);
    assert_eq!(server.requests("/other").len(), 1);

    // With scraping off, the feed's teaser is all there is: nothing new alerts, and no page
    // is requested.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let config_path = write_config(
        dir2.path(),
        &format!(
            "[[feeds]]\nname = \"Wire\"\nurl = \"{}\"\nscrape = false\n\
             [[rules]]\nname = \"chance\"\nkeywords = [\"Brussels\"]\n",
            server.url("/feed.xml")
        ),
    );
    let output = Command::new(BIN)
        .args(["once", "--dry-run", "--config"])
        .arg(&config_path)
        .output()
        .expect("run");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("[chance] Item page"), "{stdout}");
    assert_eq!(
        server.requests("/story").len(),
        1,
        "no page fetched without scraping"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn amp_pages_and_stubs_are_swapped_for_their_full_variant_without_loops() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), "");
    let short_story = "<p>The secretary general backed the talks.</p>";
    // An AMP page (with a short version of the story) names its canonical full page.
    server.set_page(
        "/amp",
        format!(
            "<html amp><head><link rel=\"canonical\" href=\"{}\"></head><body><article>{short_story}{short_story}{short_story}{short_story}{short_story}</article></body></html>",
            server.url("/full")
        ),
        "text/html",
    );
    server.set_page("/full", STORY, "text/html");
    let article = page(&config, &server.url("/amp")).await.expect("article");
    assert!(article.text.contains(BODY_SENTENCE), "{}", article.text);
    assert_eq!(
        article.source,
        ArticleSource::Page {
            url: server.url("/full")
        }
    );

    // A stub (a consent wall) names its AMP variant, which has the text.
    server.set_page(
        "/stub",
        "<html><head><link rel=\"amphtml\" href=\"/amp-full\"></head><body><div class=\"consent\">Accept cookies to continue.</div><p>Loading…</p></body></html>",
        "text/html",
    );
    server.set_page(
        "/amp-full",
        STORY.replace("<html lang=\"en\">", "<html amp lang=\"en\">"),
        "text/html",
    );
    let article = page(&config, &server.url("/stub")).await.expect("article");
    assert!(article.text.contains(BODY_SENTENCE), "{}", article.text);
    assert_eq!(server.requests("/amp-full").len(), 1);

    // Canonical links that point back or in a circle are not followed around.
    server.set_page(
        "/loop-a",
        format!(
            "<html amp><head><link rel=\"canonical\" href=\"{}\"></head><body><p>Short.</p></body></html>",
            server.url("/loop-b")
        ),
        "text/html",
    );
    server.set_page(
        "/loop-b",
        format!(
            "<html amp><head><link rel=\"canonical\" href=\"{}\"></head><body><p>Short too.</p></body></html>",
            server.url("/loop-a")
        ),
        "text/html",
    );
    let error = page(&config, &server.url("/loop-a"))
        .await
        .expect_err("too short");
    assert!(error.contains("too short"), "{error}");
    assert_eq!(server.requests("/loop-a").len(), 1);
    assert_eq!(server.requests("/loop-b").len(), 1);
}
