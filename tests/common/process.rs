//! Driving the real `newshound` binary from fault tests: a daemon whose log goes to a file
//! (killed if the test fails half-way), polling with generous deadlines, a plain HTTP GET
//! for `/metrics`, and `newshound status --json`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_newshound");

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}

pub const SIGTERM: i32 = 15;

/// The running binary; killed if a test fails half-way.
pub struct Daemon {
    pub child: Child,
    pub log: PathBuf,
}

impl Daemon {
    /// `newshound run --config <config>`, its log appended to `log`; `prepare` may change
    /// the command (environment, limits for the child).
    pub fn start(config: &Path, log: PathBuf, prepare: impl FnOnce(&mut Command)) -> Daemon {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let mut command = Command::new(BIN);
        command
            .args(["run", "--config"])
            .arg(config)
            .stdout(Stdio::null())
            // Through a pipe, copied by this process: a file size limit set on the daemon
            // must not hit its log file.
            .stderr(Stdio::piped())
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("JOURNAL_STREAM")
            .env("RUST_LOG", "info");
        prepare(&mut command);
        let mut child = command.spawn().expect("spawn daemon");
        if let Some(mut stderr) = child.stderr.take() {
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                while let Ok(n) = stderr.read(&mut buffer) {
                    if n == 0 || file.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
            });
        }
        Daemon { child, log }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: sending a signal to our own child process, not reaped yet.
        let sent = unsafe { libc_kill(self.pid(), signal) };
        assert_eq!(sent, 0, "kill({signal})");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`; returns the log.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("the daemon exited ({status}) before logging {needle:?}:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?} in the log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }

    /// SIGTERM, then the exit status (killed after a generous grace period).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        self.signal(SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
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

/// Polls `done` every 100 ms; panics naming `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A plain HTTP/1.1 GET: status, headers, body.
pub fn http_get(address: &str, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

/// `newshound status --config <config> [--json]`: exit code and stdout.
pub fn status(config: &Path, json: bool) -> (Option<i32>, String) {
    let mut command = Command::new(BIN);
    command.args(["status", "--config"]).arg(config);
    if json {
        command.arg("--json");
    }
    let output = command.output().expect("run status");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).to_string(),
    )
}

/// The outbox row of `destination` in `status --json`: (queued, dead, sent).
pub fn outbox_of(config: &Path, destination: &str) -> Option<(u64, u64, u64)> {
    let (code, stdout) = status(config, true);
    if code != Some(0) {
        return None;
    }
    let report: serde_json::Value = serde_json::from_str(&stdout).ok()?;
    report["outbox"].as_array()?.iter().find_map(|row| {
        (row["name"] == destination).then(|| {
            (
                row["queued"].as_u64().unwrap_or(0),
                row["dead"].as_u64().unwrap_or(0),
                row["sent"].as_u64().unwrap_or(0),
            )
        })
    })
}
