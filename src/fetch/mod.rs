//! Fetching: one HTTP client for feeds and article pages, with politeness and caps.
//!
//! This stage owns the network: conditional GET with stored validators, a global and a
//! per-host concurrency limit, a total deadline per request (not just a read timeout), a cap
//! on the decoded body size, a bounded number of redirects (followed by hand, so every hop is
//! checked and permanent ones are reported), the private-address guard (SSRF protection,
//! [`guard`]: every hop and every resolved address), and the caching hints (`Cache-Control`,
//! `Expires`, `Retry-After`) the scheduler uses to plan the next poll.

pub mod guard;
mod hints;
mod tls;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

pub use guard::{Allowed, Guard};
pub use hints::{CacheHints, parse_retry_after};
pub use tls::preload as preload_tls;

use crate::config::FetchSettings;

/// What a request is for; article URLs come from untrusted feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A feed URL chosen by the administrator.
    Feed,
    /// An article link taken from a feed entry.
    Article,
}

/// One request.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The URL to get.
    pub url: &'a str,
    /// `ETag` of the last response, sent as `If-None-Match`.
    pub etag: Option<&'a str>,
    /// `Last-Modified` of the last response, sent as `If-Modified-Since`.
    pub last_modified: Option<&'a str>,
    /// Total deadline for the whole exchange, redirects and body included.
    pub timeout: Duration,
    /// The User-Agent header.
    pub user_agent: &'a str,
    /// Extra headers.
    pub headers: &'a BTreeMap<String, String>,
    /// What the request is for.
    pub purpose: Purpose,
}

/// A successful exchange.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status (200-class, or 304).
    pub status: u16,
    /// The URL the body came from, after redirects.
    pub final_url: String,
    /// Set when a permanent redirect (301/308) was followed: the URL to use from now on.
    pub moved_permanently_to: Option<String>,
    /// The decoded body (empty for 304).
    pub body: Vec<u8>,
    /// Set when an article page was larger than the body cap and only its beginning was
    /// read (feeds over the cap fail instead).
    pub truncated: bool,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The `ETag` header.
    pub etag: Option<String>,
    /// The `Last-Modified` header.
    pub last_modified: Option<String>,
    /// Caching hints for planning the next poll.
    pub hints: CacheHints,
}

impl Response {
    /// Whether the server answered "not modified".
    pub fn not_modified(&self) -> bool {
        self.status == 304
    }
}

/// Why a fetch failed, in categories for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchErrorKind {
    /// The URL is malformed or not http(s).
    InvalidUrl,
    /// The address is not allowed (private network for an untrusted URL).
    Blocked,
    /// Name resolution failed.
    Dns,
    /// Connection refused, reset, or similar.
    Connect,
    /// TLS handshake or certificate problem.
    Tls,
    /// The total deadline passed.
    Timeout,
    /// The server answered with an error status.
    Status,
    /// The body exceeded the size cap.
    TooLarge,
    /// More redirects than allowed, or a redirect without a usable `Location`.
    Redirect,
    /// The body could not be read.
    Body,
}

impl FetchErrorKind {
    /// A short stable name (used as a metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            FetchErrorKind::InvalidUrl => "invalid_url",
            FetchErrorKind::Blocked => "blocked",
            FetchErrorKind::Dns => "dns",
            FetchErrorKind::Connect => "connect",
            FetchErrorKind::Tls => "tls",
            FetchErrorKind::Timeout => "timeout",
            FetchErrorKind::Status => "http_status",
            FetchErrorKind::TooLarge => "too_large",
            FetchErrorKind::Redirect => "redirect",
            FetchErrorKind::Body => "body",
        }
    }

    /// Whether trying again later can help (a 404 or a blocked address will not change).
    pub fn is_temporary(self, status: Option<u16>) -> bool {
        match self {
            FetchErrorKind::InvalidUrl | FetchErrorKind::Blocked | FetchErrorKind::TooLarge => {
                false
            }
            FetchErrorKind::Status => matches!(status, Some(408 | 425 | 429) | Some(500..=599)),
            _ => true,
        }
    }
}

/// A failed fetch.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    /// The category.
    pub kind: FetchErrorKind,
    /// The HTTP status, for [`FetchErrorKind::Status`].
    pub status: Option<u16>,
    /// A readable description.
    pub message: String,
    /// `Retry-After` of a 429/503 answer.
    pub retry_after: Option<Duration>,
}

impl FetchError {
    fn new(kind: FetchErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            status: None,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Whether trying again later can help.
    pub fn is_temporary(&self) -> bool {
        self.kind.is_temporary(self.status)
    }
}

/// The shared HTTP client with its limits.
pub struct Fetcher {
    client: reqwest::Client,
    global: Arc<Semaphore>,
    per_host: Mutex<HashMap<String, Arc<Semaphore>>>,
    per_host_limit: usize,
    max_body: u64,
    max_redirects: usize,
    guard: Arc<Guard>,
}

impl Fetcher {
    /// Builds the client from the global fetch settings.
    pub fn new(settings: &FetchSettings) -> Result<Self, FetchError> {
        let guard = Arc::new(
            Guard::from_entries(settings.allow_private.iter().map(|e| e.get_ref().as_str()))
                .map_err(|e| FetchError::new(FetchErrorKind::InvalidUrl, e))?,
        );
        let tls = tls::client_settings()
            .map_err(|message| FetchError::new(FetchErrorKind::Tls, message))?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve names itself, past the guard.
            .no_proxy()
            .dns_resolver(guard::GuardedResolver::new(guard.clone()))
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .connect_timeout(Duration::from_secs(15))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(settings.per_host.max(1))
            .build()
            .map_err(|e| {
                FetchError::new(
                    FetchErrorKind::Tls,
                    format!("cannot build HTTP client: {e}"),
                )
            })?;
        Ok(Self {
            client,
            global: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            per_host: Mutex::new(HashMap::new()),
            per_host_limit: settings.per_host.max(1),
            max_body: settings.max_body.0,
            max_redirects: settings.max_redirects,
            guard,
        })
    }

    /// Fetches `request.url` within its deadline and the configured limits.
    pub async fn fetch(&self, request: &Request<'_>) -> Result<Response, FetchError> {
        let url = Url::parse(request.url).map_err(|e| {
            FetchError::new(
                FetchErrorKind::InvalidUrl,
                format!("invalid URL {:?}: {e}", request.url),
            )
        })?;
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let _permits = self.permits(&host).await;
        match tokio::time::timeout(request.timeout, self.exchange(url, request)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::new(
                FetchErrorKind::Timeout,
                format!("no complete answer within {:?}", request.timeout),
            )),
        }
    }

    async fn permits(
        &self,
        host: &str,
    ) -> (Option<OwnedSemaphorePermit>, Option<OwnedSemaphorePermit>) {
        let host_semaphore = {
            let mut map = self.per_host.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(host.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host_limit)))
                .clone()
        };
        // Host first: a request waiting for a busy host must not hold a global slot.
        let host_permit = host_semaphore.acquire_owned().await.ok();
        let global_permit = self.global.clone().acquire_owned().await.ok();
        (host_permit, global_permit)
    }

    async fn exchange(&self, mut url: Url, request: &Request<'_>) -> Result<Response, FetchError> {
        let mut moved_permanently_to = None;
        let mut permanent_so_far = true;
        for hop in 0..=self.max_redirects {
            self.check_url(&url)?;
            let response = self
                .client
                .get(url.clone())
                .headers(request_headers(request, hop == 0)?)
                .send()
                .await
                .map_err(|e| classify(&e, &url))?;
            let status = response.status().as_u16();
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                let location = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        FetchError::new(
                            FetchErrorKind::Redirect,
                            format!("{url}: redirect ({status}) without a Location"),
                        )
                    })?;
                let next = url.join(location).map_err(|e| {
                    FetchError::new(
                        FetchErrorKind::Redirect,
                        format!("{url}: bad redirect target {location:?}: {e}"),
                    )
                })?;
                permanent_so_far &= matches!(status, 301 | 308);
                if permanent_so_far {
                    moved_permanently_to = Some(next.to_string());
                }
                url = next;
                continue;
            }
            let headers = response.headers().clone();
            let hints = CacheHints::from_headers(&headers);
            let text = |name: header::HeaderName| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            if status == 304 {
                return Ok(Response {
                    status,
                    final_url: url.to_string(),
                    moved_permanently_to,
                    body: Vec::new(),
                    truncated: false,
                    content_type: None,
                    etag: text(header::ETAG),
                    last_modified: text(header::LAST_MODIFIED),
                    hints,
                });
            }
            if !(200..300).contains(&status) {
                return Err(FetchError {
                    kind: FetchErrorKind::Status,
                    status: Some(status),
                    message: format!("HTTP {status} from {url}"),
                    retry_after: hints.retry_after,
                });
            }
            let (body, truncated) = self.read_body(response, &url, request.purpose).await?;
            return Ok(Response {
                status,
                final_url: url.to_string(),
                moved_permanently_to,
                body,
                truncated,
                content_type: text(header::CONTENT_TYPE),
                etag: text(header::ETAG),
                last_modified: text(header::LAST_MODIFIED),
                hints,
            });
        }
        Err(FetchError::new(
            FetchErrorKind::Redirect,
            format!("more than {} redirects, last to {url}", self.max_redirects),
        ))
    }

    /// Scheme and private-address check of one hop.
    fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        self.guard.check_url(url).map_err(|message| {
            let kind = if matches!(url.scheme(), "http" | "https") {
                FetchErrorKind::Blocked
            } else {
                FetchErrorKind::InvalidUrl
            };
            FetchError::new(kind, message)
        })
    }

    /// Reads the body up to the cap. A feed over the cap fails (a cut feed is not a feed);
    /// an article page is cut at the cap, since its text is near the top and what follows is
    /// usually scripts and data.
    async fn read_body(
        &self,
        response: reqwest::Response,
        url: &Url,
        purpose: Purpose,
    ) -> Result<(Vec<u8>, bool), FetchError> {
        let cut_at_cap = purpose == Purpose::Article;
        if let Some(length) = response.content_length()
            && length > self.max_body
            && !cut_at_cap
        {
            return Err(too_large(url, self.max_body));
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| classify(&e, url))?;
            if body.len() as u64 + chunk.len() as u64 > self.max_body {
                if !cut_at_cap {
                    return Err(too_large(url, self.max_body));
                }
                let room = (self.max_body as usize).saturating_sub(body.len());
                body.extend_from_slice(&chunk[..room.min(chunk.len())]);
                tracing::debug!(%url, cap = self.max_body, "article page cut at the body cap");
                return Ok((body, true));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, false))
    }
}

fn too_large(url: &Url, cap: u64) -> FetchError {
    FetchError::new(
        FetchErrorKind::TooLarge,
        format!("{url}: body larger than the {cap}-byte cap (fetch.max_body)"),
    )
}

fn request_headers(request: &Request<'_>, first_hop: bool) -> Result<HeaderMap, FetchError> {
    let mut headers = HeaderMap::new();
    let invalid = |name: &str| {
        FetchError::new(
            FetchErrorKind::InvalidUrl,
            format!("invalid value for header {name}"),
        )
    };
    headers.insert(
        header::USER_AGENT,
        HeaderValue::from_str(request.user_agent).map_err(|_| invalid("User-Agent"))?,
    );
    let accept = match request.purpose {
        Purpose::Feed => {
            "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
        }
        Purpose::Article => "text/html, application/xhtml+xml;q=0.9, */*;q=0.8",
    };
    headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
    // Validators belong to the URL they were received from; after a redirect they could
    // wrongly turn a changed document into a 304 only if sent to the same resource.
    if first_hop {
        if let Some(etag) = request.etag {
            headers.insert(
                header::IF_NONE_MATCH,
                HeaderValue::from_str(etag).map_err(|_| invalid("If-None-Match"))?,
            );
        }
        if let Some(modified) = request.last_modified {
            headers.insert(
                header::IF_MODIFIED_SINCE,
                HeaderValue::from_str(modified).map_err(|_| invalid("If-Modified-Since"))?,
            );
        }
    }
    for (name, value) in request.headers {
        let name = header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid(name))?;
        headers.insert(
            name,
            HeaderValue::from_str(value).map_err(|_| invalid(value))?,
        );
    }
    Ok(headers)
}

fn classify(error: &reqwest::Error, url: &Url) -> FetchError {
    let chain = error_chain(error);
    let lower = chain.to_ascii_lowercase();
    let kind = if chain.contains(guard::BLOCKED_MARKER) {
        FetchErrorKind::Blocked
    } else if error.is_timeout() {
        FetchErrorKind::Timeout
    } else if lower.contains("dns")
        || lower.contains("resolve")
        || lower.contains("name or service not known")
    {
        FetchErrorKind::Dns
    } else if lower.contains("certificate")
        || lower.contains("tls")
        || lower.contains("handshake")
        // rustls' own words for a peer that does not speak TLS (a plain HTTP server behind
        // an https:// URL) or breaks the protocol.
        || lower.contains("corrupt message")
        || lower.contains("peer is incompatible")
        || lower.contains("peer misbehaved")
        || lower.contains("fatal alert")
    {
        FetchErrorKind::Tls
    } else if error.is_connect() {
        FetchErrorKind::Connect
    } else if error.is_body() || error.is_decode() {
        FetchErrorKind::Body
    } else {
        FetchErrorKind::Connect
    };
    FetchError::new(kind, format!("{url}: {chain}"))
}

/// The error with all its causes, since reqwest's own message alone ("error sending
/// request") does not say what went wrong (refused connection, guard, TLS).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
