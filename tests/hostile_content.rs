//! Hostile content in alerts, end to end: titles, author names and feed names carrying
//! CR/LF, NUL, escape sequences and other control characters never reach an email header
//! (checked on the raw message aiosmtpd received) nor break a webhook body (every preset's
//! JSON parses and its text has no control characters); HTML and script in feed content
//! never reach an alert or digest email unsanitised; very long titles are cut cleanly, on a
//! character boundary, without splitting an accent or an emoji from its base.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::receiver::Receiver;
use common::smtp::{Options, SmtpServer, owner_only};
use common::{TestServer, write_config};
use mail_parser::MessageParser;
use newshound::scheduler::{self, Pipeline};
use newshound::store::Store;
use serde_json::Value;

fn pipeline(config_path: &Path) -> Arc<Pipeline> {
    let config = newshound::config::load(config_path).expect("valid config");
    let store = Arc::new(Store::open_dir(&config.state_dir).expect("store"));
    Arc::new(Pipeline::new(config, store).expect("pipeline"))
}

/// A JSON Feed item (JSON can carry NUL and every other control character).
fn item(id: &str, title: &str, author: &str, url: &str, html: &str) -> Value {
    serde_json::json!({
        "id": id,
        "title": title,
        "url": url,
        "content_html": html,
        "date_published": jiff::Timestamp::now().to_string(),
        "authors": [{"name": author}],
    })
}

fn json_feed(items: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Hostile\r\nfeed",
        "items": items,
    }))
    .expect("json")
}

fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The header block of a raw message, split into logical headers (continuations joined).
/// The SMTP server's maildir stores lines ending in LF alone, so a line ends at LF with one
/// CR before it dropped; any other CR stays in the value, where the caller catches it.
fn headers(raw: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in raw.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            let last = out.last_mut().expect("a continuation follows a header");
            last.1.push_str(line);
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("a header line without a colon: {line:?}"));
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':'),
            "a malformed header name {name:?}"
        );
        out.push((name.to_string(), value.to_string()));
    }
    out
}

/// Every string in a JSON value.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

const NASTY_TITLES: &[&str] = &[
    "Rutte\r\nBcc: victim@example.org\r\n\r\nInjected body",
    "Rutte\0with NUL\0",
    "Rutte \u{1b}[31mred\u{1b}[0m \u{7}bell \u{8}backspace",
    "Rutte\u{85}NEL\u{2028}line\u{2029}paragraph",
    "Rutte \u{202e}desrever\u{202c} \u{200b}zero\u{feff}width",
    "Rutte\tTab\u{b}VT\u{c}FF\u{7f}DEL",
    "Rutte\nSubject: forged\n",
];

#[tokio::test(flavor = "multi_thread")]
async fn control_characters_never_reach_an_email_header_or_break_webhook_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(&dir.path().join("maildir"), Options::default());
    let receiver = Receiver::start().await;
    let server = TestServer::start().await;
    let items: Vec<Value> = NASTY_TITLES
        .iter()
        .enumerate()
        .map(|(i, title)| {
            item(
                &format!("n{i}"),
                title,
                "Evil\r\nX-Injected: 1\0 Author",
                &format!("https://news.example/{i}?a=1\r\nX-Url-Injected: 1"),
                "<p>Mark Rutte said peace talks must include Ukraine.\u{0}</p>",
            )
        })
        .collect();
    server.set_page("/feed.json", json_feed(&items), "application/feed+json");
    let hook = |name: &str, preset: &str, extra: &str| {
        format!(
            "[[destinations]]\nname = \"{name}\"\ntype = \"webhook\"\npreset = \"{preset}\"\nurl = \"{}\"\n{extra}\n",
            receiver.url(&format!("/{name}"))
        )
    };
    let body = format!(
        r#"
[delivery]
retry_base = "50ms"
retry_max = "100ms"

[[feeds]]
name = "Wire\r\nX-Feed-Injected: 1\u0000"
url = "{}"
scrape = false

[[rules]]
name = "rutte"
keywords = ["Rutte"]

[[destinations]]
name = "desk"
type = "email"
from = "newshound <alerts@example.org>"
to = ["desk@example.org"]
smtp = {{ host = "127.0.0.1", port = {}, tls = "none" }}

{}{}{}{}{}{}{}{}{}"#,
        server.url("/feed.json"),
        smtp.port,
        hook("generic", "generic", ""),
        hook("slack", "slack", ""),
        hook("discord", "discord", ""),
        hook("teams", "teams", ""),
        hook("mattermost", "mattermost", ""),
        hook("ntfy", "ntfy", "topic = \"alerts\""),
        hook("gotify", "gotify", "token = \"t\""),
        hook("telegram", "telegram", "token = \"1:a\"\nchat_id = \"42\""),
        hook(
            "matrix",
            "matrix",
            "token = \"t\"\nroom_id = \"!r:example.org\""
        ),
    );
    let config = write_config(dir.path(), &body);
    owner_only(&config);
    let p = pipeline(&config);
    let report = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(report.alerts.len(), NASTY_TITLES.len() * 10, "{report:?}");
    assert_eq!(report.delivery.sent, NASTY_TITLES.len() * 10, "{report:?}");

    // Email: the header block is well formed, has only the headers newshound writes, and
    // no header carries a control character, raw or decoded.
    let mails = wait_for("the emails", || {
        let got = smtp.messages();
        (got.len() >= NASTY_TITLES.len()).then_some(got)
    });
    assert_eq!(mails.len(), NASTY_TITLES.len());
    let expected = [
        "From",
        "To",
        "Subject",
        "Message-ID",
        "Date",
        "MIME-Version",
        "Content-Type",
        "Auto-Submitted",
        "List-Id",
        "X-Auto-Response-Suppress",
        "Precedence",
        "X-Newshound-Rule",
        "X-Newshound-Feed",
        "X-Newshound-Url",
        // Added by the receiving server.
        "X-Peer",
        "X-MailFrom",
        "X-RcptTo",
        "Received",
        "Return-Path",
        "X-Original-To",
        "Delivered-To",
    ];
    for raw in &mails {
        let raw = String::from_utf8_lossy(raw).to_string();
        for (name, value) in headers(&raw) {
            assert!(
                expected.iter().any(|e| e.eq_ignore_ascii_case(&name)),
                "unexpected header {name}: {value}"
            );
            assert!(
                !value.chars().any(|c| c.is_control() && c != '\t'),
                "{name}: {value:?}"
            );
        }
        let parsed = MessageParser::default()
            .parse(raw.as_bytes())
            .expect("parseable");
        let subject = parsed.subject().unwrap_or_default().to_string();
        assert!(subject.contains("Rutte"), "{subject}");
        assert!(
            !subject
                .chars()
                .any(|c| c.is_control() || matches!(c, '\u{202e}' | '\u{200b}' | '\u{feff}')),
            "{subject:?}"
        );
        // The injected text stays inside the one header it came in (as harmless text);
        // it never becomes a header of its own.
        assert!(
            !headers(&raw)
                .iter()
                .any(|(name, _)| name.to_ascii_lowercase().contains("injected")),
            "an injected header in\n{raw}"
        );
        let feed = parsed
            .header_raw("X-Newshound-Feed")
            .map(str::trim)
            .unwrap_or_default();
        assert_eq!(feed, "Wire X-Feed-Injected: 1");
        let url = parsed
            .header_raw("X-Newshound-Url")
            .map(str::trim)
            .unwrap_or_default();
        let parsed_url = url::Url::parse(url).expect("the URL header is one URL");
        assert_eq!(parsed_url.host_str(), Some("news.example"), "{url}");
        assert!(!url.contains(char::is_whitespace), "{url:?}");
        assert!(parsed.bcc().is_none(), "no Bcc header");
    }

    // Webhooks: every body parses; the chat presets' text has no control characters except
    // the line breaks they put in themselves; the generic JSON round-trips the title.
    let got = receiver.got();
    assert_eq!(got.len(), NASTY_TITLES.len() * 9);
    for request in &got {
        let json = request.json();
        assert!(!request.header("webhook-id").is_empty());
        if request.path == "/generic" {
            let title = json["data"]["article"]["title"]
                .as_str()
                .unwrap_or_default();
            assert!(
                NASTY_TITLES
                    .iter()
                    .any(|t| t.starts_with(title.trim_end_matches('…')) || title.contains("Rutte")),
                "{title:?}"
            );
            continue;
        }
        let mut texts = Vec::new();
        strings(&json, &mut texts);
        for text in texts {
            assert!(
                !text.chars().any(|c| c.is_control() && c != '\n'),
                "{}: {text:?}",
                request.path
            );
            assert!(!text.contains('\u{202e}'), "{}: {text:?}", request.path);
        }
    }
}

const SCRIPTS: &str = r#"<p>Mark Rutte said peace talks must include Ukraine.</p>
<script>alert('script')</script>
<img src="x" onerror="alert('img')">
<svg onload="alert('svg')"><circle r="1"/></svg>
<iframe src="javascript:alert('iframe')"></iframe>
<a href="javascript:alert('link')">Rutte's statement</a>
<a href="data:text/html,<script>alert('data')</script>">more</a>
<style>body{background:url(javascript:alert('css'))}</style>
<form action="https://evil.example/"><input name="password"></form>
<p onclick="alert('click')">Rutte again.</p>"#;

/// The email HTML, parsed as a mail client would: no active or remote element, no event
/// handler, no `javascript:`/`data:` link, no feed markup (`<b>bold`, `<i>rule`) taken as
/// markup. Hostile text that is escaped (`&lt;b onmouseover=…&gt;`) is only text and fine.
fn assert_markup_is_safe(html: &str, subject: &str) {
    let document = scraper::Html::parse_document(html);
    let all = scraper::Selector::parse("*").expect("selector");
    for element in document.select(&all) {
        let tag = element.value().name();
        assert!(
            !matches!(
                tag,
                "script" | "img" | "svg" | "iframe" | "form" | "input" | "object" | "embed"
            ),
            "{subject}: a <{tag}> element in\n{html}"
        );
        let text: String = element.text().collect();
        assert!(
            !(tag == "style" && text.contains("javascript")),
            "{subject}: the feed's style sheet in\n{html}"
        );
        assert!(
            !((tag == "b" && text.contains("bold")) || (tag == "i" && text.contains("rule"))),
            "{subject}: feed markup <{tag}>{text} rendered as markup"
        );
        for (name, value) in element.value().attrs() {
            assert!(
                !name.to_ascii_lowercase().starts_with("on"),
                "{subject}: an event handler {name}={value:?}"
            );
            let value = value.trim().to_ascii_lowercase();
            assert!(
                !(value.starts_with("javascript:") || value.starts_with("data:")),
                "{subject}: {name}={value:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn html_and_script_in_feed_content_never_reach_an_email_unsanitised() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start().await;
    let items = [
        item(
            "s1",
            "<script>alert('title')</script>Rutte <img src=x onerror=alert('t')>",
            "<b onmouseover=alert('author')>Reporter</b>",
            "javascript:alert('entry-link')",
            SCRIPTS,
        ),
        // Another story, in other words: the same text would be folded into the first
        // alert as a near-duplicate and never mailed on its own.
        item(
            "s2",
            "Rutte \"quoted\" <b>bold</b> & co",
            "Staff",
            "https://news.example/2\"><script>alert('attr')</script>",
            &SCRIPTS.replace(
                "Mark Rutte said peace talks must include Ukraine.",
                "In Helsinki the alliance's chief discussed air defence funding, ammunition \
                 deliveries and the summit agenda with Finnish and Swedish ministers.",
            ),
        ),
    ];
    server.set_page("/feed.json", json_feed(&items), "application/feed+json");
    let body = format!(
        r#"
[[feeds]]
name = "<script>alert('feed')</script>"
url = "{}"
scrape = false

[[rules]]
name = "rutte <i>rule</i>"
keywords = ["Rutte", "alert"]

[[destinations]]
name = "desk"
type = "email"
from = "newshound <alerts@example.org>"
to = ["desk@example.org"]
maildir = "mail"
delivery = "both"
digest = {{ schedule = "daily 08:00", time_zone = "UTC" }}
"#,
        server.url("/feed.json")
    );
    let config = write_config(dir.path(), &body);
    let p = pipeline(&config);
    let report = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(report.alerts.len(), 2, "{report:?}");
    // The digest, as `newshound digest --now` sends it.
    let now = p.deliverer.now();
    let key = p
        .deliverer
        .freeze_digest(&p.store, "desk", None, now)
        .expect("freeze")
        .expect("a digest with both alerts");
    p.deliverer.deliver_due(&p.store).await.expect("deliver");
    assert_eq!(
        p.store
            .outbox_item(&key)
            .expect("read")
            .expect("kept")
            .status_text(),
        "sent"
    );
    let maildir = dir.path().join("mail").join("new");
    let mails: Vec<String> = std::fs::read_dir(&maildir)
        .expect("maildir")
        .filter_map(Result::ok)
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.path()).expect("read")).to_string())
        .collect();
    assert_eq!(mails.len(), 3, "two alerts and the digest");
    let mut saw_digest = false;
    for raw in &mails {
        let parsed = MessageParser::default()
            .parse(raw.as_bytes())
            .expect("parseable");
        let subject = parsed.subject().unwrap_or_default().to_string();
        saw_digest |= subject.contains("Digest");
        let html = parsed.body_html(0).unwrap_or_default().to_string();
        assert_markup_is_safe(&html, &subject);
        assert!(
            html.contains("&lt;script&gt;") || html.to_lowercase().contains("rutte"),
            "the text is still there, escaped: {html}"
        );
        let text = parsed.body_text(0).unwrap_or_default();
        assert!(!text.contains("javascript:"), "{subject}: {text}");
    }
    assert!(saw_digest);
}

#[tokio::test(flavor = "multi_thread")]
async fn very_long_titles_are_cut_cleanly_on_a_character_boundary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start().await;
    let server = TestServer::start().await;
    // 10 000+ characters: Cyrillic, letters with combining accents, emoji ZWJ sequences.
    let unit = "Рютте e\u{301}\u{301} 👨\u{200d}👩\u{200d}👧 ";
    let long = format!("Rutte {}", unit.repeat(1000));
    server.set_page(
        "/feed.json",
        json_feed(&[item(
            "long",
            &long,
            &"Автор ".repeat(500),
            "https://news.example/long",
            "<p>Mark Rutte said peace talks must include Ukraine.</p>",
        )]),
        "application/feed+json",
    );
    let body = format!(
        r#"
[[feeds]]
name = "Wire"
url = "{}"
scrape = false

[[rules]]
name = "rutte"
keywords = ["Rutte"]

[[destinations]]
name = "desk"
type = "email"
from = "newshound <alerts@example.org>"
to = ["desk@example.org"]
maildir = "mail"

[[destinations]]
name = "hook"
type = "webhook"
url = "{}"

[[destinations]]
name = "discord"
type = "webhook"
preset = "discord"
url = "{}"
"#,
        server.url("/feed.json"),
        receiver.url("/hook"),
        receiver.url("/discord"),
    );
    let config = write_config(dir.path(), &body);
    owner_only(&config);
    let p = pipeline(&config);
    let report = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(report.delivery.sent, 3, "{report:?}");

    let clean_end = |text: &str, what: &str| {
        let body = text
            .strip_suffix('…')
            .unwrap_or_else(|| panic!("{what} is cut: {text}"));
        let last = body.chars().next_back().expect("not empty");
        assert!(
            !unicode_normalization::char::is_combining_mark(last) && last != '\u{200d}',
            "{what} ends inside a character: {:?}",
            &body[body.len().saturating_sub(12)..]
        );
        assert!(
            long.starts_with(body.trim_end()),
            "{what} is a prefix of the title"
        );
    };
    let got = receiver.got();
    let generic = got.iter().find(|r| r.path == "/hook").expect("generic");
    let title = generic.json()["data"]["article"]["title"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        title.chars().count() <= newshound::alerts::TITLE_CHARS + 1,
        "{}",
        title.len()
    );
    clean_end(&title, "the alert title");
    let byline = generic.json()["data"]["article"]["byline"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(byline.chars().count() <= 201, "{}", byline.chars().count());
    let discord = got.iter().find(|r| r.path == "/discord").expect("discord");
    let embed_title = discord.json()["embeds"][0]["title"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(embed_title.chars().count() <= 256, "{embed_title}");

    let maildir = dir.path().join("mail").join("new");
    let raw = std::fs::read_dir(&maildir)
        .expect("maildir")
        .filter_map(Result::ok)
        .map(|e| std::fs::read(e.path()).expect("read"))
        .next()
        .expect("one mail");
    let parsed = MessageParser::default().parse(&raw).expect("parseable");
    let subject = parsed.subject().unwrap_or_default().to_string();
    let title_part = subject.split_once(": ").map(|(_, t)| t).unwrap_or_default();
    assert!(
        title_part.chars().count() <= newshound::deliver::render::SUBJECT_TITLE_CHARS + 1,
        "{}",
        title_part.chars().count()
    );
    clean_end(title_part, "the subject");
    // Folded header lines stay under the RFC 5322 limit of 998 octets.
    let head = String::from_utf8_lossy(&raw);
    let head = head.split("\r\n\r\n").next().unwrap_or_default();
    assert!(head.split("\r\n").all(|l| l.len() <= 998));
}
