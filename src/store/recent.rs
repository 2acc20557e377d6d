//! What the store remembers, in memory, of each feed's latest document: the entries of that
//! document as the database holds them (fingerprint and last-seen time). A changed feed's
//! next document lists mostly the same entries, so the seen-entry lookup of its next poll
//! needs the database only for the few keys not remembered here.
//!
//! The memory holds only what the database held or was just written by this store: the
//! lookup replaces a feed's memory with the database's answer for the document's keys, and a
//! committed poll adds the entries its statements changed and forgets those they left as they
//! were (their last-seen time is then not known exactly). Statements that delete entries clear
//! it. Keys are kept as 128-bit keyed hashes (two SipHash halves with keys drawn per process),
//! not as text: ~50 bytes per entry instead of ~200, which matters with 10,000 feeds.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

use rustc_hash::FxHashMap;

use super::KnownEntry;

/// Fingerprints are 24 hexadecimal digits ([`crate::feed::Entry::fingerprint`]); others
/// (none are written today) are not remembered.
const FINGERPRINT_LEN: usize = 24;

/// One remembered entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Remembered {
    key: u128,
    fingerprint: [u8; FINGERPRINT_LEN],
    last_seen_ms: i64,
}

/// The entries of each feed's latest document, by feed URL, each feed's sorted by hashed key
/// (some feeds list thousands of entries: a lookup must not scan them all for each key).
#[derive(Debug, Default)]
pub(super) struct RecentEntries {
    halves: (RandomState, RandomState),
    feeds: Mutex<FxHashMap<String, Vec<Remembered>>>,
}

impl RecentEntries {
    fn key(&self, key: &str) -> u128 {
        let high = self.halves.0.hash_one(key);
        let low = self.halves.1.hash_one(key);
        (u128::from(high) << 64) | u128::from(low)
    }

    fn feeds(&self) -> std::sync::MutexGuard<'_, FxHashMap<String, Vec<Remembered>>> {
        // Plain data: a panic elsewhere cannot leave it half-updated in a harmful way (at
        // worst an entry is missing, and the database is asked).
        self.feeds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The remembered entries among `keys` of `feed_url`, and the keys not remembered.
    pub(super) fn lookup<'k>(
        &self,
        feed_url: &str,
        keys: &[&'k str],
    ) -> (HashMap<String, KnownEntry>, Vec<&'k str>) {
        let feeds = self.feeds();
        let remembered = feeds.get(feed_url).map_or(&[][..], Vec::as_slice);
        let mut known = HashMap::with_capacity(keys.len());
        let mut unknown = Vec::new();
        for &key in keys {
            let hashed = self.key(key);
            let found = remembered
                .binary_search_by_key(&hashed, |entry| entry.key)
                .ok()
                .map(|at| &remembered[at]);
            match found.and_then(|entry| {
                Some(KnownEntry {
                    fingerprint: std::str::from_utf8(&entry.fingerprint).ok()?.to_string(),
                    last_seen_ms: entry.last_seen_ms,
                })
            }) {
                Some(entry) => {
                    known.insert(key.to_string(), entry);
                }
                None => unknown.push(key),
            }
        }
        (known, unknown)
    }

    /// Remembers for `feed_url` exactly `known`, the database's entries of its latest
    /// document (what was remembered before and is not in it is forgotten).
    pub(super) fn replace(&self, feed_url: &str, known: &HashMap<String, KnownEntry>) {
        let mut entries: Vec<Remembered> = known
            .iter()
            .filter_map(|(key, entry)| self.remembered(key, &entry.fingerprint, entry.last_seen_ms))
            .collect();
        entries.sort_unstable_by_key(|entry| entry.key);
        let mut feeds = self.feeds();
        if let Some(slot) = feeds.get_mut(feed_url) {
            *slot = entries;
        } else {
            feeds.insert(feed_url.to_string(), entries);
        }
    }

    /// After a commit: `key` of `feed_url` now has `fingerprint` and was last seen at
    /// `last_seen_ms` (`Some`), or its row was left as it was and its exact last-seen time
    /// is not known (`None`: forgotten, so the next lookup asks the database).
    pub(super) fn written(&self, feed_url: &str, key: &str, now_holds: Option<(&str, i64)>) {
        let hashed = self.key(key);
        let mut feeds = self.feeds();
        let Some(entries) = feeds.get_mut(feed_url) else {
            // Never looked up in this process (a record written by other means): nothing
            // remembered can be wrong, and the next lookup fills it.
            return;
        };
        let position = entries.binary_search_by_key(&hashed, |entry| entry.key);
        let now_holds =
            now_holds.and_then(|(fingerprint, seen)| self.remembered(key, fingerprint, seen));
        match (position, now_holds) {
            (Ok(at), Some(entry)) => entries[at] = entry,
            (Ok(at), None) => {
                entries.remove(at);
            }
            (Err(at), Some(entry)) => entries.insert(at, entry),
            (Err(_), None) => {}
        }
    }

    /// Forgets everything (after statements that delete entries).
    pub(super) fn clear(&self) {
        self.feeds().clear();
    }

    fn remembered(&self, key: &str, fingerprint: &str, last_seen_ms: i64) -> Option<Remembered> {
        Some(Remembered {
            key: self.key(key),
            fingerprint: fingerprint.as_bytes().try_into().ok()?,
            last_seen_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP_A: &str = "0123456789abcdef01234567";
    const FP_B: &str = "fedcba9876543210fedcba98";

    fn known(entries: &[(&str, &str, i64)]) -> HashMap<String, KnownEntry> {
        entries
            .iter()
            .map(|&(key, fingerprint, last_seen_ms)| {
                (
                    key.to_string(),
                    KnownEntry {
                        fingerprint: fingerprint.to_string(),
                        last_seen_ms,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn remembers_only_the_latest_document_as_given() {
        let recent = RecentEntries::default();
        let (found, unknown) = recent.lookup("f", &["a", "b"]);
        assert!(found.is_empty());
        assert_eq!(unknown, ["a", "b"]);

        recent.replace("f", &known(&[("a", FP_A, 10), ("b", FP_B, 20)]));
        let (found, unknown) = recent.lookup("f", &["a", "b", "c"]);
        assert_eq!(found, known(&[("a", FP_A, 10), ("b", FP_B, 20)]));
        assert_eq!(unknown, ["c"]);
        // Another feed's entries are not this one's.
        assert_eq!(recent.lookup("g", &["a"]).1, ["a"]);

        // The next document no longer lists "a": it is forgotten.
        recent.replace("f", &known(&[("b", FP_B, 20)]));
        assert_eq!(recent.lookup("f", &["a"]).1, ["a"]);
    }

    #[test]
    fn follows_what_a_commit_wrote_and_forgets_what_it_left() {
        let recent = RecentEntries::default();
        recent.replace("f", &known(&[("a", FP_A, 10), ("b", FP_A, 10)]));
        recent.written("f", "a", Some((FP_B, 99)));
        recent.written("f", "c", Some((FP_A, 99)));
        recent.written("f", "b", None);
        let (found, unknown) = recent.lookup("f", &["a", "b", "c"]);
        assert_eq!(found, known(&[("a", FP_B, 99), ("c", FP_A, 99)]));
        assert_eq!(unknown, ["b"]);
        // A feed never looked up gains nothing from a write.
        recent.written("g", "a", Some((FP_A, 1)));
        assert_eq!(recent.lookup("g", &["a"]).1, ["a"]);
        recent.clear();
        assert_eq!(recent.lookup("f", &["a", "c"]).1, ["a", "c"]);
    }

    #[test]
    fn a_long_document_is_found_entry_by_entry() {
        let recent = RecentEntries::default();
        let keys: Vec<String> = (0..5000).map(|k| format!("key-{k}")).collect();
        let document: HashMap<String, KnownEntry> = keys
            .iter()
            .map(|key| {
                let entry = KnownEntry {
                    fingerprint: FP_A.to_string(),
                    last_seen_ms: 7,
                };
                (key.clone(), entry)
            })
            .collect();
        recent.replace("f", &document);
        // Written in an order the hashes do not follow: each must land where lookups find it.
        for key in ["new-3", "new-1", "new-2"] {
            recent.written("f", key, Some((FP_B, 8)));
        }
        recent.written("f", "key-17", None);
        let mut asked: Vec<&str> = keys.iter().map(String::as_str).collect();
        asked.extend(["new-1", "new-2", "new-3", "absent"]);
        let (found, unknown) = recent.lookup("f", &asked);
        assert_eq!(found.len(), 5000 - 1 + 3);
        assert_eq!(unknown, ["key-17", "absent"]);
        assert_eq!(found.get("new-2").map(|e| e.last_seen_ms), Some(8));
    }

    #[test]
    fn does_not_remember_unexpected_fingerprints() {
        let recent = RecentEntries::default();
        recent.replace("f", &known(&[("a", "short", 10)]));
        assert_eq!(recent.lookup("f", &["a"]).1, ["a"]);
    }
}
