//! The systemd notify protocol (`Type=notify`): `READY=1` once the configuration is loaded
//! and the store open, `RELOADING=1` … `READY=1` around a reload, `STOPPING=1`, `STATUS=`
//! lines for `systemctl status`, and `WATCHDOG=1` pings. Outside systemd (`NOTIFY_SOCKET`
//! unset) every call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(states) {
        // The service manager went away or the socket is not ours; nothing to recover.
        tracing::debug!(%error, "cannot notify the service manager");
    }
}

/// A `STATUS=` value is one line.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// The service is up: configuration loaded, store open, scheduler running.
pub fn ready(status: &str) {
    let status = one_line(status);
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// A reload begins (systemd 253+ also wants the monotonic time with it).
pub fn reloading() {
    let status = "reloading configuration";
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now, NotifyState::Status(status)]),
        Err(_) => send(&[NotifyState::Reloading, NotifyState::Status(status)]),
    }
}

/// The service is stopping.
pub fn stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("stopping: finishing in-flight work"),
    ]);
}

/// Replaces the status line.
pub fn status(text: &str) {
    let text = one_line(text);
    send(&[NotifyState::Status(&text)]);
}

/// Proves liveness to the watchdog.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// The watchdog period systemd asked for (`WatchdogSec=`), if any.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().filter(|d| !d.is_zero())
}
