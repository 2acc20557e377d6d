//! The command-line interface: argument definitions (shared with the man page and shell
//! completion generators) and one function per subcommand that calls into the library.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::config::{self, Config, ConfigError};
use crate::scheduler::{self, Pipeline, SetupError};
use crate::service::logging::LogFormat;
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
    /// Log line format: `auto` is `journal` when stderr is the systemd journal (no
    /// timestamps, `<N>` priority prefixes), else `human`; `json` is for log shippers.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: poll every feed on its schedule and deliver alerts, until stopped.
    ///
    /// SIGHUP reloads the configuration, SIGUSR1 polls every feed now, SIGTERM stops.
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
    /// Print the digest an email destination would get now, or send it now.
    Digest(DigestArgs),
    /// Send a sample alert through a destination and print exactly what the server answered.
    DeliverTest(DeliverTestArgs),
    /// Show each feed's health, each rule's hits and the outbox; works while the daemon runs.
    Status(StatusArgs),
    /// Import feeds from OPML into the configuration, or export them as OPML.
    #[command(subcommand)]
    Opml(OpmlCommand),
    /// Print the man page (roff), or write the pages of every subcommand to a directory.
    #[command(hide = true)]
    Man(ManArgs),
    /// Print a shell completion script.
    #[command(hide = true)]
    Completions(CompletionsArgs),
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

/// Arguments of `newshound digest`.
#[derive(Debug, Args)]
pub struct DigestArgs {
    #[command(flatten)]
    /// The configuration file.
    pub config: ConfigArgs,
    /// The email destination (its `name`).
    #[arg(long, short, value_name = "NAME")]
    pub destination: String,
    /// Build the digest from everything pending and send it now (the schedule is not
    /// affected).
    #[arg(long, conflicts_with = "preview")]
    pub now: bool,
    /// Print the digest without sending or recording anything (the default).
    #[arg(long)]
    pub preview: bool,
    /// With --preview: print the HTML part instead of the text part.
    #[arg(long)]
    pub html: bool,
}

/// Arguments of `newshound deliver-test`.
#[derive(Debug, Args)]
pub struct DeliverTestArgs {
    #[command(flatten)]
    /// The configuration file.
    pub config: ConfigArgs,
    /// The destination (its `name`).
    #[arg(long, short, value_name = "NAME")]
    pub destination: String,
}

/// Arguments of `newshound status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    /// The configuration file.
    pub config: ConfigArgs,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// `newshound opml ...`.
#[derive(Debug, Subcommand)]
pub enum OpmlCommand {
    /// Read an OPML file and print its feeds as `[[feeds]]` entries (or append them with --write).
    Import(OpmlImportArgs),
    /// Write the configured feeds as OPML 2.0.
    Export(OpmlExportArgs),
}

/// Arguments of `newshound opml import`.
#[derive(Debug, Args)]
pub struct OpmlImportArgs {
    /// The OPML file.
    pub file: PathBuf,
    /// Append the new feeds to the configuration file (feeds it already has are skipped).
    #[arg(long, requires = "config")]
    pub write: bool,
    /// The configuration file: its feeds are skipped, and --write appends to it.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Arguments of `newshound opml export`.
#[derive(Debug, Args)]
pub struct OpmlExportArgs {
    #[command(flatten)]
    /// The configuration file.
    pub config: ConfigArgs,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Arguments of `newshound man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write newshound.1 and one page per subcommand into this directory.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Arguments of `newshound completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
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
    /// A configuration file whose `[fetch]` settings apply to a URL (`allow_private` for an
    /// intranet or loopback feed, `max_body`, `max_redirects`).
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
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
    crate::service::logging::init(cli.log_format, cli.log_level.as_deref());
    if matches!(cli.command, Command::Run(_) | Command::Once(_)) {
        // These build an HTTP client right after reading the configuration: its trusted
        // roots are read meanwhile.
        crate::fetch::preload_tls();
    }
    match cli.command {
        Command::Run(args) => crate::service::run(&args.config),
        Command::Once(args) => once(&args),
        Command::Check(args) => check(&args.config),
        Command::Feed(args) => feed(args),
        Command::Extract(args) => extract(&args),
        Command::Digest(args) => digest(&args),
        Command::DeliverTest(args) => deliver_test(&args),
        Command::Status(args) => status(&args),
        Command::Opml(OpmlCommand::Import(args)) => opml_import(&args),
        Command::Opml(OpmlCommand::Export(args)) => opml_export(&args),
        Command::Man(args) => man(&args),
        Command::Completions(args) => completions(&args),
        Command::Quotes(args) => quotes(&args),
        Command::Test(args) => test_rules(&args),
    }
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
    let store = open_store(&config)?;
    setup(config, store)
}

fn open_store(config: &Config) -> Result<Arc<Store>, i32> {
    match Store::open_dir(&config.state_dir) {
        Ok(store) => Ok(Arc::new(store)),
        Err(error) => {
            eprintln!("error: {error}");
            Err(EX_CANTCREAT)
        }
    }
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

fn once(args: &OnceArgs) -> anyhow::Result<i32> {
    let config = match load_config(&args.config.config) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let store = if args.dry_run {
        // A dry run records nothing: read the existing state if there is one, else start
        // from an empty in-memory state rather than creating files.
        let path = config.state_dir.join(crate::store::DATABASE_FILE);
        let store = if path.exists() {
            Store::open(&path)
        } else {
            Store::open_in_memory()
        };
        store.map(Arc::new).map_err(|error| {
            eprintln!("error: {error}");
            EX_CANTCREAT
        })
    } else {
        open_store(&config)
    };
    let store = match store {
        Ok(store) => store,
        Err(code) => return Ok(code),
    };
    // The rules are checked while the first requests are out (and compiled once an entry
    // needs them); a problem in them stops the cycle before anything is written.
    let pipeline = match Pipeline::start(config, store) {
        Ok(pipeline) => Arc::new(pipeline),
        Err(SetupError::Config(error)) => return Ok(report_config_error(&error)),
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(1);
        }
    };
    let runtime = runtime()?;
    let cycle = runtime.block_on(scheduler::run_once(&pipeline, args.dry_run));
    // Every poll and delivery of the cycle has finished; what is left on the runtime is idle
    // (pooled connections, parked workers) and ends with the process, without waiting for it.
    runtime.shutdown_background();
    let report = match cycle {
        Ok(report) => report,
        Err(SetupError::Config(error)) => return Ok(report_config_error(&error)),
        Err(error) => return Err(error.into()),
    };
    // The process ends right after this: the compiled rules and the configuration are left
    // to the operating system (freeing thousands of patterns one by one took longer than
    // some cycles). The store is still closed properly when `pipeline` drops.
    if let Some(rules) = pipeline.rules.if_ready() {
        std::mem::forget(rules);
    }
    std::mem::forget(Arc::clone(&pipeline.config));
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
        let view = crate::deliver::render::EvidenceView::of(evidence);
        writeln!(out, "    {}", view.line("*"))?;
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
    // Builds every destination (templates, TLS settings) without connecting anywhere.
    if let Err(error) = crate::deliver::Deliverer::new(&config) {
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
            other => writeln!(
                out,
                "  {:<28} {}",
                other.name(),
                crate::deliver::describe(other)
            )?,
        }
    }
    Ok(0)
}

fn feed(args: FeedArgs) -> anyhow::Result<i32> {
    let config = match &args.config {
        Some(path) => match load_config(path) {
            Ok(config) => Some(config),
            Err(code) => return Ok(code),
        },
        None => None,
    };
    let (bytes, content_type, base) = if args.source.starts_with("http://")
        || args.source.starts_with("https://")
    {
        match fetch_url(&args.source, config.as_ref().map(|c| &c.fetch)) {
            Ok(fetched) => fetched,
            Err(error) => {
                eprintln!("error: {error:#}");
                let blocked = error
                    .downcast_ref::<crate::fetch::FetchError>()
                    .is_some_and(|e| e.kind == crate::fetch::FetchErrorKind::Blocked);
                if blocked && config.is_none() {
                    eprintln!(
                        "hint: pass --config with the configuration whose [fetch] allow_private lists this network or host"
                    );
                }
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

/// Reads a source given on the command line: a URL, `-` (stdin) or a file. Returns the
/// decoded text, the HTTP content type and the final URL (for URLs).
/// Bytes read from a source, its HTTP content type and its final URL.
type Fetched = (Vec<u8>, Option<String>, Option<String>);

fn read_source(
    source: &str,
    settings: Option<&crate::config::FetchSettings>,
) -> Result<Fetched, i32> {
    if source.starts_with("http://") || source.starts_with("https://") {
        return fetch_url(source, settings).map_err(|error| {
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
    let config = match &args.config {
        Some(path) => match load_config(path) {
            Ok(config) => Some(config),
            Err(code) => return Ok(code),
        },
        None => None,
    };
    let registry = match &config {
        Some(config) => match crate::rules::people::Registry::from_config(config) {
            Ok(registry) => registry,
            Err(diagnostics) => {
                return Ok(report_config_error(&ConfigError { diagnostics }));
            }
        },
        None => crate::rules::people::Registry::builtin().map_err(anyhow::Error::msg)?,
    };
    let day = match parse_day(args.date.as_deref()) {
        Ok(day) => day,
        Err(code) => return Ok(code),
    };
    let (bytes, content_type, _) =
        match read_source(&args.source, config.as_ref().map(|c| &c.fetch)) {
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
    let (bytes, content_type, final_url) = match read_source(&args.source, Some(&config.fetch)) {
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

/// Fetches a URL for the one-shot inspection commands, with the configuration's fetch
/// settings (its `allow_private` list included) when there is one, else the defaults.
pub(crate) fn fetch_url(
    url: &str,
    settings: Option<&crate::config::FetchSettings>,
) -> anyhow::Result<(Vec<u8>, Option<String>, Option<String>)> {
    let defaults = crate::config::FetchSettings::default();
    let fetcher = crate::fetch::Fetcher::new(settings.unwrap_or(&defaults))?;
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

fn status(args: &StatusArgs) -> anyhow::Result<i32> {
    let config = match load_config(&args.config.config) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let path = config.state_dir.join(crate::store::DATABASE_FILE);
    let store = match Store::open_read_only(&path) {
        Ok(store) => store,
        Err(error) => {
            eprintln!("error: {error}");
            // No state yet is a missing input; a state file that is there but unusable
            // (corrupt, newer schema) is the store error every other command reports.
            return Ok(if path.exists() { EX_CANTCREAT } else { 66 }); // 66: EX_NOINPUT
        }
    };
    let report = crate::status::collect(&config, &store, jiff::Timestamp::now())?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        crate::status::render_text(&report, &mut out)?;
    }
    Ok(0)
}

fn opml_import(args: &OpmlImportArgs) -> anyhow::Result<i32> {
    let bytes = match std::fs::read(&args.file) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("error: cannot read {}: {error}", args.file.display());
            return Ok(66); // EX_NOINPUT
        }
    };
    let feeds = match crate::opml::parse(&bytes, &args.file) {
        Ok(feeds) => feeds,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(EX_DATAERR);
        }
    };
    let existing = match &args.config {
        Some(path) => match load_config(path) {
            Ok(config) => Some(config),
            Err(code) => return Ok(code),
        },
        None => None,
    };
    let plan = crate::opml::plan_import(feeds, existing.as_ref());
    for (feed, reason) in &plan.skipped {
        eprintln!("skipped {:?} <{}>: {reason}", feed.name, feed.url);
    }
    match (&args.config, args.write) {
        (Some(path), true) => {
            if plan.add.is_empty() {
                eprintln!("nothing to add to {}", path.display());
                return Ok(0);
            }
            match crate::opml::append_to_config(path, &plan, &args.file) {
                Ok(()) => {
                    eprintln!("added {} feeds to {}", plan.add.len(), path.display());
                    Ok(0)
                }
                Err(crate::opml::OpmlError::Config(error)) => {
                    eprintln!("{error}");
                    eprintln!(
                        "error: the configuration would not load with the imported feeds; {} was left unchanged",
                        path.display()
                    );
                    Ok(EX_CONFIG)
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    Ok(EX_CANTCREAT)
                }
            }
        }
        _ => {
            print!("{}", crate::opml::to_toml(&plan.add));
            Ok(0)
        }
    }
}

fn opml_export(args: &OpmlExportArgs) -> anyhow::Result<i32> {
    let config = match load_config(&args.config.config) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let document = crate::opml::export(&config);
    match &args.output {
        Some(path) => {
            if let Err(error) = std::fs::write(path, document) {
                eprintln!("error: cannot write {}: {error}", path.display());
                return Ok(EX_CANTCREAT);
            }
        }
        None => print!("{document}"),
    }
    Ok(0)
}

fn man(args: &ManArgs) -> anyhow::Result<i32> {
    let command = Cli::command();
    match &args.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            clap_mangen::generate_to(command, dir)?;
        }
        None => clap_mangen::Man::new(command).render(&mut std::io::stdout().lock())?,
    }
    Ok(0)
}

fn completions(args: &CompletionsArgs) -> anyhow::Result<i32> {
    let mut command = Cli::command();
    clap_complete::generate(
        args.shell,
        &mut command,
        "newshound",
        &mut std::io::stdout().lock(),
    );
    Ok(0)
}

/// Exit status when a destination did not accept the test (sysexits.h `EX_UNAVAILABLE`).
pub const EX_UNAVAILABLE: i32 = 69;
/// Exit status when a destination failed temporarily (sysexits.h `EX_TEMPFAIL`).
pub const EX_TEMPFAIL: i32 = 75;
/// Exit status for a wrong command line (sysexits.h `EX_USAGE`).
pub const EX_USAGE: i32 = 64;

fn digest(args: &DigestArgs) -> anyhow::Result<i32> {
    let config = match load_config(&args.config.config) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let has_digest = matches!(
        config.destination(&args.destination),
        Some(config::DestinationConfig::Email(email)) if email.digest.is_some()
    );
    if !has_digest {
        let with_digest: Vec<&str> = config
            .destinations
            .iter()
            .filter(|d| matches!(d, config::DestinationConfig::Email(e) if e.digest.is_some()))
            .map(|d| d.name())
            .collect();
        eprintln!(
            "error: {:?} is not an email destination with a digest schedule; {}",
            args.destination,
            if with_digest.is_empty() {
                "none is configured (add `digest = { schedule = \"weekdays 08:00\" }` to an email destination)".to_string()
            } else {
                format!("destinations with a digest: {}", with_digest.join(", "))
            }
        );
        return Ok(EX_USAGE);
    }
    let pipeline = match open_pipeline(config) {
        Ok(pipeline) => pipeline,
        Err(code) => return Ok(code),
    };
    let deliverer = &pipeline.deliverer;
    let store = &pipeline.store;
    let mut out = std::io::stdout().lock();
    if !args.now {
        let Some(digest) = deliverer.preview_digest(store, &args.destination)? else {
            return Ok(EX_USAGE);
        };
        let Some(crate::deliver::Sink::Email(sink)) = deliverer.sink(&args.destination) else {
            return Ok(EX_USAGE);
        };
        let (subject, text, html) = sink.render_digest(&digest)?;
        writeln!(out, "Subject: {subject}\n")?;
        writeln!(out, "{}", if args.html { html } else { text })?;
        writeln!(
            out,
            "(preview: nothing sent or recorded; {} alerts pending)",
            digest.alerts
        )?;
        return Ok(0);
    }
    let now = deliverer.now();
    let key = deliverer.freeze_digest(store, &args.destination, None, now)?;
    let Some(key) = key else {
        writeln!(
            out,
            "nothing pending for {:?}: no digest sent",
            args.destination
        )?;
        return Ok(0);
    };
    let report = runtime()?.block_on(deliverer.deliver_due(store))?;
    let item = store.outbox_item(&key)?;
    match item {
        Some(item) if item.status_text() == "sent" => {
            writeln!(out, "digest {key} sent to {:?}", args.destination)?;
            Ok(0)
        }
        Some(item) => {
            writeln!(
                out,
                "digest {key} not delivered yet ({}): {}; it stays queued and the daemon retries it",
                item.status_text(),
                item.last_error.unwrap_or_default()
            )?;
            Ok(if report.dead > 0 {
                EX_UNAVAILABLE
            } else {
                EX_TEMPFAIL
            })
        }
        None => Ok(EX_TEMPFAIL),
    }
}

fn deliver_test(args: &DeliverTestArgs) -> anyhow::Result<i32> {
    let config = match load_config(&args.config.config) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let Some(destination) = config.destination(&args.destination).cloned() else {
        let names: Vec<&str> = config.destinations.iter().map(|d| d.name()).collect();
        eprintln!(
            "error: no destination named {:?}; configured: {}",
            args.destination,
            names.join(", ")
        );
        return Ok(EX_USAGE);
    };
    let sink = match crate::deliver::Sink::from_config(&config, &destination) {
        Ok(sink) => sink,
        Err(error) => return Ok(report_config_error(&error)),
    };
    let message = crate::deliver::sample_alert(&args.destination, jiff::Timestamp::now());
    let outgoing = crate::deliver::Outgoing::Alert(Box::new(message));
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "sending a test alert to {:?} ({})",
        args.destination,
        crate::deliver::describe(&destination)
    )?;
    match runtime()?.block_on(sink.deliver(&outgoing)) {
        Ok(receipt) => {
            writeln!(out, "accepted: {}", receipt.answer)?;
            Ok(0)
        }
        Err(error) => {
            writeln!(
                out,
                "failed ({}): {}",
                if error.permanent {
                    "permanent: retrying will not help"
                } else {
                    "temporary: the daemon would retry"
                },
                error.message
            )?;
            Ok(if error.permanent {
                EX_UNAVAILABLE
            } else {
                EX_TEMPFAIL
            })
        }
    }
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
