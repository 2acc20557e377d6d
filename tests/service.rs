//! The daemon as a service, with the real binary: the systemd notify protocol against a
//! fake service manager (a unix datagram socket in a temp dir as `NOTIFY_SOCKET`), SIGHUP
//! reloads with a valid and an invalid configuration, SIGTERM, the HTTP listener
//! (`/metrics`, `/healthz`, `/readyz`), `newshound status` beside the running daemon, and
//! the journal log format.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::{http_get, wait_until};
use common::{Item, TestServer, delivered, minutes_ago, rss, write_config};

const BIN: &str = env!("CARGO_BIN_EXE_newshound");

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}

const SIGHUP: i32 = 1;
const SIGTERM: i32 = 15;

/// A fake service manager: collects every datagram sent to its socket.
struct ServiceManager {
    socket_path: PathBuf,
    messages: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl ServiceManager {
    fn listen(dir: &Path) -> Self {
        let socket_path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&socket_path).expect("bind notify socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sink, stopped) = (messages.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buffer = vec![0u8; 65536];
            while !stopped.load(Ordering::Relaxed) {
                if let Ok(n) = socket.recv(&mut buffer) {
                    let text = String::from_utf8_lossy(&buffer[..n]).to_string();
                    sink.lock().expect("lock").push(text);
                }
            }
        });
        Self {
            socket_path,
            messages,
            stop,
        }
    }

    fn messages(&self) -> Vec<String> {
        self.messages.lock().expect("lock").clone()
    }

    /// Waits until `done` holds for the messages so far; panics with them on timeout.
    fn wait_for(&self, what: &str, timeout: Duration, done: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if done(&messages) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; messages so far: {messages:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServiceManager {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn position(messages: &[String], from: usize, line: &str) -> Option<usize> {
    messages
        .iter()
        .enumerate()
        .skip(from)
        .find(|(_, m)| m.lines().any(|l| l == line))
        .map(|(i, _)| i)
}

/// The running binary; killed if a test fails half-way.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(args: &[&str], config: &Path, log: PathBuf, env: &[(&str, String)]) -> Daemon {
        let stderr = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(BIN);
        command
            .args(args)
            .arg("--config")
            .arg(config)
            .stdout(Stdio::null())
            .stderr(stderr)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env_remove("JOURNAL_STREAM")
            .env_remove("RUST_LOG");
        for (key, value) in env {
            command.env(key, value);
        }
        Daemon {
            child: command.spawn().expect("spawn daemon"),
            log,
        }
    }

    fn signal(&self, signal: i32) {
        // SAFETY: sending a signal to our own child process.
        let sent = unsafe { libc_kill(self.child.id() as i32, signal) };
        assert_eq!(sent, 0, "kill({signal})");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?} in the log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn feed_section(name: &str, url: &str) -> String {
    format!("[[feeds]]\nname = \"{name}\"\nurl = \"{url}\"\ninterval = \"1s\"\n\n")
}

const HEAD: &str = "[fetch]\nmax_interval = \"1s\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n";
const RULE: &str = "[[rules]]\nname = \"peace\"\nkeywords = [\"peace talks\"]\n";

#[test]
fn a_service_manager_sees_ready_watchdog_reload_and_stop_and_metrics_follow() {
    let server = TestServer::start_in_background();
    let dir = tempfile::tempdir().expect("tempdir");
    server.set_feed(
        "/first.xml",
        rss(&[Item {
            guid: "1",
            title: "Peace talks resume",
            body: "",
            date: Some(minutes_ago(2)),
        }]),
        Some("\"v1\""),
    );
    server.set_feed(
        "/second.xml",
        rss(&[Item {
            guid: "s1",
            title: "More peace talks",
            body: "",
            date: Some(minutes_ago(1)),
        }]),
        None,
    );
    let config = write_config(
        dir.path(),
        &format!(
            "{HEAD}{}{RULE}",
            feed_section("First", &server.url("/first.xml"))
        ),
    );
    let manager = ServiceManager::listen(dir.path());
    let mut daemon = Daemon::start(
        &["run"],
        &config,
        dir.path().join("daemon.log"),
        &[
            (
                "NOTIFY_SOCKET",
                manager.socket_path.to_string_lossy().to_string(),
            ),
            ("WATCHDOG_USEC", "2000000".to_string()),
        ],
    );

    // READY=1 comes after the store was opened, with a status line, before any ping.
    manager.wait_for("READY=1", Duration::from_secs(20), |m| {
        position(m, 0, "READY=1").is_some()
    });
    assert!(
        dir.path().join("state/newshound.db").exists(),
        "store open at READY"
    );
    let messages = manager.messages();
    let ready = position(&messages, 0, "READY=1").expect("ready");
    assert!(
        messages[ready].contains("STATUS=1 feeds, 0 failing, "),
        "{messages:?}"
    );
    assert!(
        messages[..ready].iter().all(|m| !m.contains("WATCHDOG=1")),
        "no watchdog ping before READY: {messages:?}"
    );
    // With WatchdogSec=2s the scheduler proves it is alive every ~0.7 s.
    manager.wait_for("three WATCHDOG=1", Duration::from_secs(10), |m| {
        m.iter().filter(|m| m.contains("WATCHDOG=1")).count() >= 3
    });

    // The HTTP listener: port 0 means "any free port"; the log says which.
    let log = daemon.wait_for_log("/readyz on http://", Duration::from_secs(10));
    let address = log
        .split("/readyz on http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("listen address")
        .to_string();
    assert!(address.starts_with("127.0.0.1:"), "{address}");

    wait_until("the first alert", Duration::from_secs(20), || {
        delivered(dir.path()).len() == 1
    });
    let (status, _, body) = http_get(&address, "/healthz");
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, _, body) = http_get(&address, "/readyz");
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    let mut metrics = String::new();
    wait_until("the delivery in /metrics", Duration::from_secs(10), || {
        let (status, head, body) = http_get(&address, "/metrics");
        assert_eq!(status, 200);
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/openmetrics-text"),
            "{head}"
        );
        metrics = body;
        metrics.contains("newshound_deliveries_total{destination=\"local\",result=\"sent\"} 1")
    });
    for expected in [
        "newshound_feed_fetches_total{result=\"ok\"} 1",
        "newshound_feeds{state=\"ok\"} 1",
        "newshound_feeds{state=\"failing\"} 0",
        "newshound_entries_new_total 1",
        "newshound_rule_matches_total{rule=\"peace\"} 1",
        "newshound_outbox_pending{destination=\"local\"} 0",
        "newshound_outbox_oldest_pending_age_seconds 0",
        "newshound_build_info{version=\"",
        "# TYPE newshound_feed_fetch_duration_seconds histogram",
        "newshound_feed_fetch_duration_seconds_bucket{le=\"0.05\"}",
        "newshound_scheduler_last_tick_timestamp_seconds ",
        "newshound_last_successful_poll_timestamp_seconds ",
        "newshound_config_last_reload_success_timestamp_seconds ",
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected:?} in\n{metrics}"
        );
    }
    assert!(metrics.trim_end().ends_with("# EOF"), "{metrics}");
    assert!(
        !metrics.contains("_total_total"),
        "counter names are not doubled"
    );

    // `status` reads the live database beside the daemon.
    let output = Command::new(BIN)
        .args(["status", "--config"])
        .arg(&config)
        .output()
        .expect("status");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Feeds (1): 1 ok, 0 failing"), "{stdout}");
    let row = |name: &str| -> Vec<String> {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no row {name} in\n{stdout}"))
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    let first = row("First");
    assert_eq!(first[1], "ok", "{stdout}");
    assert_eq!(first[4], "0", "no failures: {stdout}");
    assert!(first.contains(&"1".to_string()), "entries seen: {stdout}");
    assert_eq!(row("peace")[1..], ["1", "1"], "{stdout}");
    assert_eq!(row("local")[1..4], ["0", "0", "1"], "{stdout}");
    let output = Command::new(BIN)
        .args(["status", "--json", "--config"])
        .arg(&config)
        .output()
        .expect("status --json");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["feeds"][0]["health"], "ok");
    assert_eq!(report["feeds"][0]["consecutive_failures"], 0);
    assert_eq!(report["rules"][0]["hits_7d"], 1);
    assert_eq!(report["outbox"][0]["sent"], 1);

    // Reload with a valid configuration: First goes, Second comes (and alerts: its entry is
    // recent, so the first-poll backfill does not swallow it).
    write_config(
        dir.path(),
        &format!(
            "{HEAD}{}{RULE}",
            feed_section("Second", &server.url("/second.xml"))
        ),
    );
    let before_reload = manager.messages().len();
    daemon.signal(SIGHUP);
    manager.wait_for("RELOADING=1 then READY=1", Duration::from_secs(10), |m| {
        position(m, before_reload, "RELOADING=1")
            .and_then(|at| position(m, at + 1, "READY=1"))
            .is_some()
    });
    let messages = manager.messages();
    let reloading = position(&messages, before_reload, "RELOADING=1").expect("reloading");
    assert!(
        messages[reloading].contains("MONOTONIC_USEC="),
        "{messages:?}"
    );
    wait_until("the new feed's alert", Duration::from_secs(20), || {
        delivered(dir.path()).len() == 2
    });
    let titles: Vec<String> = delivered(dir.path())
        .iter()
        .filter_map(|a| a["article"]["title"].as_str().map(String::from))
        .collect();
    assert_eq!(titles, vec!["Peace talks resume", "More peace talks"]);
    // The removed feed stops (one poll may have been in flight at the reload).
    let polls_of_first = server.requests("/first.xml").len();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        server.requests("/first.xml").len() <= polls_of_first + 1,
        "a removed feed is not polled any more"
    );

    // Reload with an invalid configuration: every error is logged with its position, the
    // running configuration stays (Second keeps being polled), systemd hears about it.
    let broken = write_config(
        dir.path(),
        &format!(
            "retention = \"soon\"\n{HEAD}{}{RULE}",
            feed_section("Second", &server.url("/second.xml"))
                .replace("interval = \"1s\"", "intervall = \"1s\"")
        ),
    );
    let before_reload = manager.messages().len();
    daemon.signal(SIGHUP);
    manager.wait_for(
        "RELOADING=1 then READY=1 after the failed reload",
        Duration::from_secs(10),
        |m| {
            position(m, before_reload, "RELOADING=1")
                .and_then(|at| position(m, at + 1, "READY=1"))
                .is_some()
        },
    );
    let messages = manager.messages();
    assert!(
        messages[before_reload..].iter().any(|m| m.contains(
            "STATUS=1 feeds, 0 failing, 0 alerts queued; last reload failed with 2 configuration errors, running the previous configuration"
        )),
        "{messages:?}"
    );
    let file = broken.display().to_string();
    let log = daemon.wait_for_log("configuration not reloaded", Duration::from_secs(5));
    // Line 1 is state_dir, line 2 retention, lines 3-9 [fetch] (with the loopback allow-list
    // that write_config adds) and [http].
    assert!(
        log.contains(&format!("{file}:2:13: invalid duration \"soon\"")),
        "{log}"
    );
    assert!(
        log.contains(&format!("{file}:13:1: unknown key `intervall`")),
        "{log}"
    );
    assert!(log.contains("did you mean `interval`?"), "{log}");
    let polls_of_second = server.requests("/second.xml").len();
    wait_until(
        "the old configuration to keep polling",
        Duration::from_secs(10),
        || server.requests("/second.xml").len() >= polls_of_second + 2,
    );
    let (_, _, metrics) = http_get(&address, "/metrics");
    assert!(
        metrics.contains("newshound_config_reloads_total{result=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("newshound_config_reloads_total{result=\"error\"} 1"),
        "{metrics}"
    );

    // SIGTERM: STOPPING=1 and a clean exit within the unit's stop timeout.
    let before_stop = manager.messages().len();
    daemon.signal(SIGTERM);
    let status = daemon.wait_exit(Duration::from_secs(25));
    assert!(
        status.is_some_and(|s| s.success()),
        "clean exit: {status:?}\n{}",
        daemon.log()
    );
    assert!(
        position(&manager.messages(), before_stop, "STOPPING=1").is_some(),
        "{:?}",
        manager.messages()
    );
    assert_eq!(delivered(dir.path()).len(), 2, "nothing sent twice");
}

fn journal_stream_of(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path).expect("metadata");
    format!("{}:{}", metadata.dev(), metadata.ino())
}

fn run_briefly(config: &Path, log: PathBuf, args: &[&str], env: &[(&str, String)]) -> String {
    let mut daemon = Daemon::start(args, config, log, env);
    daemon.wait_for_log("scheduler started", Duration::from_secs(20));
    daemon.signal(SIGTERM);
    let status = daemon.wait_exit(Duration::from_secs(25));
    assert!(status.is_some_and(|s| s.success()), "{}", daemon.log());
    daemon.log()
}

fn has_timestamp(line: &str) -> bool {
    // 2026-05-01T12:00:00 (RFC 3339, as tracing prints it)
    line.as_bytes().windows(11).any(|w| {
        w[..4].iter().all(u8::is_ascii_digit)
            && w[4] == b'-'
            && w[7] == b'-'
            && w[10] == b'T'
            && w[5..7].iter().all(u8::is_ascii_digit)
    })
}

#[test]
fn logs_follow_the_journal_stream_or_a_chosen_format() {
    let server = TestServer::start_in_background();
    let dir = tempfile::tempdir().expect("tempdir");
    server.set_feed("/feed.xml", rss(&[]), None);
    let config = write_config(
        dir.path(),
        &format!("{}{RULE}", feed_section("A", &server.url("/feed.xml"))),
    );

    // stderr is the stream JOURNAL_STREAM names: priorities, no timestamps.
    let log_path = dir.path().join("journal.log");
    std::fs::write(&log_path, "").expect("create");
    let stream = journal_stream_of(&log_path);
    let log = run_briefly(
        &config,
        log_path.clone(),
        &["run"],
        &[("JOURNAL_STREAM", stream)],
    );
    assert!(!log.is_empty());
    for line in log.lines() {
        let priority = line.strip_prefix('<').and_then(|rest| rest.get(..2));
        assert!(
            matches!(priority, Some("3>" | "4>" | "6>" | "7>")),
            "line without priority: {line:?}"
        );
        assert!(!has_timestamp(line), "timestamp in journal line: {line:?}");
    }
    assert!(
        log.lines()
            .any(|l| l.starts_with("<6>") && l.contains("scheduler started")),
        "{log}"
    );

    // JOURNAL_STREAM inherited from elsewhere (another inode): human format.
    let log = run_briefly(
        &config,
        dir.path().join("human.log"),
        &["run"],
        &[("JOURNAL_STREAM", "1:1".to_string())],
    );
    let started = log
        .lines()
        .find(|l| l.contains("scheduler started"))
        .expect("line");
    assert!(
        has_timestamp(started) && started.contains("INFO") && !started.starts_with('<'),
        "{started}"
    );

    // --log-format json: one object per line.
    let log = run_briefly(
        &config,
        dir.path().join("json.log"),
        &["--log-format", "json", "run"],
        &[],
    );
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        events.iter().any(|e| e["level"] == "INFO"
            && e["fields"]["message"] == "scheduler started"
            && e["fields"]["rules"] == 1),
        "{log}"
    );

    // A configuration error at start, under the journal: every line is an error.
    let broken = write_config(
        dir.path(),
        &format!(
            "{}{RULE}",
            feed_section("A", &server.url("/feed.xml")).replace("interval", "intervall")
        ),
    );
    let log_path = dir.path().join("broken.log");
    let stderr = std::fs::File::create(&log_path).expect("create");
    let output = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&broken)
        .env("JOURNAL_STREAM", journal_stream_of(&log_path))
        .stderr(stderr)
        .status()
        .expect("run");
    assert_eq!(output.code(), Some(78));
    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(
        log.lines().all(|l| l.starts_with("<3>")),
        "every line an error:\n{log}"
    );
    assert!(
        log.contains(&format!(
            "{}:5:1: unknown key `intervall`",
            broken.display()
        )),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_needs_a_turning_scheduler_and_healthz_only_the_process() {
    use newshound::observe::{self, HttpState};
    use newshound::scheduler::{Heartbeat, Pipeline};
    use newshound::store::Store;

    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &format!("{}{RULE}", feed_section("A", "https://a.example/feed.xml")),
    );
    let config = newshound::config::load(&config).expect("config");
    let store = Arc::new(Store::open_dir(&config.state_dir).expect("store"));
    let pipeline = Arc::new(Pipeline::new(config, store).expect("pipeline"));
    let (_keep, pipelines) = tokio::sync::watch::channel(pipeline);
    let heartbeat = Arc::new(Heartbeat::new(Duration::from_millis(100)));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (address, server) = observe::serve(
        "127.0.0.1:0".parse().expect("address"),
        HttpState {
            pipelines,
            heartbeat: heartbeat.clone(),
        },
        stopped,
    )
    .await
    .expect("serve");
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let request = client.get(format!("http://{address}{path}"));
        async move {
            let response = request.send().await.expect("request");
            let status = response.status().as_u16();
            (status, response.text().await.expect("body"))
        }
    };
    assert_eq!(get("/healthz").await, (200, "ok\n".to_string()));
    let (status, body) = get("/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("scheduler: not started"), "{body}");
    heartbeat.beat();
    assert_eq!(get("/readyz").await, (200, "ready\n".to_string()));
    // A scheduler that stopped turning (more than three beats and a second) is not ready.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, body) = get("/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("scheduler: no turn for"), "{body}");
    let (status, metrics) = get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("newshound_feeds{state=\"pending\"} 1"),
        "{metrics}"
    );
    assert_eq!(get("/nothing").await.0, 404);
    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("listener stops")
        .expect("join");
}
