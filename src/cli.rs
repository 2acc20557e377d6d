//! The command-line interface: argument definitions (shared with the man page and shell
//! completion generators) and one function per subcommand that calls into the library.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, Config, ConfigError};
use crate::scheduler::{self, Pipeline, SetupError};
use crate::store::Store;

/// Exit status for configuration errors (sysexits.h `EX_CONFIG`).
pub const EX_CONFIG: i32 = 78;
/// Exit status when the state database cannot be used (sysexits.h `EX_CANTCREAT`).
pub const EX_CANTCREAT: i32 = 73;
/// Exit status for unusable input (sysexits.h `EX_DATAERR`).
pub const EX_DATAERR: i32 = 65;

/// Watches news feeds for statements that matter and alerts by email and webhooks.
#[derive(Debug, Parser)]
#[command(name = "newshound", version, about, long_about = None)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
    /// Log level (error, warn, info, debug, trace) or a `RUST_LOG`-style filter such as
    /// "newshound=debug"; overrides `RUST_LOG`.
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: poll every feed on its schedule and deliver alerts, until stopped.
    Run(ConfigArgs),
    /// Run one full cycle (poll every feed now, deliver what matched) and exit.
    Once(OnceArgs),
    /// Validate the configuration and print a summary of feeds, rules and destinations.
    Check(ConfigArgs),
    /// Parse a feed file or URL and print it, normalised.
    Feed(FeedArgs),
    /// Print who said what in an article (speaker attribution).
    Quotes(QuotesArgs),
    /// Run the rules on a page, a file or every entry of a feed and explain each outcome.
    Test(TestArgs),
}

/// Arguments of `newshound quotes`.
#[derive(Debug, Args)]
pub struct QuotesArgs {
    /// An HTML file, a plain-text file (with --plain), an http(s) URL, or `-` for stdin.
    pub source: String,
    /// The article's date (YYYY-MM-DD), to resolve roles such as "the NATO chief".
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,
    /// The input is plain text whose first line is the title (not HTML).
    #[arg(long)]
    pub plain: bool,
    /// A configuration whose [[people]] extend the built-in registry.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print JSON: {"statements":[{"speaker","role","kind","statement","start","end"}]}.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `newshound test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    /// The configuration file.
    pub config: ConfigArgs,
    /// A page or feed URL, or a file (HTML, feed, or plain text with the title on the first line).
    pub source: String,
    /// Name of the feed to evaluate as (for `feeds`/`tags` scoping); default: the feed
    /// whose URL is the source, else none.
    #[arg(long)]
    pub feed: Option<String>,
    /// The article's date (YYYY-MM-DD) when the source does not say.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,
    /// Only list the rules that matched.
    #[arg(long)]
    pub matched_only: bool,
}

/// The configuration file option.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The configuration file.
    #[arg(long, short, value_name = "FILE", env = "NEWSHOUND_CONFIG")]
    pub config: PathBuf,
}

/// Arguments of `newshound once`.
#[derive(Debug, Args)]
pub struct OnceArgs {
    #[command(flatten)]
    /// The configuration file.
    pub config: ConfigArgs,
    /// Deliver nothing and record nothing; print the alerts that would be sent.
    #[arg(long)]
    pub dry_run: bool,
    /// Print alerts as JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `newshound feed`.
#[derive(Debug, Args)]
pub struct FeedArgs {
    /// A feed file, or an http(s) URL to fetch.
    pub source: String,
    /// Print one JSON object instead of a readable summary.
    #[arg(long)]
    pub json: bool,
}

/// Runs the parsed command line and returns the process exit status.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    init_logging(cli.log_level.as_deref());
    match cli.command {
        Command::Run(args) => daemon(&args.config),
        Command::Once(args) => once(&args),
        Command::Check(args) => check(&args.config),
        Command::Feed(args) => feed(args),
        Command::Quotes(args) => quotes(&args),
        Command::Test(args) => test_rules(&args),
    }
}

fn init_logging(level: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(level) => EnvFilter::try_new(level).ok(),
        None => EnvFilter::try_from_default_env().ok(),
    }
    .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Loads the configuration, printing every error; `Err(status)` is the exit status.
pub(crate) fn load_config(path: &Path) -> Result<Config, i32> {
    config::load(path).map_err(|error| report_config_error(&error))
}

fn report_config_error(error: &ConfigError) -> i32 {
    eprintln!("{error}");
    EX_CONFIG
}

fn open_pipeline(config: Config) -> Result<Arc<Pipeline>, i32> {
    let store = match Store::open_dir(&config.state_dir) {
        Ok(store) => Arc::new(store),
        Err(error) => {
            eprintln!("error: {error}");
            return Err(EX_CANTCREAT);
        }
    };
    setup(config, store)
}

fn setup(config: Config, store: Arc<Store>) -> Result<Arc<Pipeline>, i32> {
    match Pipeline::new(config, store) {
        Ok(pipeline) => Ok(Arc::new(pipeline)),
        Err(SetupError::Config(error)) => Err(report_config_error(&error)),
        Err(error) => {
            eprintln!("error: {error}");
            Err(1)
        }
    }
}

fn daemon(config_path: &Path) -> anyhow::Result<i32> {
    let config = match load_config(config_path) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let pipeline = match open_pipeline(config) {
        Ok(pipeline) => pipeline,
        Err(code) => return Ok(code),
    };
    tracing::info!(
        config = %config_path.display(),
        state = %pipeline.store.path().display(),
        "newshound {} starting", env!("CARGO_PKG_VERSION")
    );
    runtime()?.block_on(async move {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            wait_for_stop_signal().await;
            tracing::info!("stop requested");
            let _ = stop.send(true);
        });
        scheduler::run(pipeline, stopped).await?;
        Ok(0)
    })
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn once(args: &OnceArgs) -> anyhow::Result<i32> {
    let config = match load_config(&args.config.config) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let pipeline = if args.dry_run {
        // A dry run records nothing: read the existing state if there is one, else start
        // from an empty in-memory state rather than creating files.
        let path = config.state_dir.join(crate::store::DATABASE_FILE);
        let store = if path.exists() {
            Store::open(&path)
        } else {
            Store::open_in_memory()
        };
        match store {
            Ok(store) => setup(config, Arc::new(store)),
            Err(error) => {
                eprintln!("error: {error}");
                Err(EX_CANTCREAT)
            }
        }
    } else {
        open_pipeline(config)
    };
    let pipeline = match pipeline {
        Ok(pipeline) => pipeline,
        Err(code) => return Ok(code),
    };
    let report = runtime()?.block_on(scheduler::run_once(&pipeline, args.dry_run))?;
    let mut out = std::io::stdout().lock();
    if args.dry_run {
        for alert in &report.alerts {
            if args.json {
                serde_json::to_writer(&mut out, alert)?;
                writeln!(out)?;
            } else {
                print_alert(&mut out, alert)?;
            }
        }
    }
    writeln!(
        out,
        "{} feeds polled ({} not modified, {} failed), {} new or changed entries, {} alerts{}",
        report.feeds,
        report.not_modified,
        report.failed,
        report.new_entries,
        report.alerts.len(),
        if args.dry_run {
            " (dry run: nothing recorded or delivered)".to_string()
        } else {
            format!(
                "; delivered {}, retrying {}, dead {}",
                report.delivery.sent, report.delivery.retried, report.delivery.dead
            )
        }
    )?;
    Ok(0)
}

fn print_alert(out: &mut impl Write, alert: &crate::alerts::Alert) -> std::io::Result<()> {
    writeln!(
        out,
        "[{}] {} -> {}",
        alert.rule,
        alert.article.title.as_deref().unwrap_or("(untitled)"),
        alert.destination
    )?;
    writeln!(
        out,
        "    {} | {}",
        alert.feed.name,
        alert.article.link.as_deref().unwrap_or("(no link)")
    )?;
    for evidence in &alert.evidence {
        writeln!(out, "    {}", evidence.describe())?;
    }
    Ok(())
}

fn check(config_path: &Path) -> anyhow::Result<i32> {
    let config = match load_config(config_path) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    if let Err(error) = crate::rules::RuleSet::compile(&config) {
        return Ok(report_config_error(&error));
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}: OK", config_path.display())?;
    writeln!(
        out,
        "state: {}",
        config.state_dir.join(crate::store::DATABASE_FILE).display()
    )?;
    writeln!(out, "\nfeeds ({}):", config.feeds.len())?;
    for feed in &config.feeds {
        let tags = if feed.tags.is_empty() {
            String::new()
        } else {
            format!("  [{}]", feed.tags.join(", "))
        };
        writeln!(
            out,
            "  {:<28} every {:<6} {}{}{}",
            feed.name,
            feed.interval.to_string(),
            feed.url,
            tags,
            if feed.scrape { "" } else { "  (no scraping)" }
        )?;
    }
    writeln!(out, "\nrules ({}):", config.rules.len())?;
    for rule in &config.rules {
        let destinations = if rule.destinations.is_empty() {
            "all destinations".to_string()
        } else {
            rule.destinations
                .iter()
                .map(|d| d.get_ref().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let keywords: Vec<&str> = rule.keywords.iter().map(|k| k.get_ref().as_str()).collect();
        writeln!(out, "  {:<28} -> {destinations}", rule.name())?;
        if !keywords.is_empty() {
            writeln!(out, "  {:<28}    keywords: {}", "", keywords.join(" | "))?;
        }
        if let Some(query) = &rule.query {
            writeln!(out, "  {:<28}    query: {}", "", query.get_ref())?;
        }
        if !rule.speakers.is_empty() {
            let speakers: Vec<&str> = rule.speakers.iter().map(|s| s.get_ref().as_str()).collect();
            writeln!(out, "  {:<28}    speakers: {}", "", speakers.join(", "))?;
        }
        if let Some(says) = &rule.says {
            writeln!(out, "  {:<28}    says: {}", "", says.get_ref())?;
        }
    }
    writeln!(out, "\ndestinations ({}):", config.destinations.len())?;
    for destination in &config.destinations {
        match destination {
            config::DestinationConfig::File(file) => writeln!(
                out,
                "  {:<28} file {}",
                file.name,
                crate::deliver::FileSink::new(crate::deliver::file_path(
                    &config.state_dir,
                    file.path.as_deref()
                ))
                .path()
                .display()
            )?,
        }
    }
    Ok(0)
}

fn feed(args: FeedArgs) -> anyhow::Result<i32> {
    let (bytes, content_type, base) =
        if args.source.starts_with("http://") || args.source.starts_with("https://") {
            match fetch_url(&args.source) {
                Ok(fetched) => fetched,
                Err(error) => {
                    eprintln!("error: {error}");
                    return Ok(1);
                }
            }
        } else {
            match std::fs::read(&args.source) {
                Ok(bytes) => (bytes, None, None),
                Err(error) => {
                    eprintln!("error: cannot read {}: {error}", args.source);
                    return Ok(66); // EX_NOINPUT
                }
            }
        };
    let parsed = match crate::feed::parse(&bytes, content_type.as_deref(), base.as_deref()) {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("error: {}: {error}", args.source);
            return Ok(EX_DATAERR);
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &parsed)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{}",
            parsed.title.as_deref().unwrap_or("(untitled feed)")
        )?;
        for entry in &parsed.entries {
            let date = entry.date().map(|d| d.to_string()).unwrap_or_default();
            writeln!(
                out,
                "- {}  {}  {}",
                date,
                entry.title.as_deref().unwrap_or("(untitled)"),
                entry.link.as_deref().unwrap_or("")
            )?;
        }
    }
    Ok(0)
}

/// Exit status for bad command-line arguments (sysexits.h `EX_USAGE`).
const EX_USAGE: i32 = 64;

/// Reads a source given on the command line: a URL, `-` (stdin) or a file. Returns the
/// decoded text, the HTTP content type and the final URL (for URLs).
/// Bytes read from a source, its HTTP content type and its final URL.
type Fetched = (Vec<u8>, Option<String>, Option<String>);

fn read_source(source: &str) -> Result<Fetched, i32> {
    if source.starts_with("http://") || source.starts_with("https://") {
        return fetch_url(source).map_err(|error| {
            eprintln!("error: {source}: {error}");
            1
        });
    }
    let bytes = if source == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).map(|_| bytes)
    } else {
        std::fs::read(source)
    };
    bytes.map(|b| (b, None, None)).map_err(|error| {
        eprintln!("error: cannot read {source}: {error}");
        66 // EX_NOINPUT
    })
}

fn parse_day(date: Option<&str>) -> Result<Option<jiff::civil::Date>, i32> {
    match date {
        None => Ok(None),
        Some(text) => text.trim().parse().map(Some).map_err(|error| {
            eprintln!("error: --date {text:?}: {error} (expected YYYY-MM-DD)");
            EX_USAGE
        }),
    }
}

fn quotes(args: &QuotesArgs) -> anyhow::Result<i32> {
    let registry = match &args.config {
        Some(path) => {
            let config = match load_config(path) {
                Ok(config) => config,
                Err(code) => return Ok(code),
            };
            match crate::rules::people::Registry::from_config(&config) {
                Ok(registry) => registry,
                Err(diagnostics) => {
                    return Ok(report_config_error(&ConfigError { diagnostics }));
                }
            }
        }
        None => crate::rules::people::Registry::builtin().map_err(anyhow::Error::msg)?,
    };
    let day = match parse_day(args.date.as_deref()) {
        Ok(day) => day,
        Err(code) => return Ok(code),
    };
    let (bytes, content_type, _) = match read_source(&args.source) {
        Ok(read) => read,
        Err(code) => return Ok(code),
    };
    let text = crate::charset::decode_html(&bytes, content_type.as_deref()).text;
    let document = if args.plain {
        crate::rules::speakers::Document::from_plain(&text)
    } else {
        let page = crate::rules::page::page_text(&text);
        crate::rules::speakers::Document::new(&page.title, &page.text)
    };
    let statements = crate::rules::speakers::attribute(&registry, &document, day);
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = crate::rules::explain::statements_json(&document, &statements);
        serde_json::to_writer(&mut out, &json)?;
        writeln!(out)?;
    } else {
        crate::rules::explain::print_statements(&mut out, &statements)?;
    }
    Ok(0)
}

fn test_rules(args: &TestArgs) -> anyhow::Result<i32> {
    let config = match load_config(&args.config.config) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let rules = match crate::rules::RuleSet::compile(&config) {
        Ok(rules) => rules,
        Err(error) => return Ok(report_config_error(&error)),
    };
    let day = match parse_day(args.date.as_deref()) {
        Ok(day) => day,
        Err(code) => return Ok(code),
    };
    if let Some(name) = &args.feed
        && !config.feeds.iter().any(|f| &f.name == name)
    {
        eprintln!("error: --feed {name:?}: no such feed in the configuration");
        return Ok(EX_USAGE);
    }
    let (bytes, content_type, final_url) = match read_source(&args.source) {
        Ok(read) => read,
        Err(code) => return Ok(code),
    };
    let feed = args
        .feed
        .as_deref()
        .and_then(|name| config.feeds.iter().find(|f| f.name == name))
        .or_else(|| config.feeds.iter().find(|f| f.url == args.source));
    let subjects = crate::rules::explain::subjects_of(
        &args.source,
        &bytes,
        content_type.as_deref(),
        final_url.as_deref(),
        day,
    );
    let mut out = std::io::stdout().lock();
    let no_tags = Vec::new();
    for subject in &subjects {
        let view = subject.view(
            feed.map_or("", |f| f.name.as_str()),
            feed.map_or(&no_tags, |f| &f.tags),
        );
        let outcomes = rules.explain(&view);
        crate::rules::explain::print_outcomes(&mut out, subject, &outcomes, args.matched_only)?;
    }
    if subjects.is_empty() {
        writeln!(out, "{}: no entries", args.source)?;
    }
    Ok(0)
}

/// Fetches a URL with default settings, for the one-shot inspection commands.
pub(crate) fn fetch_url(url: &str) -> anyhow::Result<(Vec<u8>, Option<String>, Option<String>)> {
    let settings = crate::config::FetchSettings::default();
    let fetcher = crate::fetch::Fetcher::new(&settings)?;
    let user_agent = crate::config::default_user_agent();
    let headers = std::collections::BTreeMap::new();
    let request = crate::fetch::Request {
        url,
        etag: None,
        last_modified: None,
        timeout: std::time::Duration::from_secs(30),
        user_agent: &user_agent,
        headers: &headers,
        purpose: crate::fetch::Purpose::Feed,
    };
    let response = runtime()?.block_on(fetcher.fetch(&request))?;
    Ok((
        response.body,
        response.content_type,
        Some(response.final_url),
    ))
}
