//! The private-address guard in the whole pipeline: feed URLs, article links from a feed
//! (IP literals in every spelling, names resolving to loopback, a redirect from an allowed
//! "public" first hop to a private address) and webhook URLs all follow one allow-list
//! (`[fetch] allow_private`). Decoy servers listen on the refused addresses and must see
//! no connection at all, while the good feed next to the hostile one alerts.
//!
//! Names resolving to 10.x, 172.16/12 or 192.168/16 cannot be produced on loopback without
//! a DNS server; the resolver applies the same address table that the unit tests in
//! `src/fetch/guard.rs` check for every range, and `localhost` exercises that path here.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::hostile::{Behaviour, HostileServer};
use common::{Item, TestServer, minutes_ago, rss};
use newshound::config::Config;
use newshound::extract::ArticleSource;
use newshound::extract::page::{PageContext, fetch_article};
use newshound::feed::Entry;
use newshound::fetch::Fetcher;
use newshound::scheduler::{self, Pipeline};
use newshound::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_newshound");
const STORY: &str = include_str!("data/extract/story.html");
/// A sentence that is in the story page's body only.
const BODY_SENTENCE: &str = "the best chance in a year";

/// Writes a configuration exactly as given (no loopback allowance added) and loads it.
fn write(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("newshound.toml");
    std::fs::write(
        &path,
        format!("state_dir = \"state\"\n{body}\n[extract]\njitter = \"0s\"\nretries = 0\ntimeout = \"3s\"\n"),
    )
    .expect("write config");
    path
}

fn load(dir: &Path, body: &str) -> Config {
    newshound::config::load(&write(dir, body)).expect("valid config")
}

fn feed_section(name: &str, url: &str, scrape: bool) -> String {
    format!("[[feeds]]\nname = \"{name}\"\nurl = \"{url}\"\nscrape = {scrape}\n\n")
}

const RULE: &str =
    "[[rules]]\nname = \"rutte\"\nkeywords = [\"Rutte\", \"the best chance in a year\"]\n";

#[tokio::test(flavor = "multi_thread")]
async fn feed_urls_are_refused_on_private_addresses_unless_allow_listed() {
    let server = TestServer::start().await;
    server.set_feed(
        "/feed.xml",
        rss(&[Item {
            guid: "1",
            title: "Rutte on peace talks",
            body: "Mark Rutte said peace talks must include Ukraine.",
            date: Some(minutes_ago(2)),
        }]),
        None,
    );
    let port = server.addr.port();
    let urls = [
        format!("http://127.0.0.1:{port}/feed.xml"),
        format!("http://localhost:{port}/feed.xml"),
        format!("http://[::1]:{port}/feed.xml"),
        format!("http://2130706433:{port}/feed.xml"),
        format!("http://[::ffff:7f00:1]:{port}/feed.xml"),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let feeds: String = urls
        .iter()
        .enumerate()
        .map(|(i, url)| feed_section(&format!("feed{i}"), url, false))
        .collect();
    let config = load(dir.path(), &format!("{feeds}{RULE}"));
    let store = Arc::new(Store::open_in_memory().expect("store"));
    let pipeline = Arc::new(Pipeline::new(config, store.clone()).expect("pipeline"));
    let report = scheduler::run_once(&pipeline, false).await.expect("cycle");
    assert_eq!(report.failed, urls.len(), "{report:?}");
    assert!(report.alerts.is_empty());
    assert!(
        server.requests("/feed.xml").is_empty(),
        "no request got out"
    );
    let states = store.feed_states().expect("states");
    for url in &urls {
        let error = states[url].last_error.clone().unwrap_or_default();
        assert!(
            error.contains("refused by the private-address guard")
                && error.contains("allow it with [fetch] allow_private"),
            "{url}: {error}"
        );
    }

    // The same feeds with loopback allow-listed: the literal 127.0.0.1 spellings and the
    // name resolving to it are fetched; ::1 is still refused (not on the list).
    let config = load(
        dir.path(),
        &format!("{feeds}{RULE}\n[fetch]\nallow_private = [\"127.0.0.1/32\"]\n"),
    );
    let store = Arc::new(Store::open_in_memory().expect("store"));
    let pipeline = Arc::new(Pipeline::new(config, store.clone()).expect("pipeline"));
    let report = scheduler::run_once(&pipeline, false).await.expect("cycle");
    assert_eq!(report.failed, 1, "only [::1] fails: {report:?}");
    let states = store.feed_states().expect("states");
    assert!(
        states[&urls[2]]
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("private-address guard")
    );
}

/// Listeners on addresses the guard must refuse; any connection to them is a breach.
struct Decoys {
    servers: Vec<HostileServer>,
}

impl Decoys {
    async fn start(port_hint: u16) -> (Decoys, u16) {
        // The same port on 127.0.0.2 and [::1], so one URL template reaches either.
        for port in (port_hint..port_hint + 50).chain(std::iter::once(0)) {
            let v4: SocketAddr = format!("127.0.0.2:{port}").parse().expect("addr");
            let Ok(listener) = std::net::TcpListener::bind(v4) else {
                continue;
            };
            let port = listener.local_addr().expect("addr").port();
            let v6: SocketAddr = format!("[::1]:{port}").parse().expect("addr");
            if std::net::TcpListener::bind(v6).is_err() {
                continue;
            }
            drop(listener);
            let servers = vec![
                HostileServer::bind(v4, None).await,
                HostileServer::bind(v6, None).await,
            ];
            for server in &servers {
                server.set("/secret", Behaviour::ok("text/html", STORY));
            }
            return (Decoys { servers }, port);
        }
        panic!("no free port on 127.0.0.2 and ::1");
    }

    fn connections(&self) -> usize {
        self.servers.iter().map(HostileServer::connections).sum()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn article_links_to_private_addresses_are_refused_and_contained() {
    let good = TestServer::start().await;
    let (decoys, port) = Decoys::start(good.addr.port().wrapping_add(7).max(20000)).await;
    good.set_page("/story", STORY, "text/html; charset=utf-8");
    // "Public-looking" first hops (127.0.0.1 is what this test allows) that redirect to
    // private addresses.
    for (path, target) in [
        ("/go/loopback", format!("http://127.0.0.2:{port}/secret")),
        (
            "/go/metadata",
            "http://169.254.169.254/latest/meta-data/".to_string(),
        ),
        ("/go/decimal", format!("http://2130706434:{port}/secret")),
        ("/go/v6", format!("http://[::1]:{port}/secret")),
        (
            "/go/mapped",
            format!("http://[::ffff:127.0.0.2]:{port}/secret"),
        ),
    ] {
        good.set(
            path,
            common::Resource {
                moved_to: Some(target),
                ..common::Resource::default()
            },
        );
    }
    let hostile_links: Vec<String> = [
        format!("http://127.0.0.2:{port}/secret"),
        format!("http://[::1]:{port}/secret"),
        "http://10.0.0.1/admin".to_string(),
        "http://172.16.5.4/".to_string(),
        "http://192.168.1.1/".to_string(),
        "http://100.64.0.1/".to_string(),
        "http://169.254.169.254/latest/meta-data/iam/".to_string(),
        "http://[fc00::1]/".to_string(),
        "http://[fd12:3456::1]/".to_string(),
        "http://[fe80::1]/".to_string(),
        format!("http://2130706434:{port}/secret"),
        format!("http://0177.0.0.2:{port}/secret"),
        format!("http://0x7f.0.0.2:{port}/secret"),
        format!("http://127.2:{port}/secret"),
        format!("http://[::ffff:127.0.0.2]:{port}/secret"),
        "http://[::ffff:a9fe:a9fe]/latest/meta-data/".to_string(),
        "http://[64:ff9b::a9fe:a9fe]/".to_string(),
        "http://0.0.0.0/".to_string(),
        good.url("/go/loopback"),
        good.url("/go/metadata"),
        good.url("/go/decimal"),
        good.url("/go/v6"),
        good.url("/go/mapped"),
    ]
    .into_iter()
    .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = load(
        dir.path(),
        &format!(
            "{}{RULE}\n[fetch]\nallow_private = [\"127.0.0.1/32\"]\n",
            feed_section("hostile", &good.url("/hostile.xml"), true)
                + &feed_section("good", &good.url("/good.xml"), true)
        ),
    );

    // Each link alone: the page is refused and the entry's own text is used, with the
    // guard's reason.
    let fetcher = Fetcher::new(&config.fetch).expect("fetcher");
    let headers = Default::default();
    let context = PageContext {
        settings: &config.extract,
        sites: &config.sites,
        feed: None,
        user_agent: "newshound-test",
        headers: &headers,
    };
    for (i, link) in hostile_links.iter().enumerate() {
        let entry = Entry {
            key: format!("id:{i}"),
            title: Some("Rutte statement".into()),
            link: Some(link.clone()),
            summary: Some("Mark Rutte said peace talks must include Ukraine.".into()),
            ..Entry::default()
        };
        let article = fetch_article(&fetcher, context, &entry).await;
        match &article.source {
            ArticleSource::Feed {
                reason: Some(reason),
            } => assert!(
                reason.starts_with("blocked") && reason.contains("private-address guard"),
                "{link}: {reason}"
            ),
            other => panic!("{link} was not refused: {other:?}"),
        }
    }

    // All of them in one feed next to a good one, in a real cycle.
    let items: String = hostile_links
        .iter()
        .enumerate()
        .map(|(i, link)| {
            format!(
                "<item><title>Rutte statement {i}</title><link>{}</link><guid>h{i}</guid><pubDate>{}</pubDate><description>Mark Rutte said peace talks must include Ukraine ({i}).</description></item>",
                format!("{link}?item={i}").replace('&', "&amp;"),
                minutes_ago(4)
            )
        })
        .collect();
    good.set_feed(
        "/hostile.xml",
        format!("<rss version=\"2.0\"><channel><title>H</title>{items}</channel></rss>"),
        None,
    );
    good.set_feed(
        "/good.xml",
        format!(
            "<rss version=\"2.0\"><channel><title>G</title><item><title>Rutte visit</title><link>{}</link><guid>g1</guid><pubDate>{}</pubDate><description>Short teaser about Rutte.</description></item></channel></rss>",
            good.url("/story"),
            minutes_ago(3)
        ),
        None,
    );
    let store = Arc::new(Store::open_in_memory().expect("store"));
    let pipeline = Arc::new(Pipeline::new(config, store).expect("pipeline"));
    let report = scheduler::run_once(&pipeline, false).await.expect("cycle");
    assert_eq!(report.failed, 0, "{report:?}");
    let titles: Vec<_> = report
        .alerts
        .iter()
        .map(|a| a.article.title.clone().unwrap_or_default())
        .collect();
    assert_eq!(report.alerts.len(), hostile_links.len() + 1, "{titles:?}");
    let good_alert = report
        .alerts
        .iter()
        .find(|a| a.feed.name == "good")
        .expect("the good feed alerts");
    // It matched on a sentence found only in the article page.
    let evidence = serde_json::to_string(&good_alert.evidence).expect("json");
    assert!(evidence.contains(BODY_SENTENCE), "{evidence}");
    assert!(
        !good.requests("/story").is_empty(),
        "the allowed page was fetched"
    );
    // Give a late connection a moment to show up, then check nobody reached the decoys.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(decoys.connections(), 0, "a refused address was contacted");
}

#[test]
fn newshound_feed_takes_a_config_for_its_allow_list() {
    let server = TestServer::start_in_background();
    server.set_feed(
        "/feed.xml",
        rss(&[Item {
            guid: "1",
            title: "Intranet bulletin",
            body: "Internal news.",
            date: None,
        }]),
        None,
    );
    let url = server.url("/feed.xml");
    let output = Command::new(BIN)
        .args(["feed", &url])
        .output()
        .expect("run feed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("private-address guard"), "{stderr}");
    assert!(
        stderr.contains("--config"),
        "the hint names the flag: {stderr}"
    );
    assert!(server.requests("/feed.xml").is_empty());

    let dir = tempfile::tempdir().expect("tempdir");
    let config = common::write_config(dir.path(), "");
    let output = Command::new(BIN)
        .args(["feed", &url, "--config"])
        .arg(&config)
        .output()
        .expect("run feed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Intranet bulletin"), "{stdout}");
}

fn webhook_config(url: &str, allow: &str) -> String {
    format!(
        "[delivery]\nretry_base = \"50ms\"\nretry_max = \"100ms\"\n\n[[destinations]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{url}\"\n\n[fetch]\n{allow}\n"
    )
}

/// A receiver on 127.0.0.1 and, where the machine has IPv6, on [::1] with the same port, so
/// that "localhost:port" reaches it whichever address the resolver gives first: another test
/// running beside this one may listen on [::1] with the port 127.0.0.1 gave us.
async fn localhost_receiver() -> Vec<HostileServer> {
    loop {
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = v4.local_addr().expect("addr").port();
        let v6: SocketAddr = format!("[::1]:{port}").parse().expect("addr");
        let v6_free = match std::net::TcpListener::bind(v6) {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(_) => false, // no IPv6 loopback: localhost is 127.0.0.1 only
        };
        let v4_addr = v4.local_addr().expect("addr");
        drop(v4);
        let mut receivers = vec![HostileServer::bind(v4_addr, None).await];
        if v6_free {
            receivers.push(HostileServer::bind(v6, None).await);
        }
        return receivers;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_urls_follow_the_same_allow_list() {
    let receivers = localhost_receiver().await;
    for receiver in &receivers {
        receiver.set("/hook", Behaviour::ok("application/json", "{\"ok\":true}"));
    }
    let port = receivers[0].addr.port();
    let dir = tempfile::tempdir().expect("tempdir");

    // An IP literal the guard refuses is a configuration error, located, with the fix.
    let path = write(
        dir.path(),
        &webhook_config(&format!("http://127.0.0.1:{port}/hook"), ""),
    );
    let output = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("newshound.toml:"), "located: {stderr}");
    assert!(stderr.contains("private-address guard"), "{stderr}");
    assert!(
        stderr.contains("add \"127.0.0.1\" to `allow_private` in [fetch]"),
        "{stderr}"
    );

    // A name resolving to loopback passes the configuration check but is refused when
    // delivering; the alert stays queued with the reason, nothing reaches the receiver.
    let url = format!("http://localhost:{port}/hook");
    let config = load(dir.path(), &webhook_config(&url, ""));
    let store = Store::open_in_memory().expect("store");
    let deliverer = newshound::deliver::Deliverer::new(&config).expect("deliverer");
    let message = newshound::deliver::sample_alert("hook", jiff::Timestamp::now());
    let key = message.alert.id.clone();
    store
        .enqueue(
            &[message.alert.to_outbox().expect("row")],
            jiff::Timestamp::now(),
        )
        .expect("enqueue");
    let report = deliverer.deliver_due(&store).await.expect("pass");
    assert_eq!((report.sent, report.retried), (0, 1), "{report:?}");
    let item = store.outbox_item(&key).expect("read").expect("kept");
    assert_eq!(item.status_text(), "queued");
    let error = item.last_error.unwrap_or_default();
    assert!(error.contains("private-address guard"), "{error}");
    assert!(!error.contains("/hook"), "the URL is never logged: {error}");
    assert_eq!(receivers.iter().map(|r| r.connections()).sum::<usize>(), 0);

    // Allow-listing the host (a local ntfy or Gotify) makes it work.
    let config = load(
        dir.path(),
        &webhook_config(&url, "allow_private = [\"localhost\"]"),
    );
    let deliverer = newshound::deliver::Deliverer::new(&config).expect("deliverer");
    tokio::time::sleep(Duration::from_millis(150)).await;
    let report = deliverer.deliver_due(&store).await.expect("pass");
    assert_eq!(report.sent, 1, "{report:?}");
    // A receiver records a request once its answer is out and the connection shut down,
    // which can be after the deliverer has read the answer: wait for the record.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let hits = loop {
        let hits: usize = receivers.iter().map(|r| r.hits("/hook").len()).sum();
        if hits > 0 || std::time::Instant::now() > deadline {
            break hits;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(hits, 1);
}
