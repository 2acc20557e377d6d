//! Property tests (proptest) over the two languages users write by hand: random TOML and
//! mutations of valid configurations go into the configuration loader, rule compiler and
//! destination builder; random query strings go into the query parser and, inside a
//! configuration, into the rule compiler. Never a panic; every error names the file, a line
//! and a column (for a query: a span inside the query, shown inside its quotes).
//!
//! The invariants are the ones the fuzz targets check (`newshound::robustness`); proptest
//! brings structure-aware generation (TOML-shaped and query-shaped text) and shrinking to a
//! minimal failing input, and runs in `cargo test`.

use proptest::prelude::*;

/// A small valid configuration exercising every kind of section the loader dispatches.
const VALID: &str = r#"state_dir = "state"

[fetch]
max_redirects = 3
max_body = "8 MiB"

[[feeds]]
name = "NATO"
url = "https://www.nato.int/cps/rss/en/natohq/rssFeed.xsl/rssFeed.xml"
interval = "15m"
tags = ["nato"]

[[feeds]]
url = "https://www.pravda.com.ua/eng/rss/"

[[rules]]
name = "peace"
keywords = ["peace talks", "ceasefire"]
query = 'title:(peace OR truce) AND NOT rumour*'
destinations = ["desk"]

[[rules]]
name = "sg"
speakers = ["role:NATO Secretary General"]
says = 'peace OR negotiat*'

[[destinations]]
name = "desk"
type = "file"
path = "alerts.jsonl"
"#;

/// Pieces TOML is made of, so that random text reaches the parser's deeper states (tables,
/// arrays of tables, inline tables, strings, dates) and the loader's sections and keys.
fn toml_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\n".to_string()),
        Just("[[feeds]]\n".to_string()),
        Just("[[rules]]\n".to_string()),
        Just("[[destinations]]\n".to_string()),
        Just("[[people]]\n".to_string()),
        Just("[fetch]\n".to_string()),
        Just("[delivery]\n".to_string()),
        Just("[extract]\n".to_string()),
        Just("name = ".to_string()),
        Just("url = ".to_string()),
        Just("type = ".to_string()),
        Just("query = ".to_string()),
        Just("keywords = ".to_string()),
        Just("interval = ".to_string()),
        Just("include = ".to_string()),
        Just("\"https://news.example/feed\"".to_string()),
        Just("\"15m\"".to_string()),
        Just("\"webhook\"".to_string()),
        Just("\"email\"".to_string()),
        Just("'peace AND (talks'".to_string()),
        Just("[\"a\", 1, true]".to_string()),
        Just("{ host = \"h\", port = 25 }".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
        Just("\"\"\"\nmulti\n\"\"\"".to_string()),
        Just("\"\\u00e9\\q\"".to_string()),
        Just("# comment ✓\n".to_string()),
        Just("=".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just(".".to_string()),
        "[a-z_]{1,8}".prop_map(|s| s),
        "[0-9]{1,20}".prop_map(|s| s),
        any::<char>().prop_map(|c| c.to_string()),
    ]
}

fn random_toml() -> impl Strategy<Value = String> {
    prop::collection::vec(toml_piece(), 0..40).prop_map(|pieces| pieces.concat())
}

/// One edit of a text: delete, insert or duplicate a range, by byte offsets that may fall
/// inside a character (the result is then not UTF-8, which the loader must report too).
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, String),
    Duplicate(usize, usize),
    Byte(usize, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0..40usize).prop_map(|(at, len)| Edit::Delete(at, len)),
        (any::<usize>(), toml_piece()).prop_map(|(at, text)| Edit::Insert(at, text)),
        (any::<usize>(), 0..80usize).prop_map(|(at, len)| Edit::Duplicate(at, len)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Edit::Byte(at, byte)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for edit in edits {
        let len = bytes.len();
        match edit {
            Edit::Delete(at, n) => {
                let start = at % (len + 1);
                let end = (start + n).min(len);
                bytes.drain(start..end);
            }
            Edit::Insert(at, piece) => {
                let at = at % (len + 1);
                bytes.splice(at..at, piece.bytes());
            }
            Edit::Duplicate(at, n) => {
                let start = at % (len + 1);
                let end = (start + n).min(len);
                let copy = bytes[start..end].to_vec();
                bytes.splice(end..end, copy);
            }
            Edit::Byte(at, byte) => {
                if len > 0 {
                    bytes[at % len] = *byte;
                }
            }
        }
    }
    bytes
}

/// Pieces queries are made of.
fn query_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(" ".to_string()),
        Just("AND".to_string()),
        Just("OR".to_string()),
        Just("NOT".to_string()),
        Just("NEAR/5".to_string()),
        Just("NEAR/".to_string()),
        Just("NEAR/99999999999".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("\"".to_string()),
        Just("*".to_string()),
        Just("/".to_string()),
        Just("\\".to_string()),
        Just(":".to_string()),
        Just("title:".to_string()),
        Just("content:".to_string()),
        Just("tag:".to_string()),
        Just("url:".to_string()),
        Just("author:".to_string()),
        Just("feed:".to_string()),
        Just("/sec(retary)?[ -]general/".to_string()),
        Just("/[a-/".to_string()),
        Just("/(a+)+$/".to_string()),
        Just("переговор*".to_string()),
        Just("\"peace talks\"".to_string()),
        Just("'".to_string()),
        "[a-zA-Zа-яіїєґ]{1,10}".prop_map(|s| s),
        "[0-9]{1,4}".prop_map(|s| s),
        any::<char>().prop_map(|c| c.to_string()),
    ]
}

fn random_query() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(query_piece(), 0..24).prop_map(|p| p.concat()),
        1 => any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_toml_is_loaded_or_refused_at_a_place(text in random_toml()) {
        let outcome = newshound::robustness::config_bytes(text.as_bytes());
        prop_assert!(outcome.is_ok(), "{:?}\n--- input ---\n{}", outcome, text);
    }

    #[test]
    fn mutated_valid_configs_are_loaded_or_refused_at_a_place(
        edits in prop::collection::vec(edit(), 1..6)
    ) {
        let bytes = apply(VALID, &edits);
        let outcome = newshound::robustness::config_bytes(&bytes);
        prop_assert!(
            outcome.is_ok(),
            "{:?}\n--- input ---\n{}",
            outcome,
            String::from_utf8_lossy(&bytes)
        );
    }

    #[test]
    fn random_queries_compile_or_are_refused_at_a_column(query in random_query()) {
        // The parser alone: an error's span lies inside the query, on character boundaries.
        if let Err(error) = newshound::rules::query::parse(&query) {
            prop_assert!(error.span.start <= error.span.end && error.span.end <= query.len());
            prop_assert!(query.is_char_boundary(error.span.start));
            prop_assert!(!error.message.is_empty());
        }
        // In a configuration: loaded and compiled, or refused at a line and column inside
        // the query's quotes.
        let outcome = newshound::robustness::query_bytes(query.as_bytes());
        prop_assert!(outcome.is_ok(), "{:?} for {:?}", outcome, query);
    }
}

/// The valid configuration really is valid: otherwise the mutation test would only ever
/// exercise the refusal path.
#[test]
fn the_base_of_the_mutations_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("newshound.toml");
    std::fs::write(&path, VALID).expect("write");
    let config = newshound::config::load(&path).expect("the base configuration loads");
    newshound::rules::RuleSet::compile(&config).expect("and its rules compile");
    assert_eq!(config.feeds.len(), 2);
    assert_eq!(config.rules.len(), 2);
}
