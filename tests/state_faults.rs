//! State directory faults, with the real binary and real kernel-enforced limits:
//!
//! - **Read-only state directory at startup** (fresh, and with a database holding queued
//!   alerts): exit 73, a message naming the directory and the fix, nothing created, the
//!   database byte for byte unchanged; once writable again, everything is delivered.
//! - **Read-only while running**: SQLite keeps the files it has open, so the daemon goes on
//!   working; the next start refuses clearly (73) and nothing is lost.
//! - **Disk full at startup and at runtime**: simulated with `RLIMIT_FSIZE` (a write past
//!   the limit fails with `EFBIG`, exactly where a full disk fails with `ENOSPC`), set for
//!   the child before it starts, or lowered on the running daemon with `prlimit(2)`. The
//!   daemon logs the fault with the directory and the fix, does not spin, sends nothing it
//!   cannot record, and once writes succeed again delivers everything exactly once;
//!   `PRAGMA integrity_check` is `ok` afterwards.
//!
//! Tests may run as root, which ignores file permissions: the daemon (and a probe that
//! proves the mechanism works) then runs without `CAP_DAC_OVERRIDE`, `CAP_DAC_READ_SEARCH`
//! and `CAP_FOWNER` (dropped from the capability bounding set before `exec`), so the
//! permission bits bind it like any service user.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::process::{BIN, Daemon, wait_until};
use common::receiver::Receiver;
use common::{Item, TestServer, minutes_ago, rss, write_config};

/// Capabilities that let root ignore file permissions (linux/capability.h).
const FILE_OVERRIDES: [libc::c_ulong; 3] = [
    1, // CAP_DAC_OVERRIDE
    2, // CAP_DAC_READ_SEARCH
    3, // CAP_FOWNER
];

/// Makes the command's process bound by file permissions even as root.
fn without_file_overrides(command: &mut Command) {
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            for capability in FILE_OVERRIDES {
                // Fails with EPERM when not root; then permissions bind anyway.
                libc::prctl(libc::PR_CAPBSET_DROP, capability, 0, 0, 0);
            }
            Ok(())
        });
    }
}

/// Ignores SIGXFSZ (so a write past RLIMIT_FSIZE fails with EFBIG instead of killing the
/// process) and, when given, sets the limit before the program starts.
fn with_file_size_limit(command: &mut Command, limit: Option<u64>) {
    // SAFETY: signal and setrlimit are async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            if let Some(limit) = limit {
                let rlimit = libc::rlimit {
                    rlim_cur: limit as libc::rlim_t,
                    rlim_max: libc::RLIM_INFINITY,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &rlimit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Sets the soft file size limit of a running process.
fn set_file_size_limit(pid: i32, limit: Option<u64>) {
    let rlimit = libc::rlimit {
        rlim_cur: limit.map_or(libc::RLIM_INFINITY, |l| l as libc::rlim_t),
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain system call on our own child, with valid pointers.
    let done = unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, &rlimit, std::ptr::null_mut()) };
    assert_eq!(done, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// Proves that `dir` really cannot be written by a process set up like the daemon: a test
/// whose fault did not happen must fail, not pass.
fn assert_unwritable(dir: &Path, prepare: impl FnOnce(&mut Command)) {
    let mut probe = Command::new("sh");
    probe
        .arg("-c")
        .arg("echo x > \"$1/probe\"")
        .arg("sh")
        .arg(dir)
        .stderr(std::process::Stdio::null());
    prepare(&mut probe);
    let status = probe.status().expect("run the probe");
    assert!(
        !status.success(),
        "the fault is not in effect: a probe could write into {}",
        dir.display()
    );
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Read-only directory and files, or writable again.
fn read_only(state: &Path, on: bool) {
    for entry in std::fs::read_dir(state).expect("state dir").flatten() {
        chmod(&entry.path(), if on { 0o444 } else { 0o644 });
    }
    chmod(state, if on { 0o555 } else { 0o755 });
}

fn feed_with(server: &TestServer, titles: &[&str]) {
    let guids: Vec<String> = (0..titles.len()).map(|i| format!("g{i}")).collect();
    let items: Vec<Item<'_>> = titles
        .iter()
        .zip(&guids)
        .map(|(title, guid)| Item {
            guid,
            title,
            body: "",
            date: Some(minutes_ago(1)),
        })
        .collect();
    server.set_feed("/feed.xml", rss(&items), None);
}

fn config(dir: &Path, server: &TestServer, receiver: &Receiver) -> PathBuf {
    let config = write_config(
        dir,
        &format!(
            r#"
[fetch]
max_interval = "1s"

[delivery]
retry_base = "200ms"
retry_max = "1s"

[[feeds]]
name = "Wire"
url = "{}"
interval = "1s"
scrape = false

[[rules]]
name = "peace"
keywords = ["peace talks"]
destinations = ["hook"]

[[destinations]]
name = "hook"
type = "webhook"
url = "{}"
"#,
            server.url("/feed.xml"),
            receiver.url("/hook")
        ),
    );
    // The daemon may run without the right to ignore permissions: it must read these.
    chmod(dir, 0o755);
    chmod(&config, 0o644);
    config
}

/// Titles delivered to the receiver, once per `webhook-id`, and how many arrived twice.
fn delivered(receiver: &Receiver) -> (Vec<String>, usize) {
    let mut seen = std::collections::BTreeMap::<String, (String, usize)>::new();
    for request in receiver.got() {
        let body = request.json();
        let title = body["data"]["article"]["title"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        seen.entry(request.header("webhook-id").to_string())
            .or_insert((title, 0))
            .1 += 1;
    }
    let twice = seen.values().filter(|(_, n)| *n > 1).count();
    let mut titles: Vec<String> = seen.into_values().map(|(t, _)| t).collect();
    titles.sort();
    (titles, twice)
}

fn integrity(db: &Path) -> String {
    let conn = rusqlite_free_check(db);
    conn.trim().to_string()
}

/// `PRAGMA integrity_check` through the binary's own store: opened read-only, so the check
/// itself cannot repair or change anything.
fn rusqlite_free_check(db: &Path) -> String {
    newshound::store::Store::open_read_only(db)
        .expect("open the state database")
        .integrity_check()
        .expect("integrity check")
}

fn run_once(config: &Path, prepare: impl FnOnce(&mut Command)) -> (Option<i32>, String) {
    let mut command = Command::new(BIN);
    command.args(["once", "--config"]).arg(config);
    prepare(&mut command);
    let output = command.output().expect("run once");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

fn start_refused(config: &Path, log: PathBuf, prepare: impl FnOnce(&mut Command)) -> String {
    let mut daemon = Daemon::start(config, log, prepare);
    let mut status = None;
    wait_until("the daemon to give up", Duration::from_secs(30), || {
        status = daemon.child.try_wait().expect("wait");
        status.is_some()
    });
    let log = daemon.log();
    assert_eq!(status.and_then(|s| s.code()), Some(73), "{log}");
    log
}

#[test]
fn a_read_only_state_directory_at_startup_is_refused_with_the_fix_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in_background();
    let receiver = Receiver::start_in_background();
    feed_with(&server, &["Peace talks open"]);
    let config = config(dir.path(), &server, &receiver);
    let state = dir.path().join("state");

    // A fresh, empty state directory that cannot be written.
    std::fs::create_dir(&state).expect("mkdir");
    chmod(&state, 0o555);
    assert_unwritable(&state, without_file_overrides);
    let log = start_refused(
        &config,
        dir.path().join("fresh.log"),
        without_file_overrides,
    );
    assert!(
        log.contains(&state.display().to_string()),
        "names the directory: {log}"
    );
    assert!(log.contains("writable"), "says the fix: {log}");
    assert_eq!(
        std::fs::read_dir(&state).expect("read").count(),
        0,
        "nothing created"
    );

    // A state database with an alert queued (the receiver is down) ...
    chmod(&state, 0o755);
    receiver.always(Some(503));
    let (code, stderr) = run_once(&config, |_| {});
    assert_eq!(code, Some(0), "{stderr}");
    assert!(delivered(&receiver).0.len() == 1, "one failed attempt");
    receiver.always(None);
    // ... made read-only: refused, and the database is byte for byte what it was.
    let db = state.join("newshound.db");
    let before = std::fs::read(&db).expect("read db");
    let files_before = std::fs::read_dir(&state).expect("read").count();
    read_only(&state, true);
    assert_unwritable(&state, without_file_overrides);
    let log = start_refused(
        &config,
        dir.path().join("existing.log"),
        without_file_overrides,
    );
    assert!(log.contains(&state.display().to_string()), "{log}");
    assert!(
        log.contains("read-only") || log.contains("writable"),
        "{log}"
    );
    assert_eq!(
        std::fs::read(&db).expect("read db"),
        before,
        "database untouched"
    );
    assert_eq!(
        std::fs::read_dir(&state).expect("read").count(),
        files_before
    );

    // Writable again: the queued alert is delivered (once), the database is sound.
    read_only(&state, false);
    let mut daemon = Daemon::start(
        &config,
        dir.path().join("after.log"),
        without_file_overrides,
    );
    wait_until("the queued alert", Duration::from_secs(30), || {
        receiver
            .got()
            .iter()
            .filter(|r| r.json()["data"]["article"]["title"] == "Peace talks open")
            .count()
            >= 2
    });
    assert_eq!(
        daemon.stop().and_then(|s| s.code()),
        Some(0),
        "{}",
        daemon.log()
    );
    assert_eq!(integrity(&db), "ok");
    let (titles, _) = delivered(&receiver);
    assert_eq!(titles, ["Peace talks open"]);
}

#[test]
fn a_state_directory_made_read_only_while_running_keeps_working_and_the_next_start_refuses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in_background();
    let receiver = Receiver::start_in_background();
    feed_with(&server, &["Peace talks open"]);
    let config = config(dir.path(), &server, &receiver);
    let state = dir.path().join("state");
    let mut daemon = Daemon::start(&config, dir.path().join("run.log"), without_file_overrides);
    wait_until("the first alert", Duration::from_secs(30), || {
        delivered(&receiver).0.len() == 1
    });
    read_only(&state, true);
    assert_unwritable(&state, without_file_overrides);
    // SQLite writes through the files it holds open; the daemon goes on delivering.
    feed_with(&server, &["Peace talks open", "Peace talks stall"]);
    wait_until("the second alert", Duration::from_secs(30), || {
        delivered(&receiver).0.len() == 2
    });
    assert!(daemon.running(), "{}", daemon.log());
    assert_eq!(
        daemon.stop().and_then(|s| s.code()),
        Some(0),
        "{}",
        daemon.log()
    );
    // Restarting on the read-only directory: refused with the fix.
    let log = start_refused(
        &config,
        dir.path().join("restart.log"),
        without_file_overrides,
    );
    assert!(log.contains(&state.display().to_string()), "{log}");
    // Writable again: the state is whole, nothing is sent twice, new entries alert.
    read_only(&state, false);
    feed_with(
        &server,
        &[
            "Peace talks open",
            "Peace talks stall",
            "Peace talks resume",
        ],
    );
    let mut daemon = Daemon::start(
        &config,
        dir.path().join("after.log"),
        without_file_overrides,
    );
    wait_until("the third alert", Duration::from_secs(30), || {
        delivered(&receiver).0.len() == 3
    });
    assert_eq!(daemon.stop().and_then(|s| s.code()), Some(0));
    let (titles, twice) = delivered(&receiver);
    assert_eq!(twice, 0, "nothing sent twice: {titles:?}");
    assert_eq!(integrity(&state.join("newshound.db")), "ok");
}

#[test]
fn a_full_disk_at_startup_is_refused_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in_background();
    let receiver = Receiver::start_in_background();
    feed_with(&server, &["Peace talks open"]);
    let config = config(dir.path(), &server, &receiver);
    let state = dir.path().join("state");
    let full = |command: &mut Command| with_file_size_limit(command, Some(1));

    // No state yet, and no room for any.
    let log = start_refused(&config, dir.path().join("fresh.log"), full);
    assert!(log.contains(&state.display().to_string()), "{log}");
    assert!(log.contains("full") || log.contains("size limit"), "{log}");

    // A state database with an alert queued; then the disk fills.
    let _ = std::fs::remove_dir_all(&state);
    receiver.always(Some(503));
    let (code, stderr) = run_once(&config, |_| {});
    assert_eq!(code, Some(0), "{stderr}");
    receiver.always(None);
    let db = state.join("newshound.db");
    let log = start_refused(&config, dir.path().join("existing.log"), full);
    assert!(log.contains("full") || log.contains("size limit"), "{log}");
    assert_eq!(integrity(&db), "ok");
    // Space again: the alert queued before is delivered.
    let mut daemon = Daemon::start(&config, dir.path().join("after.log"), |_| {});
    wait_until("the queued alert", Duration::from_secs(30), || {
        receiver.got().len() >= 2
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(daemon.stop().and_then(|s| s.code()), Some(0));
    let answers: Vec<String> = receiver
        .got()
        .iter()
        .map(|r| r.json()["data"]["article"]["title"].to_string())
        .collect();
    assert_eq!(
        answers.len(),
        2,
        "one refused attempt, one delivery: {answers:?}"
    );
    assert_eq!(integrity(&db), "ok");
}

#[test]
fn a_disk_that_fills_while_running_is_logged_sends_nothing_unrecorded_and_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in_background();
    let receiver = Receiver::start_in_background();
    feed_with(&server, &["Peace talks open"]);
    let config = config(dir.path(), &server, &receiver);
    let state = dir.path().join("state");
    // The receiver refuses at first, so an alert is queued when the disk fills.
    receiver.always(Some(503));
    let mut daemon = Daemon::start(&config, dir.path().join("run.log"), |c| {
        with_file_size_limit(c, None)
    });
    wait_until("a failed attempt", Duration::from_secs(30), || {
        !receiver.got().is_empty()
    });
    set_file_size_limit(daemon.pid(), Some(1));
    // Everything from now on needs writes: the queued alert's next attempt, and a new entry.
    let attempts_before = receiver.got().len();
    receiver.always(None);
    feed_with(&server, &["Peace talks open", "Peace talks stall"]);
    let log = daemon.wait_for_log("cannot record poll", Duration::from_secs(30));
    assert!(
        log.contains(&state.display().to_string()),
        "names the directory: {log}"
    );
    daemon.wait_for_log("delivery pass failed", Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(4));
    assert!(daemon.running(), "still running:\n{}", daemon.log());
    let log = daemon.log();
    let failed_passes = log.matches("delivery pass failed").count();
    assert!(
        failed_passes <= 10,
        "the worker backs off instead of spinning: {failed_passes} failed passes"
    );
    // Nothing was sent that could not be recorded as sent.
    assert!(
        receiver.got().len() <= attempts_before + 1,
        "sent while unable to record: {} requests after {attempts_before}",
        receiver.got().len()
    );

    // Space again: the daemon recovers on its own and delivers both, each once.
    set_file_size_limit(daemon.pid(), None);
    wait_until(
        "both alerts after recovery",
        Duration::from_secs(90),
        || delivered(&receiver).0.len() == 2,
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        daemon.stop().and_then(|s| s.code()),
        Some(0),
        "{}",
        daemon.log()
    );
    let successes: Vec<String> = receiver.got()[attempts_before..]
        .iter()
        .map(|r| r.header("webhook-id").to_string())
        .collect();
    let mut unique = successes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        successes.len(),
        unique.len(),
        "each alert delivered once: {successes:?}"
    );
    println!("{}", daemon.log());
    assert_eq!(integrity(&state.join("newshound.db")), "ok");
}
