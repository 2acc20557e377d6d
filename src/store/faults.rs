//! Storage faults: telling a state database that cannot be written (read-only directory or
//! file, disk full, I/O error) from other errors, saying what to do about it, and the
//! write-ahead claim of a delivery attempt; and the alerts given up on, for inspection.
//!
//! A daemon whose state cannot be written must not pretend otherwise: at startup it refuses
//! to run (the caller exits 73 with the fix), and at runtime every write that fails is
//! logged with the database path and the fix, and retried later without losing or
//! re-sending anything (see `deliver::Deliverer` and the scheduler).

use std::path::Path;

use jiff::Timestamp;
use rusqlite::{ErrorCode, params};

use super::{OUTBOX_COLUMNS, OutboxItem, Result, Store, StoreError, ms, outbox_item};

/// What kind of storage fault an error is, when it is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFault {
    /// The file or its directory cannot be written (permissions, read-only mount).
    ReadOnly,
    /// No space left, or a file size limit reached.
    Full,
    /// The operating system reported an I/O error (which a full disk or an exhausted file
    /// size limit also produce).
    Io,
    /// The file or a file beside it (`-wal`, `-shm`) cannot be opened or created.
    CannotOpen,
}

impl StorageFault {
    /// Classifies a SQLite error; `None` when it is not about the storage underneath.
    pub fn of(error: &rusqlite::Error) -> Option<Self> {
        let rusqlite::Error::SqliteFailure(failure, _) = error else {
            return None;
        };
        match failure.code {
            ErrorCode::ReadOnly => Some(StorageFault::ReadOnly),
            ErrorCode::DiskFull => Some(StorageFault::Full),
            ErrorCode::SystemIoFailure => Some(StorageFault::Io),
            ErrorCode::CannotOpen => Some(StorageFault::CannotOpen),
            _ => None,
        }
    }

    /// What to do about it, for a database in `dir`.
    pub fn remedy(self, dir: &Path) -> String {
        let dir = dir.display();
        match self {
            StorageFault::ReadOnly => format!(
                "the state directory {dir} or the files in it are read-only: make the directory and newshound.db* in it writable by the user newshound runs as (or point `state_dir` elsewhere)"
            ),
            StorageFault::Full => format!(
                "the file system holding the state directory {dir} is full (or a file size limit was reached): free some space there"
            ),
            StorageFault::Io => format!(
                "writing to the state directory {dir} failed (a full disk, a file size limit or a failing device): check free space and the system log"
            ),
            StorageFault::CannotOpen => format!(
                "a file in the state directory {dir} cannot be opened or created: check that the directory exists and is writable by the user newshound runs as"
            ),
        }
    }
}

impl StoreError {
    /// The storage fault behind this error, if it is one.
    pub fn storage_fault(&self) -> Option<StorageFault> {
        match self {
            StoreError::Sql(error) => StorageFault::of(error),
            _ => None,
        }
    }
}

/// The explanation of an open error caused by a storage fault, for a database at `path`.
pub(super) fn explain(error: &rusqlite::Error, path: &Path) -> Option<String> {
    let fault = StorageFault::of(error)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    Some(format!("{error}: {}", fault.remedy(dir)))
}

impl Store {
    /// The state directory (the database file's directory).
    pub fn state_dir(&self) -> &Path {
        self.path().parent().unwrap_or(Path::new("."))
    }

    /// One line for the log: what failed, where, and the fix when it is a storage fault.
    pub fn describe_error(&self, error: &StoreError) -> String {
        match error.storage_fault() {
            Some(fault) => format!(
                "state database {} cannot be written: {error}; {}",
                self.path().display(),
                fault.remedy(self.state_dir())
            ),
            None => format!("state database {}: {error}", self.path().display()),
        }
    }

    /// Proves at startup that the database can be written: SQLite silently opens a file it
    /// may not write read-only, and a full disk only shows at the first write. The probe is
    /// a real (empty-effect) write of the header, committed through the WAL.
    pub(super) fn ensure_writable(&self) -> Result<()> {
        let conn = self.conn();
        let open_error = |message: String| StoreError::Open {
            path: self.path().to_path_buf(),
            message,
        };
        if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            return Err(open_error(format!(
                "the database can only be opened read-only: {}",
                StorageFault::ReadOnly.remedy(self.state_dir())
            )));
        }
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        conn.pragma_update(None, "user_version", version)
            .map_err(|e| match explain(&e, self.path()) {
                Some(message) => open_error(message),
                None => StoreError::Sql(e),
            })?;
        Ok(())
    }

    /// Claims a queued alert for a delivery attempt, before anything is sent: plans its next
    /// attempt at `retry_at`, as if this one will fail. Written first, so that (1) nothing
    /// is sent while the database cannot record it (the write fails and the attempt is not
    /// made), and (2) an attempt cut short by a crash is retried like a failed one, with the
    /// same idempotency key. Returns `false` when the alert is no longer queued (another
    /// worker took it or it was settled meanwhile).
    pub fn claim_attempt(&self, id: i64, retry_at: Timestamp) -> Result<bool> {
        Ok(self.claim_attempts(&[(id, retry_at)])?.first() == Some(&true))
    }

    /// [`Store::claim_attempt`] for several alerts in one transaction (all claims or none);
    /// whether each was claimed, in order.
    pub fn claim_attempts(&self, claims: &[(i64, Timestamp)]) -> Result<Vec<bool>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut claimed = Vec::with_capacity(claims.len());
        {
            let mut statement = tx.prepare_cached(
                "UPDATE outbox SET next_attempt_ms = ?2 WHERE id = ?1 AND status = 'queued'",
            )?;
            for (id, retry_at) in claims {
                claimed.push(statement.execute(params![id, ms(*retry_at)])? == 1);
            }
        }
        tx.commit()?;
        Ok(claimed)
    }

    /// The alerts given up on (dead), oldest first, with their last error: kept until the
    /// outbox retention purges them, so an outage never makes an alert silently vanish.
    pub fn dead_alerts(&self) -> Result<Vec<OutboxItem>> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = 'dead' ORDER BY created_ms, id"
        ))?;
        let rows = statement.query_map([], outbox_item)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// `PRAGMA integrity_check`: `ok`, or what is wrong (one problem per line).
    pub fn integrity_check(&self) -> Result<String> {
        let conn = self.conn();
        let mut statement = conn.prepare("PRAGMA integrity_check")?;
        let lines = statement
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewAlert;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_claim_plans_the_retry_first_and_a_settled_alert_cannot_be_claimed() -> TestResult {
        let store = Store::open_in_memory()?;
        let now = Timestamp::from_second(1_700_000_000)?;
        let alert = NewAlert {
            key: "k".into(),
            destination: "d".into(),
            rule: "r".into(),
            story: "s".into(),
            payload: "{}".into(),
            ..NewAlert::default()
        };
        store.enqueue(&[alert], now)?;
        store.route_new(|_, _, _| crate::config::Routing::Instant, now)?;
        let id = store.due_alerts(now, 10)?[0].id;
        let later = now + jiff::SignedDuration::from_secs(30);
        assert!(store.claim_attempt(id, later)?);
        // Until the planned retry it is not due: a crash now delays, never drops, it.
        assert!(store.due_alerts(now, 10)?.is_empty());
        assert_eq!(store.due_alerts(later, 10)?.len(), 1);
        store.mark_sent(id, now)?;
        assert!(
            !store.claim_attempt(id, later)?,
            "a sent alert is not claimed again"
        );
        Ok(())
    }

    #[test]
    fn storage_faults_are_told_from_other_errors_and_name_the_directory() {
        let failure = |code| {
            rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some("x".into()))
        };
        assert_eq!(
            StorageFault::of(&failure(rusqlite::ffi::SQLITE_READONLY)),
            Some(StorageFault::ReadOnly)
        );
        assert_eq!(
            StorageFault::of(&failure(rusqlite::ffi::SQLITE_FULL)),
            Some(StorageFault::Full)
        );
        assert_eq!(
            StorageFault::of(&failure(rusqlite::ffi::SQLITE_IOERR_WRITE)),
            Some(StorageFault::Io)
        );
        assert_eq!(
            StorageFault::of(&failure(rusqlite::ffi::SQLITE_CONSTRAINT)),
            None
        );
        let remedy = StorageFault::Full.remedy(Path::new("/var/lib/newshound"));
        assert!(remedy.contains("/var/lib/newshound") && remedy.contains("free some space"));
    }
}
