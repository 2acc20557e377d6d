//! OPML, the feed-list format every reader imports and exports: reading a list into
//! `[[feeds]]` entries for the configuration, and writing the configured feeds as OPML 2.0.
//!
//! Folders (outlines without `xmlUrl` that contain feeds) and the `category` attribute
//! (comma-separated `/a/b` paths) both become tags. On export a feed is placed in the
//! folder of its first tag, and all its tags are listed in `category`, so a round trip
//! keeps names, URLs and tags.

use std::collections::HashSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

use crate::config::{Config, ConfigError};

/// A feed found in an OPML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    /// Its title (`title`, else `text`, else the URL).
    pub name: String,
    /// The feed URL (`xmlUrl`).
    pub url: String,
    /// The site URL (`htmlUrl`), if given.
    pub html_url: Option<String>,
    /// Folder names and categories, outermost first, without duplicates.
    pub tags: Vec<String>,
}

/// Why an OPML document could not be read or the configuration not be extended.
#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    /// The XML is broken.
    #[error("{file}:{line}:{column}: invalid XML: {message}")]
    Xml {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column (characters).
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The document is XML but not OPML.
    #[error("{0}: not an OPML document (no <opml> root element)")]
    NotOpml(PathBuf),
    /// Reading or writing a file failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// The configuration to extend is invalid, or would be after the import.
    #[error("{0}")]
    Config(ConfigError),
}

/// Reads the feeds of an OPML document (any encoding the XML declares). `file` is only
/// used in error messages.
pub fn parse(bytes: &[u8], file: &Path) -> Result<Vec<OpmlFeed>, OpmlError> {
    let text = crate::charset::decode_xml(bytes, None).text;
    let mut reader = Reader::from_str(&text);
    reader.config_mut().trim_text(true);
    let mut feeds = Vec::new();
    let mut saw_opml = false;
    // One element per open <outline>: the folder name, or None for a feed or a nameless one.
    let mut folders: Vec<Option<String>> = Vec::new();
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event().map_err(|error| {
            let at = usize::try_from(reader.error_position()).unwrap_or(0);
            xml_error(
                file,
                &text,
                at.max(usize::try_from(position).unwrap_or(0)),
                error,
            )
        })?;
        match event {
            Event::Start(element) | Event::Empty(element)
                if eq_name(element.local_name().as_ref(), "opml") =>
            {
                saw_opml = true;
            }
            Event::Start(element) if eq_name(element.local_name().as_ref(), "outline") => {
                let outline = Outline::read(&element);
                match outline.feed(&folders) {
                    Some(feed) => {
                        feeds.push(feed);
                        folders.push(None);
                    }
                    None => folders.push(outline.label()),
                }
            }
            Event::Empty(element) if eq_name(element.local_name().as_ref(), "outline") => {
                if let Some(feed) = Outline::read(&element).feed(&folders) {
                    feeds.push(feed);
                }
            }
            Event::End(element) if eq_name(element.local_name().as_ref(), "outline") => {
                folders.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_opml {
        return Err(OpmlError::NotOpml(file.to_path_buf()));
    }
    Ok(feeds)
}

fn eq_name(name: &str, wanted: &str) -> bool {
    name.eq_ignore_ascii_case(wanted)
}

fn xml_error(file: &Path, text: &str, at: usize, error: quick_xml::Error) -> OpmlError {
    let mut at = at.min(text.len());
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    OpmlError::Xml {
        file: file.to_path_buf(),
        line,
        column,
        message: error.to_string(),
    }
}

/// The attributes of one `<outline>` that matter.
#[derive(Default)]
struct Outline {
    text: Option<String>,
    title: Option<String>,
    xml_url: Option<String>,
    html_url: Option<String>,
    category: Option<String>,
}

impl Outline {
    fn read(element: &BytesStart<'_>) -> Self {
        let mut outline = Outline::default();
        for attribute in element.attributes().with_checks(false).flatten() {
            let Ok(value) = attribute.normalized_value(quick_xml::XmlVersion::Implicit1_0) else {
                continue;
            };
            let value = value.trim().to_string();
            if value.is_empty() {
                continue;
            }
            let key = attribute.key.local_name();
            let slot = match key.as_ref().to_ascii_lowercase().as_str() {
                "text" => &mut outline.text,
                "title" => &mut outline.title,
                "xmlurl" => &mut outline.xml_url,
                "htmlurl" => &mut outline.html_url,
                "category" => &mut outline.category,
                _ => continue,
            };
            *slot = Some(value);
        }
        outline
    }

    fn label(&self) -> Option<String> {
        self.title.clone().or_else(|| self.text.clone())
    }

    fn feed(&self, folders: &[Option<String>]) -> Option<OpmlFeed> {
        let url = self.xml_url.clone()?;
        let mut tags: Vec<String> = Vec::new();
        let categories = self.category.iter().flat_map(|c| c.split(','));
        let category_parts = categories.flat_map(|path| path.split('/'));
        for tag in folders
            .iter()
            .flatten()
            .map(String::as_str)
            .chain(category_parts)
        {
            let tag = tag.trim();
            if !tag.is_empty() && !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_string());
            }
        }
        Some(OpmlFeed {
            name: self.label().unwrap_or_else(|| url.clone()),
            url,
            html_url: self.html_url.clone(),
            tags,
        })
    }
}

/// What an import adds, and what it leaves out and why.
#[derive(Debug, Default)]
pub struct ImportPlan {
    /// Feeds to add, with names made unique.
    pub add: Vec<OpmlFeed>,
    /// Feeds left out, with the reason.
    pub skipped: Vec<(OpmlFeed, String)>,
}

/// Decides which feeds to add: not a URL the configuration already has or the document
/// listed before, not a URL newshound cannot poll; a name already taken gets a
/// number.
pub fn plan_import(feeds: Vec<OpmlFeed>, existing: Option<&Config>) -> ImportPlan {
    let mut configured: HashSet<String> = HashSet::new();
    let mut names: HashSet<String> = HashSet::new();
    if let Some(config) = existing {
        for feed in &config.feeds {
            configured.insert(feed.url.clone());
            names.insert(feed.name.clone());
        }
    }
    let mut listed: HashSet<String> = HashSet::new();
    let mut plan = ImportPlan::default();
    for mut feed in feeds {
        let pollable = url::Url::parse(&feed.url)
            .map(|u| matches!(u.scheme(), "http" | "https"))
            .unwrap_or(false);
        if !pollable {
            plan.skipped.push((feed, "not an http(s) URL".to_string()));
            continue;
        }
        if configured.contains(&feed.url) {
            plan.skipped.push((feed, "already configured".to_string()));
            continue;
        }
        if !listed.insert(feed.url.clone()) {
            plan.skipped
                .push((feed, "listed twice in the file".to_string()));
            continue;
        }
        if names.contains(&feed.name) {
            let base = feed.name.clone();
            let mut n = 2;
            while names.contains(&format!("{base} ({n})")) {
                n += 1;
            }
            feed.name = format!("{base} ({n})");
        }
        names.insert(feed.name.clone());
        plan.add.push(feed);
    }
    plan
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The feeds as `[[feeds]]` tables for the configuration file.
pub fn to_toml(feeds: &[OpmlFeed]) -> String {
    let mut out = String::new();
    for feed in feeds {
        out.push_str("[[feeds]]\n");
        out.push_str(&format!("name = {}\n", toml_string(&feed.name)));
        out.push_str(&format!("url = {}\n", toml_string(&feed.url)));
        if !feed.tags.is_empty() {
            let tags: Vec<String> = feed.tags.iter().map(|t| toml_string(t)).collect();
            out.push_str(&format!("tags = [{}]\n", tags.join(", ")));
        }
        out.push('\n');
    }
    out
}

/// Appends the planned feeds to the main configuration file, then loads the result; if
/// it does not load, the file is put back as it was and the errors are returned.
pub fn append_to_config(path: &Path, plan: &ImportPlan, source: &Path) -> Result<(), OpmlError> {
    let io = |error| OpmlError::Io {
        path: path.to_path_buf(),
        error,
    };
    let original = std::fs::read_to_string(path).map_err(io)?;
    let mut text = original.clone();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "\n# Imported from {} on {}\n",
        source.display(),
        jiff::Timestamp::now().strftime("%Y-%m-%d")
    ));
    text.push_str(&to_toml(&plan.add));
    write_replacing(path, &text).map_err(io)?;
    if let Err(error) = crate::config::load(path) {
        write_replacing(path, &original).map_err(io)?;
        return Err(OpmlError::Config(error));
    }
    Ok(())
}

/// Replaces a file's content through a temporary file and a rename, keeping its mode.
fn write_replacing(path: &Path, text: &str) -> std::io::Result<()> {
    let directory = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "config".into());
    let temporary = directory.join(format!(".{name}.newshound-import"));
    std::fs::write(&temporary, text)?;
    if let Ok(metadata) = std::fs::metadata(path) {
        std::fs::set_permissions(&temporary, metadata.permissions())?;
    }
    std::fs::rename(&temporary, path)
}

/// The configured feeds as an OPML 2.0 document.
pub fn export(config: &Config) -> String {
    let mut writer = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2);
    // Writing into memory cannot fail; errors are ignored only for that reason.
    let _ = write_document(&mut writer, config);
    let mut text = String::from_utf8(writer.into_inner().into_inner()).unwrap_or_default();
    text.push('\n');
    text
}

fn write_document(writer: &mut Writer<Cursor<Vec<u8>>>, config: &Config) -> std::io::Result<()> {
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    writer.write_event(Event::Start(
        BytesStart::new("opml").with_attributes([("version", "2.0")]),
    ))?;
    writer.write_event(Event::Start(BytesStart::new("head")))?;
    text_element(writer, "title", "newshound feeds")?;
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    if let Ok(date) = jiff::fmt::rfc2822::to_string(&now) {
        text_element(writer, "dateCreated", &date)?;
    }
    text_element(writer, "docs", "http://opml.org/spec2.opml")?;
    writer.write_event(Event::End(BytesEnd::new("head")))?;
    writer.write_event(Event::Start(BytesStart::new("body")))?;
    // Folders in order of first appearance, then the feeds without tags.
    let mut folders: Vec<&str> = Vec::new();
    for feed in &config.feeds {
        if let Some(first) = feed.tags.first()
            && !folders.contains(&first.as_str())
        {
            folders.push(first);
        }
    }
    for folder in folders {
        writer.write_event(Event::Start(
            BytesStart::new("outline").with_attributes([("text", folder), ("title", folder)]),
        ))?;
        for feed in config
            .feeds
            .iter()
            .filter(|f| f.tags.first().map(String::as_str) == Some(folder))
        {
            feed_outline(writer, feed)?;
        }
        writer.write_event(Event::End(BytesEnd::new("outline")))?;
    }
    for feed in config.feeds.iter().filter(|f| f.tags.is_empty()) {
        feed_outline(writer, feed)?;
    }
    writer.write_event(Event::End(BytesEnd::new("body")))?;
    writer.write_event(Event::End(BytesEnd::new("opml")))?;
    Ok(())
}

fn text_element(
    writer: &mut Writer<Cursor<Vec<u8>>>,
    name: &str,
    text: &str,
) -> std::io::Result<()> {
    writer.write_event(Event::Start(BytesStart::new(name)))?;
    writer.write_event(Event::Text(BytesText::new(text)))?;
    writer.write_event(Event::End(BytesEnd::new(name)))?;
    Ok(())
}

fn feed_outline(
    writer: &mut Writer<Cursor<Vec<u8>>>,
    feed: &crate::config::FeedConfig,
) -> std::io::Result<()> {
    let mut element = BytesStart::new("outline").with_attributes([
        ("type", "rss"),
        ("text", feed.name.as_str()),
        ("title", feed.name.as_str()),
        ("xmlUrl", feed.url.as_str()),
    ]);
    if !feed.tags.is_empty() {
        let category: Vec<String> = feed.tags.iter().map(|t| format!("/{t}")).collect();
        element.push_attribute(("category", category.join(",").as_str()));
    }
    writer.write_event(Event::Empty(element))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const READER_EXPORT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Subscriptions</title></head>
  <body>
    <outline text="Ukraine" title="Ukraine">
      <outline text="Politics">
        <outline type="rss" text="Європейська правда" title="Європейська правда"
                 xmlUrl="https://www.eurointegration.com.ua/rss/" htmlUrl="https://www.eurointegration.com.ua/"/>
      </outline>
      <outline type="rss" text="Ukrainska Pravda &amp; co" xmlUrl="https://www.pravda.com.ua/rss/" category="/news,/Ukraine"/>
    </outline>
    <outline type="rss" text="NATO" xmlUrl="https://www.nato.int/rss.xml"></outline>
    <outline text="Podcast" type="rss" xmlUrl="ftp://example.org/feed"/>
  </body>
</opml>"#;

    #[test]
    fn folders_and_categories_become_tags() {
        let feeds = parse(READER_EXPORT.as_bytes(), Path::new("subs.opml")).expect("parse");
        assert_eq!(feeds.len(), 4);
        assert_eq!(feeds[0].name, "Європейська правда");
        assert_eq!(feeds[0].tags, vec!["Ukraine", "Politics"]);
        assert_eq!(
            feeds[0].html_url.as_deref(),
            Some("https://www.eurointegration.com.ua/")
        );
        assert_eq!(feeds[1].name, "Ukrainska Pravda & co");
        assert_eq!(feeds[1].tags, vec!["Ukraine", "news"]);
        assert_eq!(feeds[2].tags, Vec::<String>::new());
        let plan = plan_import(feeds, None);
        assert_eq!(plan.add.len(), 3);
        assert_eq!(plan.skipped.len(), 1);
        assert_eq!(plan.skipped[0].1, "not an http(s) URL");
        let toml = to_toml(&plan.add);
        assert!(
            toml.contains("name = \"Ukrainska Pravda & co\"\nurl = \"https://www.pravda.com.ua/rss/\"\ntags = [\"Ukraine\", \"news\"]\n"),
            "{toml}"
        );
        let parsed: toml::Table = toml::from_str(&toml).expect("valid TOML");
        assert_eq!(parsed["feeds"].as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn broken_xml_is_located() {
        let error = parse(
            b"<opml version=\"2.0\">\n<body>\n  <outline text=\"x\" xmlUrl=\"https://a.example/\">\n</bod>\n",
            Path::new("bad.opml"),
        )
        .expect_err("broken");
        let text = error.to_string();
        assert!(text.starts_with("bad.opml:4:"), "{text}");
        let error = parse(b"<rss/>", Path::new("x.xml")).expect_err("not opml");
        assert!(error.to_string().contains("not an OPML document"));
    }

    #[test]
    fn duplicate_urls_are_skipped_and_names_numbered() {
        let feed = |name: &str, url: &str| OpmlFeed {
            name: name.into(),
            url: url.into(),
            html_url: None,
            tags: Vec::new(),
        };
        let plan = plan_import(
            vec![
                feed("A", "https://a.example/rss"),
                feed("A", "https://b.example/rss"),
                feed("C", "https://a.example/rss"),
                feed("A", "https://c.example/rss"),
            ],
            None,
        );
        let names: Vec<&str> = plan.add.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, vec!["A", "A (2)", "A (3)"]);
        assert_eq!(plan.skipped[0].1, "listed twice in the file");
    }
}
