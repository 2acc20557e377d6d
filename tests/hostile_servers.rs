//! Servers that misbehave on purpose (tests/common/hostile.rs), one failure each, and then
//! all of them at once next to a good feed: a 200 MiB gzip bomb, a chunked body that never
//! ends, one byte per second, a server that never answers, a redirect loop, TLS errors,
//! HTML, PDF and binary bytes at a feed URL, an empty body and 204. Each must fail alone,
//! with a clear reason, within its limit, while the good feed alerts and the daemon keeps
//! going; hostile article pages fall back to the feed's text with the reason.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::hostile::{Behaviour, HostileServer, TlsIdentity, gzip_zeros};
use common::{Item, TestServer, minutes_ago, rss, write_config};
use newshound::config::Config;
use newshound::extract::ArticleSource;
use newshound::extract::page::{PageContext, fetch_article};
use newshound::feed::Entry;
use newshound::fetch::{FetchError, FetchErrorKind, Fetcher, Purpose, Request, Response};
use newshound::scheduler::{self, Pipeline, PollOutcome};
use newshound::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_newshound");
const RSS: &str = "application/rss+xml";

/// A configuration with loopback allowed and these extra lines in `[fetch]`.
fn config(dir: &Path, body: &str, fetch: &str) -> Config {
    let body = format!(
        "{body}\n[fetch]\n{fetch}\n[extract]\njitter = \"0s\"\nretries = 0\ntimeout = \"2s\"\n"
    );
    newshound::config::load(&write_config(dir, &body)).expect("valid config")
}

async fn get(
    fetcher: &Fetcher,
    url: &str,
    purpose: Purpose,
    timeout: Duration,
) -> Result<Response, FetchError> {
    let headers = Default::default();
    fetcher
        .fetch(&Request {
            url,
            etag: None,
            last_modified: None,
            timeout,
            user_agent: "newshound-test",
            headers: &headers,
            purpose,
        })
        .await
}

#[test]
fn the_bomb_generator_makes_valid_gzip() {
    use std::io::Read;
    let bomb = gzip_zeros(3);
    let mut decoded = Vec::new();
    // GzDecoder checks the CRC and the length in the trailer.
    flate2::read::GzDecoder::new(bomb.as_slice())
        .read_to_end(&mut decoded)
        .expect("valid gzip");
    assert_eq!(decoded.len(), 3 << 20);
    assert!(decoded.iter().all(|&b| b == 0));
    let big = gzip_zeros(200);
    assert!(big.len() < 1 << 20, "200 MiB in {} bytes", big.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gzip_bomb_is_aborted_at_the_decoded_size_cap() {
    let server = HostileServer::start().await;
    let bomb = Arc::new(gzip_zeros(200));
    server.set(
        "/bomb.xml",
        Behaviour::Gzip {
            content_type: RSS.into(),
            gzipped: bomb.clone(),
        },
    );
    server.set(
        "/bomb.html",
        Behaviour::Gzip {
            content_type: "text/html".into(),
            gzipped: bomb,
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), "", "max_body = \"4MiB\"");
    let fetcher = Fetcher::new(&config.fetch).expect("fetcher");
    let timeout = Duration::from_secs(60);

    let started = Instant::now();
    let error = get(&fetcher, &server.url("/bomb.xml"), Purpose::Feed, timeout)
        .await
        .expect_err("a feed over the cap fails");
    assert_eq!(error.kind, FetchErrorKind::TooLarge, "{error}");
    assert!(error.message.contains("4194304-byte cap"), "{error}");
    assert!(
        started.elapsed() < timeout,
        "stopped by the cap, not the deadline"
    );

    // An article page is cut at the cap instead: exactly the cap, decoded.
    let page = get(
        &fetcher,
        &server.url("/bomb.html"),
        Purpose::Article,
        timeout,
    )
    .await
    .expect("cut page");
    assert!(page.truncated);
    assert_eq!(page.body.len(), 4 << 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_chunked_body_is_cut_at_the_cap() {
    let server = HostileServer::start().await;
    server.set("/endless", Behaviour::Endless { chunk: 64 * 1024 });
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), "", "max_body = \"1MiB\"");
    let fetcher = Fetcher::new(&config.fetch).expect("fetcher");
    let error = get(
        &fetcher,
        &server.url("/endless"),
        Purpose::Feed,
        Duration::from_secs(60),
    )
    .await
    .expect_err("endless body");
    assert_eq!(error.kind, FetchErrorKind::TooLarge, "{error}");
    // The client hung up: the server's writes failed and it stopped sending.
    let hit = server
        .wait_for_hit("/endless", Duration::from_secs(30))
        .await
        .expect("the server noticed the hang-up");
    assert!(hit.client_hung_up, "{hit:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_loris_and_silent_servers_are_stopped_by_the_total_deadline() {
    let server = HostileServer::start().await;
    server.set(
        "/trickle",
        Behaviour::Trickle {
            every: Duration::from_secs(1),
        },
    );
    server.set("/silent", Behaviour::Silent);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), "", "");
    let fetcher = Fetcher::new(&config.fetch).expect("fetcher");
    let deadline = Duration::from_secs(2);
    for path in ["/trickle", "/silent"] {
        let started = Instant::now();
        let error = get(&fetcher, &server.url(path), Purpose::Feed, deadline)
            .await
            .expect_err(path);
        let took = started.elapsed();
        assert_eq!(error.kind, FetchErrorKind::Timeout, "{path}: {error}");
        assert!(
            error.message.contains("no complete answer within 2s"),
            "{error}"
        );
        // A read timeout would never fire on the trickle; the total deadline does.
        assert!(took >= deadline, "{path} took {took:?}");
        assert!(took < deadline * 10, "{path} took {took:?}");
        let hit = server
            .wait_for_hit(path, Duration::from_secs(20))
            .await
            .expect("connection ended");
        assert!(hit.client_hung_up, "{path}: {hit:?}");
    }
    let trickled = server.hits("/trickle")[0].body_bytes;
    assert!(
        trickled <= 5,
        "{trickled} bytes trickled before the deadline"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_loop_stops_after_five_hops() {
    let server = HostileServer::start().await;
    server.set("/a", Behaviour::Redirect("/b".into()));
    server.set("/b", Behaviour::Redirect(server.url("/a")));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), "", "");
    let fetcher = Fetcher::new(&config.fetch).expect("fetcher");
    let error = get(
        &fetcher,
        &server.url("/a"),
        Purpose::Feed,
        Duration::from_secs(30),
    )
    .await
    .expect_err("loop");
    assert_eq!(error.kind, FetchErrorKind::Redirect, "{error}");
    assert!(error.message.contains("more than 5 redirects"), "{error}");
    // The first request and five redirects followed: six requests, no more. The server
    // records a hit once its side of the exchange is over, which may be just after the
    // client gave up: wait for the sixth, then make sure no seventh follows.
    let requests = || server.hits("/a").len() + server.hits("/b").len();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while requests() < 6 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(requests(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_errors_are_reported_as_tls_and_not_retried_blindly() {
    let self_signed = HostileServer::bind(
        "127.0.0.1:0".parse().expect("addr"),
        Some(TlsIdentity::self_signed()),
    )
    .await;
    self_signed.set("/feed.xml", Behaviour::ok(RSS, rss(&[])));
    // A plain HTTP server behind an https:// URL.
    let plain = HostileServer::start().await;
    plain.set("/feed.xml", Behaviour::ok(RSS, rss(&[])));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), "", "");
    let fetcher = Fetcher::new(&config.fetch).expect("fetcher");
    let timeout = Duration::from_secs(30);

    let error = get(
        &fetcher,
        &self_signed.url("/feed.xml"),
        Purpose::Feed,
        timeout,
    )
    .await
    .expect_err("untrusted certificate");
    assert_eq!(error.kind, FetchErrorKind::Tls, "{error}");
    assert!(
        error.message.to_lowercase().contains("certificate"),
        "{error}"
    );
    assert!(self_signed.hits("/feed.xml").is_empty(), "nothing was sent");

    let url = format!("https://{}/feed.xml", plain.addr);
    let error = get(&fetcher, &url, Purpose::Feed, timeout)
        .await
        .expect_err("not TLS");
    assert_eq!(error.kind, FetchErrorKind::Tls, "{error}");
}

/// The other side of the TLS tests: a certificate chaining to a root the system trusts is
/// accepted. The root is made trusted for one process through `SSL_CERT_FILE`, which the
/// platform verifier reads in place of the system's list; the same feed fails as untrusted
/// without it, so the success is the verifier's doing, not a check left out.
#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_from_a_trusted_root_is_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, leaf, key) = common::smtp::certificates(dir.path());
    let identity = TlsIdentity {
        cert_pem: std::fs::read_to_string(&leaf).expect("leaf PEM"),
        key_pem: std::fs::read_to_string(&key).expect("key PEM"),
    };
    let server = HostileServer::bind("127.0.0.1:0".parse().expect("addr"), Some(identity)).await;
    server.set(
        "/feed.xml",
        Behaviour::ok(
            RSS,
            rss(&[Item {
                guid: "a",
                title: "Served over TLS",
                body: "A statement.",
                date: None,
            }]),
        ),
    );
    let config_path = write_config(dir.path(), "[fetch]\n");
    let url = server.url("/feed.xml");
    let fetch = move |trusted: Option<&Path>| {
        let mut command = std::process::Command::new(BIN);
        command
            .args(["feed", "--json", "--config"])
            .arg(&config_path)
            .arg(&url)
            .env_remove("SSL_CERT_DIR");
        match trusted {
            Some(ca) => command.env("SSL_CERT_FILE", ca),
            None => command.env_remove("SSL_CERT_FILE"),
        };
        command.output().expect("run newshound feed")
    };

    let trusted = tokio::task::spawn_blocking({
        let ca = ca.clone();
        let fetch = fetch.clone();
        move || fetch(Some(&ca))
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&trusted.stdout);
    assert!(
        trusted.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    assert!(stdout.contains("Served over TLS"), "{stdout}");

    let untrusted = tokio::task::spawn_blocking(move || fetch(None))
        .await
        .expect("join");
    let stderr = String::from_utf8_lossy(&untrusted.stderr).to_lowercase();
    assert!(!untrusted.status.success(), "{stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");
}

/// An entry linking to `link`, matching the rule "Rutte".
fn entry(guid: &str, link: &str) -> String {
    format!(
        "<item><title>Rutte statement {guid}</title><link>{link}</link><guid>{guid}</guid><pubDate>{}</pubDate><description>NATO Secretary General Mark Rutte said peace talks must include Ukraine ({guid}).</description></item>",
        minutes_ago(5)
    )
}

fn feed_of(items: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>T</title><link>https://news.example/</link>{}</channel></rss>",
        items.concat()
    )
}

fn feeds_section(feeds: &[(&str, String, bool)]) -> String {
    feeds
        .iter()
        .map(|(name, url, scrape)| {
            format!(
                "[[feeds]]\nname = \"{name}\"\nurl = \"{url}\"\ninterval = \"1m\"\ntimeout = \"2s\"\nscrape = {scrape}\n\n"
            )
        })
        .collect::<String>()
        + "[[rules]]\nname = \"rutte\"\nkeywords = [\"Rutte\"]\n"
}

/// The hostile feed paths with the failure kind and a phrase the logged reason must contain.
fn hostile_feeds(server: &HostileServer) -> Vec<(&'static str, &'static str, &'static str)> {
    let bomb = Arc::new(gzip_zeros(200));
    let pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
    let binary: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    server.set(
        "/bomb",
        Behaviour::Gzip {
            content_type: RSS.into(),
            gzipped: bomb.clone(),
        },
    );
    server.set(
        "/bomb.html",
        Behaviour::Gzip {
            content_type: "text/html".into(),
            gzipped: bomb,
        },
    );
    server.set("/endless", Behaviour::Endless { chunk: 64 * 1024 });
    server.set(
        "/trickle",
        Behaviour::Trickle {
            every: Duration::from_secs(1),
        },
    );
    server.set("/silent", Behaviour::Silent);
    server.set("/loop", Behaviour::Redirect("/loop".into()));
    server.set("/hangup", Behaviour::Hangup);
    server.set(
        "/html",
        Behaviour::ok("text/html; charset=utf-8", "<!DOCTYPE html><html><head><title>Rutte</title></head><body><p>Rutte: not a feed</p></body></html>"),
    );
    server.set("/pdf", Behaviour::ok("application/pdf", &pdf[..]));
    server.set("/binary", Behaviour::ok("application/octet-stream", binary));
    server.set("/empty", Behaviour::ok(RSS, Vec::new()));
    server.set("/no-content", Behaviour::status(204));
    server.set("/error", Behaviour::status(500));
    vec![
        (
            "/bomb",
            "too_large",
            "body larger than the 4194304-byte cap",
        ),
        (
            "/endless",
            "too_large",
            "body larger than the 4194304-byte cap",
        ),
        ("/trickle", "timeout", "no complete answer within 2s"),
        ("/silent", "timeout", "no complete answer within 2s"),
        ("/loop", "redirect", "more than 5 redirects"),
        (
            "/hangup",
            "connect",
            "connection closed before message completed",
        ),
        ("/html", "parse", "the response is an HTML page, not a feed"),
        (
            "/pdf",
            "parse",
            "the response is a PDF document (application/pdf",
        ),
        ("/binary", "parse", "the response is binary data"),
        ("/empty", "parse", "the server sent an empty body"),
        ("/no-content", "parse", "HTTP 204 No Content"),
        ("/error", "http_status", "HTTP 500"),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_hostile_feed_fails_alone_and_the_good_feed_still_alerts() {
    let hostile = HostileServer::start().await;
    let kinds = hostile_feeds(&hostile);
    let good = TestServer::start().await;
    good.set_feed(
        "/good.xml",
        rss(&[Item {
            guid: "good-1",
            title: "Rutte says peace talks must include Ukraine",
            body: "NATO Secretary General Mark Rutte said so on Friday.",
            date: Some(minutes_ago(3)),
        }]),
        None,
    );
    let mut feeds: Vec<(&str, String, bool)> = kinds
        .iter()
        .map(|(path, _, _)| (&path[1..], hostile.url(path), false))
        .collect();
    feeds.push(("good", good.url("/good.xml"), false));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), &feeds_section(&feeds), "max_body = \"4MiB\"");
    let store = Arc::new(Store::open_dir(&config.state_dir).expect("store"));
    let pipeline = Arc::new(Pipeline::new(config, store.clone()).expect("pipeline"));

    let started = Instant::now();
    let report = scheduler::run_once(&pipeline, false)
        .await
        .expect("the cycle completes");
    let took = started.elapsed();
    assert_eq!(report.failed, kinds.len(), "{report:?}");
    assert_eq!(report.alerts.len(), 1, "the good feed alerts");
    assert_eq!(report.alerts[0].feed.name, "good");
    assert_eq!(report.delivery.sent, 1);
    // Feeds are polled side by side: the slow ones cost their 2 s deadline once, not in sum.
    assert!(took < Duration::from_secs(30), "cycle took {took:?}");

    let states = store.feed_states().expect("states");
    for (path, kind, reason) in &kinds {
        let state = states.get(&hostile.url(path)).expect("state recorded");
        let error = state.last_error.clone().unwrap_or_default();
        assert_eq!(state.consecutive_failures, 1, "{path}: {error}");
        assert!(error.contains(reason), "{path} ({kind}): {error}");
        assert!(
            state.next_poll > jiff::Timestamp::now(),
            "{path}: retried later, with backoff"
        );
    }
    // A second cycle right away: the failing feeds are not due (backoff), the good one is
    // not due either; nothing breaks, nothing alerts twice.
    let again = scheduler::run_once(&pipeline, false).await.expect("cycle");
    assert_eq!(again.alerts.len(), 0, "{again:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_article_pages_fall_back_to_the_feed_text_with_the_reason() {
    let hostile = HostileServer::start().await;
    hostile_feeds(&hostile);
    let tls = HostileServer::bind(
        "127.0.0.1:0".parse().expect("addr"),
        Some(TlsIdentity::self_signed()),
    )
    .await;
    tls.set("/page", Behaviour::ok("text/html", "<p>never seen</p>"));
    let links = [
        ("bomb", hostile.url("/bomb.html"), "too short"),
        ("endless", hostile.url("/endless"), "not an HTML page"),
        ("trickle", hostile.url("/trickle"), "timeout"),
        ("silent", hostile.url("/silent"), "timeout"),
        ("loop", hostile.url("/loop"), "redirect"),
        ("pdf", hostile.url("/pdf"), "not an HTML page"),
        ("binary", hostile.url("/binary"), "not an HTML page"),
        ("empty", hostile.url("/empty"), "not an HTML page"),
        ("tls", tls.url("/page"), "tls"),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), "", "max_body = \"1MiB\"");
    let fetcher = Fetcher::new(&config.fetch).expect("fetcher");
    let headers = Default::default();
    let context = PageContext {
        settings: &config.extract,
        sites: &config.sites,
        feed: None,
        user_agent: "newshound-test",
        headers: &headers,
    };
    for (name, link, reason) in &links {
        let entry = Entry {
            key: format!("id:{name}"),
            title: Some(format!("Rutte statement {name}")),
            link: Some(link.clone()),
            summary: Some("Mark Rutte said peace talks must include Ukraine.".into()),
            ..Entry::default()
        };
        let started = Instant::now();
        let article = fetch_article(&fetcher, context, &entry).await;
        assert!(started.elapsed() < Duration::from_secs(30), "{name}");
        match &article.source {
            ArticleSource::Feed { reason: Some(why) } => {
                assert!(why.contains(reason), "{name}: {why}")
            }
            other => panic!("{name}: expected the feed's text, got {other:?}"),
        }
        assert!(
            article.text.contains("peace talks"),
            "{name}: {}",
            article.text
        );
    }

    // The same links in a real poll: every entry still alerts, on the feed's text.
    let good = TestServer::start().await;
    let items: Vec<String> = links
        .iter()
        .map(|(name, link, _)| entry(name, link))
        .collect();
    good.set_feed("/feed.xml", feed_of(&items), None);
    let config = config_for_poll(dir.path(), &good.url("/feed.xml"));
    let store = Arc::new(Store::open_in_memory().expect("store"));
    let pipeline = Arc::new(Pipeline::new(config, store).expect("pipeline"));
    let report = scheduler::run_once(&pipeline, false).await.expect("cycle");
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(report.alerts.len(), links.len(), "{report:?}");
}

fn config_for_poll(dir: &Path, url: &str) -> Config {
    let sub = dir.join("poll");
    std::fs::create_dir_all(&sub).expect("dir");
    config(
        &sub,
        &feeds_section(&[("articles", url.to_string(), true)]),
        "max_body = \"1MiB\"",
    )
}

#[test]
fn the_daemon_keeps_running_through_hostile_feeds_and_logs_each_reason() {
    let hostile = HostileServer::start_in_background();
    let kinds = hostile_feeds(&hostile);
    let good = TestServer::start_in_background();
    good.set_feed(
        "/good.xml",
        rss(&[Item {
            guid: "good-1",
            title: "Rutte says peace talks must include Ukraine",
            body: "NATO Secretary General Mark Rutte said so on Friday.",
            date: Some(minutes_ago(3)),
        }]),
        None,
    );
    let mut feeds: Vec<(&str, String, bool)> = kinds
        .iter()
        .map(|(path, _, _)| (&path[1..], hostile.url(path), false))
        .collect();
    feeds.push(("good", good.url("/good.xml"), false));
    let dir = tempfile::tempdir().expect("tempdir");
    let body = format!(
        "{}\n[fetch]\nmax_body = \"4MiB\"\nmax_backoff = \"2s\"\n",
        feeds_section(&feeds).replace("interval = \"1m\"", "interval = \"1s\"")
    );
    let path = write_config(dir.path(), &body);
    let log = std::fs::File::create(dir.path().join("log")).expect("log");
    let mut child = Daemon(
        std::process::Command::new(BIN)
            .args(["run", "--log-format", "human", "--config"])
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the daemon"),
    );
    // Long enough for every hostile feed to fail at least twice (2 s deadlines, 1 s
    // interval, backoff capped at 2 s).
    let deadline = Instant::now() + Duration::from_secs(60);
    let failed_twice = |text: &str| {
        kinds.iter().all(|(path, _, _)| {
            let span = format!("poll{{feed={}}}", &path[1..]);
            text.lines()
                .filter(|l| l.contains(&span) && l.contains("poll failed"))
                .count()
                >= 2
        })
    };
    loop {
        let text = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
        if failed_twice(&text) && !common::delivered(dir.path()).is_empty() {
            break;
        }
        assert!(
            child.0.try_wait().expect("wait").is_none(),
            "the daemon exited: {text}"
        );
        assert!(
            Instant::now() < deadline,
            "not every feed failed twice: {text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    unsafe_kill(child.0.id(), 15);
    let status = child.0.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    let text = std::fs::read_to_string(dir.path().join("log")).expect("log");
    for (path, kind, _) in &kinds {
        assert!(
            text.lines()
                .any(|l| l.contains("poll failed") && l.contains(&format!("kind=\"{kind}\""))),
            "{path}: no 'poll failed' line with kind={kind}"
        );
    }
    assert!(!text.contains("panicked"), "{text}");
    let alerts = common::delivered(dir.path());
    assert_eq!(alerts.len(), 1, "the good feed alerted once: {alerts:?}");
}

/// The daemon under test, killed if the test fails before stopping it.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn unsafe_kill(pid: u32, signal: i32) {
    // SAFETY: plain kill(2) on our own child.
    unsafe {
        libc::kill(pid as i32, signal);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poll_outcome_names_the_failure_kind() {
    let hostile = HostileServer::start().await;
    hostile.set("/pdf", Behaviour::ok("application/pdf", "%PDF-1.4"));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(
        dir.path(),
        &feeds_section(&[("pdf", hostile.url("/pdf"), false)]),
        "",
    );
    let store = Arc::new(Store::open_in_memory().expect("store"));
    let pipeline = Pipeline::new(config.clone(), store).expect("pipeline");
    let polled =
        scheduler::poll_feed(&pipeline, &config.feeds[0], None, jiff::Timestamp::now()).await;
    match polled.outcome {
        PollOutcome::Failed { kind, message } => {
            assert_eq!(kind, "parse");
            assert!(message.contains("not a parseable feed"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}
