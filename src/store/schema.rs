//! The schema of the state database, as an ordered list of migrations. The database's
//! `PRAGMA user_version` is the number of migrations applied; a database with a higher
//! number was written by a newer build and is refused rather than guessed at.

/// Migrations, oldest first. Never edit a released one; append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: feed state, seen entries, matches, alert outbox.
    "
    CREATE TABLE feeds (
        url                  TEXT PRIMARY KEY,
        name                 TEXT NOT NULL,
        effective_url        TEXT,
        etag                 TEXT,
        last_modified        TEXT,
        next_poll_ms         INTEGER NOT NULL DEFAULT 0,
        last_attempt_ms      INTEGER,
        last_success_ms      INTEGER,
        last_changed_ms      INTEGER,
        last_new_entry_ms    INTEGER,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        last_error           TEXT,
        last_status          INTEGER,
        entries_seen         INTEGER NOT NULL DEFAULT 0,
        created_ms           INTEGER NOT NULL
    );
    CREATE TABLE entries (
        feed_url      TEXT NOT NULL,
        key           TEXT NOT NULL,
        fingerprint   TEXT NOT NULL,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms  INTEGER NOT NULL,
        published_ms  INTEGER,
        PRIMARY KEY (feed_url, key)
    ) WITHOUT ROWID;
    CREATE INDEX entries_last_seen ON entries (last_seen_ms);
    CREATE TABLE matches (
        rule          TEXT NOT NULL,
        feed_url      TEXT NOT NULL,
        entry_key     TEXT NOT NULL,
        story         TEXT NOT NULL,
        fingerprint   TEXT NOT NULL,
        first_ms      INTEGER NOT NULL,
        last_ms       INTEGER NOT NULL,
        PRIMARY KEY (rule, feed_url, entry_key)
    ) WITHOUT ROWID;
    CREATE INDEX matches_first ON matches (first_ms);
    CREATE TABLE outbox (
        id             INTEGER PRIMARY KEY,
        key            TEXT NOT NULL UNIQUE,
        destination    TEXT NOT NULL,
        rule           TEXT NOT NULL,
        story          TEXT NOT NULL,
        payload        TEXT NOT NULL,
        status         TEXT NOT NULL DEFAULT 'queued',
        attempts       INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        created_ms     INTEGER NOT NULL,
        done_ms        INTEGER,
        last_error     TEXT
    );
    CREATE INDEX outbox_due ON outbox (status, next_attempt_ms);
    ",
    // 2: delivery — routing (instant/digest), story de-duplication, update threads,
    // digests and disabled webhook endpoints.
    "
    ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'alert';
    ALTER TABLE outbox ADD COLUMN thread_of TEXT;
    ALTER TABLE outbox ADD COLUMN sketch BLOB;
    ALTER TABLE outbox ADD COLUMN duplicate_of TEXT;
    ALTER TABLE outbox ADD COLUMN route TEXT;
    ALTER TABLE outbox ADD COLUMN digest_key TEXT;
    CREATE INDEX outbox_unrouted ON outbox (route) WHERE route IS NULL;
    CREATE INDEX outbox_stories ON outbox (destination, rule, created_ms);
    CREATE INDEX outbox_thread ON outbox (thread_of) WHERE thread_of IS NOT NULL;
    CREATE INDEX outbox_duplicates ON outbox (duplicate_of) WHERE duplicate_of IS NOT NULL;
    CREATE INDEX outbox_digest_pending ON outbox (destination)
        WHERE digest_key IS NULL AND route IN ('digest', 'both');
    CREATE TABLE digest_state (
        destination   TEXT PRIMARY KEY,
        last_slot_ms  INTEGER NOT NULL
    );
    CREATE TABLE disabled_endpoints (
        destination   TEXT PRIMARY KEY,
        target        TEXT NOT NULL,
        reason        TEXT NOT NULL,
        since_ms      INTEGER NOT NULL
    );
    ",
];
