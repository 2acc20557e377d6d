//! Reading the main configuration file and its includes into a validated [`Config`].
//!
//! Each top-level section and each `[[array]]` element is deserialised on its own, so one
//! mistake does not hide the others: all problems of all files are reported together.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::delivery::{self, DeliverySettings, Place, RawEmail, RawWebhook};
use super::{
    Config, ConfigError, DEFAULT_DESTINATION, DestinationConfig, Diagnostic, ExtractSettings,
    FeedConfig, FeedDefaults, FetchSettings, FileDestination, HttpSettings, HumanDuration, Origin,
    PersonConfig, RawFeed, RuleConfig, SiteConfig,
};

/// Top-level keys of the main file.
const MAIN_KEYS: &[&str] = &[
    "state_dir",
    "include",
    "retention",
    "defaults",
    "fetch",
    "extract",
    "sites",
    "http",
    "feeds",
    "rules",
    "destinations",
    "delivery",
    "people",
];

/// Top-level keys an included file may have.
const INCLUDED_KEYS: &[&str] = &["feeds", "sites", "rules", "destinations", "people"];

/// Help shown with an invalid CSS selector.
const SELECTOR_HELP: &str = "use a CSS selector as in a browser's querySelector, e.g. \"div.article-body\" or \"#story > p\"";

/// Loads and validates the configuration at `path` and every file it includes.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let mut loader = Loader {
        main_dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
        ..Loader::default()
    };
    loader.read_file(path, true);
    let includes = std::mem::take(&mut loader.includes);
    let main_dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut included: Vec<PathBuf> = Vec::new();
    for (pattern, origin) in includes {
        for file in loader.expand_include(&main_dir, &pattern, &origin) {
            if !included.contains(&file) && file != path {
                loader.read_file(&file, false);
                included.push(file);
            }
        }
    }
    loader.finish(path)
}

#[derive(Default)]
struct Loader {
    diagnostics: Vec<Diagnostic>,
    sources: BTreeMap<PathBuf, Arc<str>>,
    includes: Vec<(String, Origin)>,
    state_dir: Option<(PathBuf, Origin)>,
    retention: Option<HumanDuration>,
    defaults: Option<FeedDefaults>,
    fetch: Option<FetchSettings>,
    extract: Option<ExtractSettings>,
    sites: Vec<SiteConfig>,
    http: Option<HttpSettings>,
    feeds: Vec<(RawFeed, Origin)>,
    rules: Vec<RuleConfig>,
    destinations: Vec<DestinationConfig>,
    delivery: Option<DeliverySettings>,
    /// Directory of the main file (where `*_file` secrets are looked up).
    main_dir: PathBuf,
    people: Vec<PersonConfig>,
}

/// The file being read, for building diagnostics.
struct FileContext {
    path: Arc<Path>,
    source: Arc<str>,
}

impl FileContext {
    fn origin(&self, span: std::ops::Range<usize>) -> Origin {
        Origin {
            file: self.path.clone(),
            span,
        }
    }

    fn diagnostic(
        &self,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Diagnostic {
        Diagnostic::at(&self.path, &self.source, span, message, help)
    }
}

impl Loader {
    fn read_file(&mut self, path: &Path, is_main: bool) {
        let text = match std::fs::read(path).map(String::from_utf8) {
            Ok(Ok(text)) => text,
            Ok(Err(not_utf8)) => {
                // Point at the first byte that is not UTF-8: everything before it decodes
                // as is, so its offset is the same in the lossy text.
                let at = not_utf8.utf8_error().valid_up_to();
                let bytes = not_utf8.as_bytes();
                let lossy = String::from_utf8_lossy(bytes);
                self.diagnostics.push(Diagnostic::at(
                    path,
                    &lossy,
                    at..at + 1,
                    format!(
                        "the file is not valid UTF-8 (byte 0x{:02x})",
                        bytes.get(at).copied().unwrap_or(0)
                    ),
                    Some(
                        "TOML files are UTF-8: save the file as UTF-8 (e.g. `iconv -f windows-1251 -t utf-8`)"
                            .to_string(),
                    ),
                ));
                return;
            }
            Err(error) => {
                let help = if is_main {
                    "pass the path of an existing file with --config (see config.example.toml)"
                } else {
                    "fix or remove the `include` entry that names this file"
                };
                self.diagnostics.push(Diagnostic::whole_file(
                    path,
                    format!("cannot read configuration file: {error}"),
                    Some(help.to_string()),
                ));
                return;
            }
        };
        let source: Arc<str> = Arc::from(text);
        self.sources.insert(path.to_path_buf(), source.clone());
        let file = FileContext {
            path: Arc::from(path),
            source: source.clone(),
        };
        let (table, syntax_errors) = DeTable::parse_recoverable(&source);
        let had_syntax_errors = !syntax_errors.is_empty();
        for error in syntax_errors {
            let span = error.span().unwrap_or(0..0);
            self.diagnostics.push(file.diagnostic(
                span,
                format!("TOML syntax error: {}", error.message().trim()),
                Some("see https://toml.io for the file format".to_string()),
            ));
        }
        if had_syntax_errors {
            // Values after a syntax error are unreliable; reporting their "errors" would
            // only add noise to the real one.
            return;
        }
        let allowed = if is_main { MAIN_KEYS } else { INCLUDED_KEYS };
        for (key, value) in table.into_inner() {
            let key_span = key.span();
            let key = key.into_inner();
            if !allowed.contains(&key.as_ref()) {
                let help = if !is_main && MAIN_KEYS.contains(&key.as_ref()) {
                    format!(
                        "`{key}` may only be set in the main configuration file; an included file may contain {}",
                        list(INCLUDED_KEYS)
                    )
                } else {
                    expected_help(&key, allowed)
                };
                self.diagnostics.push(file.diagnostic(
                    key_span,
                    format!("unknown key `{key}`"),
                    Some(help),
                ));
                continue;
            }
            self.read_section(&file, &key, value);
        }
    }

    fn read_section(&mut self, file: &FileContext, key: &str, value: Spanned<DeValue<'_>>) {
        match key {
            "state_dir" => {
                let span = value.span();
                if let Some(dir) = self.deserialize::<PathBuf>(file, value) {
                    self.state_dir = Some((dir, file.origin(span)));
                }
            }
            "include" => {
                if let Some(patterns) = self.deserialize::<Vec<Spanned<String>>>(file, value) {
                    for pattern in patterns {
                        let span = pattern.span();
                        self.includes
                            .push((pattern.into_inner(), file.origin(span)));
                    }
                }
            }
            "retention" => self.retention = self.deserialize(file, value),
            "defaults" => self.defaults = self.deserialize(file, value),
            "fetch" => {
                self.fetch = self.deserialize::<FetchSettings>(file, value);
                if let Some(fetch) = &self.fetch {
                    for entry in &fetch.allow_private {
                        if let Err(message) = crate::fetch::Allowed::parse(entry.get_ref()) {
                            self.diagnostics.push(file.diagnostic(
                                entry.span(),
                                message,
                                Some("write a network such as \"10.1.2.0/24\" or \"127.0.0.1/32\", or a host name such as \"intranet.example\"".into()),
                            ));
                        }
                    }
                }
            }
            "extract" => self.extract = self.deserialize(file, value),
            "sites" => {
                for item in self.array_of_tables(file, key, value) {
                    let origin = file.origin(item.span());
                    if let Some(mut site) = self.deserialize::<SiteConfig>(file, item) {
                        site.origin = origin;
                        let selectors = site.extract_selector.iter().chain(&site.remove_selectors);
                        for selector in selectors {
                            if let Err(message) =
                                crate::extract::overrides::check_selector(selector.get_ref())
                            {
                                self.diagnostics.push(file.diagnostic(
                                    selector.span(),
                                    message,
                                    Some(SELECTOR_HELP.into()),
                                ));
                            }
                        }
                        if site.host.trim().is_empty() || site.host.contains(['/', ':', ' ']) {
                            self.diagnostics.push(file.diagnostic(
                                site.origin.span.clone(),
                                format!("site host {:?} is not a host name", site.host),
                                Some("write the bare host, e.g. host = \"example.org\" (it matches www.example.org too)".into()),
                            ));
                        }
                        self.sites.push(site);
                    }
                }
            }
            "delivery" => self.delivery = self.deserialize(file, value),
            "http" => self.http = self.deserialize(file, value),
            "feeds" => {
                for item in self.array_of_tables(file, key, value) {
                    let origin = file.origin(item.span());
                    if let Some(feed) = self.deserialize::<RawFeed>(file, item) {
                        self.feeds.push((feed, origin));
                    }
                }
            }
            "rules" => {
                for item in self.array_of_tables(file, key, value) {
                    let origin = file.origin(item.span());
                    if let Some(mut rule) = self.deserialize::<RuleConfig>(file, item) {
                        rule.origin = origin;
                        self.rules.push(rule);
                    }
                }
            }
            "people" => {
                for item in self.array_of_tables(file, key, value) {
                    let origin = file.origin(item.span());
                    if let Some(mut person) = self.deserialize::<PersonConfig>(file, item) {
                        person.origin = origin;
                        self.people.push(person);
                    }
                }
            }
            "destinations" => {
                for item in self.array_of_tables(file, key, value) {
                    if let Some(destination) = self.read_destination(file, item) {
                        self.destinations.push(destination);
                    }
                }
            }
            _ => unreachable!("read_section is only called with keys from MAIN_KEYS"),
        }
    }

    fn read_destination(
        &mut self,
        file: &FileContext,
        item: Spanned<DeValue<'_>>,
    ) -> Option<DestinationConfig> {
        let span = item.span();
        let origin = file.origin(span.clone());
        let DeValue::Table(mut table) = item.into_inner() else {
            return None; // array_of_tables only yields tables
        };
        let Some(kind) = table.remove("type") else {
            self.diagnostics.push(file.diagnostic(
                span.start..span.start + 1,
                "destination has no `type`",
                Some(format!(
                    "add `type = ` with one of {}",
                    list(DestinationConfig::KINDS)
                )),
            ));
            return None;
        };
        let kind_span = kind.span();
        let kind_name = match kind.get_ref() {
            DeValue::String(s) => s.to_string(),
            _ => String::new(),
        };
        let rest = Spanned::new(span, DeValue::Table(table));
        match kind_name.as_str() {
            "file" => {
                let mut destination = self.deserialize::<FileDestination>(file, rest)?;
                destination.origin = origin;
                Some(DestinationConfig::File(destination))
            }
            "email" | "webhook" => {
                let main_dir = self.main_dir.clone();
                let secrets = super::SecretResolver::from_env(&main_dir);
                let place = Place {
                    path: &file.path,
                    source: &file.source,
                    origin,
                    secrets: &secrets,
                };
                let built = if kind_name == "email" {
                    let raw = self.deserialize::<RawEmail>(file, rest)?;
                    delivery::email(raw, &place).map(|d| DestinationConfig::Email(Box::new(d)))
                } else {
                    let raw = self.deserialize::<RawWebhook>(file, rest)?;
                    delivery::webhook(raw, &place).map(|d| DestinationConfig::Webhook(Box::new(d)))
                };
                match built {
                    Ok(destination) => Some(destination),
                    Err(diagnostics) => {
                        self.diagnostics.extend(diagnostics);
                        None
                    }
                }
            }
            other => {
                self.diagnostics.push(file.diagnostic(
                    kind_span,
                    format!("unknown destination type {other:?}"),
                    Some(expected_help(other, DestinationConfig::KINDS)),
                ));
                None
            }
        }
    }

    /// The elements of a `[[key]]` array; anything else is reported.
    fn array_of_tables<'i>(
        &mut self,
        file: &FileContext,
        key: &str,
        value: Spanned<DeValue<'i>>,
    ) -> Vec<Spanned<DeValue<'i>>> {
        let span = value.span();
        let DeValue::Array(items) = value.into_inner() else {
            self.diagnostics.push(file.diagnostic(
                span,
                format!("`{key}` must be a list of tables"),
                Some(format!("write each one as a `[[{key}]]` section")),
            ));
            return Vec::new();
        };
        let mut tables = Vec::new();
        for item in items {
            if matches!(item.get_ref(), DeValue::Table(_)) {
                tables.push(item);
            } else {
                self.diagnostics.push(file.diagnostic(
                    item.span(),
                    format!("every element of `{key}` must be a table"),
                    Some(format!("write each one as a `[[{key}]]` section")),
                ));
            }
        }
        tables
    }

    /// Deserialises one value. For a table, every problem is reported, not just the first:
    /// after an error the offending key is set aside and the rest is tried again.
    fn deserialize<T: DeserializeOwned>(
        &mut self,
        file: &FileContext,
        value: Spanned<DeValue<'_>>,
    ) -> Option<T> {
        let fallback = value.span();
        let mut value = value;
        let mut set_aside: Vec<String> = Vec::new();
        // Bounded: each round removes one key.
        for _ in 0..64 {
            let error = match T::deserialize(ValueDeserializer::from(value.clone())) {
                Ok(parsed) => return Some(parsed),
                Err(error) => error,
            };
            let (message, help) = explain_serde_error(error.message());
            if let Some(missing) = error.message().strip_prefix("missing field `")
                && set_aside
                    .iter()
                    .any(|k| missing.starts_with(&format!("{k}`")))
            {
                // A consequence of a key set aside earlier, already reported.
                return None;
            }
            let span = error.span().unwrap_or(fallback.clone());
            self.diagnostics
                .push(file.diagnostic(span.clone(), message, help));
            let DeValue::Table(table) = value.get_mut() else {
                return None;
            };
            let culprit = table
                .iter()
                .find(|(key, item)| {
                    key.span() == span
                        || (item.span().start <= span.start && span.end <= item.span().end)
                })
                .map(|(key, _)| key.get_ref().to_string());
            match culprit {
                Some(key) => {
                    table.remove(key.as_str());
                    set_aside.push(key);
                }
                None => return None,
            }
        }
        None
    }

    fn expand_include(&mut self, main_dir: &Path, pattern: &str, origin: &Origin) -> Vec<PathBuf> {
        let full = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            main_dir.join(pattern)
        };
        let full_text = full.to_string_lossy().to_string();
        let is_glob = pattern.contains(['*', '?', '[']);
        let source = self.sources.get(origin.file.as_ref()).cloned();
        let report = |message: String, help: &str| match &source {
            Some(source) => Diagnostic::at(
                &origin.file,
                source,
                origin.span.clone(),
                message,
                Some(help.to_string()),
            ),
            None => Diagnostic::whole_file(&origin.file, message, Some(help.to_string())),
        };
        if !is_glob {
            if full.is_file() {
                return vec![full];
            }
            self.diagnostics.push(report(
                format!("included file {} does not exist", full.display()),
                "include paths are relative to the main configuration file",
            ));
            return Vec::new();
        }
        match glob::glob(&full_text) {
            Ok(paths) => {
                let mut files: Vec<PathBuf> = paths
                    .filter_map(Result::ok)
                    .filter(|p| p.is_file())
                    .collect();
                files.sort();
                if files.is_empty() {
                    tracing::warn!(pattern = %full_text, "include pattern matches no file");
                }
                files
            }
            Err(error) => {
                self.diagnostics.push(report(
                    format!("invalid include pattern: {error}"),
                    "use `*`, `?` and `[...]` as in a shell, e.g. \"rules.d/*.toml\"",
                ));
                Vec::new()
            }
        }
    }

    fn finish(mut self, path: &Path) -> Result<Config, ConfigError> {
        let defaults = self.defaults.take().unwrap_or_default();
        let feeds = self.resolve_feeds(&defaults);
        if self.destinations.is_empty() {
            self.destinations
                .push(DestinationConfig::File(FileDestination {
                    name: DEFAULT_DESTINATION.to_string(),
                    path: None,
                    origin: Origin::default(),
                }));
        }
        self.check_destinations();
        self.check_rules(&feeds);
        let routing = delivery::check_routing(&self.destinations, &self.rules, &self.sources);
        self.diagnostics.extend(routing);
        let state_dir = self.resolve_state_dir(path);
        if !self.diagnostics.is_empty() {
            return Err(ConfigError {
                diagnostics: self.diagnostics,
            });
        }
        let state_dir = state_dir.unwrap_or_default();
        Ok(Config {
            path: path.to_path_buf(),
            state_dir,
            retention: self
                .retention
                .unwrap_or(HumanDuration::from_secs(90 * 86_400)),
            fetch: self.fetch.take().unwrap_or_default(),
            extract: self.extract.take().unwrap_or_default(),
            sites: self.sites,
            http: self.http.take().unwrap_or_default(),
            feeds,
            rules: self.rules,
            people: self.people,
            destinations: self.destinations,
            delivery: self.delivery.take().unwrap_or_default(),
            sources: self.sources,
        })
    }

    fn diagnostic_at(
        &self,
        origin: &Origin,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Diagnostic {
        match self.sources.get(origin.file.as_ref()) {
            Some(source) => Diagnostic::at(&origin.file, source, span, message, help),
            None => Diagnostic::whole_file(&origin.file, message, help),
        }
    }

    fn place(&self, origin: &Origin, span: &std::ops::Range<usize>) -> String {
        let d = self.diagnostic_at(origin, span.clone(), "", None);
        format!("{}:{}:{}", d.file.display(), d.line, d.column)
    }

    fn resolve_feeds(&mut self, defaults: &FeedDefaults) -> Vec<FeedConfig> {
        let mut feeds = Vec::new();
        let mut names: HashMap<String, (Origin, std::ops::Range<usize>)> = HashMap::new();
        let mut urls: HashMap<String, (Origin, std::ops::Range<usize>)> = HashMap::new();
        for (raw, origin) in std::mem::take(&mut self.feeds) {
            let url_span = raw.url.span();
            let url = raw.url.get_ref().trim().to_string();
            match url::Url::parse(&url) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
                Ok(parsed) => {
                    let d = self.diagnostic_at(
                        &origin,
                        url_span.clone(),
                        format!("unsupported URL scheme `{}`", parsed.scheme()),
                        Some("feed URLs must start with http:// or https://".into()),
                    );
                    self.diagnostics.push(d);
                }
                Err(error) => {
                    let d = self.diagnostic_at(
                        &origin,
                        url_span.clone(),
                        format!("invalid feed URL: {error}"),
                        Some(
                            "expected an absolute URL such as \"https://example.org/feed.xml\""
                                .into(),
                        ),
                    );
                    self.diagnostics.push(d);
                }
            }
            let (name, name_span) = match &raw.name {
                Some(name) => (name.get_ref().trim().to_string(), name.span()),
                None => (url.clone(), url_span.clone()),
            };
            if name.is_empty() {
                let d = self.diagnostic_at(
                    &origin,
                    name_span.clone(),
                    "feed name is empty",
                    Some("give the feed a short name, or leave `name` out to use the URL".into()),
                );
                self.diagnostics.push(d);
            }
            // Positions are rendered only for a duplicate: rendering one scans the file, and
            // doing that for every feed made loading thousands of feeds quadratic.
            if let Some(first) = names.insert(name.clone(), (origin.clone(), name_span.clone())) {
                let first = self.place(&first.0, &first.1);
                let d = self.diagnostic_at(
                    &origin,
                    name_span.clone(),
                    format!("feed name {name:?} is used twice"),
                    Some(format!(
                        "feed names must be unique; it was first used at {first}"
                    )),
                );
                self.diagnostics.push(d);
            }
            if let Some(first) = urls.insert(url.clone(), (origin.clone(), url_span.clone())) {
                let first = self.place(&first.0, &first.1);
                let d = self.diagnostic_at(
                    &origin,
                    url_span.clone(),
                    format!("feed URL {url:?} is listed twice"),
                    Some(format!(
                        "remove one of the two; it was first listed at {first}"
                    )),
                );
                self.diagnostics.push(d);
            }
            for selector in raw.extract_selector.iter().chain(&raw.remove_selectors) {
                if let Err(message) = crate::extract::overrides::check_selector(selector.get_ref())
                {
                    let d = self.diagnostic_at(
                        &origin,
                        selector.span(),
                        message,
                        Some(SELECTOR_HELP.into()),
                    );
                    self.diagnostics.push(d);
                }
            }
            let mut headers = defaults.headers.clone();
            headers.extend(raw.headers);
            for (header, value) in &headers {
                if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err()
                    || reqwest::header::HeaderValue::from_str(value).is_err()
                {
                    let d = self.diagnostic_at(
                        &origin,
                        origin.span.clone(),
                        format!("invalid HTTP header {header:?}"),
                        Some("header names are ASCII tokens, values printable ASCII without newlines".into()),
                    );
                    self.diagnostics.push(d);
                }
            }
            feeds.push(FeedConfig {
                name,
                url,
                tags: raw.tags,
                interval: raw.interval.unwrap_or(defaults.interval),
                timeout: raw.timeout.unwrap_or(defaults.timeout),
                user_agent: raw
                    .user_agent
                    .unwrap_or_else(|| defaults.user_agent.clone()),
                headers,
                scrape: raw.scrape.unwrap_or(defaults.scrape),
                backfill: raw.backfill.unwrap_or(defaults.backfill),
                extract_selector: raw.extract_selector.map(Spanned::into_inner),
                remove_selectors: raw
                    .remove_selectors
                    .into_iter()
                    .map(Spanned::into_inner)
                    .collect(),
                origin,
            });
        }
        feeds
    }

    fn check_destinations(&mut self) {
        let mut seen: HashMap<String, (Origin, std::ops::Range<usize>)> = HashMap::new();
        let destinations = std::mem::take(&mut self.destinations);
        for destination in &destinations {
            let origin = destination.origin();
            if let Some(first) = seen.insert(
                destination.name().to_string(),
                (origin.clone(), origin.span.clone()),
            ) {
                let first = self.place(&first.0, &first.1);
                let d = self.diagnostic_at(
                    origin,
                    origin.span.clone(),
                    format!("destination name {:?} is used twice", destination.name()),
                    Some(format!(
                        "destination names must be unique; it was first used at {first}"
                    )),
                );
                self.diagnostics.push(d);
            }
        }
        self.destinations = destinations;
    }

    fn check_rules(&mut self, feeds: &[FeedConfig]) {
        let rules = std::mem::take(&mut self.rules);
        let mut names: HashMap<String, (Origin, std::ops::Range<usize>)> = HashMap::new();
        let destination_names: Vec<String> = self
            .destinations
            .iter()
            .map(|d| d.name().to_string())
            .collect();
        let destination_refs: Vec<&str> = destination_names.iter().map(String::as_str).collect();
        let feed_names: Vec<&str> = feeds.iter().map(|f| f.name.as_str()).collect();
        for rule in &rules {
            let name = rule.name().trim();
            if name.is_empty() {
                let d = self.diagnostic_at(
                    &rule.origin,
                    rule.name.span(),
                    "rule name is empty",
                    Some("give the rule a name; it is shown in every alert".into()),
                );
                self.diagnostics.push(d);
            }
            if let Some(first) =
                names.insert(name.to_string(), (rule.origin.clone(), rule.name.span()))
            {
                let first = self.place(&first.0, &first.1);
                let d = self.diagnostic_at(
                    &rule.origin,
                    rule.name.span(),
                    format!("rule name {name:?} is used twice"),
                    Some(format!(
                        "rule names must be unique; it was first used at {first}"
                    )),
                );
                self.diagnostics.push(d);
            }
            if rule.keywords.is_empty() && rule.query.is_none() && rule.speakers.is_empty() {
                let d = self.diagnostic_at(
                    &rule.origin,
                    rule.name.span(),
                    format!("rule {name:?} has nothing to match"),
                    Some(
                        "add `keywords = [\"...\"]`, `query = '...'` or `speakers = [\"role:...\"]`"
                            .into(),
                    ),
                );
                self.diagnostics.push(d);
            }
            if let (Some(says), true) = (&rule.says, rule.speakers.is_empty()) {
                let d = self.diagnostic_at(
                    &rule.origin,
                    says.span(),
                    format!("rule {name:?} has `says` but no `speakers`"),
                    Some(
                        "`says` is matched on the statements of the rule's speakers: add e.g. `speakers = [\"role:NATO Secretary General\"]`, or use `query` to match the whole article"
                            .into(),
                    ),
                );
                self.diagnostics.push(d);
            }
            let source = self.sources.get(rule.origin.file.as_ref()).cloned();
            for (span, message, help) in crate::rules::rule_syntax_errors(rule, source.as_deref()) {
                let d = self.diagnostic_at(&rule.origin, span, message, help);
                self.diagnostics.push(d);
            }
            for keyword in &rule.keywords {
                if keyword.get_ref().trim().is_empty() {
                    let d = self.diagnostic_at(
                        &rule.origin,
                        keyword.span(),
                        "empty keyword",
                        Some("remove it, or write the word or phrase to look for".into()),
                    );
                    self.diagnostics.push(d);
                }
            }
            for destination in &rule.destinations {
                if !destination_refs.contains(&destination.get_ref().as_str()) {
                    let d = self.diagnostic_at(
                        &rule.origin,
                        destination.span(),
                        format!(
                            "rule {name:?} names destination {:?}, which does not exist",
                            destination.get_ref()
                        ),
                        Some(expected_help(destination.get_ref(), &destination_refs)),
                    );
                    self.diagnostics.push(d);
                }
            }
            for feed in &rule.feeds {
                if !feed_names.contains(&feed.get_ref().as_str()) {
                    let d = self.diagnostic_at(
                        &rule.origin,
                        feed.span(),
                        format!(
                            "rule {name:?} names feed {:?}, which does not exist",
                            feed.get_ref()
                        ),
                        Some(expected_help(feed.get_ref(), &feed_names)),
                    );
                    self.diagnostics.push(d);
                }
            }
            for tag in &rule.tags {
                if !feeds.iter().any(|f| f.tags.contains(tag)) {
                    let d = self.diagnostic_at(
                        &rule.origin,
                        rule.name.span(),
                        format!("rule {name:?} selects tag {tag:?}, which no feed has"),
                        Some("add the tag to a feed's `tags`, or fix its spelling".into()),
                    );
                    self.diagnostics.push(d);
                }
            }
        }
        self.rules = rules;
    }

    fn resolve_state_dir(&mut self, path: &Path) -> Option<PathBuf> {
        if let Some((dir, origin)) = &self.state_dir {
            if dir.as_os_str().is_empty() {
                let d = self.diagnostic_at(
                    origin,
                    origin.span.clone(),
                    "state_dir is empty",
                    Some("leave it out to use $STATE_DIRECTORY or ~/.local/state/newshound".into()),
                );
                self.diagnostics.push(d);
                return None;
            }
            let base = path.parent().unwrap_or(Path::new("."));
            return Some(base.join(dir));
        }
        match default_state_dir() {
            Some(dir) => Some(dir),
            None => {
                self.diagnostics.push(Diagnostic::whole_file(
                    path,
                    "cannot decide where to keep state: neither $STATE_DIRECTORY, $XDG_STATE_HOME nor $HOME is set",
                    Some("set `state_dir = \"/var/lib/newshound\"` in the configuration".into()),
                ));
                None
            }
        }
    }
}

/// `$STATE_DIRECTORY` (set by systemd), else `$XDG_STATE_HOME/newshound`, else
/// `~/.local/state/newshound`.
pub fn default_state_dir() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dirs) = non_empty("STATE_DIRECTORY") {
        // systemd passes a colon-separated list when several are configured.
        let first = dirs.to_string_lossy().split(':').next().map(PathBuf::from);
        if let Some(first) = first {
            return Some(first);
        }
    }
    if let Some(xdg) = non_empty("XDG_STATE_HOME") {
        return Some(PathBuf::from(xdg).join("newshound"));
    }
    non_empty("HOME").map(|home| PathBuf::from(home).join(".local/state/newshound"))
}

fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "did you mean ...?" when something close exists, else the list of what is allowed.
fn expected_help(got: &str, allowed: &[&str]) -> String {
    let closest = allowed
        .iter()
        .map(|candidate| (strsim::jaro_winkler(got, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match closest {
        Some((_, candidate)) => format!("did you mean `{candidate}`?"),
        None if allowed.is_empty() => "none are defined".to_string(),
        None => format!("expected one of {}", list(allowed)),
    }
}

/// Turns serde's messages into a message plus a help line.
fn explain_serde_error(message: &str) -> (String, Option<String>) {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once("`, expected ") {
            let allowed: Vec<&str> = expected
                .split(['`', ',', ' '])
                .filter(|s| !s.is_empty() && *s != "one" && *s != "of" && *s != "or")
                .collect();
            return (
                format!("unknown key `{field}`"),
                Some(expected_help(field, &allowed)),
            );
        }
        if let Some((field, _)) = rest.split_once('`') {
            return (
                format!("unknown key `{field}`"),
                Some("this table takes no keys".into()),
            );
        }
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.trim_end_matches('`');
        return (
            format!("missing required key `{field}`"),
            Some(format!("add `{field} = ...` to this table")),
        );
    }
    if let Some(help) = message.split_once("; ").map(|(_, h)| h.to_string()) {
        let head = message.split_once("; ").map(|(m, _)| m).unwrap_or(message);
        return (head.to_string(), Some(help));
    }
    (message.to_string(), None)
}
