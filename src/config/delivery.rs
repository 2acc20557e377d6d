//! Delivery configuration: the `[delivery]` section (retries, maximum age, de-duplication
//! window) and the `email` and `webhook` destination types.
//!
//! Destinations are read here from their TOML table, checked (addresses, schedules, time
//! zones, presets and the keys each needs) and their secrets resolved through
//! [`SecretResolver`]. A secret written inline in a file that group or others can read is
//! refused: the message says to `chmod 600` the file or to use the `*_file` twin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;
use toml::Spanned;

use super::{Diagnostic, HumanDuration, Origin, RuleConfig, SecretResolver};
use crate::deliver::schedule::Schedule;

/// Delivery settings (`[delivery]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySettings {
    /// An alert still undeliverable this long after it was queued is marked dead (logged
    /// and counted, kept in the outbox).
    pub max_age: HumanDuration,
    /// Delay before the first retry; it doubles with every failed attempt.
    pub retry_base: HumanDuration,
    /// Longest delay between two attempts.
    pub retry_max: HumanDuration,
    /// Longest `Retry-After` honoured.
    pub retry_after_max: HumanDuration,
    /// Alerts for the same story (same canonical URL or near-duplicate text) within this
    /// window are collapsed into the first one ("also reported by").
    pub dedupe_window: HumanDuration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            max_age: HumanDuration::from_secs(24 * 3600),
            retry_base: HumanDuration::from_secs(30),
            retry_max: HumanDuration::from_secs(3600),
            retry_after_max: HumanDuration::from_secs(6 * 3600),
            dedupe_window: HumanDuration::from_secs(48 * 3600),
        }
    }
}

/// When a rule's alerts reach an email destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    /// One email per alert, at once.
    Instant,
    /// Collected into the scheduled digest.
    Digest,
    /// Both at once and in the digest.
    Both,
}

impl Routing {
    /// Whether alerts are sent at once.
    pub fn instant(self) -> bool {
        matches!(self, Routing::Instant | Routing::Both)
    }

    /// Whether alerts go into the digest.
    pub fn digest(self) -> bool {
        matches!(self, Routing::Digest | Routing::Both)
    }

    /// The value as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Routing::Instant => "instant",
            Routing::Digest => "digest",
            Routing::Both => "both",
        }
    }
}

/// How an email destination's messages leave the machine.
#[derive(Debug, Clone)]
pub enum EmailTransport {
    /// An SMTP server.
    Smtp(SmtpSettings),
    /// The local `sendmail` program.
    Sendmail {
        /// The program; default `sendmail` on `$PATH`.
        command: Option<PathBuf>,
    },
    /// A local Maildir (each message a file in `new/`).
    Maildir {
        /// The Maildir directory (created if needed).
        path: PathBuf,
    },
}

/// Transport security of an SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No encryption: allowed only for a server on this machine (localhost).
    None,
}

/// SMTP connection settings.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// Server host name or address.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Transport security.
    pub tls: SmtpTls,
    /// AUTH user name.
    pub username: Option<String>,
    /// AUTH password.
    pub password: Option<String>,
    /// Timeout of each SMTP command.
    pub timeout: HumanDuration,
    /// Connections kept open for reuse.
    pub pool_size: u32,
    /// Extra CA certificate (PEM) trusted for this server, e.g. a private CA.
    pub tls_ca_file: Option<PathBuf>,
    /// Accept any certificate. Only for tests against a throw-away server.
    pub accept_invalid_certs: bool,
    /// Name sent in EHLO; default the machine's host name.
    pub hello_name: Option<String>,
}

/// Digest settings of an email destination.
#[derive(Debug, Clone)]
pub struct DigestSettings {
    /// When digests fall due.
    pub schedule: Schedule,
    /// The schedule's time zone.
    pub time_zone: jiff::tz::TimeZone,
    /// The zone's name as written (or "system").
    pub time_zone_name: String,
    /// Send a digest even when nothing matched since the last one.
    pub send_empty: bool,
    /// Most stories listed in one digest; the rest are counted ("…and N more").
    pub max_items: usize,
}

/// Template files that replace the built-in email templates.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplatePaths {
    /// Plain-text body of an alert.
    pub alert_text: Option<PathBuf>,
    /// HTML body of an alert.
    pub alert_html: Option<PathBuf>,
    /// Plain-text body of a digest.
    pub digest_text: Option<PathBuf>,
    /// HTML body of a digest.
    pub digest_html: Option<PathBuf>,
}

/// `type = "email"`: alerts and digests by email.
#[derive(Debug, Clone)]
pub struct EmailDestination {
    /// Destination name; unique.
    pub name: String,
    /// The From mailbox, e.g. `newshound <alerts@example.org>`.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Copy recipients.
    pub cc: Vec<String>,
    /// Blind-copy recipients (in the envelope only).
    pub bcc: Vec<String>,
    /// Reply-To mailbox.
    pub reply_to: Option<String>,
    /// How messages are sent.
    pub transport: EmailTransport,
    /// Domain of the Message-IDs (`<key@domain>`).
    pub message_id_domain: String,
    /// The List-Id header value.
    pub list_id: String,
    /// Start of every subject.
    pub subject_prefix: String,
    /// Default routing of rules' alerts.
    pub delivery: Routing,
    /// Routing of particular rules, by rule name.
    pub delivery_by_rule: BTreeMap<String, Routing>,
    /// The digest, when one is scheduled.
    pub digest: Option<DigestSettings>,
    /// Template overrides (absolute paths).
    pub templates: TemplatePaths,
    /// Where the destination was written.
    pub origin: Origin,
}

impl EmailDestination {
    /// How alerts of `rule` reach this destination.
    pub fn routing(&self, rule: &str) -> Routing {
        self.delivery_by_rule
            .get(rule)
            .copied()
            .unwrap_or(self.delivery)
    }
}

/// The shape of a webhook's request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// newshound's own versioned JSON, signed per Standard Webhooks.
    Generic,
    /// Slack incoming webhook (Block Kit).
    Slack,
    /// Discord webhook (embeds, no mentions).
    Discord,
    /// Microsoft Teams workflow (Adaptive Card).
    Teams,
    /// Mattermost incoming webhook.
    Mattermost,
    /// Matrix client-server API (`m.notice`, the alert id as `txnId`).
    Matrix,
    /// ntfy (JSON publish).
    Ntfy,
    /// Gotify (`/message`).
    Gotify,
    /// Telegram bot API (`sendMessage`).
    Telegram,
}

impl Preset {
    /// The presets, as written in the configuration.
    pub const NAMES: &'static [&'static str] = &[
        "generic",
        "slack",
        "discord",
        "teams",
        "mattermost",
        "matrix",
        "ntfy",
        "gotify",
        "telegram",
    ];

    /// The value as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Generic => "generic",
            Preset::Slack => "slack",
            Preset::Discord => "discord",
            Preset::Teams => "teams",
            Preset::Mattermost => "mattermost",
            Preset::Matrix => "matrix",
            Preset::Ntfy => "ntfy",
            Preset::Gotify => "gotify",
            Preset::Telegram => "telegram",
        }
    }

    /// Whether the URL itself is a credential (whoever has it can post).
    fn url_is_secret(self) -> bool {
        matches!(
            self,
            Preset::Slack | Preset::Discord | Preset::Teams | Preset::Mattermost
        )
    }
}

/// `type = "webhook"`: an HTTP POST (PUT for Matrix) per alert.
#[derive(Debug, Clone)]
pub struct WebhookDestination {
    /// Destination name; unique.
    pub name: String,
    /// Endpoint URL (for Matrix the homeserver, for Telegram the API base).
    pub url: String,
    /// Body shape.
    pub preset: Preset,
    /// Standard Webhooks signing secret (`whsec_…`).
    pub secret: Option<String>,
    /// Also send `X-Hub-Signature-256` (GitHub style) with the secret.
    pub github_signature: bool,
    /// Access token (Matrix, Gotify, Telegram, ntfy).
    pub token: Option<String>,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
    /// Total deadline of one request.
    pub timeout: HumanDuration,
    /// Matrix room id (`!room:server`).
    pub room_id: Option<String>,
    /// Telegram chat id.
    pub chat_id: Option<String>,
    /// Telegram forum topic.
    pub message_thread_id: Option<i64>,
    /// ntfy topic.
    pub topic: Option<String>,
    /// ntfy (1–5) or Gotify (0–10) priority.
    pub priority: Option<u8>,
    /// Display name (Discord, Mattermost).
    pub username: Option<String>,
    /// Mattermost channel.
    pub channel: Option<String>,
    /// Where the destination was written.
    pub origin: Origin,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEmail {
    name: String,
    from: Spanned<String>,
    to: Vec<Spanned<String>>,
    #[serde(default)]
    cc: Vec<Spanned<String>>,
    #[serde(default)]
    bcc: Vec<Spanned<String>>,
    reply_to: Option<Spanned<String>>,
    smtp: Option<Spanned<RawSmtp>>,
    sendmail: Option<Spanned<RawSendmail>>,
    maildir: Option<Spanned<PathBuf>>,
    message_id_domain: Option<Spanned<String>>,
    list_id: Option<String>,
    subject_prefix: Option<String>,
    delivery: Option<Spanned<Routing>>,
    delivery_by_rule: Option<Spanned<BTreeMap<String, Routing>>>,
    digest: Option<Spanned<RawDigest>>,
    #[serde(default)]
    templates: TemplatePaths,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: Spanned<String>,
    port: Option<u16>,
    tls: Option<SmtpTls>,
    username: Option<String>,
    password: Option<Spanned<String>>,
    password_file: Option<Spanned<PathBuf>>,
    timeout: Option<HumanDuration>,
    pool_size: Option<u32>,
    tls_ca_file: Option<PathBuf>,
    #[serde(default)]
    accept_invalid_certs: bool,
    hello_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSendmail {
    command: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDigest {
    schedule: Spanned<String>,
    time_zone: Option<Spanned<String>>,
    #[serde(default)]
    send_empty: bool,
    max_items: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWebhook {
    name: String,
    #[serde(default)]
    preset: Option<Spanned<Preset>>,
    url: Option<Spanned<String>>,
    url_file: Option<Spanned<PathBuf>>,
    secret: Option<Spanned<String>>,
    secret_file: Option<Spanned<PathBuf>>,
    #[serde(default)]
    github_signature: bool,
    token: Option<Spanned<String>>,
    token_file: Option<Spanned<PathBuf>>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    timeout: Option<HumanDuration>,
    room_id: Option<String>,
    chat_id: Option<Spanned<String>>,
    message_thread_id: Option<i64>,
    topic: Option<String>,
    priority: Option<u8>,
    username: Option<String>,
    channel: Option<String>,
}

/// The file a destination is read from, for diagnostics and permission checks.
pub(crate) struct Place<'a> {
    pub path: &'a Path,
    pub source: &'a str,
    pub origin: Origin,
    pub secrets: &'a SecretResolver<'a>,
}

impl Place<'_> {
    fn error(
        &self,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::at(self.path, self.source, span, message, Some(help.into()))
    }

    /// Resolves a secret pair; an inline value in a group- or world-readable file is refused.
    fn secret(
        &self,
        key: &str,
        inline: Option<&Spanned<String>>,
        file: Option<&Spanned<PathBuf>>,
        errors: &mut Vec<Diagnostic>,
    ) -> Option<String> {
        if let (Some(value), None) = (inline, file)
            && let Some(mode) = readable_by_others(self.path)
        {
            errors.push(self.error(
                value.span(),
                format!(
                    "`{key}` is written inline in {}, which group or others can read (mode {mode:03o})",
                    self.path.display()
                ),
                format!(
                    "run `chmod 600 {}`, or move the secret to a file of its own and name it with `{key}_file`",
                    self.path.display()
                ),
            ).redacted());
            return None;
        }
        match self
            .secrets
            .resolve(self.source, &self.origin, key, inline, file)
        {
            Ok(value) => value,
            Err(diagnostic) => {
                errors.push(diagnostic);
                None
            }
        }
    }

    fn resolve_path(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.path.parent().unwrap_or(Path::new(".")).join(path)
        }
    }
}

/// The permission bits for group and others, when any is set (Unix only).
fn readable_by_others(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn check_mailbox(
    place: &Place<'_>,
    what: &str,
    value: &Spanned<String>,
    errors: &mut Vec<Diagnostic>,
) {
    if let Err(error) = lettre::message::Mailbox::from_str(value.get_ref()) {
        errors.push(place.error(
            value.span(),
            format!("invalid {what} address {:?}: {error}", value.get_ref()),
            "write an address such as \"alerts@example.org\" or \"Desk <desk@example.org>\"",
        ));
    }
}

/// Builds an email destination; every problem is returned.
pub(crate) fn email(raw: RawEmail, place: &Place<'_>) -> Result<EmailDestination, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    check_mailbox(place, "From", &raw.from, &mut errors);
    if raw.to.is_empty() && raw.cc.is_empty() && raw.bcc.is_empty() {
        errors.push(place.error(
            raw.from.span(),
            format!("email destination {:?} has no recipient", raw.name),
            "add `to = [\"desk@example.org\"]`",
        ));
    }
    for (what, list) in [("To", &raw.to), ("Cc", &raw.cc), ("Bcc", &raw.bcc)] {
        for address in list {
            check_mailbox(place, what, address, &mut errors);
        }
    }
    if let Some(reply_to) = &raw.reply_to {
        check_mailbox(place, "Reply-To", reply_to, &mut errors);
    }
    let transports = [
        raw.smtp.is_some(),
        raw.sendmail.is_some(),
        raw.maildir.is_some(),
    ]
    .iter()
    .filter(|t| **t)
    .count();
    let whole = place.origin.span.start..place.origin.span.start + 1;
    if transports != 1 {
        errors.push(place.error(
            whole.clone(),
            if transports == 0 {
                format!("email destination {:?} has no transport", raw.name)
            } else {
                format!(
                    "email destination {:?} has more than one transport",
                    raw.name
                )
            },
            "give exactly one of `smtp = { host = ... }`, `sendmail = {}` or `maildir = \"path\"`",
        ));
    }
    let transport = if let Some(smtp) = raw.smtp {
        smtp_settings(smtp, place, &mut errors).map(EmailTransport::Smtp)
    } else if let Some(sendmail) = raw.sendmail {
        Some(EmailTransport::Sendmail {
            command: sendmail.into_inner().command,
        })
    } else {
        raw.maildir.map(|path| EmailTransport::Maildir {
            path: place.resolve_path(path.get_ref()),
        })
    };
    let from_domain = raw
        .from
        .get_ref()
        .rsplit_once('@')
        .map(|(_, domain)| domain.trim_end_matches('>').trim().to_string())
        .unwrap_or_else(|| "newshound.invalid".to_string());
    let message_id_domain = match raw.message_id_domain {
        Some(domain) => {
            let text = domain.get_ref().trim().to_string();
            if text.is_empty()
                || !text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                errors.push(place.error(
                    domain.span(),
                    format!("invalid message_id_domain {text:?}"),
                    "use a domain name you control, e.g. \"newshound.example.org\"",
                ));
            }
            text
        }
        None => from_domain.clone(),
    };
    let digest = raw.digest.and_then(|digest| {
        let span = digest.span();
        digest_settings(digest.into_inner(), span, place, &mut errors)
    });
    let delivery = match raw.delivery {
        Some(routing) => {
            if routing.get_ref().digest() && digest.is_none() {
                errors.push(place.error(
                    routing.span(),
                    format!(
                        "delivery = \"{}\" but destination {:?} has no digest schedule",
                        routing.get_ref().as_str(),
                        raw.name
                    ),
                    "add `digest = { schedule = \"weekdays 08:00\", time_zone = \"Europe/Kyiv\" }`, or set `delivery = \"instant\"`",
                ));
            }
            *routing.get_ref()
        }
        None if digest.is_some() => Routing::Digest,
        None => Routing::Instant,
    };
    let delivery_by_rule = match raw.delivery_by_rule {
        Some(by_rule) => {
            if digest.is_none() && by_rule.get_ref().values().any(|r| r.digest()) {
                errors.push(place.error(
                    by_rule.span(),
                    format!("a rule is routed to the digest, but destination {:?} has no digest schedule", raw.name),
                    "add `digest = { schedule = \"weekdays 08:00\" }` to the destination",
                ));
            }
            by_rule.into_inner()
        }
        None => BTreeMap::new(),
    };
    let mut templates = raw.templates;
    for path in [
        &mut templates.alert_text,
        &mut templates.alert_html,
        &mut templates.digest_text,
        &mut templates.digest_html,
    ]
    .into_iter()
    .flatten()
    {
        *path = place.resolve_path(path);
    }
    let list_id = raw.list_id.unwrap_or_else(|| {
        format!(
            "newshound alerts <{}.{}>",
            slug(&raw.name),
            message_id_domain
        )
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    let Some(transport) = transport else {
        return Err(errors);
    };
    Ok(EmailDestination {
        name: raw.name,
        from: raw.from.into_inner(),
        to: raw.to.into_iter().map(Spanned::into_inner).collect(),
        cc: raw.cc.into_iter().map(Spanned::into_inner).collect(),
        bcc: raw.bcc.into_iter().map(Spanned::into_inner).collect(),
        reply_to: raw.reply_to.map(Spanned::into_inner),
        transport,
        message_id_domain,
        list_id,
        subject_prefix: raw.subject_prefix.unwrap_or_else(|| "[newshound]".into()),
        delivery,
        delivery_by_rule,
        digest,
        templates,
        origin: place.origin.clone(),
    })
}

/// A name reduced to `[a-z0-9-]`, for List-Id.
fn slug(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-').to_string();
    if slug.is_empty() {
        "alerts".into()
    } else {
        slug
    }
}

fn smtp_settings(
    raw: Spanned<RawSmtp>,
    place: &Place<'_>,
    errors: &mut Vec<Diagnostic>,
) -> Option<SmtpSettings> {
    let raw = raw.into_inner();
    let host = raw.host.get_ref().trim().to_string();
    let tls = raw.tls.unwrap_or(SmtpTls::Starttls);
    if tls == SmtpTls::None && !is_loopback_host(&host) {
        errors.push(place.error(
            raw.host.span(),
            format!("`tls = \"none\"` sends the password and the alerts in clear text to {host}"),
            "unencrypted SMTP is only allowed to localhost; use `tls = \"starttls\"` (port 587) or `tls = \"implicit\"` (port 465)",
        ));
    }
    if host.is_empty() {
        errors.push(place.error(
            raw.host.span(),
            "SMTP host is empty",
            "write the server's name, e.g. \"smtp.example.org\"",
        ));
    }
    let password = place.secret(
        "password",
        raw.password.as_ref(),
        raw.password_file.as_ref(),
        errors,
    );
    if password.is_some() && raw.username.is_none() {
        errors.push(place.error(
            raw.host.span(),
            "an SMTP password is set but no `username`",
            "add `username = \"...\"` next to the password",
        ));
    }
    let tls_ca_file = raw.tls_ca_file.map(|p| place.resolve_path(&p));
    if let Some(ca) = &tls_ca_file
        && let Err(error) = std::fs::read(ca)
    {
        errors.push(place.error(
            raw.host.span(),
            format!("cannot read tls_ca_file {}: {error}", ca.display()),
            "name a PEM file with the CA certificate; relative paths are relative to this file",
        ));
    }
    Some(SmtpSettings {
        port: raw.port.unwrap_or(match tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Implicit => 465,
            SmtpTls::None => 25,
        }),
        host,
        tls,
        username: raw.username,
        password,
        timeout: raw.timeout.unwrap_or(HumanDuration::from_secs(30)),
        pool_size: raw.pool_size.unwrap_or(4).max(1),
        tls_ca_file,
        accept_invalid_certs: raw.accept_invalid_certs,
        hello_name: raw.hello_name,
    })
}

fn digest_settings(
    raw: RawDigest,
    span: std::ops::Range<usize>,
    place: &Place<'_>,
    errors: &mut Vec<Diagnostic>,
) -> Option<DigestSettings> {
    let schedule = match Schedule::parse(raw.schedule.get_ref()) {
        Ok(schedule) => Some(schedule),
        Err(message) => {
            errors.push(place.error(raw.schedule.span(), "invalid digest schedule", message));
            None
        }
    };
    let (time_zone, time_zone_name) = match &raw.time_zone {
        Some(name) => match jiff::tz::TimeZone::get(name.get_ref()) {
            Ok(zone) => (Some(zone), name.get_ref().clone()),
            Err(_) => {
                errors.push(place.error(
                    name.span(),
                    format!("unknown time zone {:?}", name.get_ref()),
                    "use an IANA name such as \"Europe/Kyiv\", \"Europe/Brussels\" or \"UTC\"",
                ));
                (None, String::new())
            }
        },
        None => (Some(jiff::tz::TimeZone::system()), "system".to_string()),
    };
    if raw.max_items == Some(0) {
        errors.push(place.error(
            span,
            "digest max_items is 0",
            "leave it out (200) or give a positive number",
        ));
    }
    Some(DigestSettings {
        schedule: schedule?,
        time_zone: time_zone?,
        time_zone_name,
        send_empty: raw.send_empty,
        max_items: raw.max_items.unwrap_or(200).max(1),
    })
}

/// Builds a webhook destination; every problem is returned.
pub(crate) fn webhook(
    raw: RawWebhook,
    place: &Place<'_>,
) -> Result<WebhookDestination, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let preset = raw
        .preset
        .as_ref()
        .map(|p| *p.get_ref())
        .unwrap_or(Preset::Generic);
    let whole = place.origin.span.start..place.origin.span.start + 1;
    if preset.url_is_secret()
        && let Some(url) = &raw.url
        && raw.url_file.is_none()
        && let Some(mode) = readable_by_others(place.path)
    {
        errors.push(place.error(
            url.span(),
            format!(
                "a {} webhook URL is a credential, and it is written inline in {}, which group or others can read (mode {mode:03o})",
                preset.as_str(),
                place.path.display()
            ),
            format!(
                "run `chmod 600 {}`, or move the URL to a file of its own and name it with `url_file`",
                place.path.display()
            ),
        ).redacted());
    }
    let url = match (&raw.url, &raw.url_file) {
        (Some(_), Some(file)) => {
            errors.push(place.error(
                file.span(),
                "both `url` and `url_file` are set",
                "keep only one of them",
            ));
            None
        }
        (Some(url), None) => Some(url.get_ref().trim().to_string()),
        (None, file @ Some(_)) => place
            .secrets
            .resolve(place.source, &place.origin, "url", None, file.as_ref())
            .unwrap_or_else(|d| {
                errors.push(d);
                None
            })
            .map(|u| u.trim().to_string()),
        (None, None) => match preset {
            Preset::Telegram => Some("https://api.telegram.org".to_string()),
            _ => {
                errors.push(place.error(
                    whole.clone(),
                    format!("webhook destination {:?} has no `url`", raw.name),
                    "add `url = \"https://...\"` (or `url_file` when the URL contains a token)",
                ));
                None
            }
        },
    };
    if let Some(url) = &url {
        match url::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
            _ => {
                let span = raw.url.as_ref().map(|u| u.span()).unwrap_or(whole.clone());
                errors.push(place.error(
                    span,
                    format!("invalid webhook URL for destination {:?}", raw.name),
                    "expected an absolute http(s) URL such as \"https://hooks.example.org/newshound\"",
                ));
            }
        }
    }
    let secret = place.secret(
        "secret",
        raw.secret.as_ref(),
        raw.secret_file.as_ref(),
        &mut errors,
    );
    if let Some(secret) = &secret
        && let Err(message) = crate::deliver::signing::Signer::new(secret)
    {
        let span = raw
            .secret
            .as_ref()
            .map(|s| s.span())
            .or(raw.secret_file.as_ref().map(|s| s.span()))
            .unwrap_or(whole.clone());
        errors.push(place.error(span, format!("invalid signing secret: {message}"), "a Standard Webhooks secret is \"whsec_\" followed by base64 of 24–64 random bytes, e.g. from `printf 'whsec_%s' \"$(head -c 32 /dev/urandom | base64)\"`"));
    }
    let token = place.secret(
        "token",
        raw.token.as_ref(),
        raw.token_file.as_ref(),
        &mut errors,
    );
    let mut require = |ok: bool, key: &str, example: &str| {
        if !ok {
            errors.push(
                place.error(
                    raw.preset
                        .as_ref()
                        .map(|p| p.span())
                        .unwrap_or(whole.clone()),
                    format!("the {} preset needs `{key}`", preset.as_str()),
                    format!("add `{key} = {example}`"),
                ),
            );
        }
    };
    match preset {
        Preset::Matrix => {
            require(raw.room_id.is_some(), "room_id", "\"!room:example.org\"");
            require(token.is_some(), "token_file", "\"matrix-token\"");
        }
        Preset::Telegram => {
            require(raw.chat_id.is_some(), "chat_id", "\"-1001234567890\"");
            require(token.is_some(), "token_file", "\"telegram-bot-token\"");
        }
        Preset::Gotify => require(token.is_some(), "token_file", "\"gotify-app-token\""),
        Preset::Ntfy => require(raw.topic.is_some(), "topic", "\"alerts\""),
        _ => {}
    }
    for (header, value) in &raw.headers {
        if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err()
            || reqwest::header::HeaderValue::from_str(value).is_err()
        {
            errors.push(place.error(
                whole.clone(),
                format!("invalid HTTP header {header:?}"),
                "header names are ASCII tokens, values printable ASCII without newlines",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let Some(url) = url else {
        return Err(errors);
    };
    Ok(WebhookDestination {
        name: raw.name,
        url,
        preset,
        secret,
        github_signature: raw.github_signature,
        token,
        headers: raw.headers,
        timeout: raw.timeout.unwrap_or(HumanDuration::from_secs(15)),
        room_id: raw.room_id,
        chat_id: raw.chat_id.map(Spanned::into_inner),
        message_thread_id: raw.message_thread_id,
        topic: raw.topic,
        priority: raw.priority,
        username: raw.username,
        channel: raw.channel,
        origin: place.origin.clone(),
    })
}

/// Checks that every rule named in an email destination's `delivery_by_rule` exists.
pub(crate) fn check_routing(
    destinations: &[super::DestinationConfig],
    rules: &[RuleConfig],
    sources: &BTreeMap<PathBuf, std::sync::Arc<str>>,
) -> Vec<Diagnostic> {
    let names: Vec<&str> = rules.iter().map(|r| r.name().trim()).collect();
    let mut errors = Vec::new();
    for destination in destinations {
        let super::DestinationConfig::Email(email) = destination else {
            continue;
        };
        for rule in email.delivery_by_rule.keys() {
            if !names.contains(&rule.as_str()) {
                let help = match names
                    .iter()
                    .map(|n| (strsim::jaro_winkler(rule, n), n))
                    .filter(|(score, _)| *score > 0.8)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                {
                    Some((_, close)) => format!("did you mean {close:?}?"),
                    None => "use the `name` of a [[rules]] entry".to_string(),
                };
                let message = format!(
                    "destination {:?} routes rule {rule:?}, which does not exist",
                    email.name
                );
                errors.push(match sources.get(email.origin.file.as_ref()) {
                    Some(source) => Diagnostic::at(
                        &email.origin.file,
                        source,
                        email.origin.span.clone(),
                        message,
                        Some(help),
                    ),
                    None => Diagnostic::whole_file(&email.origin.file, message, Some(help)),
                });
            }
        }
    }
    errors
}
