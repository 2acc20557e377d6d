//! Load harness: measures newshound against a loopback server publishing many synthetic
//! feeds and article pages, and (optionally) rss2email on the same feeds.
//!
//! ```text
//! cargo build --release && cargo run --release --example loadgen -- --feeds 10000
//! cargo run --release --example loadgen -- --feeds 1000 --rss2email
//! cargo run --release --example loadgen -- --feeds 100 --mode run --seconds 60
//! ```
//!
//! `cycle` mode (default): primes the state with one run (every entry old, so recorded
//! without alerting), then publishes new entries in a share of the feeds and measures one
//! `newshound once` cycle: wall time, requests/s, CPU seconds, peak RSS, alerts, and the
//! time from publication on the server to the alert appearing in the alert file.
//!
//! `floor` mode: alternates an all-304 `newshound once` cycle with the same 1,000
//! conditional requests sent by bare reqwest, to show how much of the cycle the HTTP stack
//! alone takes.
//!
//! `sweep` mode: after a priming run, starts the daemon (every feed next due in an hour)
//! and `--rounds` times publishes new entries in the changed share of the feeds and asks
//! the running daemon to poll every feed now (SIGUSR1): the wall time from the signal to
//! its "polled every feed" line, and CPU per sweep. This is the cycle as newshound runs it,
//! a service that stays up (rss2email starts anew from cron for each cycle).
//!
//! `run` mode: starts the daemon, measures the time to its first request, publishes new
//! entries at random moments for `--seconds`, then lets it idle and measures idle CPU and
//! RSS.
//!
//! With `--rss2email`, rss2email then fetches the same feeds twice (a first fetch, then one
//! with the same share changed), and the second fetch's wall time is set beside
//! newshound's measured cycle (`cycle`) or median sweep (`sweep`).

use std::collections::HashMap;
use std::io::{BufRead, Seek};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Mode {
    /// One measured `newshound once` cycle after a priming run.
    Cycle,
    /// The daemon for a fixed time, then idle.
    Run,
    /// Only serve the feeds (and write the matching config) for `--seconds`, for running and
    /// profiling newshound by hand against them.
    Serve,
    /// After a priming run, alternates `--rounds` times a `newshound once` cycle where every
    /// feed answers 304 with the same conditional requests sent by bare reqwest from a fresh
    /// client (no newshound code): the floor the HTTP stack sets under such a cycle.
    Floor,
    /// After a priming run, `--rounds` times: publish in the changed share of the feeds,
    /// then ask the running daemon to poll every feed now (SIGUSR1) and time it.
    Sweep,
}

/// Load harness for newshound.
#[derive(Debug, Parser)]
struct Options {
    /// Number of feeds.
    #[arg(long, default_value_t = 1000)]
    feeds: usize,
    /// Share of feeds that do not change between the priming run and the measured cycle
    /// (they answer 304).
    #[arg(long, default_value_t = 0.8)]
    not_modified: f64,
    /// Entries per feed document.
    #[arg(long, default_value_t = 20)]
    entries: usize,
    /// New entries per changed feed.
    #[arg(long, default_value_t = 2)]
    new_entries: usize,
    /// Article page size in KiB.
    #[arg(long, default_value_t = 12)]
    article_kib: usize,
    /// Artificial latency added to every response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Number of rules (10 keywords each).
    #[arg(long, default_value_t = 1000)]
    rules: usize,
    /// Share of new articles that contain a term of some rule.
    #[arg(long, default_value_t = 0.25)]
    match_share: f64,
    /// The newshound binary.
    #[arg(long, default_value = "target/release/newshound")]
    bin: PathBuf,
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Mode::Cycle)]
    mode: Mode,
    /// Duration of the publishing phase in `run` mode.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Poll interval of every feed in `run` mode.
    #[arg(long, default_value = "30s")]
    interval: String,
    /// Idle phase after publishing in `run` mode, in seconds.
    #[arg(long, default_value_t = 30)]
    idle_seconds: u64,
    /// Also run rss2email (installed from PyPI into target/pydeps) on the same feeds.
    #[arg(long)]
    rss2email: bool,
    /// Match on the feeds' own text without fetching the articles (what rss2email does).
    #[arg(long)]
    no_scrape: bool,
    /// Random politeness delay before each article fetch (`[extract] jitter`).
    #[arg(long, default_value = "500ms")]
    article_jitter: String,
    /// Working directory (default: a new temporary directory, removed afterwards). The
    /// state an earlier run left there (`state/`, `rss2email/`) is removed first: the
    /// server listens on a new port each run, so its feeds would be new feeds beside the
    /// old ones, and every run would measure a larger database than the one before.
    #[arg(long)]
    workdir: Option<PathBuf>,
    /// Run the measured newshound under this command, e.g. "heaptrack" or
    /// "valgrind --tool=callgrind" (the figures then include the wrapper's overhead).
    #[arg(long)]
    wrap: Option<String>,
    /// Run the priming run (every feed answers 200 with entries never seen) under this
    /// command instead of the measured cycle.
    #[arg(long)]
    wrap_priming: Option<String>,
    /// Rounds of `floor` and `sweep` mode.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
}

/// What the synthetic web looks like and what was requested.
struct Web {
    feeds: usize,
    entries: usize,
    new_entries: usize,
    article_kib: usize,
    latency: Duration,
    match_share: f64,
    rule_terms: Vec<String>,
    /// Generation of each feed: every generation adds `new_entries` entries.
    generation: Mutex<Vec<u64>>,
    /// When each (feed, sequence) was published, in ms since the epoch.
    published_ms: Mutex<HashMap<(usize, u64), u64>>,
    /// Entries of generation 0 are dated this long ago (older than the backfill window).
    old_age: Duration,
    requests: AtomicU64,
    not_modified: AtomicU64,
    first_request_ms: AtomicU64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn rfc2822(ms: u64) -> String {
    let at = jiff::Timestamp::from_millisecond(ms as i64).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    jiff::fmt::rfc2822::to_string(&at.to_zoned(jiff::tz::TimeZone::UTC)).unwrap_or_default()
}

/// A cheap deterministic pseudo-random number from a seed.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ceb9fe1a85ec53);
    x ^ (x >> 33)
}

const WORDS: &[&str] = &[
    "the",
    "government",
    "said",
    "on",
    "monday",
    "that",
    "talks",
    "would",
    "continue",
    "in",
    "capital",
    "officials",
    "report",
    "minister",
    "security",
    "council",
    "meeting",
    "week",
    "economy",
    "market",
    "energy",
    "prices",
    "region",
    "support",
    "agreement",
    "statement",
    "according",
    "to",
    "sources",
    "after",
    "before",
    "during",
    "president",
    "parliament",
    "budget",
    "defence",
    "alliance",
    "summit",
    "leaders",
    "discussed",
    "plans",
    "future",
];

impl Web {
    fn entry_seqs(&self, feed: usize) -> (u64, Vec<u64>) {
        let generation = self.generation.lock().map(|g| g[feed]).unwrap_or(0);
        let newest = generation * self.new_entries as u64 + self.entries as u64 - 1;
        let oldest = newest + 1 - self.entries as u64;
        (generation, (oldest..=newest).rev().collect())
    }

    fn published(&self, feed: usize, seq: u64) -> u64 {
        self.published_ms
            .lock()
            .ok()
            .and_then(|m| m.get(&(feed, seq)).copied())
            .unwrap_or_else(|| now_ms() - self.old_age.as_millis() as u64)
    }

    fn feed_xml(&self, addr: SocketAddr, feed: usize, seqs: &[u64]) -> String {
        let mut xml = String::with_capacity(600 * seqs.len() + 400);
        xml.push_str(&format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>Outlet {feed}</title><link>http://{addr}/</link><description>Synthetic news outlet {feed}</description>\n"
        ));
        for &seq in seqs {
            // The teaser mentions the topic of a matching article, as real teasers do, so
            // that matching on the feed's own text (`--no-scrape`) finds the same stories.
            let topic = self
                .matching_term(feed, seq)
                .map(|term| format!(" on {term}"))
                .unwrap_or_default();
            xml.push_str(&format!(
                "<item><title>Report {seq} from outlet {feed} on regional security</title><link>http://{addr}/article/{feed}/{seq}.html</link><guid isPermaLink=\"false\">outlet-{feed}-{seq}</guid><pubDate>{}</pubDate><description>Officials said on Monday that talks{topic} would continue; a teaser of article {seq}.</description></item>\n",
                rfc2822(self.published(feed, seq))
            ));
        }
        xml.push_str("</channel></rss>\n");
        xml
    }

    /// The rule term an article mentions, for the share of articles that match a rule.
    fn matching_term(&self, feed: usize, seq: u64) -> Option<&str> {
        let seed = mix((feed as u64) << 32 | seq);
        let matching = (seed % 10_000) as f64 / 10_000.0 < self.match_share;
        if !matching || self.rule_terms.is_empty() {
            return None;
        }
        Some(&self.rule_terms[(seed as usize) % self.rule_terms.len()])
    }

    fn article_html(&self, feed: usize, seq: u64) -> String {
        let seed = mix((feed as u64) << 32 | seq);
        let target = self.article_kib * 1024;
        let mut html = String::with_capacity(target + 2048);
        html.push_str(&format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Report {seq} from outlet {feed}</title>\
             <meta property=\"og:title\" content=\"Report {seq} from outlet {feed}\"></head><body>\
             <header><nav><a href=\"/\">Home</a> <a href=\"/world\">World</a> <a href=\"/politics\">Politics</a></nav></header>\
             <main><article><h1>Report {seq} from outlet {feed}</h1><p class=\"byline\">By Staff Reporter</p>"
        ));
        let term = self.matching_term(feed, seq);
        let mut paragraph = 0u64;
        while html.len() < target {
            html.push_str("<p>");
            for word in 0..60u64 {
                let pick = mix(seed ^ (paragraph << 16) ^ word) as usize % WORDS.len();
                html.push_str(WORDS[pick]);
                html.push(' ');
            }
            if let Some(term) = term.filter(|_| paragraph == 1) {
                html.push_str(&format!(
                    "The spokesman mentioned {term} in the statement. "
                ));
            }
            html.push_str("</p>");
            paragraph += 1;
        }
        html.push_str(
            "</article><aside><h2>Related</h2><ul><li><a href=\"/a\">Other story</a></li><li><a href=\"/b\">Another story</a></li></ul></aside></main>\
             <footer>© Outlet</footer></body></html>",
        );
        html
    }

    /// Publishes `count` new entries in feed `feed` now.
    fn publish(&self, feed: usize) {
        let Ok(mut generations) = self.generation.lock() else {
            return;
        };
        generations[feed] += 1;
        let generation = generations[feed];
        drop(generations);
        let newest = generation * self.new_entries as u64 + self.entries as u64 - 1;
        let now = now_ms();
        if let Ok(mut published) = self.published_ms.lock() {
            for k in 0..self.new_entries as u64 {
                published.insert((feed, newest - k), now);
            }
        }
    }
}

async fn feed_handler(
    State((web, addr)): State<(Arc<Web>, SocketAddr)>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    count_request(&web);
    if !web.latency.is_zero() {
        tokio::time::sleep(web.latency).await;
    }
    let Some(feed) = name
        .strip_suffix(".xml")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&f| f < web.feeds)
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (generation, seqs) = web.entry_seqs(feed);
    let etag = format!("\"g{generation}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        web.not_modified.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let body = web.feed_xml(addr, feed, &seqs);
    (
        [
            (
                header::CONTENT_TYPE,
                "application/rss+xml; charset=utf-8".to_string(),
            ),
            (header::ETAG, etag),
        ],
        body,
    )
        .into_response()
}

async fn article_handler(
    State((web, _)): State<(Arc<Web>, SocketAddr)>,
    UrlPath((feed, page)): UrlPath<(usize, String)>,
) -> Response {
    count_request(&web);
    if !web.latency.is_zero() {
        tokio::time::sleep(web.latency).await;
    }
    let Some(seq) = page
        .strip_suffix(".html")
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = Response::new(Body::from(web.article_html(feed, seq)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn count_request(web: &Web) {
    web.requests.fetch_add(1, Ordering::Relaxed);
    let _ =
        web.first_request_ms
            .compare_exchange(0, now_ms(), Ordering::Relaxed, Ordering::Relaxed);
}

fn start_server(web: Arc<Web>) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                eprintln!("cannot start server runtime: {error}");
                return;
            }
        };
        runtime.block_on(async move {
            let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                Ok(listener) => listener,
                Err(error) => {
                    eprintln!("cannot bind: {error}");
                    return;
                }
            };
            let Ok(addr) = listener.local_addr() else {
                return;
            };
            let app = Router::new()
                .route("/feed/{name}", get(feed_handler))
                .route("/article/{feed}/{page}", get(article_handler))
                .with_state((web, addr));
            let _ = tx.send(addr);
            let _ = axum::serve(listener, app).await;
        });
    });
    rx.recv().unwrap_or_else(|_| {
        eprintln!("server did not start");
        std::process::exit(2)
    })
}

fn rule_terms(rules: usize) -> Vec<Vec<String>> {
    (0..rules)
        .map(|r| {
            (0..10)
                .map(|t| {
                    // Made-up but word-like terms, mostly distinct, some shared prefixes.
                    let x = mix((r * 10 + t) as u64);
                    let syllables = [
                        "ka", "lo", "mir", "zen", "tor", "vel", "sha", "dru", "pex", "qui",
                    ];
                    let mut word = String::new();
                    for i in 0..3 {
                        word.push_str(syllables[((x >> (i * 8)) % 10) as usize]);
                    }
                    format!("{word}{}", x % 1000)
                })
                .collect()
        })
        .collect()
}

fn write_config(
    dir: &Path,
    addr: SocketAddr,
    options: &Options,
    rules: &[Vec<String>],
    interval: &str,
) -> PathBuf {
    let scrape = !options.no_scrape;
    let jitter = &options.article_jitter;
    let mut toml = format!(
        "state_dir = \"state\"\n\n[defaults]\ninterval = \"{interval}\"\ntimeout = \"60s\"\nbackfill = \"24h\"\nscrape = {scrape}\n\n[fetch]\nconcurrency = {CONCURRENCY}\nper_host = {CONCURRENCY}\nallow_private = [\"127.0.0.1/32\"]\n\n[extract]\njitter = \"{jitter}\"\n\n"
    );
    for feed in 0..options.feeds {
        toml.push_str(&format!(
            "[[feeds]]\nname = \"Outlet {feed}\"\nurl = \"http://{addr}/feed/{feed}.xml\"\n\n"
        ));
    }
    for (index, terms) in rules.iter().enumerate() {
        let quoted: Vec<String> = terms.iter().map(|t| format!("\"{t}\"")).collect();
        toml.push_str(&format!(
            "[[rules]]\nname = \"rule {index}\"\nkeywords = [{}]\n\n",
            quoted.join(", ")
        ));
    }
    let path = dir.join("newshound.toml");
    if let Err(error) = std::fs::write(&path, toml) {
        eprintln!("cannot write config: {error}");
        std::process::exit(2);
    }
    path
}

/// Resource use of a finished child process.
struct Usage {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: u64,
    success: bool,
}

fn wait_with_usage(mut child: Child, started: Instant) -> Usage {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    if waited != pid {
        let _ = child.wait();
    }
    let tv =
        |t: libc::timeval| Duration::from_micros(t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64);
    Usage {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss as u64,
        success: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
    }
}

fn newshound(bin: &Path, args: &[&str], config: &Path) -> Command {
    let mut command = Command::new(bin);
    command
        .args(args)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    command
}

/// Watches the alert file and records when each alert line appeared.
struct AlertWatcher {
    arrivals: Arc<Mutex<Vec<(String, u64)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AlertWatcher {
    fn start(path: PathBuf) -> Self {
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (a, s) = (arrivals.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let mut pending = String::new();
            loop {
                let finished = s.load(Ordering::Relaxed);
                if let Ok(mut file) = std::fs::File::open(&path)
                    && file.seek(std::io::SeekFrom::Start(offset)).is_ok()
                {
                    let mut reader = std::io::BufReader::new(file);
                    loop {
                        let mut line = String::new();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                offset += n as u64;
                                pending.push_str(&line);
                                if pending.ends_with('\n') {
                                    let at = now_ms();
                                    if let Ok(value) =
                                        serde_json::from_str::<serde_json::Value>(&pending)
                                        && let Some(link) = value["article"]["link"].as_str()
                                        && let Ok(mut list) = a.lock()
                                    {
                                        list.push((link.to_string(), at));
                                    }
                                    pending.clear();
                                }
                            }
                        }
                    }
                }
                if finished {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Self {
            arrivals,
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Vec<(String, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.arrivals.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

fn latencies(web: &Web, arrivals: &[(String, u64)]) -> Vec<u64> {
    let mut out: Vec<u64> = arrivals
        .iter()
        .filter_map(|(link, at)| {
            let rest = link.split("/article/").nth(1)?;
            let (feed, page) = rest.split_once('/')?;
            let feed: usize = feed.parse().ok()?;
            let seq: u64 = page.strip_suffix(".html")?.parse().ok()?;
            let published = web.published_ms.lock().ok()?.get(&(feed, seq)).copied()?;
            Some(at.saturating_sub(published))
        })
        .collect();
    out.sort_unstable();
    out
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() {
    let options = Options::parse();
    if !options.bin.exists() {
        eprintln!(
            "{} does not exist: run `cargo build --release` first",
            options.bin.display()
        );
        std::process::exit(2);
    }
    let temp = tempfile::tempdir().unwrap_or_else(|e| {
        eprintln!("cannot create a temporary directory: {e}");
        std::process::exit(2)
    });
    let dir = options
        .workdir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    for earlier in ["state", "rss2email"] {
        let earlier = dir.join(earlier);
        if earlier.exists()
            && let Err(error) = std::fs::remove_dir_all(&earlier)
        {
            eprintln!("cannot remove {}: {error}", earlier.display());
            std::process::exit(2);
        }
    }
    let _ = std::fs::create_dir_all(&dir);
    let rules = rule_terms(options.rules);
    let web = Arc::new(Web {
        feeds: options.feeds,
        entries: options.entries,
        new_entries: options.new_entries,
        article_kib: options.article_kib,
        latency: Duration::from_millis(options.latency_ms),
        match_share: options.match_share,
        rule_terms: rules.iter().flatten().cloned().collect(),
        generation: Mutex::new(vec![0; options.feeds]),
        published_ms: Mutex::new(HashMap::new()),
        old_age: Duration::from_secs(3 * 86_400),
        requests: AtomicU64::new(0),
        not_modified: AtomicU64::new(0),
        first_request_ms: AtomicU64::new(0),
    });
    let addr = start_server(web.clone());
    println!(
        "loadgen: {} feeds x {} entries, {:.0} % unchanged, {} new per changed feed, {} KiB articles, {} rules, latency {} ms",
        options.feeds,
        options.entries,
        options.not_modified * 100.0,
        options.new_entries,
        options.article_kib,
        options.rules,
        options.latency_ms
    );
    let measured = match options.mode {
        Mode::Cycle => cycle(&options, &web, addr, &dir, &rules),
        Mode::Sweep => sweep(&options, &web, addr, &dir, &rules),
        Mode::Run => {
            daemon(&options, &web, addr, &dir, &rules);
            None
        }
        Mode::Serve => {
            serve(&options, addr, &dir, &rules);
            None
        }
        Mode::Floor => {
            floor(&options, addr, &dir, &rules);
            None
        }
    };
    if options.rss2email
        && let Some(theirs) = rss2email(&options, &web, addr, &dir)
        && let Some(ours) = measured
    {
        let what = match options.mode {
            Mode::Sweep => "the daemon's median sweep",
            _ => "the measured `newshound once` cycle",
        };
        println!(
            "side by side: rss2email's second fetch {:.2} s / {what} {:.1} ms = {:.0}x",
            theirs.as_secs_f64(),
            ours.as_secs_f64() * 1000.0,
            theirs.as_secs_f64() / ours.as_secs_f64().max(1e-9)
        );
    }
}

fn publish_share(web: &Web, share: f64) -> usize {
    let mut changed = 0;
    for feed in 0..web.feeds {
        if (mix(feed as u64 ^ 0xabcdef) % 10_000) as f64 / 10_000.0 < share {
            web.publish(feed);
            changed += 1;
        }
    }
    changed
}

/// `newshound once` on `config`, run under `wrap` when given.
fn once_command(options: &Options, config: &Path, wrap: Option<&str>) -> Command {
    let mut words = wrap.unwrap_or_default().split_whitespace();
    let Some(program) = words.next() else {
        return newshound(&options.bin, &["once"], config);
    };
    let mut wrapped = Command::new(program);
    wrapped
        .args(words)
        .arg(&options.bin)
        .args(["once", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    wrapped
}

/// Returns the measured cycle's wall time.
fn cycle(
    options: &Options,
    web: &Arc<Web>,
    addr: SocketAddr,
    dir: &Path,
    rules: &[Vec<String>],
) -> Option<Duration> {
    let config = write_config(dir, addr, options, rules, "15m");
    // Priming: every entry is older than the backfill window, so it is recorded without
    // alerting or scraping.
    let started = Instant::now();
    let prime = once_command(options, &config, options.wrap_priming.as_deref()).spawn();
    let Ok(prime) = prime else {
        eprintln!("cannot start {}", options.bin.display());
        return None;
    };
    let usage = wait_with_usage(prime, started);
    println!(
        "priming run (all feeds 200, all entries old): wall {:.2} s, cpu {:.2} s, peak RSS {:.1} MiB{}",
        usage.wall.as_secs_f64(),
        usage.cpu.as_secs_f64(),
        usage.max_rss_kib as f64 / 1024.0,
        if usage.success { "" } else { " (FAILED)" }
    );
    let changed = publish_share(web, 1.0 - options.not_modified);
    let requests_before = web.requests.load(Ordering::Relaxed);
    let not_modified_before = web.not_modified.load(Ordering::Relaxed);
    let alerts_path = dir.join("state").join("alerts.jsonl");
    let watcher = AlertWatcher::start(alerts_path);
    let started = Instant::now();
    let mut measured = once_command(options, &config, options.wrap.as_deref());
    let Ok(child) = measured.spawn() else {
        return None;
    };
    let usage = wait_with_usage(child, started);
    let arrivals = watcher.finish();
    let requests = web.requests.load(Ordering::Relaxed) - requests_before;
    let not_modified = web.not_modified.load(Ordering::Relaxed) - not_modified_before;
    let lat = latencies(web, &arrivals);
    println!(
        "measured cycle: {} feeds ({} changed, {} answered 304), {} requests in {:.3} s = {:.0} req/s",
        options.feeds,
        changed,
        not_modified,
        requests,
        usage.wall.as_secs_f64(),
        requests as f64 / usage.wall.as_secs_f64().max(1e-9)
    );
    println!(
        "  cpu {:.2} s, peak RSS {:.1} MiB, alerts {}, publication->alert p50 {} ms, p99 {} ms{}",
        usage.cpu.as_secs_f64(),
        usage.max_rss_kib as f64 / 1024.0,
        arrivals.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        if usage.success {
            ""
        } else {
            " (newshound FAILED)"
        }
    );
    usage.success.then_some(usage.wall)
}

fn serve(options: &Options, addr: SocketAddr, dir: &Path, rules: &[Vec<String>]) {
    let config = write_config(dir, addr, options, rules, &options.interval);
    println!(
        "serving {} feeds on http://{addr}/feed/N.xml for {} s; config: {}",
        options.feeds,
        options.seconds,
        config.display()
    );
    std::thread::sleep(Duration::from_secs(options.seconds));
}

/// The concurrency `write_config` sets (`[fetch] concurrency` and `per_host`).
const CONCURRENCY: usize = 64;

fn floor(options: &Options, addr: SocketAddr, dir: &Path, rules: &[Vec<String>]) {
    let config = write_config(dir, addr, options, rules, "15m");
    if !prime(options, &config) {
        return;
    }
    let urls: Vec<String> = (0..options.feeds)
        .map(|feed| format!("http://{addr}/feed/{feed}.xml"))
        .collect();
    let Some(etags) = two_thread_runtime().and_then(|runtime| runtime.block_on(learn_etags(&urls)))
    else {
        eprintln!("cannot read the feeds' ETags");
        return;
    };
    let mut bare_cold = Vec::new();
    let mut bare_warm = Vec::new();
    let mut cycles = Vec::new();
    for _ in 0..options.rounds {
        // Like a process: a new runtime and a new client, so every connection is opened
        // anew. Timed from the first request (building the client loads the system's CA
        // certificates, which newshound does on a thread of its own meanwhile).
        let Some(runtime) = two_thread_runtime() else {
            return;
        };
        let (cold, warm) = runtime.block_on(async {
            let client = bare_client();
            let started = Instant::now();
            let cold = conditional_requests(&client, &urls, &etags).await;
            let cold_wall = started.elapsed();
            let started = Instant::now();
            let warm = conditional_requests(&client, &urls, &etags).await;
            (
                cold.map(|n| (n, cold_wall)),
                warm.map(|n| (n, started.elapsed())),
            )
        });
        runtime.shutdown_background();
        match (cold, warm) {
            (Some((n, cold_wall)), Some((m, warm_wall))) if n == urls.len() && m == urls.len() => {
                bare_cold.push(cold_wall);
                bare_warm.push(warm_wall);
            }
            _ => {
                eprintln!("bare reqwest: not every feed answered 304; stopping");
                return;
            }
        }
        let started = Instant::now();
        let Ok(child) = once_command(options, &config, None).spawn() else {
            return;
        };
        let usage = wait_with_usage(child, started);
        if !usage.success {
            eprintln!("newshound once failed");
            return;
        }
        cycles.push(usage.wall);
    }
    println!(
        "{} feeds answering 304, {CONCURRENCY} requests at a time, rounds alternated:",
        urls.len()
    );
    describe_times(
        "  bare reqwest, new runtime and client (connections opened)",
        &mut bare_cold,
    );
    describe_times(
        "  bare reqwest, the same client again (connections reused)",
        &mut bare_warm,
    );
    describe_times("  newshound once, spawn to exit", &mut cycles);
}

fn two_thread_runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .ok()
}

fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap_or_default()
}

/// Each feed's ETag, from one plain request per feed.
async fn learn_etags(urls: &[String]) -> Option<Vec<String>> {
    use futures_util::StreamExt;
    let client = bare_client();
    let etags: Vec<Option<String>> = futures_util::stream::iter(urls)
        .map(|url| {
            let client = client.clone();
            async move {
                let response = client.get(url).send().await.ok()?;
                let etag = response.headers().get(header::ETAG)?.to_str().ok()?;
                Some(etag.to_string())
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    etags.into_iter().collect()
}

/// Sends one conditional request per feed; the number answered 304, or `None` if a request
/// failed.
async fn conditional_requests(
    client: &reqwest::Client,
    urls: &[String],
    etags: &[String],
) -> Option<usize> {
    use futures_util::StreamExt;
    let statuses: Vec<Option<u16>> = futures_util::stream::iter(urls.iter().zip(etags))
        .map(|(url, etag)| async move {
            let response = client
                .get(url)
                .header(header::IF_NONE_MATCH, etag)
                .send()
                .await
                .ok()?;
            Some(response.status().as_u16())
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let statuses: Option<Vec<u16>> = statuses.into_iter().collect();
    Some(
        statuses?
            .into_iter()
            .filter(|&status| status == 304)
            .count(),
    )
}

/// One `newshound once` on `config` (every entry old, so recorded without alerting), for
/// the modes that measure what comes after it; says why it failed if it did.
fn prime(options: &Options, config: &Path) -> bool {
    let Ok(primed) = once_command(options, config, None).spawn() else {
        eprintln!("cannot start {}", options.bin.display());
        return false;
    };
    let succeeded = wait_with_usage(primed, Instant::now()).success;
    if !succeeded {
        eprintln!("the priming run failed");
    }
    succeeded
}

/// The line the daemon logs when a sweep asked for by SIGUSR1 is written.
const SWEEP_DONE: &str = "polled every feed as asked";

/// The line the daemon logs when it is ready to be asked.
const STARTED: &str = "scheduler started";

/// The daemon's log lines `sweep` waits for (the others are read and dropped).
const WAITED_FOR: [&str; 2] = [STARTED, SWEEP_DONE];

/// Returns the median sweep's wall time.
fn sweep(
    options: &Options,
    web: &Arc<Web>,
    addr: SocketAddr,
    dir: &Path,
    rules: &[Vec<String>],
) -> Option<Duration> {
    let config = write_config(dir, addr, options, rules, "1h");
    if !prime(options, &config) {
        return None;
    }
    // The daemon as a user runs it: its own default log level, its log read line by line
    // (and timestamped on arrival) by a thread of ours, which passes on only the lines
    // waited for: handing over every line (one per changed feed) woke this thread a few
    // hundred times per sweep, CPU taken from the two cores the daemon is measured on.
    let mut command = newshound(&options.bin, &["run"], &config);
    command.env_remove("RUST_LOG").stderr(Stdio::piped());
    let Ok(mut child) = command.spawn() else {
        eprintln!("cannot start {}", options.bin.display());
        return None;
    };
    let pid = child.id();
    let (lines_tx, lines) = std::sync::mpsc::channel::<(Instant, String)>();
    if let Some(stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let arrived = Instant::now();
                if !WAITED_FOR.iter().any(|needle| line.contains(needle)) {
                    continue;
                }
                if lines_tx.send((arrived, line)).is_err() {
                    break;
                }
            }
        });
    }
    let wait_for = |needle: &str, timeout: Duration| -> Option<(Instant, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let (at, line) = lines.recv_timeout(left).ok()?;
            if line.contains(needle) {
                return Some((at, line));
            }
        }
    };
    let stop = |child: &mut Child| {
        signal(pid, libc::SIGTERM);
        let _ = child.wait();
    };
    if wait_for(STARTED, Duration::from_secs(60)).is_none() {
        eprintln!("the daemon did not start");
        stop(&mut child);
        return None;
    }
    let mut walls = Vec::new();
    let mut own = Vec::new();
    let mut changed_total = 0;
    let requests_before = web.requests.load(Ordering::Relaxed);
    let not_modified_before = web.not_modified.load(Ordering::Relaxed);
    let cpu_before = process_cpu(pid);
    for _ in 0..options.rounds {
        changed_total += publish_share(web, 1.0 - options.not_modified);
        let asked = Instant::now();
        signal(pid, libc::SIGUSR1);
        let Some((done, line)) = wait_for(SWEEP_DONE, Duration::from_secs(300)) else {
            eprintln!("the daemon did not finish a sweep");
            stop(&mut child);
            return None;
        };
        walls.push(done - asked);
        if let Some(ms) = line
            .split("elapsed_ms=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|ms| ms.parse::<f64>().ok())
        {
            own.push(Duration::from_secs_f64(ms / 1000.0));
        }
        // Let the writes settle and the delivery worker run between rounds.
        std::thread::sleep(Duration::from_millis(300));
    }
    let cpu = process_cpu(pid).saturating_sub(cpu_before);
    let rss = process_rss_kib(pid);
    stop(&mut child);
    let requests = web.requests.load(Ordering::Relaxed) - requests_before;
    let not_modified = web.not_modified.load(Ordering::Relaxed) - not_modified_before;
    let rounds = walls.len().max(1);
    println!(
        "{} sweeps of {} feeds ({:.0} changed per sweep; {} requests, {} answered 304):",
        walls.len(),
        options.feeds,
        changed_total as f64 / rounds as f64,
        requests,
        not_modified
    );
    let median = describe_times("  signal to \"polled every feed\" line", &mut walls);
    describe_times("  the daemon's own elapsed_ms", &mut own);
    println!(
        "  cpu {:.1} ms per sweep (whole process over all rounds, pauses included), RSS after {:.1} MiB",
        cpu.as_secs_f64() * 1000.0 / rounds as f64,
        rss as f64 / 1024.0
    );
    median
}

/// Sends `signal` to our child `pid` (not yet waited for, so the pid is still its own).
fn signal(pid: u32, signal: libc::c_int) {
    // SAFETY: kill(2) has no memory preconditions; the pid is our unreaped child's.
    unsafe { libc::kill(pid as libc::pid_t, signal) };
}

/// Prints median, min and max of `times` under `label`; returns the median.
fn describe_times(label: &str, times: &mut [Duration]) -> Option<Duration> {
    times.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (first, last) = (times.first()?, times.last()?);
    let median = times[times.len() / 2];
    println!(
        "{label}: median {:.1} ms (min {:.1}, max {:.1}, {} rounds)",
        ms(median),
        ms(*first),
        ms(*last),
        times.len()
    );
    Some(median)
}

fn daemon(options: &Options, web: &Arc<Web>, addr: SocketAddr, dir: &Path, rules: &[Vec<String>]) {
    let config = write_config(dir, addr, options, rules, &options.interval);
    let alerts_path = dir.join("state").join("alerts.jsonl");
    let watcher = AlertWatcher::start(alerts_path);
    let spawned_ms = now_ms();
    let started = Instant::now();
    let Ok(mut child) = newshound(&options.bin, &["run"], &config).spawn() else {
        eprintln!("cannot start {}", options.bin.display());
        return;
    };
    let pid = child.id();
    // Wait for the first request.
    let deadline = Instant::now() + Duration::from_secs(30);
    while web.first_request_ms.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let first = web.first_request_ms.load(Ordering::Relaxed);
    println!(
        "startup: first request {} ms after spawn ({} feeds)",
        first.saturating_sub(spawned_ms),
        options.feeds
    );
    // Publishing phase: new entries in random feeds at random moments.
    let publish_until = Instant::now() + Duration::from_secs(options.seconds);
    let mut published = 0;
    let mut seed = 1u64;
    while Instant::now() < publish_until {
        seed = mix(seed);
        web.publish((seed % options.feeds as u64) as usize);
        published += web.new_entries;
        std::thread::sleep(Duration::from_millis(200 + seed % 800));
    }
    // Let the last publications be picked up (one interval plus jitter).
    let interval =
        newshound::config::parse_duration(&options.interval).unwrap_or(Duration::from_secs(30));
    std::thread::sleep(interval.mul_f64(1.1) + Duration::from_secs(5));
    let cpu_before = process_cpu(pid);
    let idle_started = Instant::now();
    std::thread::sleep(Duration::from_secs(options.idle_seconds));
    let cpu_idle = process_cpu(pid).saturating_sub(cpu_before);
    let rss = process_rss_kib(pid);
    println!(
        "  RSS split: anonymous {:.1} MiB, file-backed (program text) {:.1} MiB, threads {}",
        status_kib(pid, "RssAnon:") as f64 / 1024.0,
        status_kib(pid, "RssFile:") as f64 / 1024.0,
        status_kib(pid, "Threads:")
    );
    let arrivals = watcher.finish();
    let lat = latencies(web, &arrivals);
    signal(pid, libc::SIGTERM);
    let usage = wait_with_usage_child(&mut child, started);
    println!(
        "run: {} entries published over {} s, {} alerts; publication->alert p50 {} ms, p99 {} ms",
        published,
        options.seconds,
        arrivals.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
    println!(
        "idle {:.0} s (interval {}, polls continue, mostly 304): cpu {:.3} s = {:.2} % of one core; RSS {:.1} MiB; total cpu {:.2} s, peak RSS {:.1} MiB",
        idle_started.elapsed().as_secs_f64(),
        options.interval,
        cpu_idle.as_secs_f64(),
        100.0 * cpu_idle.as_secs_f64() / idle_started.elapsed().as_secs_f64(),
        rss as f64 / 1024.0,
        usage.cpu.as_secs_f64(),
        usage.max_rss_kib as f64 / 1024.0
    );
}

fn wait_with_usage_child(child: &mut Child, started: Instant) -> Usage {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: see wait_with_usage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let tv =
        |t: libc::timeval| Duration::from_micros(t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64);
    Usage {
        wall: started.elapsed(),
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss as u64,
        success: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
    }
}

/// CPU time used so far by a running process (from /proc).
fn process_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

fn process_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// A `kB` field of /proc/PID/status.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// Runs rss2email 3.x on the same feeds: a first fetch (every feed 200) and a second one in
/// which the same share of feeds as in the measured cycle changed.
/// Returns the second fetch's wall time.
fn rss2email(options: &Options, web: &Arc<Web>, addr: SocketAddr, dir: &Path) -> Option<Duration> {
    let pydeps = PathBuf::from("target/pydeps");
    let have = Command::new("python3")
        .args(["-c", "import rss2email"])
        .env("PYTHONPATH", &pydeps)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !have {
        let installed = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--target"])
            .arg(&pydeps)
            .arg("rss2email")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !installed {
            eprintln!("rss2email: cannot install it from PyPI; skipped");
            return None;
        }
    }
    let r2e_dir = dir.join("rss2email");
    let _ = std::fs::create_dir_all(&r2e_dir);
    let config = r2e_dir.join("rss2email.cfg");
    let mut text = String::from(
        "[DEFAULT]\nfrom = loadgen@localhost\nto = loadgen@localhost\nemail-protocol = sendmail\nsendmail = /bin/true\n\n",
    );
    for feed in 0..options.feeds {
        text.push_str(&format!(
            "[feed.outlet{feed}]\nurl = http://{addr}/feed/{feed}.xml\n\n"
        ));
    }
    if std::fs::write(&config, text).is_err() {
        eprintln!("rss2email: cannot write its config; skipped");
        return None;
    }
    let data = r2e_dir.join("rss2email.json");
    let run = |label: &str| {
        let started = Instant::now();
        let child = Command::new("python3")
            .args([
                "-c",
                "import sys; from rss2email.main import run; sys.argv[0] = 'r2e'; sys.exit(run())",
                "-c",
            ])
            .arg(&config)
            .arg("-d")
            .arg(&data)
            .args(["run", "--no-send"])
            .env("PYTHONPATH", &pydeps)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match child {
            Ok(child) => {
                let usage = wait_with_usage(child, started);
                let wall = usage.success.then_some(usage.wall);
                println!(
                    "rss2email {label}: wall {:.2} s, cpu {:.2} s, peak RSS {:.1} MiB{}",
                    usage.wall.as_secs_f64(),
                    usage.cpu.as_secs_f64(),
                    usage.max_rss_kib as f64 / 1024.0,
                    if usage.success {
                        ""
                    } else {
                        " (exit status non-zero)"
                    }
                );
                wall
            }
            Err(error) => {
                eprintln!("rss2email: cannot start: {error}");
                None
            }
        }
    };
    run("first fetch (all feeds 200)");
    let changed = publish_share(web, 1.0 - options.not_modified);
    run(&format!(
        "second fetch ({changed} feeds changed, the rest 304)"
    ))
}
