//! The delivery side of the outbox: routing queued alerts to instant delivery and/or the
//! digest, folding duplicate stories, freezing digests, and remembering webhook endpoints
//! that asked (with `410 Gone`) never to be called again.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::{
    NewAlert, OUTBOX_COLUMNS, OutboxItem, OutboxKind, Result, Store, from_ms, insert_alerts, ms,
    outbox_item,
};
use crate::config::Routing;

/// An alert that may be the first report of a story, for de-duplication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoryRow {
    /// Row id.
    pub id: i64,
    /// Idempotency key.
    pub key: String,
    /// Destination name.
    pub destination: String,
    /// Rule name.
    pub rule: String,
    /// Story key (canonical URL).
    pub story: String,
    /// Near-duplicate sketch.
    pub sketch: Vec<u64>,
    /// Whether it is still queued (not yet sent).
    pub queued: bool,
    /// When it was queued.
    pub created: Timestamp,
}

pub(super) fn encode_sketch(sketch: &[u64]) -> Option<Vec<u8>> {
    if sketch.is_empty() {
        return None;
    }
    Some(sketch.iter().flat_map(|h| h.to_le_bytes()).collect())
}

pub(super) fn decode_sketch(bytes: Option<Vec<u8>>) -> Vec<u64> {
    bytes
        .unwrap_or_default()
        .chunks_exact(8)
        .map(|chunk| {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            u64::from_le_bytes(word)
        })
        .collect()
}

pub(super) fn parse_route(text: &str) -> Option<Routing> {
    match text {
        "instant" => Some(Routing::Instant),
        "digest" => Some(Routing::Digest),
        "both" => Some(Routing::Both),
        _ => None,
    }
}

impl Store {
    /// Routes every queued alert not routed yet: `decide(destination, rule, kind)` says
    /// whether it is sent at once, held for the digest, or both. Returns how many were routed.
    pub fn route_new(
        &self,
        decide: impl Fn(&str, &str, OutboxKind) -> Routing,
        now: Timestamp,
    ) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let pending: Vec<(i64, String, String, String)> = {
            let mut statement = tx.prepare_cached(
                "SELECT id, destination, rule, kind FROM outbox
                 WHERE route IS NULL AND status = 'queued' ORDER BY id",
            )?;
            statement
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        {
            let mut update = tx.prepare_cached(
                "UPDATE outbox SET route = ?2,
                        status = CASE WHEN ?2 = 'digest' THEN 'held' ELSE status END,
                        done_ms = CASE WHEN ?2 = 'digest' THEN ?3 ELSE done_ms END
                 WHERE id = ?1",
            )?;
            for (id, destination, rule, kind) in &pending {
                let route = decide(destination, rule, OutboxKind::parse(kind));
                update.execute(params![id, route.as_str(), ms(now)])?;
            }
        }
        tx.commit()?;
        Ok(pending.len())
    }

    /// Whether any first alert is queued for instant delivery (so de-duplication has
    /// anything to do).
    pub fn has_queued_alerts(&self) -> Result<bool> {
        let conn = self.conn();
        let any: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE status = 'queued' AND kind = 'alert'
                                AND route IN ('instant', 'both'))",
            [],
            |r| r.get(0),
        )?;
        Ok(any)
    }

    /// First alerts (not updates, not duplicates) sent or queued for instant delivery since
    /// `since`, oldest first: the candidates a new alert may duplicate.
    pub fn recent_stories(&self, since: Timestamp) -> Result<Vec<StoryRow>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT id, key, destination, rule, story, sketch, status, created_ms FROM outbox
             WHERE kind = 'alert' AND route IN ('instant', 'both') AND status IN ('queued', 'sent')
               AND created_ms >= ?1
             ORDER BY created_ms, id",
        )?;
        let rows = statement.query_map([ms(since)], |r| {
            Ok(StoryRow {
                id: r.get(0)?,
                key: r.get(1)?,
                destination: r.get(2)?,
                rule: r.get(3)?,
                story: r.get(4)?,
                sketch: decode_sketch(r.get(5)?),
                queued: r.get::<_, String>(6)? == "queued",
                created: from_ms(r.get(7)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Folds a queued alert into an earlier one for the same story: it is not sent, and the
    /// earlier one lists its outlet.
    pub fn mark_duplicate(&self, id: i64, of_key: &str, now: Timestamp) -> Result<()> {
        self.conn().execute(
            "UPDATE outbox SET status = 'duplicate', duplicate_of = ?2, done_ms = ?3
             WHERE id = ?1 AND status = 'queued'",
            params![id, of_key, ms(now)],
        )?;
        Ok(())
    }

    /// The alerts folded into `key`, oldest first.
    pub fn duplicates_of(&self, key: &str) -> Result<Vec<OutboxItem>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE duplicate_of = ?1 ORDER BY created_ms, id"
        ))?;
        let rows = statement.query_map([key], outbox_item)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The first alert with key `key` and every update threaded under it, oldest first.
    pub fn thread(&self, key: &str) -> Result<Vec<OutboxItem>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE key = ?1 OR thread_of = ?1 ORDER BY id"
        ))?;
        let rows = statement.query_map([key], outbox_item)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Alerts routed to `destination`'s digest and not yet in one, oldest first.
    pub fn digest_pending(&self, destination: &str) -> Result<Vec<OutboxItem>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox
             WHERE destination = ?1 AND digest_key IS NULL AND route IN ('digest', 'both')
               AND kind != 'digest'
             ORDER BY created_ms, id"
        ))?;
        let rows = statement.query_map([destination], outbox_item)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Freezes a digest in one transaction: queues the digest itself (when there is one),
    /// marks the alerts it carries, and records the schedule slot it was for. Returns whether
    /// the digest was newly queued (a digest key already in the outbox is not queued again).
    pub fn freeze_digest(
        &self,
        destination: &str,
        digest: Option<&NewAlert>,
        included: &[i64],
        slot: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut queued = false;
        if let Some(digest) = digest {
            queued = insert_alerts(&tx, std::slice::from_ref(digest), ms(now))? > 0;
            tx.execute(
                "UPDATE outbox SET route = 'instant' WHERE key = ?1 AND route IS NULL",
                [&digest.key],
            )?;
            let mut mark = tx.prepare_cached(
                "UPDATE outbox SET digest_key = ?2,
                        done_ms = CASE WHEN status = 'held' THEN ?3 ELSE done_ms END
                 WHERE id = ?1 AND digest_key IS NULL",
            )?;
            for id in included {
                mark.execute(params![id, digest.key, ms(now)])?;
            }
        }
        if let Some(slot) = slot {
            tx.execute(
                "INSERT INTO digest_state (destination, last_slot_ms) VALUES (?1, ?2)
                 ON CONFLICT (destination) DO UPDATE SET last_slot_ms = excluded.last_slot_ms",
                params![destination, ms(slot)],
            )?;
        }
        tx.commit()?;
        Ok(queued)
    }

    /// The last digest slot handled for `destination`.
    pub fn digest_last_slot(&self, destination: &str) -> Result<Option<Timestamp>> {
        let conn = self.conn();
        let slot: Option<i64> = conn
            .query_row(
                "SELECT last_slot_ms FROM digest_state WHERE destination = ?1",
                [destination],
                |r| r.get(0),
            )
            .optional()?;
        Ok(slot.map(from_ms))
    }

    /// Remembers that `destination`'s endpoint `target` asked never to be called again.
    pub fn disable_endpoint(
        &self,
        destination: &str,
        target: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT INTO disabled_endpoints (destination, target, reason, since_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (destination) DO UPDATE SET target = excluded.target, reason = excluded.reason,
                 since_ms = excluded.since_ms",
            params![destination, target, reason, ms(now)],
        )?;
        Ok(())
    }

    /// Whether `destination` is disabled: the endpoint it was disabled for, why, and since
    /// when.
    pub fn disabled_endpoint(
        &self,
        destination: &str,
    ) -> Result<Option<(String, String, Timestamp)>> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT target, reason, since_ms FROM disabled_endpoints WHERE destination = ?1",
                [destination],
                |r| Ok((r.get(0)?, r.get(1)?, from_ms(r.get(2)?))),
            )
            .optional()?;
        Ok(row)
    }

    /// Forgets that `destination` was disabled (its endpoint was changed).
    pub fn enable_endpoint(&self, destination: &str) -> Result<()> {
        self.conn().execute(
            "DELETE FROM disabled_endpoints WHERE destination = ?1",
            [destination],
        )?;
        Ok(())
    }
}
