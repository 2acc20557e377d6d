//! The `email` destination: alerts, updates and digests as `multipart/alternative` messages
//! (text/plain first, then HTML) through SMTP (STARTTLS, implicit TLS, or plain to localhost
//! only; AUTH; pooled connections), the local `sendmail`, or a Maildir.
//!
//! Every message carries a deterministic `Message-ID` (`<key@domain>`: the same on every
//! retry, so a receiver can de-duplicate), `Date` (when the alert was created, so retries are
//! byte-identical), `Auto-Submitted: auto-generated` (no vacation replies) and `List-Id` (easy
//! filtering). An update carries `In-Reply-To`/`References` of the message it follows up and
//! its subject, so mail clients thread it. Header values go through lettre's encoder, and feed
//! text is reduced to one clean line first: a CR/LF in a title can never start a header.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSendmailTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;

use super::digest::Digest;
use super::render::{self, AlertContext, Templates, clean_line};
use super::{AlertMessage, DeliveryError, Outgoing, Receipt};
use crate::config::{
    ConfigError, Diagnostic, EmailDestination, EmailTransport, SmtpSettings, SmtpTls,
};

/// How messages leave.
enum Transport {
    Smtp(LazySmtp),
    Sendmail(AsyncSendmailTransport<Tokio1Executor>),
    Maildir(PathBuf),
}

/// Sends alerts and digests of one email destination.
pub struct EmailSink {
    config: EmailDestination,
    transport: Transport,
    templates: Templates,
    config_path: PathBuf,
}

impl EmailSink {
    /// Builds the transport and compiles the templates.
    pub fn new(config: &EmailDestination, config_path: &Path) -> Result<Self, ConfigError> {
        let templates = Templates::new(&config.templates, config_path)?;
        let transport = match &config.transport {
            EmailTransport::Smtp(smtp) => {
                Transport::Smtp(LazySmtp::new(smtp).map_err(|message| ConfigError {
                    diagnostics: vec![Diagnostic::whole_file(
                            &config.origin.file,
                            format!("email destination {:?}: {message}", config.name),
                            Some(
                                "check the destination's `smtp` settings (host, tls, tls_ca_file)"
                                    .into(),
                            ),
                        )],
                })?)
            }
            EmailTransport::Sendmail { command } => Transport::Sendmail(match command {
                Some(command) => AsyncSendmailTransport::new_with_command(command.as_os_str()),
                None => AsyncSendmailTransport::new(),
            }),
            EmailTransport::Maildir { path } => Transport::Maildir(path.clone()),
        };
        Ok(Self {
            config: config.clone(),
            transport,
            templates,
            config_path: config_path.to_path_buf(),
        })
    }

    fn message_id(&self, key: &str) -> String {
        format!("<{key}@{}>", self.config.message_id_domain)
    }

    fn time_zone(&self) -> Option<&jiff::tz::TimeZone> {
        self.config.digest.as_ref().map(|d| &d.time_zone)
    }

    /// The message for an alert or digest, exactly as it will be sent.
    pub fn message(&self, outgoing: &Outgoing) -> Result<Message, DeliveryError> {
        let (subject, key, created, text, html, extra) = match outgoing {
            Outgoing::Alert(message) => {
                let (subject, text, html) = self.render_alert(message)?;
                let alert = &message.alert;
                let mut extra = vec![
                    ("X-Newshound-Rule", clean_line(&alert.rule)),
                    ("X-Newshound-Feed", clean_line(&alert.feed.name)),
                ];
                if let Some(link) = alert.article.link.as_deref().and_then(render::safe_url) {
                    extra.push(("X-Newshound-Url", link));
                }
                (subject, alert.id.clone(), alert.created, text, html, extra)
            }
            Outgoing::Digest(digest) => {
                let (subject, text, html) = self.render_digest(digest)?;
                (
                    subject,
                    digest.id.clone(),
                    digest.created,
                    text,
                    html,
                    Vec::new(),
                )
            }
        };
        let invalid = |what: &str, e: &dyn std::fmt::Display| {
            DeliveryError::permanent(format!("invalid {what} address: {e}"))
        };
        let from = Mailbox::from_str(&self.config.from).map_err(|e| invalid("From", &e))?;
        let date =
            SystemTime::UNIX_EPOCH + Duration::from_millis(created.as_millisecond().max(0) as u64);
        let mut builder = Message::builder()
            .from(from)
            .subject(subject)
            .message_id(Some(self.message_id(&key)))
            .date(date);
        for address in &self.config.to {
            builder = builder.to(Mailbox::from_str(address).map_err(|e| invalid("To", &e))?);
        }
        for address in &self.config.cc {
            builder = builder.cc(Mailbox::from_str(address).map_err(|e| invalid("Cc", &e))?);
        }
        for address in &self.config.bcc {
            builder = builder.bcc(Mailbox::from_str(address).map_err(|e| invalid("Bcc", &e))?);
        }
        if let Some(reply_to) = &self.config.reply_to {
            builder =
                builder.reply_to(Mailbox::from_str(reply_to).map_err(|e| invalid("Reply-To", &e))?);
        }
        if let Outgoing::Alert(message) = outgoing
            && let Some(root) = &message.thread_root
        {
            let root_id = self.message_id(&root.id);
            builder = builder.in_reply_to(root_id.clone()).references(root_id);
        }
        let mut headers = vec![
            ("Auto-Submitted", "auto-generated".to_string()),
            ("List-Id", clean_line(&self.config.list_id)),
            ("X-Auto-Response-Suppress", "All".to_string()),
            ("Precedence", "bulk".to_string()),
        ];
        headers.extend(extra);
        for (name, value) in headers {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(name),
                value,
            ));
        }
        builder
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| DeliveryError::permanent(format!("cannot build the message: {e}")))
    }

    /// Subject, text and HTML of an alert.
    pub fn render_alert(
        &self,
        message: &AlertMessage,
    ) -> Result<(String, String, String), DeliveryError> {
        let alert = &message.alert;
        let subject = match &message.thread_root {
            // Same subject as the message it follows up, so every mail client threads it.
            Some(root) => format!(
                "Re: {}",
                render::alert_subject(&self.config.subject_prefix, root)
            ),
            None if message.test => format!(
                "{} (test)",
                render::alert_subject(&self.config.subject_prefix, alert)
            ),
            None => render::alert_subject(&self.config.subject_prefix, alert),
        };
        let context = AlertContext::new(
            alert,
            subject.clone(),
            message.also_reported_by.clone(),
            message.test,
            self.time_zone(),
            &self.config_path,
        );
        let text = self
            .templates
            .render("alert.txt", &context)
            .map_err(DeliveryError::permanent)?;
        let html = self
            .templates
            .render("alert.html", &context)
            .map_err(DeliveryError::permanent)?;
        Ok((subject, text, html))
    }

    /// Subject, text and HTML of a digest.
    pub fn render_digest(
        &self,
        digest: &Digest,
    ) -> Result<(String, String, String), DeliveryError> {
        let settings = self.config.digest.as_ref();
        let tz = settings
            .map(|s| s.time_zone.clone())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let day = digest
            .slot
            .unwrap_or(digest.created)
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d")
            .to_string();
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let subject = format!(
            "{} Digest {day}: {} in {}",
            clean_line(&self.config.subject_prefix),
            plural(digest.alerts, "match", "matches"),
            plural(digest.stories, "story", "stories"),
        )
        .trim()
        .to_string();
        let summary = if digest.alerts == 0 {
            "No matches.".to_string()
        } else {
            format!(
                "{} about {} from {}, {}{}.",
                plural(digest.alerts, "alert", "alerts"),
                plural(digest.stories, "story", "stories"),
                plural(digest.feeds, "feed", "feeds"),
                plural(digest.rules.len(), "rule", "rules"),
                digest
                    .since
                    .map(|s| format!(", since {}", render::when(Some(s), Some(&tz))))
                    .unwrap_or_default()
            )
        };
        let context = DigestContext {
            subject: subject.clone(),
            heading: format!("newshound digest, {day}"),
            summary,
            rules: digest
                .rules
                .iter()
                .map(|rule| DigestRuleView {
                    rule: clean_line(&rule.rule),
                    count: rule.count,
                    stories: rule
                        .stories
                        .iter()
                        .map(|story| DigestStoryView {
                            title: {
                                let t = clean_line(story.title.as_deref().unwrap_or(""));
                                if t.is_empty() { "(untitled)".into() } else { t }
                            },
                            link: story.link.clone(),
                            feed: clean_line(&story.feed),
                            published: render::when(story.published, Some(&tz)),
                            evidence: story
                                .evidence
                                .iter()
                                .map(render::EvidenceView::of)
                                .collect(),
                            also_reported_by: story.also_reported_by.clone(),
                            alerts: story.alerts,
                        })
                        .collect(),
                })
                .collect(),
            omitted: digest.omitted,
            destination: self.config.name.clone(),
            schedule: settings
                .map(|s| format!("{}, {}", s.schedule, s.time_zone_name))
                .unwrap_or_default(),
            config: self.config_path.display().to_string(),
            version: env!("CARGO_PKG_VERSION"),
        };
        let text = self
            .templates
            .render("digest.txt", &context)
            .map_err(DeliveryError::permanent)?;
        let html = self
            .templates
            .render("digest.html", &context)
            .map_err(DeliveryError::permanent)?;
        Ok((subject, text, html))
    }

    /// Sends one alert or digest.
    pub async fn deliver(&self, outgoing: &Outgoing) -> Result<Receipt, DeliveryError> {
        let message = self.message(outgoing)?;
        match &self.transport {
            Transport::Smtp(smtp) => match smtp.get().send(message).await {
                Ok(response) => Ok(Receipt {
                    answer: format!(
                        "{} {}",
                        response.code(),
                        response.message().collect::<Vec<_>>().join(" ")
                    ),
                }),
                Err(error) => Err(smtp_error(&error)),
            },
            Transport::Sendmail(sendmail) => match sendmail.send(message).await {
                Ok(()) => Ok(Receipt {
                    answer: "accepted by sendmail".into(),
                }),
                Err(error) => Err(DeliveryError::temporary(format!(
                    "sendmail failed: {error}"
                ))),
            },
            Transport::Maildir(dir) => {
                let bytes = message.formatted();
                let dir = dir.clone();
                let name = maildir_name(outgoing.key());
                tokio::task::spawn_blocking(move || write_maildir(&dir, &name, &bytes))
                    .await
                    .map_err(|e| DeliveryError::temporary(format!("maildir writer failed: {e}")))?
                    .map_err(|e| {
                        DeliveryError::temporary(format!("cannot write to the Maildir: {e}"))
                    })
            }
        }
    }
}

/// Describes an SMTP failure; 5xx answers are permanent, everything else is retried.
fn smtp_error(error: &lettre::transport::smtp::Error) -> DeliveryError {
    let mut message = format!("SMTP: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    if error.is_permanent() {
        DeliveryError::permanent(message)
    } else {
        DeliveryError::temporary(message)
    }
}

/// The SMTP transport, built on first use: lettre's connection pool starts a task when it is
/// created and when it is dropped, which needs a Tokio runtime — the sink itself may be
/// built and dropped outside one (e.g. by the command line before and after its runtime).
struct LazySmtp {
    settings: SmtpSettings,
    tls: Tls,
    transport: std::sync::OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
}

impl LazySmtp {
    fn new(settings: &SmtpSettings) -> Result<Self, String> {
        Ok(Self {
            settings: settings.clone(),
            tls: smtp_tls(settings)?,
            transport: std::sync::OnceLock::new(),
        })
    }

    /// The transport; must be called within a Tokio runtime.
    fn get(&self) -> &AsyncSmtpTransport<Tokio1Executor> {
        self.transport
            .get_or_init(|| smtp_transport(&self.settings, self.tls.clone()))
    }
}

impl Drop for LazySmtp {
    fn drop(&mut self) {
        let Some(transport) = self.transport.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            drop(transport);
        } else if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            // Closing the pooled connections is a task; give it a runtime to be spawned on.
            runtime.block_on(async move { drop(transport) });
        } else {
            std::mem::forget(transport);
        }
    }
}

fn smtp_tls(settings: &SmtpSettings) -> Result<Tls, String> {
    let tls_parameters = || -> Result<TlsParameters, String> {
        let mut builder = TlsParameters::builder(settings.host.clone());
        if let Some(ca) = &settings.tls_ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| format!("cannot read tls_ca_file {}: {e}", ca.display()))?;
            let certificate = Certificate::from_pem(&pem).map_err(|e| {
                format!("tls_ca_file {} is not a PEM certificate: {e}", ca.display())
            })?;
            builder = builder.add_root_certificate(certificate);
        }
        builder
            .dangerous_accept_invalid_certs(settings.accept_invalid_certs)
            .build()
            .map_err(|e| format!("cannot set up TLS: {e}"))
    };
    Ok(match settings.tls {
        SmtpTls::Starttls => Tls::Required(tls_parameters()?),
        SmtpTls::Implicit => Tls::Wrapper(tls_parameters()?),
        SmtpTls::None => Tls::None,
    })
}

fn smtp_transport(settings: &SmtpSettings, tls: Tls) -> AsyncSmtpTransport<Tokio1Executor> {
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
        .port(settings.port)
        .tls(tls)
        .timeout(Some(settings.timeout.get()))
        .pool_config(PoolConfig::new().max_size(settings.pool_size));
    if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    if let Some(name) = &settings.hello_name {
        builder = builder.hello_name(ClientId::Domain(name.clone()));
    }
    builder.build()
}

/// A Maildir file name derived from the key alone, so a message delivered twice (a crash
/// between writing and recording it) lands in the same file.
fn maildir_name(key: &str) -> String {
    let safe: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.newshound.eml")
}

fn write_maildir(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<Receipt> {
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let tmp = dir.join("tmp").join(name);
    let new = dir.join("new").join(name);
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, &new)?;
    if let Ok(directory) = std::fs::File::open(dir.join("new")) {
        let _ = directory.sync_all();
    }
    Ok(Receipt {
        answer: format!("written to {}", new.display()),
    })
}

#[derive(Serialize)]
struct DigestContext {
    subject: String,
    heading: String,
    summary: String,
    rules: Vec<DigestRuleView>,
    omitted: usize,
    destination: String,
    schedule: String,
    config: String,
    version: &'static str,
}

#[derive(Serialize)]
struct DigestRuleView {
    rule: String,
    count: usize,
    stories: Vec<DigestStoryView>,
}

#[derive(Serialize)]
struct DigestStoryView {
    title: String,
    link: Option<String>,
    feed: String,
    published: String,
    evidence: Vec<render::EvidenceView>,
    also_reported_by: Vec<crate::alerts::Outlet>,
    alerts: usize,
}
