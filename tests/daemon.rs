//! End-to-end tests of the core daemon against a real HTTP server on loopback: new entries
//! alert once, 304 costs no parse, restarts give no duplicates, failing feeds back off and
//! recover, first-poll backfill, permanent redirects, and config errors with positions.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{Item, TestServer, delivered, minutes_ago, rss, write_config};
use newshound::scheduler::{self, Pipeline};
use newshound::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_newshound");

fn pipeline(config_path: &std::path::Path) -> Arc<Pipeline> {
    let config = newshound::config::load(config_path).expect("valid config");
    let store = Arc::new(Store::open_dir(&config.state_dir).expect("store"));
    Arc::new(Pipeline::new(config, store).expect("pipeline"))
}

fn feed_config(server: &TestServer) -> String {
    format!(
        r#"
[[feeds]]
name = "Test"
url = "{}"
interval = "1m"

[[rules]]
name = "peace"
keywords = ["peace talks"]
"#,
        server.url("/feed.xml")
    )
}

/// The feed at `/feed.xml` publishes one fresh entry that the `peace` rule matches.
fn publish_one_peace_item(server: &TestServer) {
    server.set_feed(
        "/feed.xml",
        rss(&[Item {
            guid: "1",
            title: "Peace talks resume",
            body: "",
            date: Some(minutes_ago(2)),
        }]),
        None,
    );
}

/// A second matching entry appears above the first at `/feed.xml`.
fn publish_a_second_peace_item(server: &TestServer) {
    server.set_feed(
        "/feed.xml",
        rss(&[
            Item {
                guid: "2",
                title: "More peace talks",
                body: "",
                date: Some(minutes_ago(0)),
            },
            Item {
                guid: "1",
                title: "Peace talks resume",
                body: "",
                date: Some(minutes_ago(2)),
            },
        ]),
        None,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn new_entries_alert_once_and_304_costs_no_parse() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    server.set_feed(
        "/feed.xml",
        rss(&[
            Item {
                guid: "1",
                title: "Rutte urges peace talks",
                body: "text",
                date: Some(minutes_ago(5)),
            },
            Item {
                guid: "2",
                title: "Weather",
                body: "sunny",
                date: Some(minutes_ago(5)),
            },
        ]),
        Some("\"v1\""),
    );
    let config = write_config(dir.path(), &feed_config(&server));
    let p = pipeline(&config);

    let first = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(first.alerts.len(), 1);
    assert_eq!(first.delivery.sent, 1);

    // Same document again: the server answers 304 and nothing is parsed or alerted.
    let second = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(second.not_modified, 1);
    assert_eq!(second.new_entries, 0);
    let requests = server.requests("/feed.xml");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].if_none_match.as_deref(), Some("\"v1\""));
    assert_eq!(requests[1].status, 304);
    assert!(
        requests[0]
            .user_agent
            .as_deref()
            .unwrap_or("")
            .starts_with("newshound/"),
        "identifying User-Agent"
    );

    // A new document with one more matching entry: only the new one alerts.
    server.set_feed(
        "/feed.xml",
        rss(&[
            Item {
                guid: "3",
                title: "Peace talks in Istanbul",
                body: "x",
                date: Some(minutes_ago(1)),
            },
            Item {
                guid: "1",
                title: "Rutte urges peace talks",
                body: "text",
                date: Some(minutes_ago(5)),
            },
            Item {
                guid: "2",
                title: "Weather",
                body: "sunny",
                date: Some(minutes_ago(5)),
            },
        ]),
        Some("\"v2\""),
    );
    let third = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(third.alerts.len(), 1);
    let alerts = delivered(dir.path());
    let titles: Vec<&str> = alerts
        .iter()
        .filter_map(|a| a["article"]["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        vec!["Rutte urges peace talks", "Peace talks in Istanbul"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn first_poll_backfill_records_old_entries_without_alerting() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    server.set_feed(
        "/feed.xml",
        rss(&[
            Item {
                guid: "new",
                title: "Fresh peace talks",
                body: "",
                date: Some(minutes_ago(30)),
            },
            Item {
                guid: "old",
                title: "Old peace talks",
                body: "",
                date: Some(minutes_ago(3 * 24 * 60)),
            },
            Item {
                guid: "undated",
                title: "Undated peace talks",
                body: "",
                date: None,
            },
        ]),
        None,
    );
    let config = write_config(dir.path(), &feed_config(&server));
    let p = pipeline(&config);
    let report = scheduler::run_once(&p, false).await.expect("cycle");
    let titles: Vec<String> = report
        .alerts
        .iter()
        .filter_map(|a| a.article.title.clone())
        .collect();
    assert_eq!(titles, vec!["Fresh peace talks".to_string()]);
    // The old entries are remembered: a later poll does not alert them either.
    let again = scheduler::run_once(&p, false).await.expect("cycle");
    assert!(again.alerts.is_empty());
    assert_eq!(
        p.store
            .seen_entries(&server.url("/feed.xml"))
            .expect("seen")
            .len(),
        3
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_feed_backs_off_and_recovers() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    server.set_feed(
        "/feed.xml",
        rss(&[Item {
            guid: "1",
            title: "peace talks",
            body: "",
            date: Some(minutes_ago(1)),
        }]),
        None,
    );
    server.fail_next("/feed.xml", 500, &[], 3);
    let config = write_config(dir.path(), &feed_config(&server));
    let p = pipeline(&config);
    let url = server.url("/feed.xml");
    let mut delays = Vec::new();
    for expected_failures in 1..=3u32 {
        let report = scheduler::run_once(&p, false).await.expect("cycle");
        assert_eq!(report.failed, 1);
        let state = p
            .store
            .feed_states()
            .expect("states")
            .remove(&url)
            .expect("state");
        assert_eq!(state.consecutive_failures, expected_failures);
        assert!(state.last_error.as_deref().unwrap_or("").contains("500"));
        let attempt = state.last_attempt.expect("attempted");
        delays.push((state.next_poll.as_second() - attempt.as_second()) as f64);
    }
    // 1m, 2m, 4m with ±10 % jitter.
    assert!(delays[0] >= 54.0 && delays[0] <= 66.0, "{delays:?}");
    assert!(delays[1] >= 108.0 && delays[1] <= 132.0, "{delays:?}");
    assert!(delays[2] >= 216.0 && delays[2] <= 264.0, "{delays:?}");

    let report = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(report.failed, 0);
    assert_eq!(
        report.alerts.len(),
        1,
        "the entry is processed once the feed recovers"
    );
    let state = p
        .store
        .feed_states()
        .expect("states")
        .remove(&url)
        .expect("state");
    assert_eq!(state.consecutive_failures, 0);
    assert_eq!(state.last_error, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_on_429_is_honoured() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    server.fail_next("/feed.xml", 429, &[("retry-after", "3600")], 1);
    let config = write_config(dir.path(), &feed_config(&server));
    let p = pipeline(&config);
    scheduler::run_once(&p, false).await.expect("cycle");
    let state = p
        .store
        .feed_states()
        .expect("states")
        .remove(&server.url("/feed.xml"))
        .expect("state");
    let wait = state.next_poll.as_second() - state.last_attempt.expect("attempt").as_second();
    assert!(
        wait >= 3240,
        "waited only {wait}s despite Retry-After: 3600"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_permanent_redirect_is_followed_and_remembered() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    server.set(
        "/old.xml",
        common::Resource {
            moved_to: Some(server.url("/feed.xml")),
            ..Default::default()
        },
    );
    server.set_feed(
        "/feed.xml",
        rss(&[Item {
            guid: "1",
            title: "peace talks",
            body: "",
            date: Some(minutes_ago(1)),
        }]),
        None,
    );
    let config = write_config(
        dir.path(),
        &format!(
            "[[feeds]]\nname = \"Moved\"\nurl = \"{}\"\n[[rules]]\nname = \"r\"\nkeywords = [\"peace talks\"]\n",
            server.url("/old.xml")
        ),
    );
    let p = pipeline(&config);
    let report = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(report.alerts.len(), 1);
    let state = p
        .store
        .feed_states()
        .expect("states")
        .remove(&server.url("/old.xml"))
        .expect("state");
    assert_eq!(state.effective_url, Some(server.url("/feed.xml")));
    scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(
        server.requests("/old.xml").len(),
        1,
        "the old URL is not polled again"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_loop_stops() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    for (from, to) in [("/a", "/b"), ("/b", "/a")] {
        server.set(
            from,
            common::Resource {
                moved_to: Some(server.url(to)),
                ..Default::default()
            },
        );
    }
    let config = write_config(
        dir.path(),
        &format!("[[feeds]]\nurl = \"{}\"\n", server.url("/a")),
    );
    let p = pipeline(&config);
    let report = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(report.failed, 1);
    let total = server.requests("/a").len() + server.requests("/b").len();
    assert_eq!(total, 6, "the first request and 5 redirects");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entry_that_changes_is_re_evaluated_without_alerting_twice() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let item = |title: &'static str, body: &'static str| {
        rss(&[Item {
            guid: "1",
            title,
            body,
            date: Some(minutes_ago(1)),
        }])
    };
    server.set_feed("/feed.xml", item("Summit opens", "no match yet"), None);
    let config = write_config(dir.path(), &feed_config(&server));
    let p = pipeline(&config);
    assert!(
        scheduler::run_once(&p, false)
            .await
            .expect("cycle")
            .alerts
            .is_empty()
    );
    // The article is updated and now matches: it alerts.
    server.set_feed(
        "/feed.xml",
        item("Summit opens", "leaders agree on peace talks"),
        None,
    );
    let report = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(report.new_entries, 1);
    assert_eq!(report.alerts.len(), 1);
    // A cosmetic edit of an entry that already alerted does not alert again.
    server.set_feed(
        "/feed.xml",
        item("Summit opens!", "leaders agree on peace talks"),
        None,
    );
    let report = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(report.new_entries, 1);
    assert!(report.alerts.is_empty());
    assert_eq!(delivered(dir.path()).len(), 1);
}

#[test]
fn restarting_the_cli_gives_no_duplicates_and_dry_run_records_nothing() {
    let server = TestServer::start_in_background();
    let dir = tempfile::tempdir().expect("tempdir");
    publish_one_peace_item(&server);
    let config = write_config(dir.path(), &feed_config(&server));
    let dry = Command::new(BIN)
        .args(["once", "--dry-run", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert!(dry.status.success());
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert!(stdout.contains("[peace] Peace talks resume"), "{stdout}");
    assert!(
        !dir.path().join("state").exists(),
        "a dry run creates no state"
    );

    for _ in 0..3 {
        let run = Command::new(BIN)
            .args(["once", "--config"])
            .arg(&config)
            .output()
            .expect("run");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    assert_eq!(delivered(dir.path()).len(), 1);
}

/// `once` compiles the rules while its first requests are out: a mistake in a rule must
/// still stop it with the error, before anything is recorded or delivered.
#[test]
fn once_with_a_broken_rule_exits_78_and_records_nothing() {
    let server = TestServer::start_in_background();
    let dir = tempfile::tempdir().expect("tempdir");
    publish_one_peace_item(&server);
    let config = write_config(
        dir.path(),
        &format!(
            "[[feeds]]\nname = \"Test\"\nurl = \"{}\"\n\n[[rules]]\nname = \"peace\"\nkeywords = [\"peace\"]\nspeakers = [\"person:nobody\"]\n",
            server.url("/feed.xml")
        ),
    );
    let run = Command::new(BIN)
        .args(["once", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:9:", config.display()))
            && stderr.contains("rule \"peace\": no person with id \"nobody\""),
        "{stderr}"
    );
    // Unknown speakers are only found when the rules compile, after the state was opened.
    let database = dir.path().join("state").join("newshound.db");
    let store = Store::open(&database).expect("store");
    assert!(
        store.feed_states().expect("states").is_empty(),
        "no poll may be recorded"
    );
    assert!(delivered(dir.path()).is_empty());
}

#[test]
fn the_daemon_polls_alerts_and_stops_gracefully_on_sigterm() {
    let server = TestServer::start_in_background();
    let dir = tempfile::tempdir().expect("tempdir");
    publish_one_peace_item(&server);
    // The test feed asks for <ttl>1</ttl> (a minute); cap publisher hints at one second.
    let config = write_config(
        dir.path(),
        &format!(
            "[fetch]\nmax_interval = \"1s\"\n{}",
            feed_config(&server).replace("interval = \"1m\"", "interval = \"1s\"")
        ),
    );
    let mut daemon = KillOnDrop(
        Command::new(BIN)
            .args(["run", "--config"])
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn daemon"),
    );
    let child = &mut daemon.0;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while delivered(dir.path()).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        delivered(dir.path()).len(),
        1,
        "the daemon delivered the alert"
    );
    // A second matching entry appears while the daemon runs.
    publish_a_second_peace_item(&server);
    while delivered(dir.path()).len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(delivered(dir.path()).len(), 2);
    // When its writes pause, the daemon checkpoints: the entries are in the database file
    // itself, not only in its write-ahead log (a copy of the file alone shows them).
    let copy = dir.path().join("copy.db");
    let in_database_file = || {
        std::fs::copy(dir.path().join("state/newshound.db"), &copy).ok()?;
        let conn = rusqlite::Connection::open(&copy).ok()?;
        conn.query_row("SELECT COUNT(*) FROM entries", [], |r| r.get::<_, i64>(0))
            .ok()
    };
    while in_database_file() != Some(2) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(in_database_file(), Some(2), "both entries checkpointed");
    let pid = child.id() as i32;
    // SAFETY: sending a signal to our own child process.
    unsafe { libc_kill(pid, 15) };
    let stopped_by = std::time::Instant::now() + Duration::from_secs(12);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if std::time::Instant::now() > stopped_by {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.is_some_and(|s| s.success()),
        "graceful exit within the grace period"
    );

    // Restart: nothing is sent again.
    let run = Command::new(BIN)
        .args(["once", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert!(run.status.success());
    assert_eq!(delivered(dir.path()).len(), 2);
}

#[test]
fn sigusr1_polls_every_feed_now_except_those_asked_to_wait() {
    const SIGUSR1: i32 = 10;
    let server = TestServer::start_in_background();
    let dir = tempfile::tempdir().expect("tempdir");
    publish_one_peace_item(&server);
    server.set_feed(
        "/quiet.xml",
        rss(&[Item {
            guid: "q1",
            title: "Weather",
            body: "",
            date: Some(minutes_ago(5)),
        }]),
        Some("\"q1\""),
    );
    server.set_feed("/busy.xml", rss(&[]), None);
    server.fail_next("/busy.xml", 429, &[("Retry-After", "3600")], 1);
    let feeds: String = [
        ("Test", "/feed.xml"),
        ("Quiet", "/quiet.xml"),
        ("Busy", "/busy.xml"),
    ]
    .iter()
    .map(|(name, path)| {
        format!(
            "[[feeds]]\nname = \"{name}\"\nurl = \"{}\"\ninterval = \"1h\"\n\n",
            server.url(path)
        )
    })
    .collect();
    let config = write_config(
        dir.path(),
        &format!("{feeds}[[rules]]\nname = \"peace\"\nkeywords = [\"peace talks\"]\n"),
    );
    // One cycle first, so that every feed is next due in an hour (the busy one later still).
    let once = Command::new(BIN)
        .args(["once", "--config"])
        .arg(&config)
        .output()
        .expect("run once");
    assert!(once.status.success(), "{once:?}");
    assert_eq!(delivered(dir.path()).len(), 1);
    let mut daemon = common::process::Daemon::start(&config, dir.path().join("daemon.log"), |_| {});
    daemon.wait_for_log("scheduler started", Duration::from_secs(20));
    publish_a_second_peace_item(&server);

    daemon.signal(SIGUSR1);
    let log = daemon.wait_for_log("polled every feed as asked", Duration::from_secs(20));
    let report = log
        .lines()
        .find(|line| line.contains("polled every feed as asked"))
        .unwrap_or_default();
    for field in ["polled=2", "not_modified=1", "failed=0", "held_back=1"] {
        assert!(report.contains(field), "{field} in {report}");
    }
    assert_eq!(server.requests("/feed.xml").len(), 2);
    let quiet = server.requests("/quiet.xml");
    assert_eq!(quiet.len(), 2);
    assert_eq!(quiet[1].if_none_match.as_deref(), Some("\"q1\""));
    assert_eq!(quiet[1].status, 304);
    // The server that asked to wait an hour is not asked again.
    assert_eq!(server.requests("/busy.xml").len(), 1);
    common::process::wait_until("the new entry's alert", Duration::from_secs(20), || {
        delivered(dir.path()).len() == 2
    });

    // A second request is served the same way, and the daemon still stops cleanly.
    let second_sweep = jiff::Timestamp::now();
    daemon.signal(SIGUSR1);
    common::process::wait_until("a second sweep", Duration::from_secs(20), || {
        daemon.log().matches("polled every feed as asked").count() == 2
    });
    assert_eq!(server.requests("/quiet.xml").len(), 3);
    assert!(daemon.stop().is_some_and(|status| status.success()));
    assert_eq!(delivered(dir.path()).len(), 2);
    // The second 304 changed only times, so it was not written in the sweep; stopping at
    // once after it must not lose it.
    let store = Store::open(&dir.path().join("state").join("newshound.db")).expect("store");
    let states = store.feed_states().expect("states");
    let quiet = states
        .get(&server.url("/quiet.xml"))
        .expect("the quiet feed's state");
    assert!(
        quiet
            .last_attempt
            .is_some_and(|at| at.as_millisecond() >= second_sweep.as_millisecond()),
        "last attempt {:?}, second sweep asked at {second_sweep}",
        quiet.last_attempt
    );
}

/// Kills the daemon if the test fails half-way, so no process outlives the test.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}

#[test]
fn config_errors_name_file_line_and_column_and_exit_78() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        "[defaults]\ninterval = \"15 minutes\"\n\n[[feeds]]\nname = \"A\"\nurl = \"https://a.example/rss\"\nintervall = \"5m\"\n\n[[rules]]\nname = \"r\"\nkeywords = [\"x\"]\ndestinations = [\"mail\"]\n",
    );
    std::fs::create_dir_all(dir.path().join("rules.d")).expect("mkdir");
    let output = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let file = config.display().to_string();
    // state_dir takes line 1, so [defaults] is line 2.
    assert!(
        stderr.contains(&format!("{file}:3:12: unknown unit \"minutes\"")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}:8:1: unknown key `intervall`")),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `interval`?"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{file}:13:17: rule \"r\" names destination \"mail\""
        )),
        "{stderr}"
    );
    assert!(stderr.contains("3 configuration errors"), "{stderr}");
}

#[test]
fn included_rule_files_report_their_own_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        "include = [\"rules.d/*.toml\"]\n[[feeds]]\nname = \"A\"\nurl = \"https://a.example/rss\"\n",
    );
    std::fs::create_dir_all(dir.path().join("rules.d")).expect("mkdir");
    std::fs::write(
        dir.path().join("rules.d/peace.toml"),
        "[[rules]]\nname = \"r\"\nkeywords = [\"x\"]\nfeeds = [\"B\"]\n",
    )
    .expect("write");
    let output = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("rules.d/peace.toml:4:10: rule \"r\" names feed \"B\""),
        "{stderr}"
    );

    std::fs::write(
        dir.path().join("rules.d/peace.toml"),
        "[[rules]]\nname = \"r\"\nkeywords = [\"x\"]\nfeeds = [\"A\"]\n",
    )
    .expect("write");
    let output = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("rules (1)"), "{stdout}");
}
