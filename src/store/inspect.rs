//! Read-side queries for `newshound status`, the metrics and the systemd status line, and
//! opening the database read-only so they can run beside the daemon (WAL lets a reader see
//! the last committed state while the daemon writes).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags, params};

use super::{Result, Store, StoreError, explain_open_error, from_ms, ms, schema};

impl Store {
    /// Opens an existing database without writing to it: no migration, no pragma that
    /// writes. Fails when the file does not exist, has no schema yet, or is too new.
    pub fn open_read_only(path: &Path) -> Result<Self> {
        let open_error = |message: String| StoreError::Open {
            path: path.to_path_buf(),
            message,
        };
        if !path.exists() {
            return Err(open_error(
                "no such file: the daemon has not run with this configuration yet (or `state_dir` points elsewhere)".into(),
            ));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let conn = if Path::new(&wal).exists() {
            // A writer has the database open (or crashed): read through its WAL.
            Connection::open_with_flags(path, flags)
        } else {
            // Nobody writes: read the file as it is. A plain read-only open would create
            // `-wal` and `-shm` files owned by whoever runs `status` (often root), which the
            // service user could then not open.
            Connection::open_with_flags(
                format!("file:{}?immutable=1", uri_path(path)),
                flags | OpenFlags::SQLITE_OPEN_URI,
            )
        }
        .map_err(|e| open_error(explain_open_error(&e)))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| open_error(explain_open_error(&e)))?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| open_error(explain_open_error(&e)))?;
        let known = schema::MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: version,
                known,
            });
        }
        if version == 0 {
            return Err(open_error(
                "the file has no newshound schema yet (was it created by another program?)".into(),
            ));
        }
        Ok(Self {
            reader: None,
            conn: std::sync::Mutex::new(conn),
            path: path.to_path_buf(),
            recent: super::recent::RecentEntries::default(),
        })
    }

    /// When new entries arrived in each feed (distinct first-seen times, oldest first),
    /// over the `window` that ends at the feed's latest arrival. The spacing of these
    /// times is the feed's publishing rhythm as this daemon saw it.
    pub fn arrival_times(&self, window: Duration) -> Result<HashMap<String, Vec<Timestamp>>> {
        let conn = self.conn();
        // A plain scan in primary-key order (rows come grouped by feed); grouping and
        // sorting in SQL costs several times more on a large table.
        let mut statement = conn.prepare("SELECT feed_url, first_seen_ms FROM entries")?;
        let mut rows = statement.query([])?;
        let mut raw: HashMap<String, Vec<i64>> = HashMap::new();
        let mut current: Option<(String, Vec<i64>)> = None;
        while let Some(row) = rows.next()? {
            let url = row.get_ref(0)?;
            let url = url.as_str().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
            })?;
            let at: i64 = row.get(1)?;
            match &mut current {
                Some((feed, times)) if feed == url => times.push(at),
                _ => {
                    if let Some((feed, times)) = current.take() {
                        raw.entry(feed).or_default().extend(times);
                    }
                    current = Some((url.to_string(), vec![at]));
                }
            }
        }
        if let Some((feed, times)) = current {
            raw.entry(feed).or_default().extend(times);
        }
        let window = window.as_millis() as i64;
        Ok(raw
            .into_iter()
            .map(|(feed, mut times)| {
                times.sort_unstable();
                times.dedup();
                let cutoff = times.last().copied().unwrap_or(0) - window;
                let recent = times
                    .into_iter()
                    .filter(|t| *t >= cutoff)
                    .map(from_ms)
                    .collect();
                (feed, recent)
            })
            .collect())
    }

    /// How many entries each rule matched for the first time since `since`.
    pub fn rule_hits_since(&self, since: Timestamp) -> Result<HashMap<String, u64>> {
        let conn = self.conn();
        let mut statement =
            conn.prepare("SELECT rule, COUNT(*) FROM matches WHERE first_ms >= ?1 GROUP BY rule")?;
        let rows = statement.query_map(params![ms(since)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut hits = HashMap::new();
        for row in rows {
            let (rule, count) = row?;
            hits.insert(rule, count.max(0) as u64);
        }
        Ok(hits)
    }
}

/// A path for an SQLite `file:` URI: everything but unreserved characters and `/`
/// percent-encoded.
fn uri_path(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut encoded = String::new();
    for byte in absolute.as_os_str().as_encoded_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                encoded.push(*byte as char)
            }
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::super::{FeedState, MatchRecord, PollRecord, SeenEntry};
    use super::*;

    fn at(minutes: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + minutes * 60).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn poll(keys: &[&str], minutes: i64, rule: Option<&str>) -> PollRecord {
        let mut state = FeedState::new("https://a.example/rss", "A", at(minutes));
        state.last_success = Some(at(minutes));
        state.last_changed = Some(at(minutes));
        PollRecord {
            state,
            at: at(minutes),
            entries: keys
                .iter()
                .map(|k| SeenEntry {
                    key: k.to_string(),
                    fingerprint: "f".into(),
                    published: None,
                })
                .collect(),
            matches: rule
                .map(|rule| MatchRecord {
                    rule: rule.into(),
                    entry_key: keys[0].into(),
                    story: "s".into(),
                    fingerprint: "f".into(),
                })
                .into_iter()
                .collect(),
            alerts: Vec::new(),
        }
    }

    #[test]
    fn arrivals_are_distinct_first_seen_times_within_the_window() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Open {
            path: "tmp".into(),
            message: e.to_string(),
        })?;
        let store = Store::open_dir(dir.path())?;
        // Two entries arrive together, then one at +60 min, then one at +600 min; the
        // later polls still list the old entries (same key: not an arrival).
        store.record_poll(&poll(&["a", "b"], 0, Some("r")))?;
        let mut second = poll(&["c", "a", "b"], 60, Some("r"));
        second.state.entries_seen = 2;
        store.record_poll(&second)?;
        store.record_poll(&poll(&["d", "c", "a", "b"], 600, None))?;
        let arrivals = store.arrival_times(Duration::from_secs(30 * 86_400))?;
        assert_eq!(
            arrivals.get("https://a.example/rss"),
            Some(&vec![at(0), at(60), at(600)])
        );
        // A window of 10 hours before the last arrival (at 600 min) drops the first one.
        let recent = store.arrival_times(Duration::from_secs(9 * 3600 + 1800))?;
        assert_eq!(
            recent.get("https://a.example/rss"),
            Some(&vec![at(60), at(600)])
        );
        assert_eq!(store.rule_hits_since(at(30))?.get("r"), Some(&1));
        assert_eq!(store.rule_hits_since(at(0))?.get("r"), Some(&2));

        // A read-only view beside the writer sees the same and cannot write.
        let path = dir.path().join(super::super::DATABASE_FILE);
        let reader = Store::open_read_only(&path)?;
        assert_eq!(reader.feed_states()?.len(), 1);
        assert!(reader.record_poll(&poll(&["e"], 700, None)).is_err());
        Ok(())
    }

    #[test]
    fn a_read_only_view_of_a_closed_database_creates_no_files() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Open {
            path: "tmp".into(),
            message: e.to_string(),
        })?;
        let spaced = dir.path().join("state dir #1");
        {
            let store = Store::open_dir(&spaced)?;
            store.record_poll(&poll(&["a"], 0, Some("r")))?;
        } // closing the last connection checkpoints and removes the WAL
        let path = spaced.join(super::super::DATABASE_FILE);
        let listing = || {
            let mut names: Vec<String> = std::fs::read_dir(&spaced)
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().to_string())
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            names
        };
        assert_eq!(listing(), vec!["newshound.db"]);
        let reader = Store::open_read_only(&path)?;
        assert_eq!(reader.rule_hits_since(at(0))?.get("r"), Some(&1));
        drop(reader);
        assert_eq!(listing(), vec!["newshound.db"]);
        Ok(())
    }

    #[test]
    fn read_only_open_of_a_missing_file_says_the_daemon_has_not_run() {
        let error = Store::open_read_only(Path::new("/nonexistent/newshound.db"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("has not run"), "{error}");
    }
}
