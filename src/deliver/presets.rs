//! Request bodies for each webhook preset, in the exact shape the service expects, and how
//! each service's answer is read.
//!
//! - `generic`: `{"type": "alert.matched" | "alert.updated" | "alert.test", "timestamp",
//!   "data": <the Alert JSON, schema 2> + "also_reported_by" + "test"}` (Standard Webhooks
//!   envelope; signed by the sink).
//! - `slack`: Block Kit `text` + one `section` (mrkdwn, `&<>` escaped so feed text cannot
//!   ping `<!channel>`).
//! - `discord`: one embed, `allowed_mentions.parse = []` (no `@everyone` from feed text),
//!   `?wait=true` so errors are reported synchronously.
//! - `teams`: a Workflows message with an Adaptive Card 1.4.
//! - `mattermost`: `text` (Markdown), optional `username` and `channel`.
//! - `matrix`: `PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txnId}` with the
//!   alert id as `txnId` (the homeserver de-duplicates retries), an `m.notice` with HTML.
//! - `ntfy`: JSON publish (`topic`, `title`, `message`, `click`, a "view" action).
//! - `gotify`: `POST /message` with `X-Gotify-Key`.
//! - `telegram`: `sendMessage` with HTML parse mode (`<>&` escaped), no link preview; the
//!   JSON answer's `ok` is checked.

use std::time::Duration;

use serde_json::{Value, json};

use super::render::{self, EvidenceView, clean_line};
use super::{AlertMessage, DeliveryError};
use crate::alerts::truncate_chars;
use crate::config::{Preset, WebhookDestination};

/// One HTTP request, ready to send.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    /// PUT for Matrix, POST for everything else.
    pub method: reqwest::Method,
    /// Where to send it.
    pub url: String,
    /// The exact body bytes (signed as they are).
    pub body: Vec<u8>,
    /// Extra headers of the preset (e.g. `Authorization`).
    pub headers: Vec<(String, String)>,
}

/// The parts every preset shows, cleaned.
struct Parts {
    title: String,
    link: Option<String>,
    feed: String,
    rule: String,
    kind: &'static str,
    evidence: Vec<EvidenceView>,
    also: Vec<String>,
}

impl Parts {
    fn of(message: &AlertMessage) -> Self {
        let alert = &message.alert;
        let kind = if message.test {
            "Test: "
        } else if alert.update_of.is_some() {
            "Update: "
        } else {
            ""
        };
        let evidence = if alert.new_evidence.is_empty() {
            &alert.evidence
        } else {
            &alert.new_evidence
        };
        Self {
            title: render::title_of(alert),
            link: alert.article.link.as_deref().and_then(render::safe_url),
            feed: clean_line(&alert.feed.name),
            rule: clean_line(&alert.rule),
            kind,
            evidence: evidence.iter().map(EvidenceView::of).collect(),
            also: message
                .also_reported_by
                .iter()
                .map(|o| clean_line(&o.feed))
                .collect(),
        }
    }

    /// The title in bold, linked to the article when there is a link (Matrix and Telegram
    /// HTML).
    fn html_heading(&self) -> String {
        match &self.link {
            Some(link) => format!(
                "<b><a href=\"{}\">{}{}</a></b>",
                html_escape::encode_double_quoted_attribute(link),
                self.kind,
                html_escape(&self.title)
            ),
            None => format!("<b>{}{}</b>", self.kind, html_escape(&self.title)),
        }
    }

    /// Plain text: title, link, feed and rule, evidence, other outlets.
    fn plain(&self, marker: &str) -> String {
        let mut lines = vec![format!("{}{}", self.kind, self.title)];
        if let Some(link) = &self.link {
            lines.push(link.clone());
        }
        lines.push(format!("{} · matched: {}", self.feed, self.rule));
        for evidence in &self.evidence {
            lines.push(format!("• {}", evidence.line(marker)));
        }
        if !self.also.is_empty() {
            lines.push(format!("Also reported by: {}", self.also.join(", ")));
        }
        lines.join("\n")
    }
}

fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn html_escape(text: &str) -> String {
    html_escape::encode_text(text).to_string()
}

/// The request for one alert.
pub fn prepare(
    config: &WebhookDestination,
    message: &AlertMessage,
) -> Result<PreparedRequest, DeliveryError> {
    let parts = Parts::of(message);
    let alert = &message.alert;
    let post = |url: String, body: Value, headers: Vec<(String, String)>| PreparedRequest {
        method: reqwest::Method::POST,
        url,
        body: body.to_string().into_bytes(),
        headers,
    };
    let request = match config.preset {
        Preset::Generic => {
            let event = if message.test {
                "alert.test"
            } else if alert.update_of.is_some() {
                "alert.updated"
            } else {
                "alert.matched"
            };
            let mut data = serde_json::to_value(alert)
                .map_err(|e| DeliveryError::permanent(format!("cannot encode alert: {e}")))?;
            if let Value::Object(map) = &mut data {
                map.insert(
                    "also_reported_by".into(),
                    serde_json::to_value(&message.also_reported_by).unwrap_or(Value::Null),
                );
                map.insert("test".into(), Value::Bool(message.test));
            }
            post(
                config.url.clone(),
                json!({"type": event, "timestamp": alert.created.to_string(), "data": data}),
                Vec::new(),
            )
        }
        Preset::Slack => {
            let heading = match &parts.link {
                Some(link) => format!(
                    "*<{}|{}{}>*",
                    slack_escape(link),
                    parts.kind,
                    slack_escape(&parts.title)
                ),
                None => format!("*{}{}*", parts.kind, slack_escape(&parts.title)),
            };
            let mut text = format!(
                "{heading}\n{} · matched: *{}*",
                slack_escape(&parts.feed),
                slack_escape(&parts.rule)
            );
            for evidence in &parts.evidence {
                text.push_str(&format!("\n• {}", slack_escape(&evidence.line("*"))));
            }
            if !parts.also.is_empty() {
                text.push_str(&format!(
                    "\nAlso reported by: {}",
                    slack_escape(&parts.also.join(", "))
                ));
            }
            let fallback = slack_escape(&format!("{}{}: {}", parts.kind, parts.rule, parts.title));
            post(
                config.url.clone(),
                json!({
                    "text": truncate_chars(&fallback, 3000),
                    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": truncate_chars(&text, 2990)}}],
                }),
                Vec::new(),
            )
        }
        Preset::Discord => {
            let description: Vec<String> = parts
                .evidence
                .iter()
                .map(|e| format!("• {}", e.line("**")))
                .chain(
                    (!parts.also.is_empty())
                        .then(|| format!("Also reported by: {}", parts.also.join(", "))),
                )
                .collect();
            let mut embed = json!({
                "title": truncate_chars(&format!("{}{}", parts.kind, parts.title), 250),
                "description": truncate_chars(&description.join("\n"), 4000),
                "color": 0x1a4f8b,
                "fields": [
                    {"name": "Feed", "value": truncate_chars(&parts.feed, 1000), "inline": true},
                    {"name": "Rule", "value": truncate_chars(&parts.rule, 1000), "inline": true},
                ],
                "timestamp": alert.article.published.unwrap_or(alert.created).to_string(),
            });
            if let (Some(link), Value::Object(map)) = (&parts.link, &mut embed) {
                map.insert("url".into(), Value::String(link.clone()));
            }
            let mut url = config.url.clone();
            if !url.contains("wait=") {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str("wait=true");
            }
            post(
                url,
                json!({
                    "username": config.username.clone().unwrap_or_else(|| "newshound".into()),
                    "embeds": [embed],
                    "allowed_mentions": {"parse": []},
                }),
                Vec::new(),
            )
        }
        Preset::Teams => {
            let title = match &parts.link {
                Some(link) => format!("[{}{}]({link})", parts.kind, parts.title),
                None => format!("{}{}", parts.kind, parts.title),
            };
            let mut body = vec![
                json!({"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Large", "style": "heading", "wrap": true}),
                json!({"type": "TextBlock", "text": format!("{} · matched: {}", parts.feed, parts.rule), "isSubtle": true, "wrap": true}),
            ];
            for evidence in &parts.evidence {
                body.push(json!({"type": "TextBlock", "text": format!("• {}", evidence.line("**")), "wrap": true}));
            }
            if !parts.also.is_empty() {
                body.push(json!({"type": "TextBlock", "text": format!("Also reported by: {}", parts.also.join(", ")), "isSubtle": true, "wrap": true}));
            }
            post(
                config.url.clone(),
                json!({
                    "type": "message",
                    "attachments": [{
                        "contentType": "application/vnd.microsoft.card.adaptive",
                        "contentUrl": null,
                        "content": {
                            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                            "type": "AdaptiveCard",
                            "version": "1.4",
                            "body": body,
                            "msteams": {"width": "full"},
                        },
                    }],
                }),
                Vec::new(),
            )
        }
        Preset::Mattermost => {
            let heading = match &parts.link {
                Some(link) => format!("#### [{}{}]({link})", parts.kind, parts.title),
                None => format!("#### {}{}", parts.kind, parts.title),
            };
            let mut text = format!("{heading}\n{} · matched: **{}**", parts.feed, parts.rule);
            for evidence in &parts.evidence {
                text.push_str(&format!("\n- {}", evidence.line("**")));
            }
            if !parts.also.is_empty() {
                text.push_str(&format!("\n\nAlso reported by: {}", parts.also.join(", ")));
            }
            let mut body = json!({"text": text, "username": config.username.clone().unwrap_or_else(|| "newshound".into())});
            if let (Some(channel), Value::Object(map)) = (&config.channel, &mut body) {
                map.insert("channel".into(), Value::String(channel.clone()));
            }
            post(config.url.clone(), body, Vec::new())
        }
        Preset::Matrix => {
            let room = config.room_id.clone().unwrap_or_default();
            let url = format!(
                "{}/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
                config.url.trim_end_matches('/'),
                percent_encode(&room),
                percent_encode(&alert.id)
            );
            let heading = parts.html_heading();
            let mut html = format!(
                "{heading}<br>{} · matched: <i>{}</i>",
                html_escape(&parts.feed),
                html_escape(&parts.rule)
            );
            if !parts.evidence.is_empty() {
                html.push_str("<ul>");
                for evidence in &parts.evidence {
                    html.push_str(&format!(
                        "<li>{}</li>",
                        html_escape(&evidence.line("")).replace('\n', " ")
                    ));
                }
                html.push_str("</ul>");
            }
            if !parts.also.is_empty() {
                html.push_str(&format!(
                    "Also reported by: {}",
                    html_escape(&parts.also.join(", "))
                ));
            }
            PreparedRequest {
                method: reqwest::Method::PUT,
                url,
                body: json!({
                    "msgtype": "m.notice",
                    "body": parts.plain(""),
                    "format": "org.matrix.custom.html",
                    "formatted_body": html,
                })
                .to_string()
                .into_bytes(),
                headers: bearer(config),
            }
        }
        Preset::Ntfy => {
            let mut body = json!({
                "topic": config.topic.clone().unwrap_or_default(),
                "title": truncate_chars(&format!("{}{}: {}", parts.kind, parts.rule, parts.title), 250),
                "message": truncate_chars(&parts.plain("*"), 3900),
                "priority": config.priority.unwrap_or(3),
                "tags": ["newspaper"],
                "markdown": false,
            });
            if let (Some(link), Value::Object(map)) = (&parts.link, &mut body) {
                map.insert("click".into(), Value::String(link.clone()));
                map.insert(
                    "actions".into(),
                    json!([{"action": "view", "label": "Open", "url": link}]),
                );
            }
            post(config.url.clone(), body, bearer(config))
        }
        Preset::Gotify => {
            let url = format!("{}/message", config.url.trim_end_matches('/'));
            let headers = config
                .token
                .iter()
                .map(|t| ("X-Gotify-Key".to_string(), t.clone()))
                .collect();
            post(
                url,
                json!({
                    "title": format!("{}{}: {}", parts.kind, parts.rule, parts.title),
                    "message": parts.plain("*"),
                    "priority": config.priority.unwrap_or(5),
                    "extras": {"client::display": {"contentType": "text/plain"}},
                }),
                headers,
            )
        }
        Preset::Telegram => {
            let url = format!(
                "{}/bot{}/sendMessage",
                config.url.trim_end_matches('/'),
                config.token.clone().unwrap_or_default()
            );
            let heading = parts.html_heading();
            let mut text = format!(
                "{heading}\n{} · matched: <i>{}</i>",
                html_escape(&parts.feed),
                html_escape(&parts.rule)
            );
            for evidence in &parts.evidence {
                let line = format!("\n• {}", html_escape(&evidence.line("")));
                // 4096 characters after entity parsing; whole lines are dropped, never cut,
                // so no tag or entity is broken.
                if text.chars().count() + line.chars().count() > 3900 {
                    break;
                }
                text.push_str(&line);
            }
            if !parts.also.is_empty() {
                let line = format!(
                    "\nAlso reported by: {}",
                    html_escape(&parts.also.join(", "))
                );
                if text.chars().count() + line.chars().count() <= 4000 {
                    text.push_str(&line);
                }
            }
            let mut body = json!({
                "chat_id": config.chat_id.clone().unwrap_or_default(),
                "text": text,
                "parse_mode": "HTML",
                "link_preview_options": {"is_disabled": true},
            });
            if let (Some(thread), Value::Object(map)) = (config.message_thread_id, &mut body) {
                map.insert("message_thread_id".into(), json!(thread));
            }
            post(url, body, Vec::new())
        }
    };
    Ok(request)
}

/// Percent-encodes everything but RFC 3986 unreserved characters (a Matrix room id such as
/// `!room:example.org` becomes `%21room%3Aexample.org`).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn bearer(config: &WebhookDestination) -> Vec<(String, String)> {
    config
        .token
        .iter()
        .map(|t| ("Authorization".to_string(), format!("Bearer {t}")))
        .collect()
}

/// Reads a service's answer: `Ok(())` when it accepted the message; otherwise whether and
/// when to retry (`Retry-After`, Discord's and Telegram's `retry_after`) and whether the
/// endpoint is gone.
pub fn check_answer(
    preset: Preset,
    status: u16,
    retry_after_header: Option<Duration>,
    body: &str,
) -> Result<(), DeliveryError> {
    let json: Option<Value> = serde_json::from_str(body).ok();
    let body_retry_after = json.as_ref().and_then(|j| {
        j.get("retry_after")
            .or_else(|| j.get("parameters").and_then(|p| p.get("retry_after")))
            .and_then(Value::as_f64)
            .map(|secs| Duration::from_secs_f64(secs.clamp(0.0, 86_400.0)))
    });
    let excerpt = truncate_chars(&clean_line(body), 300);
    let described = |what: &str| {
        format!(
            "{what}: HTTP {status}{}",
            if excerpt.is_empty() {
                String::new()
            } else {
                format!(": {excerpt}")
            }
        )
    };
    if (200..300).contains(&status) {
        if preset == Preset::Telegram
            && let Some(json) = &json
            && json.get("ok").and_then(Value::as_bool) == Some(false)
        {
            let code = json.get("error_code").and_then(Value::as_u64).unwrap_or(0);
            let mut error = if matches!(code, 400 | 401 | 403 | 404) {
                DeliveryError::permanent(described("Telegram refused the message"))
            } else {
                DeliveryError::temporary(described("Telegram did not take the message"))
            };
            error.retry_after = body_retry_after;
            return Err(error);
        }
        return Ok(());
    }
    let mut error = match status {
        410 => {
            let mut error = DeliveryError::permanent(described("the endpoint is gone"));
            error.gone = true;
            error
        }
        300..=399 => DeliveryError::temporary(described(
            "the endpoint redirects (redirects are not followed: put the final URL in the configuration)",
        )),
        408 | 425 | 429 => DeliveryError::temporary(described("the endpoint asks to slow down")),
        400..=499 => DeliveryError::permanent(described("the endpoint refused the message")),
        _ => DeliveryError::temporary(described("the endpoint failed")),
    };
    error.retry_after = retry_after_header.or(body_retry_after);
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        assert!(check_answer(Preset::Generic, 204, None, "").is_ok());
        let gone = check_answer(Preset::Generic, 410, None, "").expect_err("error");
        assert!(gone.gone && gone.permanent);
        let slow =
            check_answer(Preset::Discord, 429, None, r#"{"retry_after": 1.5}"#).expect_err("error");
        assert!(!slow.permanent);
        assert_eq!(slow.retry_after, Some(Duration::from_millis(1500)));
        assert!(
            check_answer(Preset::Generic, 400, None, "bad")
                .err()
                .is_some_and(|e| e.permanent)
        );
        assert!(
            check_answer(Preset::Generic, 503, None, "")
                .err()
                .is_some_and(|e| !e.permanent)
        );
        assert!(
            check_answer(Preset::Generic, 301, None, "")
                .err()
                .is_some_and(|e| !e.permanent)
        );
        let telegram = check_answer(
            Preset::Telegram,
            200,
            None,
            r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#,
        );
        assert!(
            telegram
                .err()
                .is_some_and(|e| e.permanent && e.message.contains("blocked"))
        );
    }
}
