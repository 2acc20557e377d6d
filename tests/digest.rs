//! Digests end to end with an injectable clock and a Maildir transport: the schedule follows
//! the destination's time zone across a DST change, a digest missed while the daemon was down
//! is sent once at start, empty digests are skipped unless configured, routing sends a rule
//! instantly and/or into the digest, and the `digest --preview/--now` command.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{Item, TestServer, minutes_ago, rss, write_config};
use jiff::Timestamp;
use mail_parser::MessageParser;
use newshound::alerts::{Alert, similar};
use newshound::deliver::{Deliverer, ManualClock, sample_alert};
use newshound::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_newshound");

fn at(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

fn digest_config(dir: &Path, destination_extra: &str) -> PathBuf {
    write_config(
        dir,
        &format!(
            r#"
[[rules]]
name = "peace"
keywords = ["peace"]

[[rules]]
name = "urgent"
keywords = ["Rutte"]

[[destinations]]
name = "desk"
type = "email"
from = "newshound <alerts@example.org>"
to = ["desk@example.org"]
maildir = "mail"
{destination_extra}
"#
        ),
    )
}

struct Setup {
    store: Store,
    deliverer: Deliverer,
    clock: Arc<ManualClock>,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

fn setup(destination_extra: &str, start: Timestamp) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = digest_config(dir.path(), destination_extra);
    let config = newshound::config::load(&path).expect("config");
    let store = Store::open_dir(&config.state_dir).expect("store");
    let clock = Arc::new(ManualClock::new(start));
    let deliverer = Deliverer::new(&config)
        .expect("deliverer")
        .with_clock(clock.clone());
    Setup {
        store,
        deliverer,
        clock,
        maildir: dir.path().join("mail"),
        _dir: dir,
    }
}

fn alert(rule: &str, n: u32, feed: &str, title: &str, text: &str, created: Timestamp) -> Alert {
    let mut alert = sample_alert("desk", created).alert;
    alert.id = format!("nh_{rule}_{n}");
    alert.rule = rule.to_string();
    alert.story = format!("https://{feed}.example/{n}");
    alert.feed.name = feed.to_string();
    alert.article.title = Some(title.to_string());
    alert.article.link = Some(format!("https://{feed}.example/{n}"));
    alert.article.excerpt = text.to_string();
    alert.sketch = similar::sketch(text);
    alert
}

fn enqueue(store: &Store, alerts: &[Alert], at: Timestamp) {
    let rows: Vec<_> = alerts.iter().map(|a| a.to_outbox().expect("row")).collect();
    store.enqueue(&rows, at).expect("enqueue");
}

fn mails(maildir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(maildir.join("new"))
        .map(|e| e.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    files
        .iter()
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).expect("read")).to_string())
        .collect()
}

fn subject(raw: &str) -> String {
    MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_default()
}

fn text(raw: &str) -> String {
    MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.body_text(0).map(|t| t.to_string()))
        .unwrap_or_default()
}

const WIRE: &str = "NATO Secretary General Mark Rutte said on Thursday that any peace talks must \
    include Ukraine at the table, speaking to reporters in Brussels after a meeting of foreign \
    ministers, and that allies would keep supplying air defence through the winter.";

#[tokio::test(flavor = "multi_thread")]
async fn a_daily_digest_follows_kyiv_time_across_the_spring_forward() {
    // 03:30 does not exist in Kyiv on 2026-03-29 (03:00 EET → 04:00 EEST).
    let s = setup(
        "digest = { schedule = \"daily 03:30\", time_zone = \"Europe/Kyiv\" }",
        at("2026-03-28T12:00:00Z"),
    );
    let first = s.deliverer.deliver_due(&s.store).await.expect("pass");
    assert_eq!(first.digests, 0, "the schedule starts now");
    let created = at("2026-03-28T12:05:00Z");
    enqueue(
        &s.store,
        &[
            alert(
                "peace",
                1,
                "outlet-a",
                "Rutte: Ukraine at the table",
                WIRE,
                created,
            ),
            alert(
                "peace",
                2,
                "outlet-b",
                "NATO chief on peace talks",
                &format!("{WIRE} (Reuters)"),
                created + jiff::SignedDuration::from_mins(1),
            ),
            alert(
                "urgent",
                3,
                "outlet-c",
                "Rutte visits Kyiv",
                "He met the president in Kyiv on Saturday morning to talk about air defence.",
                created,
            ),
        ],
        created,
    );
    s.clock.set(at("2026-03-28T12:10:00Z"));
    let routed = s.deliverer.deliver_due(&s.store).await.expect("pass");
    assert_eq!((routed.sent, routed.digests), (0, 0), "held for the digest");
    assert!(mails(&s.maildir).is_empty());

    // 04:29:59 EEST: not yet.
    s.clock.set(at("2026-03-29T01:29:59Z"));
    assert_eq!(
        s.deliverer
            .deliver_due(&s.store)
            .await
            .expect("pass")
            .digests,
        0
    );
    // 04:30 EEST, the first instant after the gap: the digest goes out, once.
    s.clock.set(at("2026-03-29T01:30:00Z"));
    let due = s.deliverer.deliver_due(&s.store).await.expect("pass");
    assert_eq!((due.digests, due.sent), (1, 1));
    let all = mails(&s.maildir);
    assert_eq!(all.len(), 1);
    assert_eq!(
        subject(&all[0]),
        "[newshound] Digest 2026-03-29: 3 matches in 2 stories"
    );
    let body = text(&all[0]);
    let peace = body.find("== peace (1 story) ==").expect("peace group");
    let urgent = body.find("== urgent (1 story) ==").expect("urgent group");
    assert!(
        peace < urgent,
        "the rule with the newest story first: {body}"
    );
    assert!(body.contains("Also reported by: outlet-b"), "{body}");
    assert!(body.contains("2 alerts"), "{body}");
    assert!(body.contains("daily 03:30, Europe/Kyiv"), "{body}");
    assert!(all[0].contains("Auto-Submitted: auto-generated"));

    // Next day at 03:30 EEST (00:30Z): nothing new, so no empty digest.
    s.clock.set(at("2026-03-30T00:30:00Z"));
    let empty = s.deliverer.deliver_due(&s.store).await.expect("pass");
    assert_eq!((empty.digests, empty.sent), (0, 0));
    assert_eq!(mails(&s.maildir).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_digest_that_fell_due_while_down_is_sent_once_at_start() {
    let extra = "digest = { schedule = \"weekdays 08:00\", time_zone = \"Europe/Kyiv\" }";
    let s = setup(extra, at("2026-11-23T07:00:00Z")); // Monday 09:00 Kyiv
    s.deliverer.deliver_due(&s.store).await.expect("pass");
    enqueue(
        &s.store,
        &[alert(
            "peace",
            1,
            "outlet-a",
            "Peace talks",
            WIRE,
            at("2026-11-23T07:30:00Z"),
        )],
        at("2026-11-23T07:30:00Z"),
    );
    s.deliverer.deliver_due(&s.store).await.expect("pass");
    // The daemon stops; it starts again on Thursday: three weekday slots were missed.
    let restarted = {
        let config =
            newshound::config::load(&s._dir.path().join("newshound.toml")).expect("config");
        Deliverer::new(&config)
            .expect("deliverer")
            .with_clock(s.clock.clone())
    };
    s.clock.set(at("2026-11-26T09:00:00Z"));
    let start = restarted.deliver_due(&s.store).await.expect("pass");
    assert_eq!((start.digests, start.sent), (1, 1), "one digest, not three");
    s.clock.advance(Duration::from_secs(60));
    assert_eq!(
        restarted.deliver_due(&s.store).await.expect("pass").digests,
        0
    );
    let all = mails(&s.maildir);
    assert_eq!(all.len(), 1);
    assert!(subject(&all[0]).starts_with("[newshound] Digest 2026-11-26: 1 match in 1 story"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_digest_is_sent_only_when_configured() {
    let s = setup(
        "digest = { schedule = \"hourly\", time_zone = \"UTC\", send_empty = true }",
        at("2026-11-27T10:10:00Z"),
    );
    s.deliverer.deliver_due(&s.store).await.expect("pass");
    s.clock.set(at("2026-11-27T11:00:00Z"));
    let due = s.deliverer.deliver_due(&s.store).await.expect("pass");
    assert_eq!(due.sent, 1);
    let all = mails(&s.maildir);
    assert_eq!(
        subject(&all[0]),
        "[newshound] Digest 2026-11-27: 0 matches in 0 stories"
    );
    assert!(text(&all[0]).contains("Nothing matched since the last digest."));
}

#[tokio::test(flavor = "multi_thread")]
async fn routing_sends_one_rule_at_once_and_both_rules_in_the_digest() {
    let s = setup(
        "digest = { schedule = \"daily 18:00\", time_zone = \"Europe/Brussels\" }\ndelivery = \"digest\"\ndelivery_by_rule = { urgent = \"both\" }",
        at("2026-11-27T08:00:00Z"),
    );
    s.deliverer.deliver_due(&s.store).await.expect("pass");
    let t = at("2026-11-27T09:00:00Z");
    enqueue(
        &s.store,
        &[
            alert(
                "urgent",
                1,
                "outlet-a",
                "Rutte statement",
                "Rutte said something important about the alliance today in Brussels.",
                t,
            ),
            alert("peace", 2, "outlet-b", "Peace talks resume", WIRE, t),
        ],
        t,
    );
    s.clock.set(t);
    let now = s.deliverer.deliver_due(&s.store).await.expect("pass");
    assert_eq!(now.sent, 1, "only the urgent rule goes out at once");
    let instant = mails(&s.maildir);
    assert_eq!(instant.len(), 1);
    assert_eq!(subject(&instant[0]), "[newshound] urgent: Rutte statement");
    s.clock.set(at("2026-11-27T17:00:00Z")); // 18:00 in Brussels
    let evening = s.deliverer.deliver_due(&s.store).await.expect("pass");
    assert_eq!(evening.digests, 1);
    let all = mails(&s.maildir);
    assert_eq!(all.len(), 2);
    let digest = text(&all[1]);
    assert!(
        digest.contains("Rutte statement") && digest.contains("Peace talks resume"),
        "{digest}"
    );
}

#[test]
fn digest_preview_prints_and_now_sends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in_background();
    server.set_feed(
        "/feed.xml",
        rss(&[Item {
            guid: "1",
            title: "Peace talks in Istanbul",
            body: "Delegations met.",
            date: Some(minutes_ago(5)),
        }]),
        None,
    );
    let config = digest_config(
        dir.path(),
        &format!(
            "digest = {{ schedule = \"weekly monday 08:00\", time_zone = \"Europe/Kyiv\" }}\n\n[[feeds]]\nname = \"Wire\"\nurl = \"{}\"\nscrape = false\n",
            server.url("/feed.xml")
        ),
    );
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .expect("run")
    };
    assert_eq!(run(&["once"]).status.code(), Some(0));
    let maildir = dir.path().join("mail");
    assert!(mails(&maildir).is_empty(), "routed to the digest, not sent");

    let preview = run(&["digest", "--destination", "desk", "--preview"]);
    let stdout = String::from_utf8_lossy(&preview.stdout);
    assert_eq!(preview.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Subject: [newshound] Digest"), "{stdout}");
    assert!(stdout.contains("Peace talks in Istanbul"), "{stdout}");
    assert!(
        stdout.contains("(preview: nothing sent or recorded; 1 alerts pending)"),
        "{stdout}"
    );
    assert!(mails(&maildir).is_empty());

    let now = run(&["digest", "--destination", "desk", "--now"]);
    let stdout = String::from_utf8_lossy(&now.stdout);
    assert_eq!(now.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("sent to \"desk\""), "{stdout}");
    let all = mails(&maildir);
    assert_eq!(all.len(), 1);
    assert!(text(&all[0]).contains("Peace talks in Istanbul"));
    // Those alerts are in a digest now: nothing is pending any more.
    let again = run(&["digest", "--destination", "desk", "--now"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing pending"));

    let wrong = run(&["digest", "--destination", "nope"]);
    assert_eq!(wrong.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("destinations with a digest: desk"));
}

#[test]
fn a_bad_schedule_or_time_zone_is_a_located_config_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = digest_config(
        dir.path(),
        "digest = { schedule = \"fortnightly 08:00\", time_zone = \"Europe/Kiev-ish\" }",
    );
    let output = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("newshound.toml:17:23"),
        "line and column of the schedule: {stderr}"
    );
    assert!(stderr.contains("invalid digest schedule"), "{stderr}");
    assert!(
        stderr.contains("unknown time zone \"Europe/Kiev-ish\""),
        "{stderr}"
    );
    // A rule routed by a name that does not exist.
    let config = digest_config(
        dir.path(),
        "digest = { schedule = \"daily 08:00\" }\ndelivery_by_rule = { \"Peace\" = \"both\" }",
    );
    let output = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("routes rule \"Peace\", which does not exist")
            && stderr.contains("did you mean \"peace\"?"),
        "{stderr}"
    );
}

#[test]
fn templates_can_be_replaced_from_files_and_a_broken_one_is_a_config_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("alert.txt"),
        "CUSTOM {{ rule }} | {{ title }}\n{% for e in evidence %}{{ e.label }}={{ e.text | mark_text }}\n{% endfor %}",
    )
    .expect("template");
    let config = digest_config(dir.path(), "templates = { alert_text = \"alert.txt\" }");
    let run = |command: &str| {
        Command::new(BIN)
            .args([command, "--config"])
            .arg(&config)
            .args(if command == "deliver-test" {
                &["--destination", "desk"][..]
            } else {
                &[][..]
            })
            .output()
            .expect("run")
    };
    let sent = run("deliver-test");
    assert_eq!(
        sent.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&sent.stdout)
    );
    let all = mails(&dir.path().join("mail"));
    let body = text(&all[0]);
    assert!(
        body.starts_with("CUSTOM NATO Secretary General on peace talks | Test alert: Rutte"),
        "{body}"
    );
    assert!(body.contains("Rutte=Test alert: *Rutte* says"), "{body}");

    std::fs::write(
        dir.path().join("alert.txt"),
        "{% for e in evidence %}unclosed",
    )
    .expect("template");
    let broken = run("check");
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert_eq!(broken.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("alert.txt") && stderr.contains("template does not compile"),
        "{stderr}"
    );
}
