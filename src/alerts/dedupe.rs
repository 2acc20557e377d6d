//! One story, one alert: queued alerts that report a story already alerted (or queued) for
//! the same rule and destination within the window — same canonical URL or near-duplicate
//! text — are folded into the first alert instead of being sent. The first alert then lists
//! their outlets ("also reported by").

use std::collections::HashMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::similar;
use crate::store::{Store, StoreError, StoryRow};

/// Folds duplicates among the alerts of the last `window`; returns how many were folded.
pub fn collapse(store: &Store, now: Timestamp, window: Duration) -> Result<usize, StoreError> {
    let since = now
        .checked_sub(SignedDuration::try_from(window).unwrap_or(SignedDuration::MAX))
        .unwrap_or(Timestamp::UNIX_EPOCH);
    if !store.has_queued_alerts()? {
        return Ok(0);
    }
    let rows = store.recent_stories(since)?;
    if !rows.iter().any(|row| row.queued) {
        return Ok(0);
    }
    let mut firsts: HashMap<(&str, &str), Vec<&StoryRow>> = HashMap::new();
    let mut folded = 0;
    for row in &rows {
        let group = firsts
            .entry((row.destination.as_str(), row.rule.as_str()))
            .or_default();
        // Only alerts still queued can be folded; the cost is (new alerts) x (stories in the
        // window), not quadratic in the window.
        if !row.queued {
            group.push(row);
            continue;
        }
        match group.iter().find(|first| same_story(first, row)) {
            Some(first) => {
                store.mark_duplicate(row.id, &first.key, now)?;
                tracing::info!(
                    destination = %row.destination, rule = %row.rule, story = %row.story,
                    first = %first.key, "same story as an earlier alert; listed there instead of sent"
                );
                folded += 1;
            }
            None => group.push(row),
        }
    }
    Ok(folded)
}

/// Whether two alerts report the same story.
pub fn same_story(a: &StoryRow, b: &StoryRow) -> bool {
    a.story == b.story || similar::similarity(&a.sketch, &b.sketch) >= similar::SAME_STORY
}
