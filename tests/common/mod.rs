//! Test support: a real HTTP server on loopback that serves feeds whose content, validators
//! and failures the test controls, and helpers to build configurations around it.
#![allow(dead_code)]

pub mod hostile;
pub mod process;
pub mod receiver;
pub mod smtp;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

/// Runs `start` on a Tokio runtime thread of its own that lives as long as the test, and
/// returns what it built: for servers used by tests that drive the binary.
pub fn start_on_own_runtime<T, F>(
    worker_threads: usize,
    start: impl FnOnce() -> F + Send + 'static,
) -> T
where
    T: Send + 'static,
    F: Future<Output = T>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            tx.send(start().await).expect("send");
            std::future::pending::<()>().await;
        });
    });
    rx.recv().expect("started")
}

/// What the server answers for one path.
#[derive(Clone, Debug, Default)]
pub struct Resource {
    pub body: Vec<u8>,
    pub content_type: String,
    /// When set, sent as ETag and honoured in If-None-Match.
    pub etag: Option<String>,
    /// Answers to give before the normal one: status code and extra headers.
    pub failures: Vec<(u16, Vec<(String, String)>)>,
    /// Permanent redirect target (answered with 301).
    pub moved_to: Option<String>,
    /// Wait this long before answering (for timeouts).
    pub delay: Option<std::time::Duration>,
}

/// One request the server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub if_none_match: Option<String>,
    pub user_agent: Option<String>,
    pub status: u16,
}

#[derive(Default)]
pub struct ServerState {
    pub resources: HashMap<String, Resource>,
    pub requests: Vec<Seen>,
}

/// A feed server on 127.0.0.1 with a random port.
#[derive(Clone)]
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<ServerState>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let state = Arc::new(Mutex::new(ServerState::default()));
        let app = Router::new().fallback(serve).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestServer { addr, state }
    }

    /// Starts the server on its own runtime thread, for tests that drive the binary.
    pub fn start_in_background() -> TestServer {
        start_on_own_runtime(1, TestServer::start)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn set(&self, path: &str, resource: Resource) {
        self.state
            .lock()
            .expect("lock")
            .resources
            .insert(path.to_string(), resource);
    }

    pub fn set_feed(&self, path: &str, xml: String, etag: Option<&str>) {
        self.set(
            path,
            Resource {
                body: xml.into_bytes(),
                content_type: "application/rss+xml; charset=utf-8".into(),
                etag: etag.map(str::to_string),
                ..Resource::default()
            },
        );
    }

    /// Serves an HTML page (raw bytes, any charset) with this Content-Type.
    pub fn set_page(&self, path: &str, body: impl Into<Vec<u8>>, content_type: &str) {
        self.set(
            path,
            Resource {
                body: body.into(),
                content_type: content_type.into(),
                ..Resource::default()
            },
        );
    }

    pub fn fail_next(&self, path: &str, status: u16, headers: &[(&str, &str)], times: usize) {
        let mut state = self.state.lock().expect("lock");
        let resource = state.resources.entry(path.to_string()).or_default();
        for _ in 0..times {
            resource.failures.push((
                status,
                headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ));
        }
    }

    pub fn requests(&self, path: &str) -> Vec<Seen> {
        self.state
            .lock()
            .expect("lock")
            .requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

async fn serve(State(state): State<Arc<Mutex<ServerState>>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let delay = state
        .lock()
        .expect("lock")
        .resources
        .get(&path)
        .and_then(|r| r.delay);
    let (request, _) = request.into_parts();
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let header = |name: header::HeaderName| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let if_none_match = header(header::IF_NONE_MATCH);
    let user_agent = header(header::USER_AGENT);
    let mut state = state.lock().expect("lock");
    let (status, headers, body) = match state.resources.get_mut(&path) {
        None => (404, Vec::new(), Vec::new()),
        Some(resource) if !resource.failures.is_empty() => {
            let (status, headers) = resource.failures.remove(0);
            (status, headers, b"failure".to_vec())
        }
        Some(resource) if resource.moved_to.is_some() => (
            301,
            vec![(
                "location".to_string(),
                resource.moved_to.clone().unwrap_or_default(),
            )],
            Vec::new(),
        ),
        Some(resource) => match (&resource.etag, &if_none_match) {
            (Some(etag), Some(sent)) if etag == sent => {
                (304, vec![("etag".to_string(), etag.clone())], Vec::new())
            }
            _ => {
                let mut headers = vec![("content-type".to_string(), resource.content_type.clone())];
                if let Some(etag) = &resource.etag {
                    headers.push(("etag".to_string(), etag.clone()));
                }
                (200, headers, resource.body.clone())
            }
        },
    };
    state.requests.push(Seen {
        path,
        if_none_match,
        user_agent,
        status,
    });
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let map: &mut HeaderMap = response.headers_mut();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            map.insert(name, value);
        }
    }
    response
}

/// An RSS item.
pub struct Item<'a> {
    pub guid: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    /// RFC 2822 date, or None for no date.
    pub date: Option<String>,
}

/// An RSS 2.0 document with these items.
pub fn rss(items: &[Item<'_>]) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>Test feed</title><link>https://news.example/</link><ttl>1</ttl>\n",
    );
    for item in items {
        xml.push_str(&format!(
            "<item><title>{}</title><link>https://news.example/{}</link><guid>{}</guid>{}<description>{}</description></item>\n",
            item.title,
            item.guid,
            item.guid,
            item.date
                .as_ref()
                .map(|d| format!("<pubDate>{d}</pubDate>"))
                .unwrap_or_default(),
            item.body,
        ));
    }
    xml.push_str("</channel></rss>\n");
    xml
}

/// An RFC 2822 date `minutes` ago.
pub fn minutes_ago(minutes: i64) -> String {
    let at = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(minutes);
    jiff::fmt::rfc2822::to_string(&at.to_zoned(jiff::tz::TimeZone::UTC)).unwrap_or_default()
}

/// The `[fetch]` line that lets the tests reach their loopback servers through the
/// private-address guard.
pub const ALLOW_LOOPBACK: &str = "allow_private = [\"127.0.0.1/32\"]";

/// Writes a config file into `dir` and returns its path. Loopback is allow-listed (the test
/// servers live there), in the body's own `[fetch]` section when it has one.
pub fn write_config(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("newshound.toml");
    let body = if body.contains("[fetch]\n") {
        body.replacen("[fetch]\n", &format!("[fetch]\n{ALLOW_LOOPBACK}\n"), 1)
    } else {
        format!("{body}\n[fetch]\n{ALLOW_LOOPBACK}\n")
    };
    std::fs::write(&path, format!("state_dir = \"state\"\n{body}")).expect("write config");
    path
}

/// The alerts in the default file destination.
pub fn delivered(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let path = dir.join("state").join("alerts.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Queues the sample alert for `destination` as alert number `n`: id `nh_alert_{n}`, a
/// story of its own (the same story would be folded into the first alert).
pub fn enqueue_sample_alert(
    store: &newshound::store::Store,
    destination: &str,
    at: jiff::Timestamp,
    n: usize,
) {
    let mut message = newshound::deliver::sample_alert(destination, at);
    message.alert.id = format!("nh_alert_{n}");
    message.alert.story = format!("https://newshound.invalid/test/{n}");
    store
        .enqueue(&[message.alert.to_outbox().expect("row")], at)
        .expect("enqueue");
}

/// What a delivery test drives by hand: an in-memory outbox, the deliverer of `config` on a
/// manual clock, and the moment that clock starts at.
pub struct ClockedDelivery {
    /// The outbox.
    pub store: newshound::store::Store,
    /// When the clock starts.
    pub start: jiff::Timestamp,
    /// The clock, advanced by the test.
    pub clock: Arc<newshound::deliver::ManualClock>,
    /// The deliverer, reading `clock`.
    pub deliverer: newshound::deliver::Deliverer,
}

/// Loads the configuration at `config_path` and sets up a [`ClockedDelivery`] for it.
pub fn clocked_delivery(config_path: &std::path::Path) -> ClockedDelivery {
    let config = newshound::config::load(config_path).expect("config");
    let start: jiff::Timestamp = "2026-11-27T08:00:00Z".parse().expect("ts");
    let clock = Arc::new(newshound::deliver::ManualClock::new(start));
    let deliverer = newshound::deliver::Deliverer::new(&config)
        .expect("deliverer")
        .with_clock(clock.clone());
    ClockedDelivery {
        store: newshound::store::Store::open_in_memory().expect("store"),
        start,
        clock,
        deliverer,
    }
}
