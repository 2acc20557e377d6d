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
    /// Extract the article from an HTML file (also `.html.gz`) or URL and print what the
    /// rules would match on.
    Extract(ExtractArgs),
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

/// Arguments of `newshound extract`.
#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// An HTML file (gzip-compressed when it ends in `.gz` or starts with the gzip magic),
    /// or an http(s) URL to fetch.
    pub source: String,
    /// Print one JSON object `{"title","byline","published","lang","text"}`.
    #[arg(long)]
    pub json: bool,
    /// The page's URL, for a file: resolves relative links and selects `[[sites]]`
    /// overrides.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// A configuration file whose `[extract]`, `[fetch]` and `[[sites]]` settings apply.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Runs the parsed command line and returns the process exit status.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    init_logging(cli.log_level.as_deref());
    match cli.command {
        Command::Run(args) => daemon(&args.config),
        Command::Once(args) => once(&args),
        Command::Check(args) => check(&args.config),
        Command::Feed(args) => feed(args),
        Command::Extract(args) => extract(&args),
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
fn load_config(path: &Path) -> Result<Config, i32> {
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
        match evidence {
            crate::rules::Evidence::Term {
                field,
                term,
                snippet,
            } => writeln!(out, "    {field}: {term:?}: {snippet}")?,
        }
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
        writeln!(out, "  {:<28}    keywords: {}", "", keywords.join(" | "))?;
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

/// Fetches a URL with default settings, for the one-shot inspection commands.
fn fetch_url(url: &str) -> anyhow::Result<(Vec<u8>, Option<String>, Option<String>)> {
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

fn extract(args: &ExtractArgs) -> anyhow::Result<i32> {
    let config = match &args.config {
        Some(path) => match load_config(path) {
            Ok(config) => Some(config),
            Err(code) => return Ok(code),
        },
        None => None,
    };
    let settings = config
        .as_ref()
        .map(|c| c.extract.clone())
        .unwrap_or_default();
    let sites = config.as_ref().map(|c| c.sites.clone()).unwrap_or_default();
    let is_url = args.source.starts_with("http://") || args.source.starts_with("https://");
    let article = if is_url {
        let fetch = config.as_ref().map(|c| c.fetch.clone()).unwrap_or_default();
        let fetcher = crate::fetch::Fetcher::new(&fetch)?;
        let user_agent = crate::config::default_user_agent();
        let headers = std::collections::BTreeMap::new();
        let context = crate::extract::page::PageContext {
            settings: &settings,
            sites: &sites,
            feed: None,
            user_agent: &user_agent,
            headers: &headers,
        };
        let fetched = runtime()?.block_on(crate::extract::page::fetch_page_article(
            &fetcher,
            context,
            &args.source,
        ));
        match fetched {
            Ok(article) => article,
            Err(reason) => {
                eprintln!("error: {reason}");
                return Ok(1);
            }
        }
    } else {
        let bytes = match crate::extract::page::read_file(Path::new(&args.source)) {
            Ok(bytes) => bytes,
            Err(error) => {
                eprintln!("error: cannot read {}: {error}", args.source);
                return Ok(66); // EX_NOINPUT
            }
        };
        let url = match args.url.as_deref().map(url::Url::parse) {
            Some(Ok(url)) => Some(url),
            Some(Err(error)) => {
                eprintln!("error: invalid --url: {error}");
                return Ok(64); // EX_USAGE
            }
            None => None,
        };
        let html = crate::charset::decode_html(&bytes, None).text;
        let overrides = crate::extract::Overrides::for_page(None, &sites, url.as_ref());
        match crate::extract::extract_html(&html, url.as_ref(), &overrides) {
            Ok(article) => article,
            Err(error) => {
                eprintln!("error: {}: {error}", args.source);
                return Ok(EX_DATAERR);
            }
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &crate::extract::ArticleJson::from(&article))?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", article.title.as_deref().unwrap_or("(untitled)"))?;
        if let Some(byline) = &article.byline {
            writeln!(out, "by {byline}")?;
        }
        if let Some(published) = article.published {
            writeln!(out, "published {published}")?;
        }
        writeln!(out, "\n{}", article.text)?;
    }
    Ok(0)
}
