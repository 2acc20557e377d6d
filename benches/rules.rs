//! Rules engine speed: keyword evaluation with 1,000 rules (~10,000 terms) over real
//! article text, next to a naive loop with one regular expression per rule; and speaker
//! attribution throughput.
//!
//! Run: `cargo bench --bench rules`. Throughput is the article text scanned (title and
//! body), in bytes per second.

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use newshound::rules::people::Registry;
use newshound::rules::speakers::{Document, attribute};
use newshound::rules::{RuleSet, Subject};

struct Article {
    title: String,
    text: String,
    day: Option<jiff::civil::Date>,
}

/// Our labelled test articles (English, Ukrainian, Russian news text).
fn articles() -> Vec<Article> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rules/speakers");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("test data")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("json");
            Article {
                title: v["title"].as_str().unwrap_or("").to_string(),
                text: v["text"].as_str().unwrap_or("").to_string(),
                day: v["date"].as_str().and_then(|d| d.parse().ok()),
            }
        })
        .collect()
}

/// What the rules see of an article.
fn subject(a: &Article) -> Subject<'_> {
    Subject {
        feed: "bench",
        tags: &[],
        url: None,
        title: &a.title,
        author: "",
        content: &a.text,
        published: None,
    }
}

/// A deterministic pseudo-random generator (xorshift), so every run benches the same rules.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &'a [String]) -> &'a str {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// A term: a word of the articles, a two-word phrase, a wildcard stem, or a made-up name.
/// `real` is the share (in %) of terms taken from the articles' vocabulary.
fn term(
    random: &mut Random,
    words: &[String],
    latin: &[char],
    cyrillic: &[char],
    real: u64,
) -> (String, String) {
    let roll = random.next() % 100;
    let kind = if roll < real * 3 / 5 {
        0
    } else if roll < real * 4 / 5 {
        3
    } else if roll < real {
        4
    } else {
        5
    };
    match kind {
        0 => {
            let w = random.pick(words).to_string();
            (w.clone(), regex::escape(&w))
        }
        3 => {
            let (a, b) = (
                random.pick(words).to_string(),
                random.pick(words).to_string(),
            );
            (
                format!("\"{a} {b}\""),
                format!("{} {}", regex::escape(&a), regex::escape(&b)),
            )
        }
        4 => {
            let w = random.pick(words);
            let stem: String = w.chars().take(w.chars().count().clamp(3, 6)).collect();
            (format!("{stem}*"), format!("{}\\w*", regex::escape(&stem)))
        }
        _ => {
            let alphabet = if random.next() % 2 == 0 {
                latin
            } else {
                cyrillic
            };
            let len = 5 + (random.next() % 6) as usize;
            let w: String = (0..len)
                .map(|_| alphabet[(random.next() % alphabet.len() as u64) as usize])
                .collect();
            (w.clone(), w)
        }
    }
}

fn setup(articles: &[Article], real: u64) -> (RuleSet, Vec<regex::Regex>, tempfile::TempDir) {
    // Rules look for distinctive words: those of at least 6 letters that occur in at most
    // two of the articles (names, places, topics), not "because" or "заявив".
    let mut documents_with: BTreeMap<String, usize> = BTreeMap::new();
    for article in articles {
        let words: BTreeSet<String> = article
            .text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 6)
            .map(str::to_lowercase)
            .collect();
        for word in words {
            *documents_with.entry(word).or_default() += 1;
        }
    }
    let words: Vec<String> = documents_with
        .into_iter()
        .filter(|(_, n)| *n <= 2)
        .map(|(w, _)| w)
        .collect();
    let latin: Vec<char> = ('a'..='z').collect();
    let cyrillic: Vec<char> = ('а'..='я').collect();
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let mut toml = String::from("state_dir = \"state\"\n");
    let mut naive = Vec::new();
    for r in 0..1000 {
        let terms: Vec<(String, String)> = (0..10)
            .map(|_| term(&mut random, &words, &latin, &cyrillic, real))
            .collect();
        // Half the rules are keyword lists, half boolean queries.
        if r % 2 == 0 {
            let list: Vec<String> = terms
                .iter()
                .map(|(t, _)| format!("'{}'", t.trim_matches('"')))
                .collect();
            toml.push_str(&format!(
                "[[rules]]\nname = \"r{r}\"\nkeywords = [{}]\n",
                list.join(", ")
            ));
        } else {
            let any: Vec<&str> = terms[..7].iter().map(|(t, _)| t.as_str()).collect();
            let also: Vec<&str> = terms[7..9].iter().map(|(t, _)| t.as_str()).collect();
            toml.push_str(&format!(
                "[[rules]]\nname = \"r{r}\"\nquery = '''({}) AND ({}) AND NOT {}'''\n",
                any.join(" OR "),
                also.join(" OR "),
                terms[9].0
            ));
        }
        let alternatives: Vec<&str> = terms.iter().map(|(_, re)| re.as_str()).collect();
        naive.push(
            regex::Regex::new(&format!("(?i)\\b(?:{})\\b", alternatives.join("|")))
                .expect("naive regex"),
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.toml");
    std::fs::write(&path, toml).expect("write");
    let config = newshound::config::load(&path).expect("config");
    let rules = RuleSet::compile(&config).expect("rules");
    (rules, naive, dir)
}

/// Quiet: no rule matches (the cost of scanning and evaluating alone, the common case of
/// most articles). Typical: 10 % of the terms come from the articles' vocabulary, about 2 %
/// of the rules match each article and their evidence (snippets) is built. Busy: half of
/// the terms do, about 11 % of the rules match each article.
fn keyword_evaluation(c: &mut Criterion) {
    let articles = articles();
    let bytes: usize = articles.iter().map(|a| a.title.len() + a.text.len()).sum();
    for (name, real) in [("quiet", 0), ("typical", 10), ("busy", 50)] {
        let (rules, naive, _dir) = setup(&articles, real);
        let matched: usize = articles
            .iter()
            .map(|a| rules.evaluate(&subject(a)).len())
            .sum();
        eprintln!(
            "{name}: {} articles, {bytes} bytes; on average {:.1} of 1,000 rules match an article",
            articles.len(),
            matched as f64 / articles.len() as f64
        );
        let mut group = c.benchmark_group(format!("keywords {name} (1,000 rules, 10,000 terms)"));
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function("engine", |b| {
            b.iter(|| {
                articles
                    .iter()
                    .map(|a| rules.evaluate(black_box(&subject(a))).len())
                    .sum::<usize>()
            })
        });
        group.bench_function("naive one regex per rule", |b| {
            b.iter(|| {
                let mut matched = 0;
                for article in &articles {
                    for regex in &naive {
                        if regex.is_match(black_box(&article.title))
                            || regex.is_match(black_box(&article.text))
                        {
                            matched += 1;
                        }
                    }
                }
                matched
            })
        });
        group.finish();
    }
}

/// Compiling the typical 1,000-rule set (and the built-in people registry) at start-up:
/// `newshound once` checks them while its first requests are out, on a core it shares with
/// them, and builds them (the rest of compiling) once an entry needs them.
fn compilation(c: &mut Criterion) {
    let articles = articles();
    let (_rules, _naive, dir) = setup(&articles, 10);
    let config = newshound::config::load(&dir.path().join("bench.toml")).expect("config");
    let mut group = c.benchmark_group("compile");
    group.bench_function("1,000 rules (10,000 terms) and the people registry", |b| {
        b.iter(|| RuleSet::compile(black_box(&config)).map(|rules| rules.len()))
    });
    group.bench_function("checking alone (no automaton)", |b| {
        b.iter(|| RuleSet::check(black_box(&config)).is_ok())
    });
    group.finish();
}

fn attribution(c: &mut Criterion) {
    let articles = articles();
    let registry = Registry::builtin().expect("registry");
    let documents: Vec<(Document, Option<jiff::civil::Date>)> = articles
        .iter()
        .map(|a| (Document::new(&a.title, &a.text), a.day))
        .collect();
    let bytes: usize = documents.iter().map(|(d, _)| d.text.len()).sum();
    let mut group = c.benchmark_group("speaker attribution");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("statements", |b| {
        b.iter(|| {
            documents
                .iter()
                .map(|(d, day)| attribute(&registry, black_box(d), *day).len())
                .sum::<usize>()
        })
    });
    group.finish();
}

/// With `FASTEST_OF=N` in the environment, also times N runs of each keyword evaluation loop
/// one by one and prints the fastest: on a shared machine the least disturbed run says more
/// than a mean.
fn fastest_runs(_: &mut Criterion) {
    let Some(runs) = std::env::var("FASTEST_OF")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 0)
    else {
        return;
    };
    let articles = articles();
    let bytes: usize = articles.iter().map(|a| a.title.len() + a.text.len()).sum();
    for (name, real) in [("quiet", 0), ("typical", 10), ("busy", 50)] {
        let (rules, _naive, _dir) = setup(&articles, real);
        let fastest = (0..runs)
            .map(|_| {
                let started = std::time::Instant::now();
                let matched: usize = articles
                    .iter()
                    .map(|a| rules.evaluate(black_box(&subject(a))).len())
                    .sum();
                black_box(matched);
                started.elapsed()
            })
            .min()
            .unwrap_or_default();
        eprintln!(
            "fastest of {runs} runs, keywords {name}: {fastest:?} = {:.1} MiB/s",
            bytes as f64 / fastest.as_secs_f64().max(1e-9) / (1024.0 * 1024.0)
        );
    }
}

criterion_group!(fastest, fastest_runs);

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(5));
    targets = keyword_evaluation, compilation, attribution
}
criterion_main!(benches, fastest);
