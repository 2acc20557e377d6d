//! One story, one alert, end to end on loopback feeds: tracking-parameter and AMP variants of
//! a link alert once, wire copy republished by another outlet is folded into the first
//! alert, and the same text after the de-duplication window alerts again.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestServer, delivered, minutes_ago, write_config};
use newshound::scheduler::{self, Pipeline};
use newshound::store::Store;

fn pipeline(config_path: &std::path::Path) -> Arc<Pipeline> {
    let config = newshound::config::load(config_path).expect("valid config");
    let store = Arc::new(Store::open_dir(&config.state_dir).expect("store"));
    Arc::new(Pipeline::new(config, store).expect("pipeline"))
}

/// An RSS document with one item and a link of our choosing.
fn item_feed(guid: &str, title: &str, link: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>t</title><link>https://x.example/</link>\
         <item><title>{title}</title><link>{link}</link><guid>{guid}</guid><pubDate>{}</pubDate><description>{body}</description></item>\
         </channel></rss>\n",
        minutes_ago(5)
    )
}

fn two_feeds(server: &TestServer, extra: &str) -> String {
    format!(
        r#"
{extra}

[[feeds]]
name = "Outlet A"
url = "{}"
scrape = false

[[feeds]]
name = "Outlet B"
url = "{}"
scrape = false

[[rules]]
name = "peace"
keywords = ["peace talks"]
"#,
        server.url("/a.xml"),
        server.url("/b.xml")
    )
}

const WIRE: &str = "NATO Secretary General Mark Rutte said on Thursday that any peace talks must \
    include Ukraine at the table, speaking to reporters in Brussels after a meeting of foreign \
    ministers. He added that allies would keep supplying air defence through the winter.";

#[tokio::test(flavor = "multi_thread")]
async fn tracking_and_amp_variants_of_one_link_alert_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start().await;
    server.set_feed(
        "/a.xml",
        item_feed(
            "a1",
            "Peace talks",
            "https://www.news.example/world/talks?utm_source=rss&amp;utm_medium=feed",
            "short",
        ),
        None,
    );
    server.set_feed(
        "/b.xml",
        item_feed(
            "b1",
            "Peace talks (AMP)",
            "https://news.example/amp/world/talks#top",
            "other words",
        ),
        None,
    );
    let config = write_config(dir.path(), &two_feeds(&server, ""));
    let p = pipeline(&config);
    let report = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(report.alerts.len(), 2, "both entries matched");
    assert_eq!(report.queued, 1, "one story key, one alert");
    assert_eq!(report.alerts[0].story, "https://news.example/world/talks");
    assert_eq!(delivered(dir.path()).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn republished_wire_copy_is_folded_into_the_first_alert() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start().await;
    server.set_feed(
        "/a.xml",
        item_feed("a1", "Rutte on peace talks", "https://a.example/1", WIRE),
        None,
    );
    let config = write_config(dir.path(), &two_feeds(&server, ""));
    let p = pipeline(&config);
    scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(delivered(dir.path()).len(), 1);
    // Later, another outlet republishes the same copy with a different headline and link.
    server.set_feed(
        "/b.xml",
        item_feed(
            "b1",
            "NATO chief: peace talks need Kyiv",
            "https://b.example/7",
            &format!("{WIRE} (AP)"),
        ),
        None,
    );
    let second = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(second.queued, 1);
    assert_eq!(second.delivery.duplicates, 1, "{:?}", second.delivery);
    assert_eq!(second.delivery.sent, 0);
    assert_eq!(delivered(dir.path()).len(), 1, "no second alert");
    let counts = p.store.outbox_counts().expect("counts");
    let local = counts.get("local").cloned().unwrap_or_default();
    assert_eq!((local.sent, local.duplicates), (1, 1));
    let first_key = &delivered(dir.path())[0]["id"];
    let folded = p
        .store
        .duplicates_of(first_key.as_str().unwrap_or_default())
        .expect("read");
    assert_eq!(folded.len(), 1, "listed under the first alert");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_text_after_the_window_alerts_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start().await;
    server.set_feed(
        "/a.xml",
        item_feed("a1", "Rutte on peace talks", "https://a.example/1", WIRE),
        None,
    );
    let config = write_config(
        dir.path(),
        &two_feeds(&server, "[delivery]\ndedupe_window = \"1s\""),
    );
    let p = pipeline(&config);
    scheduler::run_once(&p, false).await.expect("cycle");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    server.set_feed(
        "/b.xml",
        item_feed("b1", "Peace talks again", "https://b.example/7", WIRE),
        None,
    );
    let second = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!((second.delivery.sent, second.delivery.duplicates), (1, 0));
    assert_eq!(delivered(dir.path()).len(), 2);
}
