//! Log output. On a terminal or in a container: human-readable lines with timestamps.
//! Under systemd, when stderr is the journal (`$JOURNAL_STREAM` names stderr's device and
//! inode): no timestamp (journald adds its own) and every line starts with its syslog
//! priority `<N>` (sd-daemon(3)), so `journalctl -p warning` works. `--log-format json`
//! gives one JSON object per line for log shippers.

use std::fmt::{self, Write as _};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::ConfigError;

/// How log lines look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `journal` when stderr is the systemd journal, else `human`.
    #[default]
    Auto,
    /// Timestamped lines for people.
    Human,
    /// No timestamps, a `<N>` syslog priority before every line (for journald).
    Journal,
    /// One JSON object per line.
    Json,
}

static JOURNAL: AtomicBool = AtomicBool::new(false);

/// Whether stderr is the journal stream systemd set up for this process: `JOURNAL_STREAM`
/// is `<device>:<inode>` of that stream; being set is not enough (a child of a service
/// inherits it with another stderr).
pub fn stderr_is_journal() -> bool {
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((device, inode)) = value.to_str().and_then(|v| v.split_once(':')) else {
        return false;
    };
    let (Ok(device), Ok(inode)) = (device.parse::<u64>(), inode.parse::<u64>()) else {
        return false;
    };
    stderr_identity().is_some_and(|(d, i)| d == device && i == inode)
}

#[cfg(unix)]
fn stderr_identity() -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    let metadata = std::fs::File::from(fd).metadata().ok()?;
    Some((metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn stderr_identity() -> Option<(u64, u64)> {
    None
}

/// Whether log lines go to the journal with priority prefixes.
pub fn journal_active() -> bool {
    JOURNAL.load(Ordering::Relaxed)
}

/// Sets up logging to stderr. `level` is a level or a `RUST_LOG`-style filter; it overrides
/// `RUST_LOG`; the default is `info`.
pub fn init(format: LogFormat, level: Option<&str>) {
    let filter = match level {
        Some(level) => EnvFilter::try_new(level).ok(),
        None => EnvFilter::try_from_default_env().ok(),
    }
    .unwrap_or_else(|| EnvFilter::new("info"));
    let format = match format {
        LogFormat::Auto if stderr_is_journal() => LogFormat::Journal,
        LogFormat::Auto => LogFormat::Human,
        other => other,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Journal => {
            JOURNAL.store(true, Ordering::Relaxed);
            builder
                .with_ansi(false)
                .event_format(JournalFormat::default())
                .try_init()
        }
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
        LogFormat::Human | LogFormat::Auto => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}

/// sd-daemon(3) priority of a level: err, warning, info, debug.
pub fn priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// The journal line format: the usual fields without time or level, every line prefixed
/// with `<N>` (a multi-line message becomes several journal records of the same priority).
pub struct JournalFormat {
    inner: Format<Full, ()>,
}

impl Default for JournalFormat {
    fn default() -> Self {
        Self {
            inner: tracing_subscriber::fmt::format()
                .without_time()
                .with_level(false)
                .with_ansi(false),
        }
    }
}

impl<S, N> FormatEvent<S, N> for JournalFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut text = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut text), event)?;
        let priority = priority(*event.metadata().level());
        for line in text.trim_end_matches('\n').split('\n') {
            writeln!(writer, "<{priority}>{line}")?;
        }
        Ok(())
    }
}

/// Prints a block of text to stderr as errors: as it is on a terminal, with `<3>` before
/// every line under the journal.
pub fn print_error_block(text: &str) {
    if journal_active() {
        let mut prefixed = String::new();
        for line in text.trim_end_matches('\n').split('\n') {
            let _ = writeln!(prefixed, "<3>{line}");
        }
        eprint!("{prefixed}");
    } else {
        eprintln!("{}", text.trim_end_matches('\n'));
    }
}

/// Logs every problem of a configuration, one error event each, as
/// `file:line:col: message (help: ...)`.
pub fn log_config_error(error: &ConfigError) {
    for diagnostic in &error.diagnostics {
        let place = if diagnostic.line == 0 {
            diagnostic.file.display().to_string()
        } else {
            format!(
                "{}:{}:{}",
                diagnostic.file.display(),
                diagnostic.line,
                diagnostic.column
            )
        };
        match &diagnostic.help {
            Some(help) => tracing::error!("{place}: {} (help: {help})", diagnostic.message),
            None => tracing::error!("{place}: {}", diagnostic.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_sd_daemon_priorities() {
        assert_eq!(priority(Level::ERROR), 3);
        assert_eq!(priority(Level::WARN), 4);
        assert_eq!(priority(Level::INFO), 6);
        assert_eq!(priority(Level::TRACE), 7);
    }

    #[test]
    fn journal_lines_carry_a_priority_and_no_timestamp() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Capture(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Capture {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .map_err(|_| std::io::Error::other("poisoned"))?
                    .extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let capture = Capture::default();
        let sink = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .event_format(JournalFormat::default())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(feed = "A", "poll failed");
            tracing::error!("first line\nsecond line");
        });
        let bytes = capture.0.lock().map(|b| b.clone()).unwrap_or_default();
        let text = String::from_utf8(bytes).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].starts_with("<4>") && lines[0].contains("poll failed feed=\"A\""),
            "{text}"
        );
        assert!(lines[1].starts_with("<3>") && lines[1].ends_with("first line"));
        assert_eq!(lines[2], "<3>second line");
        assert!(!text.contains("WARN") && !text.contains("20"), "{text}");
    }
}
