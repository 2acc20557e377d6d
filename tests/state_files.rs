//! A state database that cannot be trusted — garbage bytes, a truncated SQLite file, one
//! written by a newer schema version — stops the real binary with exit 73 and a message
//! that names the file and says what to do, and the file is left byte for byte as it was:
//! never silently reset, migrated or overwritten. Also: an inline secret in a configuration
//! file that group or others can read is refused with exit 78 by `run` itself, for webhook
//! tokens as well as SMTP passwords (`check` is covered in tests/deliver_email.rs).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Item, TestServer, minutes_ago, rss, write_config};

const BIN: &str = env!("CARGO_BIN_EXE_newshound");

/// A configuration following one loopback feed, and a state database filled by a real
/// `newshound once` (hundreds of entries, so the file spans many pages).
fn real_state(dir: &Path, server: &TestServer) -> (PathBuf, PathBuf) {
    let items: Vec<(String, String)> = (0..400)
        .map(|n| (n.to_string(), format!("Entry {n} about the summit agenda")))
        .collect();
    let date = minutes_ago(5);
    let items: Vec<Item<'_>> = items
        .iter()
        .map(|(guid, title)| Item {
            guid,
            title,
            body: "Ministers met to discuss the budget and the weather.",
            date: Some(date.clone()),
        })
        .collect();
    server.set_feed("/feed.xml", rss(&items), None);
    let config = write_config(
        dir,
        &format!(
            "[[feeds]]\nname = \"Test\"\nurl = \"{}\"\n\n[[rules]]\nname = \"peace\"\nkeywords = [\"peace talks\"]\n",
            server.url("/feed.xml")
        ),
    );
    let first = Command::new(BIN)
        .args(["once", "--config"])
        .arg(&config)
        .output()
        .expect("run once");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let db = dir.join("state").join(newshound::store::DATABASE_FILE);
    // Closing the last connection checkpoints the WAL into the file: it holds everything.
    assert!(
        !dir.join("state/newshound.db-wal").exists()
            || std::fs::metadata(dir.join("state/newshound.db-wal"))
                .map(|m| m.len() == 0)
                .unwrap_or(true)
    );
    (config, db)
}

/// Runs the binary with `args` and a time limit: `run` must stop on its own at the bad
/// state file, not go on serving.
fn run_binary(args: &[&str], config: &Path) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("newshound {args:?} did not stop at a bad state file");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// Every command that opens the state stops with 73 and a message naming `db` that
/// contains each of `says`; the file's bytes are unchanged and no WAL was left beside it.
fn refused(config: &Path, db: &Path, says: &[&str]) {
    let before = std::fs::read(db).expect("read state");
    for args in [&["once"][..], &["run"], &["status"]] {
        let output = run_binary(args, config);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(73), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&db.display().to_string()),
            "{args:?} names the file: {stderr}"
        );
        for expected in says {
            assert!(
                stderr.contains(expected),
                "{args:?}: {expected:?} in {stderr}"
            );
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            std::fs::read(db).expect("read state") == before,
            "{args:?} changed the state file"
        );
    }
}

#[test]
fn a_state_file_of_garbage_is_refused_and_left_alone() {
    let server = TestServer::start_in_background();
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, db) = real_state(dir.path(), &server);
    let garbage: Vec<u8> = (0..64 * 1024u32)
        .map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&db, &garbage).expect("write garbage");
    refused(&config, &db, &["corrupt", "move it aside"]);
}

#[test]
fn a_truncated_state_file_is_refused_and_left_alone() {
    let server = TestServer::start_in_background();
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, db) = real_state(dir.path(), &server);
    let bytes = std::fs::read(&db).expect("read state");
    assert!(bytes.len() >= 8 * 4096, "a state of many pages");
    // Cut in the middle of a page, as a crash of the file system or a bad copy would.
    std::fs::write(&db, &bytes[..bytes.len() / 2 + 100]).expect("truncate");
    refused(&config, &db, &["corrupt", "move it aside"]);
}

#[test]
fn a_state_file_from_a_newer_version_is_refused_and_left_alone() {
    let server = TestServer::start_in_background();
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, db) = real_state(dir.path(), &server);
    {
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.pragma_update(None, "user_version", 9_999)
            .expect("set version");
    }
    refused(&config, &db, &["newer version", "9999"]);
}

#[test]
fn an_inline_secret_in_a_group_readable_config_stops_run_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        "[[destinations]]\nname = \"phone\"\ntype = \"webhook\"\npreset = \"gotify\"\nurl = \"https://push.example.org/message\"\ntoken = \"s3cr3t-token\"\n",
    );
    for mode in [0o644, 0o640, 0o604] {
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let output = run_binary(&["run"], &config);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(78), "mode {mode:o}: {stderr}");
        assert!(
            stderr.contains("newshound.toml:7:"),
            "file and line: {stderr}"
        );
        assert!(
            stderr.contains("chmod 600") && stderr.contains("token_file"),
            "the fix: {stderr}"
        );
        // The secret itself is not echoed back to a log others may read.
        assert!(!stderr.contains("s3cr3t"), "{stderr}");
        assert!(!dir.path().join("state").exists(), "nothing was started");
    }
    // Readable by its owner only, the same file passes the check.
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let output = run_binary(&["check"], &config);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
