//! Digests: the alerts routed to an email destination's digest, grouped by rule and then by
//! story (duplicates and updates collapsed, the other outlets listed), newest first, with
//! counts. A digest is frozen into the outbox when it falls due — its content is fixed then,
//! so a retry sends the same message — and the alerts it carries are marked in the same
//! transaction, so none is listed twice or left out.

use std::collections::{BTreeSet, HashSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::alerts::{Alert, Outlet, evidence_identity, similar};
use crate::rules::Evidence;
use crate::store::OutboxItem;

/// Version of the [`Digest`] JSON shape.
pub const DIGEST_SCHEMA_VERSION: u32 = 1;

/// One digest, as frozen in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    /// Version of this shape.
    pub schema: u32,
    /// The digest's key (its Message-ID local part).
    pub id: String,
    /// Destination name.
    pub destination: String,
    /// When it was frozen.
    pub created: Timestamp,
    /// The schedule slot it is for (`None` when asked for with `digest --now`).
    pub slot: Option<Timestamp>,
    /// Creation time of the oldest alert in it.
    pub since: Option<Timestamp>,
    /// Alerts in it.
    pub alerts: usize,
    /// Distinct stories in it.
    pub stories: usize,
    /// Distinct feeds in it.
    pub feeds: usize,
    /// By rule, the rule with the newest story first.
    pub rules: Vec<DigestRule>,
    /// Stories left out beyond the configured maximum.
    pub omitted: usize,
}

/// The stories of one rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestRule {
    /// Rule name.
    pub rule: String,
    /// Stories of the rule (including any omitted).
    pub count: usize,
    /// Listed stories, newest first.
    pub stories: Vec<DigestStory>,
}

/// One story in a digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestStory {
    /// Headline of its first report.
    pub title: Option<String>,
    /// Link of its first report.
    pub link: Option<String>,
    /// Feed of its first report.
    pub feed: String,
    /// Published time of its first report.
    pub published: Option<Timestamp>,
    /// Evidence of all its reports, each finding once.
    pub evidence: Vec<Evidence>,
    /// The other outlets that reported it.
    pub also_reported_by: Vec<Outlet>,
    /// Alerts collapsed into this story (reports and updates).
    pub alerts: usize,
    /// When its newest alert was created.
    pub newest: Timestamp,
}

struct Cluster {
    keys: HashSet<String>,
    story: String,
    sketch: Vec<u64>,
    entry: DigestStory,
    findings: BTreeSet<String>,
}

/// The deterministic key of the digest of `destination` for `slot` (or, when asked for by
/// hand, for the moment `at`).
pub fn digest_key(destination: &str, slot: Option<Timestamp>, at: Timestamp) -> String {
    let mut hasher = Sha256::new();
    hasher.update(destination.as_bytes());
    hasher.update([0u8]);
    match slot {
        Some(slot) => hasher.update(format!("slot:{}", slot.as_millisecond()).as_bytes()),
        None => hasher.update(format!("manual:{}", at.as_millisecond()).as_bytes()),
    }
    format!("nh_digest_{}", hex::encode(&hasher.finalize()[..12]))
}

/// Builds the digest of `items` (the destination's pending alerts, oldest first). Returns it
/// with the ids of the items it carries (all of them: omitted stories are counted, not
/// carried over, so a digest never grows without bound).
pub fn build(
    destination: &str,
    items: &[OutboxItem],
    max_items: usize,
    slot: Option<Timestamp>,
    now: Timestamp,
) -> (Digest, Vec<i64>) {
    let mut by_rule: Vec<(String, Vec<Cluster>)> = Vec::new();
    let mut feeds: HashSet<String> = HashSet::new();
    let mut alerts = 0;
    let mut since: Option<Timestamp> = None;
    for item in items {
        let Ok(alert) = serde_json::from_str::<Alert>(&item.payload) else {
            tracing::warn!(key = %item.key, "alert in the outbox cannot be read; left out of the digest");
            continue;
        };
        alerts += 1;
        since = Some(since.map_or(item.created, |s: Timestamp| s.min(item.created)));
        feeds.insert(alert.feed.name.clone());
        let clusters = match by_rule.iter_mut().find(|(rule, _)| *rule == alert.rule) {
            Some((_, clusters)) => clusters,
            None => {
                by_rule.push((alert.rule.clone(), Vec::new()));
                let last = by_rule.len() - 1;
                &mut by_rule[last].1
            }
        };
        let related = |cluster: &Cluster| {
            cluster.story == item.story
                || item
                    .duplicate_of
                    .as_ref()
                    .is_some_and(|k| cluster.keys.contains(k))
                || item
                    .thread_of
                    .as_ref()
                    .is_some_and(|k| cluster.keys.contains(k))
                || similar::similarity(&cluster.sketch, &item.sketch) >= similar::SAME_STORY
        };
        match clusters.iter_mut().find(|c| related(c)) {
            Some(cluster) => {
                cluster.keys.insert(item.key.clone());
                cluster.entry.alerts += 1;
                cluster.entry.newest = cluster.entry.newest.max(item.created);
                let outlet = Outlet::of(&alert);
                if outlet.feed != cluster.entry.feed
                    && !cluster
                        .entry
                        .also_reported_by
                        .iter()
                        .any(|o| o.feed == outlet.feed)
                {
                    cluster.entry.also_reported_by.push(outlet);
                }
                for evidence in &alert.evidence {
                    if cluster.findings.insert(evidence_identity(evidence)) {
                        cluster.entry.evidence.push(evidence.clone());
                    }
                }
            }
            None => {
                let findings = alert.evidence.iter().map(evidence_identity).collect();
                clusters.push(Cluster {
                    keys: HashSet::from([item.key.clone()]),
                    story: item.story.clone(),
                    sketch: item.sketch.clone(),
                    findings,
                    entry: DigestStory {
                        title: alert.article.title.clone(),
                        link: alert.article.link.clone(),
                        feed: alert.feed.name.clone(),
                        published: alert.article.published,
                        evidence: alert.evidence.clone(),
                        also_reported_by: Vec::new(),
                        alerts: 1,
                        newest: item.created,
                    },
                });
            }
        }
    }
    let mut rules: Vec<DigestRule> = by_rule
        .into_iter()
        .map(|(rule, clusters)| {
            let mut stories: Vec<DigestStory> = clusters.into_iter().map(|c| c.entry).collect();
            stories.sort_by_key(|s| std::cmp::Reverse(s.newest));
            DigestRule {
                rule,
                count: stories.len(),
                stories,
            }
        })
        .collect();
    rules.sort_by(|a, b| {
        let newest = |r: &DigestRule| r.stories.first().map(|s| s.newest);
        newest(b).cmp(&newest(a)).then_with(|| a.rule.cmp(&b.rule))
    });
    let stories: usize = rules.iter().map(|r| r.count).sum();
    let mut room = max_items;
    let mut omitted = 0;
    for rule in &mut rules {
        let keep = rule.stories.len().min(room);
        omitted += rule.stories.len() - keep;
        rule.stories.truncate(keep);
        room -= keep;
    }
    rules.retain(|r| !r.stories.is_empty() || r.count == 0);
    let digest = Digest {
        schema: DIGEST_SCHEMA_VERSION,
        id: digest_key(destination, slot, now),
        destination: destination.to_string(),
        created: now,
        slot,
        since,
        alerts,
        stories,
        feeds: feeds.len(),
        rules,
        omitted,
    };
    (digest, items.iter().map(|i| i.id).collect())
}
