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
    assert_eq!(hit[0].destinations, vec!["local".to_string()].into());
    assert!(
        matches!(&hit[0].evidence[0], Evidence::Term { field, snippet, .. }
        if &**field == "title" && snippet.contains("[[PEACE TALKS]]"))
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

fn rules_with(body: &str) -> Result<(RuleSet, tempfile::TempDir), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        format!(
            "state_dir = \"state\"\n[[feeds]]\nname = \"NATO\"\nurl = \"https://www.nato.int/rss.xml\"\ntags = [\"official\"]\n{body}"
        ),
    )?;
    let config = crate::config::load(&path)?;
    Ok((RuleSet::compile(&config)?, dir))
}

fn fired(rules: &RuleSet, title: &str, content: &str) -> Vec<String> {
    let tags = vec!["official".to_string()];
    let subject = Subject {
        feed: "NATO",
        tags: &tags,
        url: Some("https://www.nato.int/cps/en/natohq/news_1.htm"),
        title,
        author: "",
        content,
        published: "2024-12-12T10:00:00Z".parse().ok(),
    };
    rules
        .evaluate(&subject)
        .into_iter()
        .map(|m| m.rule.to_string())
        .collect()
}

#[test]
fn query_language_matches_as_documented() -> Result<(), Box<dyn std::error::Error>> {
    let (rules, _dir) = rules_with(
        r#"
[[rules]]
name = "wildcard"
query = 'negotiat* AND NOT rumour*'
[[rules]]
name = "near"
query = 'Rutte NEAR/3 (talks OR переговор*)'
[[rules]]
name = "fields"
query = 'title:"peace talks" AND content:Rutte'
[[rules]]
name = "scope"
query = 'tag:official AND url:natohq AND feed:NATO AND summit'
[[rules]]
name = "regex"
query = '/\bcease-?fire\b/'
[[rules]]
name = "apostrophe"
query = '''"об’єднання" OR "Ukraine's"'''
[[rules]]
name = "diacritics"
query = 'Erdogan OR ЗЕЛЕНСЬКОГО'
"#,
    )?;
    assert_eq!(fired(&rules, "", "The NEGOTIATIONS went on."), ["wildcard"]);
    assert!(fired(&rules, "", "Negotiations rumoured.").is_empty());
    assert_eq!(fired(&rules, "", "Rutte said the talks resume."), ["near"]);
    assert_eq!(
        fired(&rules, "", "Рютте: Rutte та інші переговори"),
        ["near"]
    );
    assert!(fired(&rules, "", "Rutte went home and later, much later, talks").is_empty());
    assert_eq!(fired(&rules, "Peace  talks", "Rutte spoke."), ["fields"]);
    assert!(fired(&rules, "Rutte", "peace talks").is_empty());
    assert_eq!(fired(&rules, "", "At the summit"), ["scope"]);
    assert_eq!(fired(&rules, "", "A ceasefire now"), ["regex"]);
    assert_eq!(fired(&rules, "", "Об'єднання громад"), ["apostrophe"]);
    assert_eq!(fired(&rules, "", "Ukraine’s army"), ["apostrophe"]);
    assert_eq!(fired(&rules, "", "Recep Tayyip Erdoğan"), ["diacritics"]);
    assert_eq!(fired(&rules, "", "заява Зеленського"), ["diacritics"]);
    // Titles from feeds may carry markup: rules see the text only.
    assert!(fired(&rules, "<b class=\"peace\">x</b>", "Rutte").is_empty());
    Ok(())
}

#[test]
fn speaker_rules_need_a_statement_about_the_topic() -> Result<(), Box<dyn std::error::Error>> {
    let (rules, _dir) = rules_with(
        r#"
[[rules]]
name = "SG on Putin"
speakers = ["role:NATO Secretary General"]
says = 'Putin OR Путін*'
"#,
    )?;
    assert_eq!(
        fired(
            &rules,
            "",
            "Mark Rutte said Putin was not interested in peace."
        ),
        ["SG on Putin"]
    );
    assert!(
        fired(
            &rules,
            "",
            "Vladimir Putin said Rutte was not interested in peace."
        )
        .is_empty()
    );
    assert!(fired(&rules, "", "Mark Rutte met Putin's envoy.").is_empty());
    Ok(())
}

#[test]
fn explanations_name_the_failing_clause() -> Result<(), Box<dyn std::error::Error>> {
    let (rules, _dir) = rules_with(
        r#"
[[rules]]
name = "q"
query = 'summit AND (peace OR truce) AND NOT sport'
[[rules]]
name = "s"
speakers = ["person:rutte"]
says = 'peace'
"#,
    )?;
    let tags = vec!["official".to_string()];
    let subject = Subject {
        feed: "NATO",
        tags: &tags,
        url: None,
        title: "Summit",
        author: "",
        content: "Sport and summit. Mark Rutte said the budget will grow.",
        published: None,
    };
    let outcomes = rules.explain(&subject);
    let why: Vec<String> = outcomes
        .iter()
        .map(|o| match &o.verdict {
            explain::Verdict::Failed(why) => why.clone(),
            explain::Verdict::Matched(m) => format!("matched {}", m.rule),
        })
        .collect();
    assert_eq!(why[0], "query: none of `(peace OR truce)` found");
    assert!(
        why[1].starts_with("says: 1 statement(s) by person:rutte, but in none: `peace` not found"),
        "{}",
        why[1]
    );
    Ok(())
}

#[test]
fn rules_without_terms_are_still_evaluated() -> Result<(), Box<dyn std::error::Error>> {
    let (rules, _dir) = rules_with(
        r#"
[[rules]]
name = "official, no rumours"
query = 'tag:official AND NOT rumour*'
[[rules]]
name = "regex only"
query = '/\d+ drones/'
[[rules]]
name = "term"
keywords = ["summit"]
"#,
    )?;
    assert_eq!(
        fired(&rules, "", "Nothing to see."),
        ["official, no rumours"]
    );
    assert_eq!(
        fired(&rules, "", "Rumours of 40 drones at the summit."),
        ["regex only", "term"]
    );
    Ok(())
}
