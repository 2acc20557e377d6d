use super::*;

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + secs).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn alert(key: &str) -> NewAlert {
    NewAlert {
        key: key.to_string(),
        destination: "local".into(),
        rule: "r".into(),
        story: "s".into(),
        payload: "{}".into(),
        ..NewAlert::default()
    }
}

fn route_all(store: &Store) -> Result<usize> {
    store.route_new(|_, _, _| crate::config::Routing::Instant, t(0))
}

fn poll(url: &str, at: Timestamp, keys: &[&str], alerts: Vec<NewAlert>) -> PollRecord {
    let mut state = FeedState::new(url, "feed", at);
    state.last_success = Some(at);
    state.last_changed = Some(at);
    PollRecord {
        state,
        at,
        entries: keys
            .iter()
            .map(|k| SeenEntry {
                key: k.to_string(),
                fingerprint: "f".into(),
                published: None,
            })
            .collect(),
        matches: Vec::new(),
        alerts,
    }
}

#[test]
fn a_poll_is_recorded_and_read_back() -> TestResult {
    let store = Store::open_in_memory()?;
    let queued = store.record_poll(&poll("http://a/", t(0), &["1", "2"], vec![alert("k1")]))?;
    assert_eq!(queued, 1);
    let states = store.feed_states()?;
    assert_eq!(states.get("http://a/").map(|s| s.entries_seen), Some(2));
    assert_eq!(store.seen_entries("http://a/")?.len(), 2);
    assert_eq!(store.due_alerts(t(1), 10)?.len(), 0, "not routed yet");
    assert_eq!(route_all(&store)?, 1);
    assert_eq!(store.due_alerts(t(1), 10)?.len(), 1);
    Ok(())
}

#[test]
fn only_the_asked_entries_of_the_asked_feed_are_looked_up() -> TestResult {
    let store = Store::open_in_memory()?;
    store.record_poll(&poll("http://a/", t(0), &["1", "2", "3"], vec![]))?;
    store.record_poll(&poll("http://b/", t(0), &["4"], vec![]))?;
    let seen = store.seen_among("http://a/", ["2", "3", "4", "new", "2"])?;
    let mut keys: Vec<&str> = seen.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["2", "3"]);
    assert_eq!(seen.get("2").map(|k| k.fingerprint.as_str()), Some("f"));
    assert_eq!(
        seen,
        store.seen_entries("http://a/").map(|mut all| {
            all.remove("1");
            all
        })?
    );
    Ok(())
}

#[test]
fn a_known_entry_is_current_until_its_content_changes_or_its_last_seen_time_is_due() -> TestResult {
    let store = Store::open_in_memory()?;
    store.record_poll(&poll("http://a/", t(0), &["1"], vec![]))?;
    let seen = store.seen_entries("http://a/")?;
    let known = seen.get("1").ok_or("entry 1 was not recorded")?;
    // Recording it again within the granularity with the same content changes nothing...
    assert!(known.is_current("f", t(1800)));
    // ...unlike other content, or a last-seen time an hour or more old.
    assert!(!known.is_current("g", t(1800)));
    assert!(!known.is_current("f", t(3601)));
    // A poll that leaves current entries out still counts only new ones.
    store.record_poll(&poll("http://a/", t(1800), &["2"], vec![]))?;
    let states = store.feed_states()?;
    assert_eq!(states.get("http://a/").map(|s| s.entries_seen), Some(2));
    Ok(())
}

#[test]
fn the_same_alert_key_is_queued_once() -> TestResult {
    let store = Store::open_in_memory()?;
    store.record_poll(&poll("http://a/", t(0), &["1"], vec![alert("k1")]))?;
    let again = store.record_poll(&poll("http://a/", t(10), &["1"], vec![alert("k1")]))?;
    assert_eq!(again, 0);
    route_all(&store)?;
    assert_eq!(store.due_alerts(t(20), 10)?.len(), 1);
    Ok(())
}

#[test]
fn alerts_are_claimed_and_marked_sent_together() -> TestResult {
    let store = Store::open_in_memory()?;
    store.enqueue(&[alert("a"), alert("b"), alert("c")], t(0))?;
    route_all(&store)?;
    let due = store.due_alerts(t(0), 10)?;
    store.mark_sent(due[2].id, t(1))?;
    // Only alerts still queued are claimed; each claim plans the next attempt.
    let claimed = store.claim_attempts(&[
        (due[0].id, t(600)),
        (due[1].id, t(600)),
        (due[2].id, t(600)),
    ])?;
    assert_eq!(claimed, vec![true, true, false]);
    assert!(
        store.due_alerts(t(300), 10)?.is_empty(),
        "claimed alerts wait for their planned retry"
    );
    store.mark_all_sent(&[due[0].id, due[1].id], t(2))?;
    let counts = store.outbox_counts()?;
    assert_eq!(
        counts.get("local").map(|c| (c.sent, c.queued)),
        Some((3, 0))
    );
    Ok(())
}

#[test]
fn retry_then_sent_then_dead() -> TestResult {
    let store = Store::open_in_memory()?;
    store.enqueue(&[alert("a"), alert("b")], t(0))?;
    route_all(&store)?;
    let due = store.due_alerts(t(0), 10)?;
    assert_eq!(due.len(), 2);
    store.mark_retry(due[0].id, "connection refused", t(60))?;
    assert_eq!(store.due_alerts(t(30), 10)?.len(), 1, "retry waits");
    assert_eq!(store.next_due_alert()?, Some(t(0)));
    store.mark_sent(due[1].id, t(1))?;
    store.mark_dead(due[0].id, "gave up", t(90))?;
    let counts = store.outbox_counts()?;
    let local = counts.get("local").cloned().unwrap_or_default();
    assert_eq!((local.queued, local.sent, local.dead), (0, 1, 1));
    let dead = store
        .outbox_item("a")?
        .map(|i| (i.status, i.attempts, i.last_error));
    assert_eq!(dead, Some((OutboxStatus::Dead, 2, Some("gave up".into()))));
    Ok(())
}

#[test]
fn purge_never_forgets_an_entry_still_in_its_feed() -> TestResult {
    let store = Store::open_in_memory()?;
    let day = 86_400;
    store.record_poll(&poll("http://a/", t(0), &["old", "kept"], vec![]))?;
    // 100 days later the feed changes: "old" left it, "kept" is still there.
    store.record_poll(&poll("http://a/", t(100 * day), &["kept"], vec![]))?;
    // A second feed that has answered 304 for 100 days: nothing may be forgotten.
    store.record_poll(&poll("http://b/", t(0), &["quiet"], vec![]))?;
    let removed = store.purge_seen(
        t(101 * day),
        std::time::Duration::from_secs(90 * day as u64),
    )?;
    assert_eq!(removed, 1);
    let a = store.seen_entries("http://a/")?;
    assert!(a.contains_key("kept") && !a.contains_key("old"));
    assert!(store.seen_entries("http://b/")?.contains_key("quiet"));
    Ok(())
}

#[test]
fn purge_keeps_an_entry_whose_last_seen_time_was_not_refreshed() -> TestResult {
    let store = Store::open_in_memory()?;
    let day = 86_400;
    store.record_poll(&poll("http://a/", t(0), &["kept"], vec![]))?;
    // Half an hour later the feed changes with "kept" still in it: its row is not rewritten
    // (seen less than the granularity ago), so its last-seen time lags the change.
    store.record_poll(&poll("http://a/", t(1800), &["kept", "new"], vec![]))?;
    // Then 304s for 100 days.
    store.purge_seen(
        t(100 * day),
        std::time::Duration::from_secs(90 * day as u64),
    )?;
    let a = store.seen_entries("http://a/")?;
    assert!(a.contains_key("kept") && a.contains_key("new"), "{a:?}");
    // Once the feed changes without it, it is forgotten after the retention.
    store.record_poll(&poll("http://a/", t(100 * day), &["new"], vec![]))?;
    let removed = store.purge_seen(
        t(191 * day),
        std::time::Duration::from_secs(90 * day as u64),
    )?;
    assert_eq!(removed, 1);
    assert!(!store.seen_entries("http://a/")?.contains_key("kept"));
    Ok(())
}

#[test]
fn commits_leave_checkpoints_to_the_writer_pauses() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let store = Store::open(&path)?;
    for feed in 0..50 {
        let url = format!("http://feed{feed}/");
        store.record_poll(&poll(&url, t(0), &["1", "2", "3"], vec![]))?;
    }
    // The file alone (without its log) does not have the polls yet...
    let copy = dir.path().join("copy.db");
    let entries_in_file = || -> Option<i64> {
        std::fs::copy(&path, &copy).ok()?;
        let conn = Connection::open(&copy).ok()?;
        conn.query_row("SELECT COUNT(*) FROM entries", [], |r| r.get(0))
            .ok()
    };
    assert_eq!(entries_in_file(), None, "not even the schema");
    // ...until a checkpoint copies them there.
    assert!(store.checkpoint()? > 0);
    assert_eq!(entries_in_file(), Some(150));
    Ok(())
}

#[test]
fn a_log_grown_in_a_burst_is_cut_back_once_checkpointed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let log = dir.path().join("state.db-wal");
    let store = Store::open(&path)?;
    // One burst: ~8 MB of entries in one transaction.
    let keys: Vec<String> = (0..20_000).map(|k| format!("{k:0>300}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    store.record_poll(&poll("http://busy/", t(0), &keys, vec![]))?;
    let grown = std::fs::metadata(&log)?.len();
    assert!(
        grown > 2 * LOG_SIZE_LIMIT_BYTES as u64,
        "the burst grew the log to {grown}"
    );
    store.checkpoint()?;
    // The next write starts the log over and cuts the file back.
    store.record_poll(&poll("http://quiet/", t(1), &["1"], vec![]))?;
    let after = std::fs::metadata(&log)?.len();
    assert!(
        after <= LOG_SIZE_LIMIT_BYTES as u64,
        "log still {after} bytes"
    );
    Ok(())
}

#[test]
fn a_database_from_a_newer_version_is_refused_not_reset() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    drop(Store::open(&path)?);
    {
        let conn = Connection::open(&path)?;
        conn.pragma_update(None, "user_version", 999)?;
    }
    match Store::open(&path) {
        Err(StoreError::TooNew { found: 999, .. }) => {}
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a newer database was opened"),
    }
    let conn = Connection::open(&path)?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    assert_eq!(version, 999, "the file was left untouched");
    Ok(())
}

#[test]
fn a_corrupt_database_gives_a_clear_error_and_is_left_alone() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let garbage = vec![0x42u8; 8192];
    std::fs::write(&path, &garbage)?;
    let error = match Store::open(&path) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a corrupt file was opened"),
    };
    assert!(error.contains("corrupt"), "{error}");
    assert_eq!(std::fs::read(&path)?, garbage);
    Ok(())
}

#[test]
fn state_survives_reopening() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let store = Store::open_dir(dir.path())?;
        let mut record = poll("http://a/", t(0), &["1"], vec![]);
        record.state.etag = Some("\"v1\"".into());
        store.record_poll(&record)?;
    }
    let store = Store::open_dir(dir.path())?;
    let states = store.feed_states()?;
    assert_eq!(
        states.get("http://a/").and_then(|s| s.etag.clone()),
        Some("\"v1\"".to_string())
    );
    Ok(())
}

#[test]
fn digest_only_alerts_are_held_and_frozen_into_one_digest() -> TestResult {
    use crate::config::Routing;
    let store = Store::open_in_memory()?;
    let mut a = alert("a");
    a.destination = "desk".into();
    let mut b = alert("b");
    b.destination = "desk".into();
    b.rule = "instant-and-digest".into();
    store.enqueue(&[a, b], t(0))?;
    store.route_new(
        |_, rule, _| {
            if rule == "r" {
                Routing::Digest
            } else {
                Routing::Both
            }
        },
        t(1),
    )?;
    let due: Vec<String> = store
        .due_alerts(t(2), 10)?
        .into_iter()
        .map(|i| i.key)
        .collect();
    assert_eq!(
        due,
        vec!["b".to_string()],
        "only the `both` alert is sent at once"
    );
    let pending = store.digest_pending("desk")?;
    assert_eq!(pending.len(), 2);
    let ids: Vec<i64> = pending.iter().map(|i| i.id).collect();
    let digest = NewAlert {
        key: "d1".into(),
        destination: "desk".into(),
        rule: "(digest)".into(),
        story: "digest".into(),
        payload: "{}".into(),
        kind: OutboxKind::Digest,
        ..NewAlert::default()
    };
    assert!(store.freeze_digest("desk", Some(&digest), &ids, Some(t(3)), t(3))?);
    assert!(
        !store.freeze_digest("desk", Some(&digest), &ids, Some(t(3)), t(3))?,
        "same key once"
    );
    assert!(store.digest_pending("desk")?.is_empty());
    assert_eq!(store.digest_last_slot("desk")?, Some(t(3)));
    let due: Vec<String> = store
        .due_alerts(t(4), 10)?
        .into_iter()
        .map(|i| i.key)
        .collect();
    assert_eq!(due, vec!["b".to_string(), "d1".to_string()]);
    let counts = store.outbox_counts()?;
    assert_eq!(counts.get("desk").map(|c| (c.queued, c.held)), Some((2, 1)));
    Ok(())
}

#[test]
fn a_disabled_endpoint_is_remembered_until_enabled() -> TestResult {
    let store = Store::open_in_memory()?;
    assert_eq!(store.disabled_endpoint("hook")?, None);
    store.disable_endpoint("hook", "abc", "HTTP 410", t(5))?;
    assert_eq!(
        store.disabled_endpoint("hook")?,
        Some(("abc".to_string(), "HTTP 410".to_string(), t(5)))
    );
    store.enable_endpoint("hook")?;
    assert_eq!(store.disabled_endpoint("hook")?, None);
    Ok(())
}

#[test]
fn counters_accumulate_even_from_a_stale_copy_of_the_state() -> TestResult {
    let store = Store::open_in_memory()?;
    let first = poll("http://a/", t(0), &["1", "2"], vec![]);
    store.record_poll(&first)?;
    // The scheduler keeps its own copy of the state; a later 304 poll recorded from the copy
    // taken before the first poll must not reset what the first poll counted.
    let mut later = poll("http://a/", t(60), &[], vec![]);
    later.state = first.state.clone();
    store.record_poll(&later)?;
    let state = store.feed_states()?.remove("http://a/").ok_or("no state")?;
    assert_eq!(state.entries_seen, 2);
    assert_eq!(state.last_new_entry, Some(t(0)));
    Ok(())
}

#[test]
fn a_poll_reads_committed_entries_without_waiting_for_a_write_in_progress() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = std::sync::Arc::new(Store::open_dir(dir.path())?);
    store.record_poll(&poll("http://a/", t(0), &["1"], Vec::new()))?;
    // Another poll's write, half done: the writer's connection is taken and its transaction
    // is open.
    let writer = store.conn();
    writer.execute_batch(
        "BEGIN IMMEDIATE;
         INSERT INTO entries (feed_url, key, fingerprint, first_seen_ms, last_seen_ms)
         VALUES ('http://a/', '2', 'f', 0, 0);",
    )?;
    let (sender, receiver) = std::sync::mpsc::channel();
    let reading = store.clone();
    std::thread::spawn(move || {
        let seen = reading.seen_entries("http://a/").map(|seen| {
            let mut keys: Vec<String> = seen.into_keys().collect();
            keys.sort();
            keys
        });
        let matched = reading.matches_of_entry("http://a/", "1").map(|m| m.len());
        let _ = sender.send((
            seen.map_err(|e| e.to_string()),
            matched.map_err(|e| e.to_string()),
        ));
    });
    // Generous: the reads take microseconds; sharing the writer's connection, they would
    // wait until the transaction below ends, which it only does after this.
    let received = receiver.recv_timeout(std::time::Duration::from_secs(60));
    writer.execute_batch("ROLLBACK")?;
    let (seen, matched) = received.map_err(|_| "the reads waited for the write")?;
    assert_eq!(seen?, vec!["1".to_string()], "only what is committed");
    assert_eq!(matched?, 0);
    drop(writer);
    assert_eq!(store.seen_entries("http://a/")?.len(), 1);
    Ok(())
}

#[test]
fn a_poll_answered_304_changes_only_times_and_anything_more_is_more() {
    let before = poll("http://a/", t(0), &[], Vec::new()).state;
    let mut not_modified = poll("http://a/", t(900), &[], Vec::new());
    not_modified.state.next_poll = t(1800);
    not_modified.state.last_attempt = Some(t(900));
    let mut attempted_before = before.clone();
    attempted_before.last_attempt = Some(t(0));
    assert!(not_modified.changes_only_times(&attempted_before));

    let mut new_etag = not_modified.clone();
    new_etag.state.etag = Some("\"v2\"".into());
    assert!(!new_etag.changes_only_times(&attempted_before));

    let mut failed = not_modified.clone();
    failed.state.consecutive_failures = 1;
    failed.state.last_error = Some("timed out".into());
    assert!(!failed.changes_only_times(&attempted_before));

    let with_entry = poll("http://a/", t(900), &["1"], Vec::new());
    assert!(!with_entry.changes_only_times(&before));

    let with_alert = poll("http://a/", t(900), &[], vec![alert("k1")]);
    assert!(!with_alert.changes_only_times(&before));

    // The first successful poll makes the feed not new: that must be written.
    let never_polled = FeedState::new("http://a/", "feed", t(0));
    assert!(!poll("http://a/", t(900), &[], Vec::new()).changes_only_times(&never_polled));
}

/// What a poll does with the store's answer: records the entries of `document` (key,
/// fingerprint) that are not current, as `evaluate_entries` does.
fn poll_document(store: &Store, url: &str, at: Timestamp, document: &[(&str, &str)]) -> Result<()> {
    let seen = store.seen_among(url, document.iter().map(|(key, _)| *key))?;
    let mut record = poll(url, at, &[], Vec::new());
    record.entries = document
        .iter()
        .filter(|(key, fingerprint)| {
            !seen
                .get(*key)
                .is_some_and(|known| known.is_current(fingerprint, at))
        })
        .map(|(key, fingerprint)| SeenEntry {
            key: key.to_string(),
            fingerprint: fingerprint.to_string(),
            published: None,
        })
        .collect();
    store.record_poll(&record)?;
    Ok(())
}

/// The database's own answer for `keys` of `url`, read past what the store remembers.
fn stored_among(store: &Store, url: &str, keys: &[&str]) -> Result<HashMap<String, KnownEntry>> {
    let mut all = store.seen_entries(url)?;
    all.retain(|key, _| keys.contains(&key.as_str()));
    Ok(all)
}

#[test]
fn the_remembered_latest_document_answers_as_the_database_would() -> TestResult {
    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbb";
    let dir = tempfile::tempdir()?;
    let store = Store::open_dir(dir.path())?;
    let url = "http://a/";
    let check = |keys: &[&str]| -> TestResult {
        let expected = stored_among(&store, url, keys)?;
        assert_eq!(
            store.seen_among(url, keys.iter().copied())?,
            expected,
            "keys {keys:?}"
        );
        Ok(())
    };
    let steps: [(i64, &[(&str, &str)]); 6] = [
        (0, &[("1", A), ("2", A)]),
        // A new entry; one changed its content; time within the granularity.
        (600, &[("1", A), ("2", B), ("3", A)]),
        // "1" leaves the document; later an hour has passed, so "2" and "3" are due a
        // last-seen refresh.
        (1200, &[("2", B), ("3", A)]),
        (5000, &[("2", B), ("3", A), ("4", A)]),
        // "1" comes back: it is not remembered (it left), the database knows it.
        (5600, &[("1", A), ("3", A), ("4", A)]),
        (5700, &[("1", A), ("3", B), ("4", A), ("5", A)]),
    ];
    for (at, document) in steps {
        poll_document(&store, url, t(at), document)?;
        let keys: Vec<&str> = document.iter().map(|(key, _)| *key).collect();
        check(&keys)?;
        check(&["1", "2", "3", "4", "5", "6"])?;
        // The next poll of the same document needs the database for none of it.
        store.seen_among(url, keys.iter().copied())?;
        assert!(store.recent.lookup(url, &keys).1.is_empty(), "at {at}");
    }
    // A record whose entry is already current (a caller with an older answer): the row is
    // left as it was, so its last-seen time is not what the record says.
    store.seen_among(url, ["1"])?;
    store.record_poll(&PollRecord {
        entries: vec![SeenEntry {
            key: "1".into(),
            fingerprint: A.into(),
            published: None,
        }],
        ..poll(url, t(5800), &[], Vec::new())
    })?;
    check(&["1"])?;
    // Purging forgets entries that left the feed long ago ("2", last seen at 5000, is one
    // once the feed has changed hours later); what is remembered must follow.
    poll_document(&store, url, t(20_000), &[("1", A)])?;
    store.seen_among(url, ["1", "2"])?;
    let purged = store.purge_seen(t(20_000 + 86_400), std::time::Duration::from_secs(3_600))?;
    assert!(purged > 0, "the test must purge something");
    check(&["1", "2", "3", "4", "5"])?;
    Ok(())
}
