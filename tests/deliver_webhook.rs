//! Webhook delivery against real HTTP receivers on loopback: Standard Webhooks signatures,
//! the versioned generic payload, retries with the same `webhook-id` until delivered once,
//! `Retry-After`, `410 Gone` disabling the endpoint, the exact shapes of the chat presets,
//! and `deliver-test`.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::Method;
use common::receiver::Receiver;
use common::{Item, TestServer, minutes_ago, rss, write_config};
use newshound::deliver::signing::Signer;
use newshound::deliver::{Outgoing, Sink, sample_alert};
use newshound::scheduler::{self, Pipeline};
use newshound::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_newshound");
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn pipeline(config_path: &Path) -> Arc<Pipeline> {
    let config = newshound::config::load(config_path).expect("valid config");
    let store = Arc::new(Store::open_dir(&config.state_dir).expect("store"));
    Arc::new(Pipeline::new(config, store).expect("pipeline"))
}

fn hook_config(dir: &Path, feed_url: &str, destination: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("hook-secret"), SECRET).expect("secret file");
    write_config(
        dir,
        &format!(
            r#"
[delivery]
retry_base = "50ms"
retry_max = "100ms"

[[feeds]]
name = "Wire"
url = "{feed_url}"
scrape = false

[[rules]]
name = "peace"
keywords = ["Rutte"]

{destination}
"#
        ),
    )
}

async fn feed_with_one_alert() -> TestServer {
    let server = TestServer::start().await;
    server.set_feed(
        "/feed.xml",
        rss(&[Item {
            guid: "1",
            title: "Rutte urges peace talks",
            body: "NATO's Mark Rutte spoke in Brussels.",
            date: Some(minutes_ago(5)),
        }]),
        None,
    );
    server
}

#[tokio::test(flavor = "multi_thread")]
async fn the_generic_webhook_is_signed_and_carries_the_versioned_alert() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start().await;
    let server = feed_with_one_alert().await;
    let config = hook_config(
        dir.path(),
        &server.url("/feed.xml"),
        &format!(
            "[[destinations]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\nsecret_file = \"hook-secret\"\ngithub_signature = true\nheaders = {{ \"X-Team\" = \"desk\" }}\n",
            receiver.url("/hooks/newshound")
        ),
    );
    let p = pipeline(&config);
    let report = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(report.delivery.sent, 1, "{report:?}");
    let got = receiver.got();
    assert_eq!(got.len(), 1);
    let request = &got[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path, "/hooks/newshound");
    let id = request.header("webhook-id");
    assert_eq!(id, report.alerts[0].id);
    let timestamp: i64 = request
        .header("webhook-timestamp")
        .parse()
        .expect("timestamp");
    assert!((timestamp - jiff::Timestamp::now().as_second()).abs() < 60);
    let signer = Signer::new(SECRET).expect("secret");
    assert!(signer.verify(
        id,
        timestamp,
        &request.body,
        request.header("webhook-signature")
    ));
    assert!(!signer.verify(id, timestamp, b"{}", request.header("webhook-signature")));
    assert_eq!(
        request.header("x-hub-signature-256"),
        newshound::deliver::signing::github_signature(SECRET.as_bytes(), &request.body)
    );
    assert_eq!(request.header("x-team"), "desk");
    assert_eq!(request.header("content-type"), "application/json");
    assert!(request.header("user-agent").starts_with("newshound/"));
    let body = request.json();
    assert_eq!(body["type"], "alert.matched");
    assert_eq!(body["data"]["schema"], 2);
    assert_eq!(body["data"]["id"], id);
    assert_eq!(body["data"]["rule"], "peace");
    assert_eq!(body["data"]["article"]["title"], "Rutte urges peace talks");
    assert_eq!(body["data"]["evidence"][0]["kind"], "term");
    assert_eq!(body["data"]["also_reported_by"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_endpoint_gets_the_same_webhook_id_until_it_is_delivered_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start().await;
    receiver.answer(500, &[], "oops", 2);
    receiver.answer(503, &[], "", 1);
    let server = feed_with_one_alert().await;
    let config = hook_config(
        dir.path(),
        &server.url("/feed.xml"),
        &format!(
            "[[destinations]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\nsecret_file = \"hook-secret\"\n",
            receiver.url("/h")
        ),
    );
    let p = pipeline(&config);
    let first = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!((first.delivery.sent, first.delivery.retried), (0, 1));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut sent = 0;
    while sent == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(60)).await;
        sent += p.deliverer.deliver_due(&p.store).await.expect("pass").sent;
    }
    assert_eq!(sent, 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        p.deliverer.deliver_due(&p.store).await.expect("pass").sent,
        0
    );
    let got = receiver.got();
    assert_eq!(got.len(), 4, "three failures, one success, nothing after");
    let ids: Vec<&str> = got.iter().map(|g| g.header("webhook-id")).collect();
    assert!(ids.iter().all(|id| *id == first.alerts[0].id), "{ids:?}");
    assert!(
        got.iter().all(|g| g.body == got[0].body),
        "retries send identical bodies"
    );
    let signer = Signer::new(SECRET).expect("secret");
    for g in &got {
        let ts: i64 = g.header("webhook-timestamp").parse().expect("timestamp");
        assert!(signer.verify(
            g.header("webhook-id"),
            ts,
            &g.body,
            g.header("webhook-signature")
        ));
    }
    let item = p
        .store
        .outbox_item(&first.alerts[0].id)
        .expect("read")
        .expect("item");
    assert_eq!((item.status_text(), item.attempts), ("sent", 4));
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_is_honoured_and_410_disables_the_endpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start().await;
    let config = hook_config(
        dir.path(),
        "https://feeds.example/none.xml",
        &format!(
            "[[destinations]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n",
            receiver.url("/h")
        ),
    );
    let common::ClockedDelivery {
        store,
        start,
        clock,
        deliverer,
    } = common::clocked_delivery(&config);
    let enqueue = |n: usize| common::enqueue_sample_alert(&store, "hook", start, n);
    enqueue(1);
    receiver.answer(429, &[("retry-after", "120")], "slow down", 1);
    let first = deliverer.deliver_due(&store).await.expect("pass");
    assert_eq!(first.retried, 1);
    // The configured backoff (50 ms) is far shorter; the receiver's 120 s wins.
    clock.advance(Duration::from_secs(119));
    assert_eq!(deliverer.deliver_due(&store).await.expect("pass").sent, 0);
    assert_eq!(
        receiver.got().len(),
        1,
        "not asked again before Retry-After"
    );
    clock.advance(Duration::from_secs(2));
    assert_eq!(deliverer.deliver_due(&store).await.expect("pass").sent, 1);
    assert_eq!(receiver.got().len(), 2);

    // 410 Gone: the alert is dead, the endpoint disabled, later alerts are not sent to it.
    enqueue(2);
    receiver.answer(410, &[], "this hook was deleted", 1);
    let gone = deliverer.deliver_due(&store).await.expect("pass");
    assert_eq!(gone.dead, 1);
    assert!(store.disabled_endpoint("hook").expect("read").is_some());
    enqueue(3);
    let after = deliverer.deliver_due(&store).await.expect("pass");
    assert_eq!(after.dead, 1);
    assert_eq!(receiver.got().len(), 3, "no request after the 410");
    let dead = store
        .outbox_item("nh_alert_3")
        .expect("read")
        .expect("item");
    assert!(dead.last_error.unwrap_or_default().contains("disabled"));
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_presets_send_the_exact_payload_shapes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start().await;
    std::fs::write(dir.path().join("token"), "123:SECRET-TOKEN\n").expect("token");
    let r = |path: &str| receiver.url(path);
    let destinations = format!(
        r#"
[[destinations]]
name = "slack"
type = "webhook"
preset = "slack"
url_file = "slack-url"

[[destinations]]
name = "discord"
type = "webhook"
preset = "discord"
url_file = "discord-url"

[[destinations]]
name = "teams"
type = "webhook"
preset = "teams"
url_file = "teams-url"

[[destinations]]
name = "mattermost"
type = "webhook"
preset = "mattermost"
url_file = "mattermost-url"
channel = "news"

[[destinations]]
name = "matrix"
type = "webhook"
preset = "matrix"
url = "{matrix}"
room_id = "!room:example.org"
token_file = "token"

[[destinations]]
name = "ntfy"
type = "webhook"
preset = "ntfy"
url = "{ntfy}"
topic = "alerts"

[[destinations]]
name = "gotify"
type = "webhook"
preset = "gotify"
url = "{gotify}"
token_file = "token"

[[destinations]]
name = "telegram"
type = "webhook"
preset = "telegram"
url = "{telegram}"
token_file = "token"
chat_id = "-1001234567890"
message_thread_id = 42
"#,
        matrix = r("/matrix"),
        ntfy = r("/ntfy"),
        gotify = r("/gotify"),
        telegram = r("/telegram"),
    );
    for (name, path) in [
        ("slack", "/slack"),
        ("discord", "/discord"),
        ("teams", "/teams"),
        ("mattermost", "/mattermost"),
    ] {
        std::fs::write(dir.path().join(format!("{name}-url")), r(path)).expect("url file");
    }
    let config = hook_config(dir.path(), "https://feeds.example/none.xml", &destinations);
    let config = newshound::config::load(&config).expect("config");
    let mut message = sample_alert("x", jiff::Timestamp::now());
    message.alert.article.title = Some("Rutte <!channel> @everyone & <b>allies</b>".into());
    let key = message.alert.id.clone();
    let outgoing = Outgoing::Alert(Box::new(message));
    for destination in &config.destinations {
        let sink = Sink::from_config(&config, destination).expect("sink");
        let receipt = sink.deliver(&outgoing).await.expect("accepted");
        assert!(receipt.answer.starts_with("HTTP 200"), "{}", receipt.answer);
    }
    let got = receiver.got();
    let by_path = |prefix: &str| {
        got.iter()
            .find(|g| g.path.starts_with(prefix))
            .cloned()
            .expect(prefix)
    };

    let slack = by_path("/slack").json();
    let text = slack["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(slack["blocks"][0]["type"], "section");
    assert_eq!(slack["blocks"][0]["text"]["type"], "mrkdwn");
    assert!(
        text.contains("&lt;!channel&gt;") && !text.contains("<!channel>"),
        "{text}"
    );
    assert!(text.contains("|Test: Rutte"), "linked title: {text}");
    assert!(
        slack["text"]
            .as_str()
            .is_some_and(|t| !t.contains("<!channel>"))
    );

    let discord = by_path("/discord");
    assert_eq!(discord.query, "wait=true");
    let body = discord.json();
    assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
    assert_eq!(body["embeds"][0]["url"], "https://newshound.invalid/test");
    assert_eq!(body["embeds"][0]["fields"][1]["name"], "Rule");

    let teams = by_path("/teams").json();
    assert_eq!(teams["type"], "message");
    let card = &teams["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["type"], "AdaptiveCard");
    assert_eq!(card["content"]["version"], "1.4");

    let mattermost = by_path("/mattermost").json();
    assert_eq!(mattermost["channel"], "news");
    assert!(
        mattermost["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("#### [Test: Rutte"))
    );

    let matrix = by_path("/matrix");
    assert_eq!(matrix.method, Method::PUT);
    assert_eq!(
        matrix.path,
        format!("/matrix/_matrix/client/v3/rooms/%21room%3Aexample.org/send/m.room.message/{key}")
    );
    assert_eq!(matrix.header("authorization"), "Bearer 123:SECRET-TOKEN");
    let body = matrix.json();
    assert_eq!(body["msgtype"], "m.notice");
    assert_eq!(body["format"], "org.matrix.custom.html");
    assert!(
        body["formatted_body"]
            .as_str()
            .is_some_and(|h| h.contains("&lt;b&gt;allies"))
    );

    let ntfy = by_path("/ntfy").json();
    assert_eq!(ntfy["topic"], "alerts");
    assert_eq!(ntfy["click"], "https://newshound.invalid/test");
    assert_eq!(ntfy["actions"][0]["action"], "view");

    let gotify = by_path("/gotify");
    assert_eq!(gotify.path, "/gotify/message");
    assert_eq!(gotify.header("x-gotify-key"), "123:SECRET-TOKEN");
    assert_eq!(
        gotify.json()["extras"]["client::display"]["contentType"],
        "text/plain"
    );

    let telegram = by_path("/telegram");
    assert_eq!(telegram.path, "/telegram/bot123:SECRET-TOKEN/sendMessage");
    let body = telegram.json();
    assert_eq!(body["parse_mode"], "HTML");
    assert_eq!(body["chat_id"], "-1001234567890");
    assert_eq!(body["message_thread_id"], 42);
    assert_eq!(body["link_preview_options"]["is_disabled"], true);
    let text = body["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("&lt;b&gt;allies&lt;/b&gt;") && text.contains("&amp;"),
        "{text}"
    );
    assert!(
        text.starts_with("<b><a href=\"https://newshound.invalid/test\">"),
        "{text}"
    );
    // Every request carries the alert id, the same one each service de-duplicates on.
    assert!(got.iter().all(|g| g.header("webhook-id") == key));
}

#[test]
fn deliver_test_reports_exactly_what_the_server_answered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start_in_background();
    let config = hook_config(
        dir.path(),
        "https://feeds.example/none.xml",
        &format!(
            "[[destinations]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\nsecret_file = \"hook-secret\"\n",
            receiver.url("/h")
        ),
    );
    receiver.answer(202, &[], "queued as 77", 1);
    let run = || {
        Command::new(BIN)
            .args(["deliver-test", "--config"])
            .arg(&config)
            .args(["--destination", "hook"])
            .output()
            .expect("run deliver-test")
    };
    let ok = run();
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("accepted: HTTP 202 Accepted: queued as 77"),
        "{stdout}"
    );
    assert_eq!(receiver.got()[0].json()["type"], "alert.test");

    receiver.answer(404, &[], "no such hook", 1);
    let refused = run();
    let stdout = String::from_utf8_lossy(&refused.stdout);
    assert_eq!(refused.status.code(), Some(69), "{stdout}");
    assert!(
        stdout.contains("HTTP 404") && stdout.contains("no such hook"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_still_failing_after_the_maximum_age_is_dead_not_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start().await;
    receiver.answer(503, &[], "down for maintenance", 100);
    let config = hook_config(
        dir.path(),
        "https://feeds.example/none.xml",
        &format!(
            "[[destinations]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n",
            receiver.url("/h")
        ),
    )
    .to_path_buf();
    std::fs::write(
        &config,
        std::fs::read_to_string(&config).expect("read").replace(
            "retry_base = \"50ms\"",
            "retry_base = \"50ms\"\nmax_age = \"2h\"",
        ),
    )
    .expect("write");
    let common::ClockedDelivery {
        store,
        start,
        clock,
        deliverer,
    } = common::clocked_delivery(&config);
    let message = sample_alert("hook", start);
    let key = message.alert.id.clone();
    store
        .enqueue(&[message.alert.to_outbox().expect("row")], start)
        .expect("enqueue");
    let mut attempts = 0;
    for _ in 0..10 {
        let report = deliverer.deliver_due(&store).await.expect("pass");
        attempts += report.retried + report.dead;
        if report.dead == 1 {
            break;
        }
        clock.advance(Duration::from_secs(30 * 60));
    }
    let item = store.outbox_item(&key).expect("read").expect("kept");
    assert_eq!(item.status_text(), "dead");
    assert!(item.last_error.unwrap_or_default().contains("503"));
    assert_eq!(
        receiver.got().len(),
        attempts,
        "every attempt reached the receiver"
    );
    let counts = store.outbox_counts().expect("counts");
    assert_eq!(counts.get("hook").map(|c| (c.queued, c.dead)), Some((0, 1)));
}
