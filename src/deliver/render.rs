//! Turning alerts and digests into text: subjects and one-line summaries safe for headers
//! and chat services, a generic view of any [`Evidence`] variant, and the email bodies from
//! minijinja templates compiled into the binary (each replaceable by a file named in the
//! configuration).
//!
//! Every string from a feed is untrusted: it is inserted as text (HTML-escaped by the
//! templates' auto-escaping), links are limited to http(s) and mailto, and feed HTML, where a
//! custom template wants it, goes through ammonia (`sanitize` filter) without images,
//! scripts, styles or remote content.

use std::collections::HashSet;
use std::path::Path;

use minijinja::{Environment, Value};
use serde::Serialize;

use crate::alerts::{Alert, Outlet, truncate_chars};
use crate::config::{ConfigError, Diagnostic, TemplatePaths};
use crate::rules::Evidence;

/// Longest article title in a subject, in characters.
pub const SUBJECT_TITLE_CHARS: usize = 120;

/// Built-in templates: (name, source).
const BUILT_IN: &[(&str, &str)] = &[
    ("alert.txt", include_str!("templates/alert.txt")),
    ("alert.html", include_str!("templates/alert.html")),
    ("digest.txt", include_str!("templates/digest.txt")),
    ("digest.html", include_str!("templates/digest.html")),
    ("evidence.txt", include_str!("templates/evidence.txt")),
    ("evidence.html", include_str!("templates/evidence.html")),
];

/// One line of feed text made safe for a header or a chat title: control characters
/// (CR and LF included) become spaces, invisible bidi and zero-width characters are removed,
/// runs of whitespace collapse.
pub fn clean_line(text: &str) -> String {
    let mapped: String = text
        .chars()
        .filter(|c| !is_invisible(*c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Zero-width joiners and non-joiners (U+200C, U+200D) are kept: emoji sequences and
/// Persian or Indic words need them, and they cannot reorder or hide text.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{00AD}')
}

/// The headline of an alert, cleaned, or a stand-in.
pub fn title_of(alert: &Alert) -> String {
    let title = clean_line(alert.article.title.as_deref().unwrap_or(""));
    if title.is_empty() {
        "(untitled)".to_string()
    } else {
        title
    }
}

/// `"{prefix} {rule}: {title}"`, the title cut to [`SUBJECT_TITLE_CHARS`] characters.
pub fn alert_subject(prefix: &str, alert: &Alert) -> String {
    let title = truncate_chars(&title_of(alert), SUBJECT_TITLE_CHARS);
    let prefix = clean_line(prefix);
    let rule = clean_line(&alert.rule);
    if prefix.is_empty() {
        format!("{rule}: {title}")
    } else {
        format!("{prefix} {rule}: {title}")
    }
}

/// A piece of evidence as templates and chat presets see it: every field of the variant,
/// plus a generic `label` and `text` so that a new variant renders without a new template.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceView {
    /// The variant's fields (`kind`, `term`, `snippet`, `speaker`, `quote`, ...).
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// What was found: the term, "<speaker> said", or the kind.
    pub label: String,
    /// The finding in context, matches marked `[[…]]`.
    pub text: String,
}

impl EvidenceView {
    /// The view of one piece of evidence.
    pub fn of(evidence: &Evidence) -> Self {
        let fields = match serde_json::to_value(evidence) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        let text_of = |key: &str| {
            fields
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .filter(|s| !s.trim().is_empty())
        };
        let kind = text_of("kind").unwrap_or_else(|| "evidence".into());
        let label = if let Some(speaker) = text_of("speaker") {
            format!("{speaker} said")
        } else if let Some(term) = text_of("term") {
            term
        } else {
            kind.replace('_', " ")
        };
        let text = text_of("quote")
            .or_else(|| text_of("statement"))
            .or_else(|| text_of("snippet"))
            .unwrap_or_else(|| {
                fields
                    .iter()
                    .filter(|(k, _)| k.as_str() != "kind")
                    .filter_map(|(k, v)| v.as_str().map(|s| format!("{k}: {s}")))
                    .collect::<Vec<_>>()
                    .join("; ")
            });
        Self {
            fields,
            label: clean_line(&label),
            text: clean_line(&text),
        }
    }

    /// `label: text` with the match markers replaced by `marker`.
    pub fn line(&self, marker: &str) -> String {
        let text = self.text.replace("[[", marker).replace("]]", marker);
        if text.is_empty() {
            self.label.clone()
        } else {
            format!("{}: {text}", self.label)
        }
    }
}

/// An article's published time for people: UTC, and local time when a zone is given.
pub fn when(at: Option<jiff::Timestamp>, tz: Option<&jiff::tz::TimeZone>) -> String {
    let Some(at) = at else {
        return String::new();
    };
    let utc = at.strftime("%Y-%m-%d %H:%M UTC").to_string();
    match tz {
        Some(tz) if *tz != jiff::tz::TimeZone::UTC => {
            let local = at.to_zoned(tz.clone());
            format!("{} ({utc})", local.strftime("%Y-%m-%d %H:%M %Z"))
        }
        _ => utc,
    }
}

/// A link only if it is http(s) or mailto (never `javascript:` or `data:`).
pub fn safe_url(link: &str) -> Option<String> {
    let parsed = url::Url::parse(link.trim()).ok()?;
    matches!(parsed.scheme(), "http" | "https" | "mailto").then(|| parsed.to_string())
}

/// Cleans feed HTML for an email: no scripts, styles, images, iframes or event handlers;
/// links only http(s)/mailto, relative ones resolved against `base`, opened without referrer.
pub fn sanitize_html(html: &str, base: Option<&str>) -> String {
    // Parsing is quadratic in nesting depth (see `extract::nesting`): hostile markup is
    // sent as its escaped text.
    if crate::extract::nesting::nests_deeper_than(html, 2 * crate::extract::judge::MAX_NESTING) {
        return html_escape::encode_text(&crate::extract::html_to_text(html)).into_owned();
    }
    let mut builder = ammonia::Builder::default();
    builder
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .rm_tags(["img", "picture", "source", "video", "audio"])
        .link_rel(Some("noopener noreferrer nofollow"));
    if let Some(base) = base.and_then(|b| url::Url::parse(b).ok()) {
        builder.url_relative(ammonia::UrlRelative::RewriteWithBase(base));
    } else {
        builder.url_relative(ammonia::UrlRelative::Deny);
    }
    builder.clean(html).to_string()
}

fn highlight_html(value: String) -> Value {
    let escaped = html_escape::encode_text(&value).to_string();
    let marked = escaped
        .replace(
            "[[",
            "<mark style=\"background:#fff3a3;color:#1a1a1a;font-weight:bold\">",
        )
        .replace("]]", "</mark>");
    Value::from_safe_string(balance_marks(marked))
}

/// Closes a `<mark>` left open by a snippet cut in the middle of a match.
fn balance_marks(mut html: String) -> String {
    let open = html.matches("<mark").count();
    let close = html.matches("</mark>").count();
    for _ in close..open {
        html.push_str("</mark>");
    }
    html
}

/// The email templates of one destination.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The built-in templates with the destination's overrides; a template that does not
    /// read or compile is a configuration error naming the file.
    pub fn new(paths: &TemplatePaths, config_file: &Path) -> Result<Self, ConfigError> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        env.add_filter("mark_text", |value: String| {
            value.replace("[[", "*").replace("]]", "*")
        });
        env.add_filter("highlight", highlight_html);
        env.add_filter("safe_url", |value: Option<String>| {
            value.as_deref().and_then(safe_url).unwrap_or_default()
        });
        env.add_filter("sanitize", |value: String| {
            Value::from_safe_string(sanitize_html(&value, None))
        });
        let mut diagnostics = Vec::new();
        for (name, source) in BUILT_IN {
            let override_path = match *name {
                "alert.txt" => paths.alert_text.as_deref(),
                "alert.html" => paths.alert_html.as_deref(),
                "digest.txt" => paths.digest_text.as_deref(),
                "digest.html" => paths.digest_html.as_deref(),
                _ => None,
            };
            let (text, origin) = match override_path {
                Some(path) => match std::fs::read_to_string(path) {
                    Ok(text) => (text, Some(path)),
                    Err(error) => {
                        diagnostics.push(Diagnostic::whole_file(
                            config_file,
                            format!("cannot read template {}: {error}", path.display()),
                            Some("template paths are relative to the configuration file".into()),
                        ));
                        continue;
                    }
                },
                None => ((*source).to_string(), None),
            };
            if let Err(error) = env.add_template_owned(*name, text) {
                let file = origin.unwrap_or(Path::new(name));
                diagnostics.push(Diagnostic::whole_file(
                    file,
                    format!("template does not compile: {error}"),
                    Some("see https://docs.rs/minijinja for the template syntax; the built-in templates are in src/deliver/templates/".into()),
                ));
            }
        }
        if !diagnostics.is_empty() {
            return Err(ConfigError { diagnostics });
        }
        Ok(Self { env })
    }

    /// Renders one template with a context.
    pub fn render(&self, name: &str, context: &impl Serialize) -> Result<String, String> {
        let template = self.env.get_template(name).map_err(|e| e.to_string())?;
        template
            .render(Value::from_serialize(context))
            .map_err(|e| format!("template {name} failed: {e:#}"))
    }
}

/// What the alert templates see.
#[derive(Debug, Clone, Serialize)]
pub struct AlertContext {
    /// The email subject.
    pub subject: String,
    /// Cleaned headline.
    pub title: String,
    /// Article link (as given by the feed).
    pub link: Option<String>,
    /// Feed name.
    pub feed: String,
    /// Feed URL.
    pub feed_url: String,
    /// Published time, readable.
    pub published: String,
    /// Author line.
    pub byline: Option<String>,
    /// Rule name.
    pub rule: String,
    /// Why it matched.
    pub evidence: Vec<EvidenceView>,
    /// For an update: what is new.
    pub new_evidence: Vec<EvidenceView>,
    /// Start of the article text.
    pub excerpt: String,
    /// Other outlets with the same story.
    pub also_reported_by: Vec<Outlet>,
    /// Whether this is an update of an earlier alert.
    pub update: bool,
    /// Whether this is a test alert.
    pub test: bool,
    /// Destination name.
    pub destination: String,
    /// Configuration file.
    pub config: String,
    /// newshound version.
    pub version: &'static str,
}

impl AlertContext {
    /// The context of one alert.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        alert: &Alert,
        subject: String,
        also_reported_by: Vec<Outlet>,
        test: bool,
        tz: Option<&jiff::tz::TimeZone>,
        config: &Path,
    ) -> Self {
        Self {
            subject,
            title: title_of(alert),
            link: alert.article.link.clone(),
            feed: clean_line(&alert.feed.name),
            feed_url: alert.feed.url.clone(),
            published: when(alert.article.published, tz),
            byline: alert.article.byline.as_deref().map(clean_line),
            rule: clean_line(&alert.rule),
            evidence: alert.evidence.iter().map(EvidenceView::of).collect(),
            new_evidence: alert.new_evidence.iter().map(EvidenceView::of).collect(),
            excerpt: alert.article.excerpt.clone(),
            also_reported_by,
            update: alert.update_of.is_some(),
            test,
            destination: alert.destination.clone(),
            config: config.display().to_string(),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_injection_and_invisible_characters_are_removed() {
        assert_eq!(
            clean_line("Peace\r\nBcc: victim@example.org\r\n\r\nbody\u{202E}\u{200B}\t end"),
            "Peace Bcc: victim@example.org body end"
        );
    }

    #[test]
    fn unknown_evidence_variants_render_generically() {
        let term = EvidenceView::of(&Evidence::Term {
            field: "title".into(),
            term: "Rutte".into(),
            snippet: "…says [[Rutte]] in Brussels".into(),
        });
        assert_eq!(term.label, "Rutte");
        assert_eq!(term.line("*"), "Rutte: …says *Rutte* in Brussels");
        assert_eq!(
            term.fields.get("kind").and_then(|k| k.as_str()),
            Some("term")
        );
    }

    #[test]
    fn feed_html_is_cleaned_for_mail() {
        let dirty = r#"<p onclick="x()">Hi <script>alert(1)</script><a href="javascript:evil()">j</a>
            <a href="/a">rel</a><img src="http://tracker.example/p.gif"><iframe src="x"></iframe></p>"#;
        let clean = sanitize_html(dirty, Some("https://news.example/story"));
        for gone in [
            "onclick",
            "<script",
            "javascript:",
            "<img",
            "tracker",
            "<iframe",
        ] {
            assert!(!clean.contains(gone), "{gone} left in {clean}");
        }
        assert!(clean.contains("href=\"https://news.example/a\""), "{clean}");
        assert!(clean.contains("noopener"), "{clean}");
        assert_eq!(safe_url("javascript:alert(1)"), None);
        assert!(safe_url("https://news.example/a").is_some());
    }

    #[test]
    fn highlighted_snippets_are_escaped_first() {
        let html = highlight_html("<b>[[Rutte]]</b> & [[cut".to_string()).to_string();
        assert!(html.starts_with("&lt;b&gt;<mark"), "{html}");
        assert!(html.contains("&amp;"), "{html}");
        assert_eq!(
            html.matches("<mark").count(),
            html.matches("</mark>").count()
        );
    }

    #[test]
    fn subjects_are_one_clean_line_cut_on_a_character_boundary() {
        let alert = Alert {
            schema: 2,
            id: "nh_1".into(),
            rule: "peace".into(),
            destination: "desk".into(),
            story: "s".into(),
            feed: crate::alerts::AlertFeed {
                name: "f".into(),
                url: "u".into(),
            },
            article: crate::alerts::AlertArticle {
                entry_key: "k".into(),
                title: Some(format!("Рютте\r\nBcc: x@y {}", "ї".repeat(300))),
                link: None,
                byline: None,
                published: None,
                excerpt: String::new(),
            },
            evidence: Vec::new(),
            created: jiff::Timestamp::UNIX_EPOCH,
            update_of: None,
            new_evidence: Vec::new(),
            sketch: Vec::new(),
        };
        let subject = alert_subject("[newshound]", &alert);
        assert!(!subject.contains('\n') && !subject.contains('\r'));
        assert!(subject.starts_with("[newshound] peace: Рютте Bcc: x@y ї"));
        assert!(subject.chars().count() <= "[newshound] peace: ".len() + SUBJECT_TITLE_CHARS + 1);
    }

    #[test]
    fn hostile_nesting_is_sent_as_escaped_text() {
        let deep = format!(
            "{}<b>Rutte</b>{}",
            "<div>".repeat(50_000),
            "</div>".repeat(50_000)
        );
        assert_eq!(sanitize_html(&deep, None), "Rutte");
    }
}
