use super::*;

fn config(toml: &str) -> Result<Config, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("c.toml");
    std::fs::write(&path, format!("state_dir = \"state\"\n{toml}"))?;
    Ok(crate::config::load(&path)?)
}

fn subject<'a>(title: &'a str, content: &'a str, tags: &'a [String]) -> Subject<'a> {
    Subject {
        feed: "NATO",
        tags,
        url: None,
        title,
        author: "",
        content,
        published: None,
    }
}

#[test]
fn keywords_match_whole_words_case_insensitively() -> Result<(), Box<dyn std::error::Error>> {
    let config = config(
        r#"
[[feeds]]
name = "NATO"
url = "https://www.nato.int/rss.xml"
[[rules]]
name = "peace"
keywords = ["peace talks", "Переговори"]
"#,
    )?;
    let rules = RuleSet::compile(&config)?;
    let tags: Vec<String> = Vec::new();
    let hit = rules.evaluate(&subject("Rutte on PEACE TALKS", "", &tags));
    assert_eq!(hit.len(), 1);
    assert_eq!(hit[0].destinations, vec!["local".to_string()]);
    assert!(
        matches!(&hit[0].evidence[0], Evidence::Term { field, snippet, .. }
        if field == "title" && snippet.contains("[[PEACE TALKS]]"))
    );
    assert_eq!(
        rules
            .evaluate(&subject("", "Почалися переговори у Стамбулі", &tags))
            .len(),
        1
    );
    assert!(
        rules
            .evaluate(&subject("peace talkshow", "", &tags))
            .is_empty()
    );
    Ok(())
}

#[test]
fn scope_by_feed_and_tag() -> Result<(), Box<dyn std::error::Error>> {
    let config = config(
        r#"
[[feeds]]
name = "NATO"
url = "https://www.nato.int/rss.xml"
tags = ["official"]
[[feeds]]
name = "Other"
url = "https://example.org/rss.xml"
[[rules]]
name = "official-only"
keywords = ["summit"]
tags = ["official"]
"#,
    )?;
    let rules = RuleSet::compile(&config)?;
    let official = vec!["official".to_string()];
    let none: Vec<String> = Vec::new();
    assert_eq!(rules.evaluate(&subject("summit", "", &official)).len(), 1);
    assert!(rules.evaluate(&subject("summit", "", &none)).is_empty());
    Ok(())
}

#[test]
fn snippets_cut_on_character_boundaries() {
    let text = "ї".repeat(200) + " Rutte " + &"є".repeat(200);
    let start = text.find("Rutte").unwrap_or(0);
    let s = snippet(&text, start, start + 5);
    assert!(s.contains("[[Rutte]]"));
    assert!(s.starts_with('…') && s.ends_with('…'));
}
