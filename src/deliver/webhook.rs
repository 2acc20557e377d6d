//! The `webhook` destination: one HTTP request per alert, in the body shape of the chosen
//! preset ([`super::presets`]), with the Standard Webhooks headers — `webhook-id` (the
//! alert's idempotency key, the same on every retry), `webhook-timestamp` and, with a
//! secret, `webhook-signature` — plus custom headers. Redirects are not followed, each
//! request has a deadline, and the answer decides between done, retry (honouring
//! `Retry-After`), dead, and disabling the endpoint (`410 Gone`).
//!
//! Webhook URLs are the administrator's choice, like feed URLs, and follow the same rule:
//! they go through the private-address guard ([`crate::fetch::guard`]) with the same
//! `[fetch] allow_private` list, so a local ntfy or Gotify works once its network or host
//! is listed, and nothing else private is reached by accident. An IP-literal URL that the
//! guard refuses is a configuration error; a name that resolves only to refused addresses
//! fails the attempt (retried, so fixing the list and reloading delivers the alert).

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::presets::{self, PreparedRequest};
use super::signing::{Signer, github_signature};
use super::{DeliveryError, Outgoing, Receipt};
use crate::alerts::truncate_chars;
use crate::config::{Config, ConfigError, Preset, WebhookDestination};
use crate::fetch::guard::{self, Guard};

/// Longest part of an answer kept for logs and `deliver-test`.
const ANSWER_CHARS: usize = 500;

/// Posts alerts to one endpoint.
pub struct WebhookSink {
    config: WebhookDestination,
    client: reqwest::Client,
    signer: Option<Signer>,
    guard: Arc<Guard>,
}

impl WebhookSink {
    /// Builds the HTTP client of a destination, guarded by the configuration's
    /// `[fetch] allow_private` list.
    pub fn new(config: &WebhookDestination, whole: &Config) -> Result<Self, ConfigError> {
        let at_destination = |message: String, help: Option<String>| ConfigError {
            diagnostics: vec![whole.diagnostic_at(
                &config.origin,
                config.origin.span.clone(),
                message,
                help,
            )],
        };
        let error = |message: String| at_destination(message, None);
        let guard = Guard::from_entries(
            whole
                .fetch
                .allow_private
                .iter()
                .map(|e| e.get_ref().as_str()),
        )
        .map_err(|e| error(format!("[fetch] allow_private: {e}")))?;
        if let Ok(url) = url::Url::parse(&config.url)
            && guard.check_url(&url).is_err()
        {
            let host = url.host_str().unwrap_or_default();
            return Err(at_destination(
                format!(
                    "webhook destination {:?}: its URL points at {host}, a private, loopback or otherwise non-public address, which is {}",
                    config.name,
                    guard::BLOCKED_MARKER
                ),
                Some(format!(
                    "if the receiver really lives there (a local ntfy or Gotify), add \"{}\" to `allow_private` in [fetch]",
                    host.trim_matches(['[', ']'])
                )),
            ));
        }
        let guard = Arc::new(guard);
        let signer = match &config.secret {
            Some(secret) => Some(Signer::new(secret).map_err(|e| {
                error(format!(
                    "webhook destination {:?}: invalid secret: {e}",
                    config.name
                ))
            })?),
            None => None,
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve names itself, past the guard.
            .no_proxy()
            .dns_resolver(guard::GuardedResolver::new(guard.clone()))
            .timeout(config.timeout.get())
            .connect_timeout(config.timeout.get().min(std::time::Duration::from_secs(10)))
            .user_agent(format!("newshound/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| error(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            config: config.clone(),
            client,
            signer,
            guard,
        })
    }

    /// Identifies the endpoint (a hash, so a URL carrying a token is not stored): a
    /// destination disabled by a 410 is enabled again when this changes.
    pub fn target_id(&self) -> String {
        let mut hasher = Sha256::new();
        for part in [
            self.config.url.as_str(),
            self.config.room_id.as_deref().unwrap_or(""),
            self.config.chat_id.as_deref().unwrap_or(""),
            self.config.topic.as_deref().unwrap_or(""),
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0u8]);
        }
        hex::encode(&hasher.finalize()[..12])
    }

    /// The request for an alert, exactly as it will be sent (without the per-attempt
    /// timestamp and signature).
    pub fn prepare(&self, outgoing: &Outgoing) -> Result<PreparedRequest, DeliveryError> {
        match outgoing {
            Outgoing::Alert(message) => presets::prepare(&self.config, message),
            Outgoing::Digest(_) => Err(DeliveryError::permanent(
                "webhook destinations take alerts, not digests",
            )),
        }
    }

    /// Sends one alert; the answer says what happened.
    pub async fn deliver(&self, outgoing: &Outgoing) -> Result<Receipt, DeliveryError> {
        let request = self.prepare(outgoing)?;
        self.check_target(&request.url)?;
        let id = outgoing.key();
        let timestamp = jiff::Timestamp::now().as_second();
        let mut builder = self
            .client
            .request(request.method.clone(), &request.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string());
        if let Some(signer) = &self.signer {
            builder = builder.header(
                "webhook-signature",
                signer.sign(id, timestamp, &request.body),
            );
            if self.config.github_signature
                && let Some(secret) = &self.config.secret
            {
                builder = builder.header(
                    "X-Hub-Signature-256",
                    github_signature(secret.as_bytes(), &request.body),
                );
            }
        }
        for (name, value) in request
            .headers
            .iter()
            .map(|(k, v)| (k, v))
            .chain(self.config.headers.iter())
        {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let response = builder
            .body(request.body)
            .send()
            .await
            // Never log the URL: for several services it carries the credential.
            .map_err(|e| {
                DeliveryError::temporary(format!(
                    "{} request failed: {}",
                    self.preset_name(),
                    crate::fetch::error_chain(&e.without_url())
                ))
            })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::fetch::parse_retry_after(v, jiff::Timestamp::now()));
        let body = response.text().await.unwrap_or_default();
        presets::check_answer(self.config.preset, status.as_u16(), retry_after, &body)?;
        let answer = truncate_chars(body.trim(), ANSWER_CHARS);
        Ok(Receipt {
            answer: format!(
                "HTTP {}{}",
                status,
                if answer.is_empty() {
                    String::new()
                } else {
                    format!(": {answer}")
                }
            ),
        })
    }

    /// The guard's verdict on the URL of one request (the preset may have built it from
    /// the configured one), described by host only: the URL may carry a credential.
    fn check_target(&self, url: &str) -> Result<(), DeliveryError> {
        let url = url::Url::parse(url).map_err(|e| {
            DeliveryError::permanent(format!("{}: invalid URL: {e}", self.preset_name()))
        })?;
        self.guard.check_url(&url).map_err(|_| {
            DeliveryError::temporary(format!(
                "{}: {} is a private, loopback or otherwise non-public address, {} (allow it with [fetch] allow_private)",
                self.preset_name(),
                url.host_str().unwrap_or_default(),
                guard::BLOCKED_MARKER
            ))
        })
    }

    fn preset_name(&self) -> &'static str {
        match self.config.preset {
            Preset::Generic => "webhook",
            other => other.as_str(),
        }
    }
}
