//! Configuration: the one TOML file users edit by hand, plus the files it includes.
//!
//! This stage owns reading, validating and resolving the configuration into a [`Config`]:
//! defaults applied, references between sections checked, secrets read from `*_file` twins,
//! and the state directory decided. Every problem in every file is collected and reported at
//! once as a [`ConfigError`] whose diagnostics name file, line and column.

mod delivery;
mod diagnostic;
mod http;
mod load;
mod secret;
mod units;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

pub use delivery::{
    DeliverySettings, DigestSettings, EmailDestination, EmailTransport, Preset, Routing,
    SmtpSettings, SmtpTls, TemplatePaths, WebhookDestination,
};
pub use diagnostic::{ConfigError, Diagnostic};
pub use http::{HttpSettings, ListenAddr};
pub use load::load;
pub use secret::SecretResolver;
pub use units::{ByteSize, DURATION_HELP, HumanDuration, SIZE_HELP, parse_duration, parse_size};

/// Where an item of the configuration was written: which file, which bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file the item is in.
    pub file: Arc<Path>,
    /// Byte range of the item in that file.
    pub span: Range<usize>,
}

impl Default for Origin {
    /// An origin for items the program adds itself (not written in any file).
    fn default() -> Self {
        Self {
            file: Arc::from(Path::new("(built-in default)")),
            span: 0..0,
        }
    }
}

/// The loaded, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The main configuration file.
    pub path: PathBuf,
    /// Directory for the state database and the default alert file.
    pub state_dir: PathBuf,
    /// How long a seen entry is remembered after it left its feed.
    pub retention: HumanDuration,
    /// Global network settings.
    pub fetch: FetchSettings,
    /// The optional local HTTP listener for metrics and health checks.
    pub http: HttpSettings,
    /// The feeds to watch, with defaults applied.
    pub feeds: Vec<FeedConfig>,
    /// Article extraction settings.
    pub extract: ExtractSettings,
    /// Per-site extraction overrides.
    pub sites: Vec<SiteConfig>,
    /// The alert rules.
    pub rules: Vec<RuleConfig>,
    /// People and roles added to (or replacing entries of) the built-in registry.
    pub people: Vec<PersonConfig>,
    /// Where alerts go. Never empty: without any configured destination a `file`
    /// destination named `local` is added.
    pub destinations: Vec<DestinationConfig>,
    /// Delivery settings (`[delivery]`): retries, maximum age, de-duplication window.
    pub delivery: DeliverySettings,
    /// The text of every file read, so later stages can point into it.
    pub sources: BTreeMap<PathBuf, Arc<str>>,
}

impl Config {
    /// Builds a diagnostic pointing at a span inside a string value of the configuration,
    /// e.g. the column of a syntax error inside a rule's query.
    pub fn diagnostic_at(
        &self,
        origin: &Origin,
        span: Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Diagnostic {
        match self.sources.get(origin.file.as_ref()) {
            Some(source) => Diagnostic::at(&origin.file, source, span, message, help),
            None => Diagnostic::whole_file(&origin.file, message, help),
        }
    }

    /// The directory the main configuration file is in.
    pub fn config_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Looks up a destination by name.
    pub fn destination(&self, name: &str) -> Option<&DestinationConfig> {
        self.destinations.iter().find(|d| d.name() == name)
    }
}

/// Per-feed settings that can be given once in `[defaults]` and overridden per feed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedDefaults {
    /// Time between two polls of a feed.
    pub interval: HumanDuration,
    /// Total deadline of one request (connect, headers and body).
    pub timeout: HumanDuration,
    /// The User-Agent header.
    pub user_agent: String,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
    /// Whether to fetch the article page behind each new entry.
    pub scrape: bool,
    /// On the first poll of a new feed, entries older than this are recorded as seen without
    /// alerting.
    pub backfill: HumanDuration,
}

/// The default User-Agent: names the program and its version.
pub fn default_user_agent() -> String {
    format!(
        "newshound/{} (+https://github.com/newshound/newshound; feed monitor)",
        env!("CARGO_PKG_VERSION")
    )
}

impl Default for FeedDefaults {
    fn default() -> Self {
        Self {
            interval: HumanDuration::from_secs(15 * 60),
            timeout: HumanDuration::from_secs(30),
            user_agent: default_user_agent(),
            headers: BTreeMap::new(),
            scrape: true,
            backfill: HumanDuration::from_secs(24 * 3600),
        }
    }
}

/// Global network settings (`[fetch]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FetchSettings {
    /// Requests in flight at once, all hosts together.
    pub concurrency: usize,
    /// Requests in flight at once to one host.
    pub per_host: usize,
    /// Largest response body accepted, after decompression.
    pub max_body: ByteSize,
    /// Redirects followed before giving up.
    pub max_redirects: usize,
    /// Longest wait between polls of a failing feed (failures back off exponentially up to
    /// this, and polling never stops).
    pub max_backoff: HumanDuration,
    /// Longest wait between polls that a publisher's hints (`<ttl>`, `Cache-Control`,
    /// `Expires`, `Retry-After`) can impose.
    pub max_interval: HumanDuration,
    /// Private, loopback and other non-public networks (CIDR) or host names that may be
    /// fetched anyway; everything else non-public is refused.
    pub allow_private: Vec<Spanned<String>>,
}

impl Default for FetchSettings {
    fn default() -> Self {
        Self {
            concurrency: 32,
            per_host: 2,
            max_body: ByteSize(16 * 1024 * 1024),
            max_redirects: 5,
            max_backoff: HumanDuration::from_secs(6 * 3600),
            max_interval: HumanDuration::from_secs(6 * 3600),
            allow_private: Vec::new(),
        }
    }
}

/// Article extraction settings (`[extract]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExtractSettings {
    /// Total deadline for fetching one article page (redirects and body included).
    pub timeout: HumanDuration,
    /// Extra attempts after a temporary failure (timeout, connection error, 429, 5xx).
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one, with jitter.
    pub retry_delay: HumanDuration,
    /// Fewest characters of extracted text for the page to be used; shorter pages (stubs,
    /// consent or paywall notices) fall back to the feed's own content.
    pub min_length: usize,
    /// Each article request first waits a random time up to this, so that the pages of a
    /// feed's new entries do not hit their site in one burst.
    pub jitter: HumanDuration,
}

impl Default for ExtractSettings {
    fn default() -> Self {
        Self {
            timeout: HumanDuration::from_secs(20),
            retries: 2,
            retry_delay: HumanDuration::from_secs(2),
            min_length: 200,
            jitter: HumanDuration(std::time::Duration::from_millis(500)),
        }
    }
}

/// One watched feed, with the defaults applied.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    /// Name shown in alerts and logs; unique.
    pub name: String,
    /// The feed URL (http or https).
    pub url: String,
    /// Free-form tags rules can select feeds by.
    pub tags: Vec<String>,
    /// Time between two polls.
    pub interval: HumanDuration,
    /// Total request deadline.
    pub timeout: HumanDuration,
    /// The User-Agent header.
    pub user_agent: String,
    /// Request headers (defaults merged with the feed's own).
    pub headers: BTreeMap<String, String>,
    /// Whether to fetch the article page behind each new entry.
    pub scrape: bool,
    /// First-poll backfill window.
    pub backfill: HumanDuration,
    /// CSS selector of the article body on this feed's pages.
    pub extract_selector: Option<String>,
    /// CSS selectors of elements removed from this feed's pages before extraction.
    pub remove_selectors: Vec<String>,
    /// Where the feed was written.
    pub origin: Origin,
}

/// A `[[feeds]]` table as written, before defaults are applied.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeed {
    pub name: Option<Spanned<String>>,
    pub url: Spanned<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub interval: Option<HumanDuration>,
    pub timeout: Option<HumanDuration>,
    pub user_agent: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub scrape: Option<bool>,
    pub backfill: Option<HumanDuration>,
    pub extract_selector: Option<Spanned<String>>,
    #[serde(default)]
    pub remove_selectors: Vec<Spanned<String>>,
}

/// One alert rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Rule name, shown in alerts; unique.
    pub name: Spanned<String>,
    /// Alert when any of these words or phrases occurs (case-insensitive).
    #[serde(default)]
    pub keywords: Vec<Spanned<String>>,
    /// A boolean keyword query (`AND`, `OR`, `NOT`, phrases, wildcards, `NEAR/n`, fields,
    /// `/regex/`); see the query language in README.md.
    pub query: Option<Spanned<String>>,
    /// Only alert when one of these people made a statement in the article:
    /// `person:<id>`, `role:<title>` (resolved by the article's date) or a registry name.
    #[serde(default)]
    pub speakers: Vec<Spanned<String>>,
    /// A query evaluated only on the statements of `speakers`.
    pub says: Option<Spanned<String>>,
    /// Only entries of these feeds (by name); empty means all feeds.
    #[serde(default)]
    pub feeds: Vec<Spanned<String>>,
    /// Only entries of feeds with one of these tags; empty means all feeds.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Destinations (by name) the rule alerts; empty means every destination.
    #[serde(default)]
    pub destinations: Vec<Spanned<String>>,
    /// Where the rule was written.
    #[serde(skip)]
    pub origin: Origin,
}

impl RuleConfig {
    /// The rule's name.
    pub fn name(&self) -> &str {
        self.name.get_ref()
    }
}

/// A `[[people]]` entry: a person the speaker rules and attribution know, added to the
/// built-in registry (an entry with the id of a built-in person replaces it).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonConfig {
    /// Stable identifier rules refer to as `person:<id>`.
    pub id: Spanned<String>,
    /// Canonical name, used in statements and alerts.
    pub name: String,
    /// Other spellings and inflected forms; `*` at the end of a word matches any ending,
    /// `{a,b}` lists alternatives (`Зеленськ{ий,ого,ому,им}`).
    #[serde(default)]
    pub aliases: Vec<Spanned<String>>,
    /// `"f"` or `"m"`, used to resolve pronouns ("she", "вона", "она").
    pub gender: Option<String>,
    /// Offices held, with dates.
    #[serde(default)]
    pub roles: Vec<PersonRoleConfig>,
    /// Where the person was written.
    #[serde(skip)]
    pub origin: Origin,
}

/// One office a person held: `{ title = "NATO Secretary General", from = "2024-10-01" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonRoleConfig {
    /// The role's title; roles with the same title (case-insensitive) are one role.
    pub title: Spanned<String>,
    /// Other ways articles name the role ("NATO chief", "генсек НАТО").
    #[serde(default)]
    pub aliases: Vec<Spanned<String>>,
    /// First day in office (`YYYY-MM-DD`); open when absent.
    pub from: Option<Spanned<DateText>>,
    /// First day no longer in office (`YYYY-MM-DD`); open (still in office) when absent.
    pub to: Option<Spanned<DateText>>,
}

/// A date written as a string ("2024-10-01") or a TOML date (2024-10-01); checked later.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DateText {
    /// `from = "2024-10-01"`
    Text(String),
    /// `from = 2024-10-01`
    Toml(toml::value::Datetime),
}

impl DateText {
    /// The date as text.
    pub fn text(&self) -> String {
        match self {
            DateText::Text(text) => text.clone(),
            DateText::Toml(date) => date.to_string(),
        }
    }
}

/// A destination alerts are delivered to.
#[derive(Debug, Clone)]
pub enum DestinationConfig {
    /// Appends one JSON object per alert to a local JSON-lines file.
    File(FileDestination),
    /// Sends alerts (instantly or in scheduled digests) by email.
    Email(Box<EmailDestination>),
    /// Posts alerts to an HTTP endpoint (generic signed JSON or a chat-service preset).
    Webhook(Box<WebhookDestination>),
}

impl DestinationConfig {
    /// The destination's name.
    pub fn name(&self) -> &str {
        match self {
            DestinationConfig::File(d) => &d.name,
            DestinationConfig::Email(d) => &d.name,
            DestinationConfig::Webhook(d) => &d.name,
        }
    }

    /// The `type` value of the destination, as written in the config.
    pub fn kind(&self) -> &'static str {
        match self {
            DestinationConfig::File(_) => "file",
            DestinationConfig::Email(_) => "email",
            DestinationConfig::Webhook(_) => "webhook",
        }
    }

    /// Where the destination was written.
    pub fn origin(&self) -> &Origin {
        match self {
            DestinationConfig::File(d) => &d.origin,
            DestinationConfig::Email(d) => &d.origin,
            DestinationConfig::Webhook(d) => &d.origin,
        }
    }

    /// The `type` values a destination can have.
    pub const KINDS: &'static [&'static str] = &["file", "email", "webhook"];
}

/// `type = "file"`: a JSON-lines file, one alert per line, written durably.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDestination {
    /// Destination name; unique.
    pub name: String,
    /// Path of the file; relative paths resolve against the state directory.
    /// Default: `alerts.jsonl` in the state directory.
    pub path: Option<PathBuf>,
    /// Where the destination was written.
    #[serde(skip)]
    pub origin: Origin,
}

/// Name of the destination added when the configuration names none.
pub const DEFAULT_DESTINATION: &str = "local";

/// A `[[sites]]` table: extraction overrides for the pages of one site.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Host name; matches the host and its subdomains (`example.org` matches
    /// `www.example.org`).
    pub host: String,
    /// CSS selector of the article body.
    pub extract_selector: Option<Spanned<String>>,
    /// CSS selectors of elements to remove before extraction.
    #[serde(default)]
    pub remove_selectors: Vec<Spanned<String>>,
    /// Where the site was written.
    #[serde(skip)]
    pub origin: Origin,
}
