//! `newshound opml import` and `opml export` with the real binary: a reader's export in
//! windows-1251 with nested folders becomes `[[feeds]]` with tags; export then import
//! gives back the same feeds; `--write` appends only what is new and leaves a valid file.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::write_config;

const BIN: &str = env!("CARGO_BIN_EXE_newshound");

fn newshound(args: &[&str], extra: &[&Path]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(extra)
        .output()
        .expect("run newshound")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

/// (name, url, tags) of every `[[feeds]]` table in a TOML text, sorted.
fn feeds_of(toml_text: &str) -> Vec<(String, String, Vec<String>)> {
    let table: toml::Table = toml::from_str(toml_text).expect("valid TOML");
    let mut feeds: Vec<_> = table
        .get("feeds")
        .and_then(|f| f.as_array())
        .map(|feeds| {
            feeds
                .iter()
                .map(|feed| {
                    let field = |key: &str| feed[key].as_str().unwrap_or_default().to_string();
                    let tags = feed
                        .get("tags")
                        .and_then(|t| t.as_array())
                        .map(|tags| {
                            tags.iter()
                                .filter_map(|t| t.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default();
                    (field("name"), field("url"), tags)
                })
                .collect()
        })
        .unwrap_or_default();
    feeds.sort();
    feeds
}

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/opml")
        .join(name)
}

#[test]
fn a_readers_export_becomes_feeds_with_folder_tags() {
    let file = data("reader-export.opml");
    let output = newshound(&["opml", "import"], &[&file]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let feeds = feeds_of(&text(&output.stdout));
    let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        feeds,
        vec![
            (
                "NATO News".to_string(),
                "https://www.nato.int/cps/rss/en/natohq/rssFeed.xsl/rssFeed.xml".to_string(),
                tags(&["NATO"])
            ),
            (
                "Європейська правда".to_string(),
                "https://www.eurointegration.com.ua/rss/".to_string(),
                tags(&["Україна", "Політика"])
            ),
            (
                "Українська правда".to_string(),
                "https://www.pravda.com.ua/rss/".to_string(),
                tags(&["Україна", "news"])
            ),
        ]
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("skipped \"NATO News again\"")
            && stderr.contains("listed twice in the file"),
        "{stderr}"
    );
}

#[test]
fn export_then_import_gives_the_same_feeds_and_write_appends_only_new_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        r#"
[[feeds]]
name = "NATO News"
url = "https://www.nato.int/rss.xml"
tags = ["nato", "security"]

[[feeds]]
name = "Європейська правда"
url = "https://www.eurointegration.com.ua/rss/"
tags = ["ukraine"]

[[feeds]]
name = "Quotes \"and\" <angles> & co"
url = "https://quotes.example/feed?a=1&b=2"

[[feeds]]
name = "Security blog"
url = "https://security.example/atom.xml"
tags = ["security"]
"#,
    );
    let exported = dir.path().join("feeds.opml");
    let output = newshound(
        &["opml", "export", "--config"],
        &[&config, Path::new("--output"), &exported],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let document = std::fs::read_to_string(&exported).expect("exported");
    assert!(
        document.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
        "{document}"
    );
    assert!(document.contains("<opml version=\"2.0\">"), "{document}");
    assert!(document.contains("<dateCreated>"), "{document}");
    assert!(
        document.contains("xmlUrl=\"https://quotes.example/feed?a=1&amp;b=2\""),
        "{document}"
    );
    assert!(
        document.contains("<outline text=\"nato\" title=\"nato\">"),
        "folders by first tag: {document}"
    );

    let output = newshound(&["opml", "import"], &[&exported]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let original = feeds_of(&std::fs::read_to_string(&config).expect("config"));
    assert_eq!(feeds_of(&text(&output.stdout)), original);

    // --write into a configuration that has one of the feeds: the others are appended, the
    // file still loads, and a second import adds nothing.
    let other = tempfile::tempdir().expect("tempdir");
    let target = write_config(
        other.path(),
        "[[feeds]]\nname = \"Mine\"\nurl = \"https://security.example/atom.xml\"\n\n[[rules]]\nname = \"r\"\nkeywords = [\"x\"]\n",
    );
    let output = newshound(
        &["opml", "import", "--write", "--config"],
        &[&target, &exported],
    );
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("added 3 feeds"), "{stderr}");
    assert!(
        stderr.contains(
            "skipped \"Security blog\" <https://security.example/atom.xml>: already configured"
        ),
        "{stderr}"
    );
    let check = newshound(&["check", "--config"], &[&target]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(
        text(&check.stdout).contains("feeds (4)"),
        "{}",
        text(&check.stdout)
    );
    let written = std::fs::read_to_string(&target).expect("config");
    assert!(written.contains("# Imported from "), "{written}");
    let output = newshound(
        &["opml", "import", "--write", "--config"],
        &[&target, &exported],
    );
    assert!(output.status.success());
    assert!(text(&output.stderr).contains("nothing to add"));
    assert_eq!(std::fs::read_to_string(&target).expect("config"), written);

    // --write needs --config.
    let output = newshound(&["opml", "import", "--write"], &[&exported]);
    assert!(!output.status.success());
}

#[test]
fn a_broken_opml_file_is_reported_with_its_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("broken.opml");
    std::fs::write(
        &file,
        "<opml version=\"2.0\"><body>\n<outline text=\"a\" xmlUrl=\"https://a.example/\">\n</body></opml>\n",
    )
    .expect("write");
    let output = newshound(&["opml", "import"], &[&file]);
    assert_eq!(output.status.code(), Some(65));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("{}:3:", file.display())) && stderr.contains("invalid XML"),
        "{stderr}"
    );
}
