//! What `newshound status` shows, and the same numbers for the metrics and the systemd
//! status line: each configured feed's health, each rule's hits over 24 h and 7 d, and the
//! outbox per destination. Everything is read from the state database, so it works beside
//! a running daemon (read-only, WAL).
//!
//! **Silent feeds.** A feed can answer 200 or 304 for weeks while publishing nothing
//! because the site moved its feed, broke its CMS or stopped the section; users rarely
//! notice. Each feed's rhythm is learnt from when new entries *arrived* (the distinct
//! first-seen times of its entries) over the 30 days before its latest arrival. Its *usual
//! pause* is the time-weighted 80th percentile of the pauses between arrivals: the pause
//! length that covers 80 % of the observed time. Weighting by time makes nights and
//! weekends count as the long pauses they are, even for a feed that publishes every few
//! minutes by day; one outage shorter than a fifth of the window does not stretch it. A feed is **silent** when the time since its last arrival exceeds three
//! times its usual pause, three poll intervals and one hour, whichever is longest. With
//! fewer than four pauses observed the rhythm is unknown and the feed is never flagged.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::config::Config;
use crate::store::{FeedState, Result, Store};

/// How far back (from a feed's latest arrival) its rhythm is learnt.
pub const RHYTHM_WINDOW: Duration = Duration::from_secs(30 * 86_400);

/// Pauses needed before a rhythm is trusted.
const MIN_PAUSES: usize = 4;

/// Share of the observed time the usual pause covers.
const USUAL_SHARE: f64 = 0.8;

/// How many usual pauses (and poll intervals) of silence make a feed silent.
const SILENCE_FACTOR: u32 = 3;

/// Silence shorter than this is never flagged.
const MIN_SILENCE: Duration = Duration::from_secs(3600);

/// A feed's condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Never polled yet.
    Pending,
    /// Polls succeed and new entries come at the usual rhythm (or the rhythm is unknown).
    Ok,
    /// The last poll failed.
    Failing,
    /// Polls succeed, but nothing new has arrived for far longer than usual.
    Silent,
}

impl Health {
    /// Lower-case name (also the metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Pending => "pending",
            Health::Ok => "ok",
            Health::Failing => "failing",
            Health::Silent => "silent",
        }
    }

    /// Every value, in display order.
    pub const ALL: [Health; 4] = [Health::Ok, Health::Failing, Health::Silent, Health::Pending];
}

/// One configured feed.
#[derive(Debug, Clone, Serialize)]
pub struct FeedStatus {
    /// Configured name.
    pub name: String,
    /// Configured URL.
    pub url: String,
    /// Condition.
    pub health: Health,
    /// When a poll last succeeded.
    pub last_success: Option<Timestamp>,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// The last error, while failing.
    pub last_error: Option<String>,
    /// When the next poll is planned (`None`: soon after start, never polled).
    pub next_poll: Option<Timestamp>,
    /// Distinct entries seen so far.
    pub entries_seen: u64,
    /// When an entry never seen before last arrived.
    pub last_new_entry: Option<Timestamp>,
    /// The usual pause between arrivals, when known.
    pub usual_pause_secs: Option<u64>,
}

/// One rule's hits.
#[derive(Debug, Clone, Serialize)]
pub struct RuleStatus {
    /// Rule name.
    pub name: String,
    /// Entries first matched in the last 24 hours.
    pub hits_24h: u64,
    /// Entries first matched in the last 7 days.
    pub hits_7d: u64,
}

/// The outbox of one destination.
#[derive(Debug, Clone, Serialize)]
pub struct DestinationStatus {
    /// Destination name.
    pub name: String,
    /// Whether it is in the current configuration.
    pub configured: bool,
    /// Alerts waiting (including retries).
    pub queued: u64,
    /// Alerts given up on.
    pub dead: u64,
    /// Alerts delivered (still remembered).
    pub sent: u64,
    /// When the oldest waiting alert was queued.
    pub oldest_queued: Option<Timestamp>,
}

/// Everything `newshound status` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When the report was made.
    pub now: Timestamp,
    /// The state database.
    pub database: String,
    /// Configured feeds, in configuration order.
    pub feeds: Vec<FeedStatus>,
    /// Configured rules, in configuration order.
    pub rules: Vec<RuleStatus>,
    /// Destinations (configured ones first, then any left over in the outbox).
    pub outbox: Vec<DestinationStatus>,
}

/// The usual pause between arrivals: the pause length that covers [`USUAL_SHARE`] of the
/// time spanned by `arrivals` (sorted, distinct). `None` with too few pauses to tell.
pub fn usual_pause(arrivals: &[Timestamp]) -> Option<Duration> {
    if arrivals.len() < MIN_PAUSES + 1 {
        return None;
    }
    let mut pauses: Vec<i64> = arrivals
        .windows(2)
        .map(|pair| (pair[1].as_millisecond() - pair[0].as_millisecond()).max(0))
        .collect();
    pauses.sort_unstable();
    let total: i64 = pauses.iter().sum();
    if total == 0 {
        return None;
    }
    let mut covered = 0i64;
    for pause in &pauses {
        covered += pause;
        if covered as f64 >= USUAL_SHARE * total as f64 {
            return Some(Duration::from_millis(*pause as u64));
        }
    }
    pauses.last().map(|p| Duration::from_millis(*p as u64))
}

/// How long a feed with this usual pause and poll interval may stay quiet before it is
/// called silent.
pub fn silence_threshold(usual_pause: Duration, interval: Duration) -> Duration {
    (usual_pause * SILENCE_FACTOR)
        .max(interval * SILENCE_FACTOR)
        .max(MIN_SILENCE)
}

fn since(now: Timestamp, then: Timestamp) -> Duration {
    Duration::from_millis((now.as_millisecond() - then.as_millisecond()).max(0) as u64)
}

/// The usual pause of every feed with enough history (the expensive part of
/// [`feeds`]: it reads every remembered entry).
pub fn rhythms(store: &Store) -> Result<HashMap<String, Duration>> {
    Ok(store
        .arrival_times(RHYTHM_WINDOW)?
        .into_iter()
        .filter_map(|(url, times)| usual_pause(&times).map(|pause| (url, pause)))
        .collect())
}

/// The health of every configured feed.
pub fn feeds(config: &Config, store: &Store, now: Timestamp) -> Result<Vec<FeedStatus>> {
    Ok(feeds_with(
        config,
        &store.feed_states()?,
        &rhythms(store)?,
        now,
    ))
}

/// The health of every configured feed from already read states and rhythms.
pub fn feeds_with(
    config: &Config,
    states: &HashMap<String, FeedState>,
    rhythms: &HashMap<String, Duration>,
    now: Timestamp,
) -> Vec<FeedStatus> {
    config
        .feeds
        .iter()
        .map(|feed| {
            let state = states.get(&feed.url);
            let pause = rhythms.get(&feed.url).copied();
            let health = assess(state, pause, feed.interval.get(), now);
            FeedStatus {
                name: feed.name.clone(),
                url: feed.url.clone(),
                health,
                last_success: state.and_then(|s| s.last_success),
                consecutive_failures: state.map_or(0, |s| s.consecutive_failures),
                last_error: state.and_then(|s| s.last_error.clone()),
                next_poll: state.map(|s| s.next_poll),
                entries_seen: state.map_or(0, |s| s.entries_seen),
                last_new_entry: state.and_then(|s| s.last_new_entry),
                usual_pause_secs: pause.map(|p| p.as_secs()),
            }
        })
        .collect()
}

fn assess(
    state: Option<&FeedState>,
    usual_pause: Option<Duration>,
    interval: Duration,
    now: Timestamp,
) -> Health {
    let Some(state) = state else {
        return Health::Pending;
    };
    if state.consecutive_failures > 0 {
        return Health::Failing;
    }
    if state.last_success.is_none() {
        return Health::Pending;
    }
    match (usual_pause, state.last_new_entry) {
        (Some(pause), Some(last)) if since(now, last) > silence_threshold(pause, interval) => {
            Health::Silent
        }
        _ => Health::Ok,
    }
}

/// Builds the whole report.
pub fn collect(config: &Config, store: &Store, now: Timestamp) -> Result<Report> {
    let feeds = feeds(config, store, now)?;
    let day = now - jiff::SignedDuration::from_hours(24);
    let week = now - jiff::SignedDuration::from_hours(24 * 7);
    let hits_day = store.rule_hits_since(day)?;
    let hits_week = store.rule_hits_since(week)?;
    let rules = config
        .rules
        .iter()
        .map(|rule| RuleStatus {
            name: rule.name().to_string(),
            hits_24h: hits_day.get(rule.name()).copied().unwrap_or(0),
            hits_7d: hits_week.get(rule.name()).copied().unwrap_or(0),
        })
        .collect();
    let mut counts = store.outbox_counts()?;
    let mut outbox: Vec<DestinationStatus> = Vec::new();
    for destination in &config.destinations {
        let count = counts.remove(destination.name()).unwrap_or_default();
        outbox.push(destination_status(destination.name(), true, count));
    }
    let leftovers: BTreeMap<_, _> = counts.into_iter().collect();
    for (name, count) in leftovers {
        outbox.push(destination_status(&name, false, count));
    }
    Ok(Report {
        now,
        database: store.path().display().to_string(),
        feeds,
        rules,
        outbox,
    })
}

fn destination_status(
    name: &str,
    configured: bool,
    count: crate::store::OutboxCounts,
) -> DestinationStatus {
    DestinationStatus {
        name: name.to_string(),
        configured,
        queued: count.queued,
        dead: count.dead,
        sent: count.sent,
        oldest_queued: count.oldest_queued,
    }
}

/// The one-line summary systemd shows (`STATUS=`): feeds, failing feeds, queued alerts.
/// Cheap enough to compute every few seconds.
pub fn summary_line(config: &Config, store: &Store) -> Result<String> {
    let states = store.feed_states()?;
    let failing = config
        .feeds
        .iter()
        .filter(|f| {
            states
                .get(&f.url)
                .is_some_and(|s| s.consecutive_failures > 0)
        })
        .count();
    let counts = store.outbox_counts()?;
    let queued: u64 = counts.values().map(|c| c.queued).sum();
    let dead: u64 = counts.values().map(|c| c.dead).sum();
    let mut line = format!(
        "{} feeds, {failing} failing, {queued} alerts queued",
        config.feeds.len()
    );
    if dead > 0 {
        line.push_str(&format!(", {dead} dead"));
    }
    Ok(line)
}

/// "45s", "12m", "3h", "2d": coarse, for tables.
pub fn short_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..=119 => format!("{secs}s"),
        120..=7199 => format!("{}m", secs / 60),
        7200..=172_799 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

fn ago(now: Timestamp, then: Option<Timestamp>) -> String {
    match then {
        Some(then) => format!("{} ago", short_duration(since(now, then))),
        None => "never".into(),
    }
}

fn until(now: Timestamp, then: Option<Timestamp>) -> String {
    match then {
        Some(then) if then > now => format!("in {}", short_duration(since(then, now))),
        Some(_) => "due".into(),
        None => "soon".into(),
    }
}

fn clip(text: &str, width: usize) -> String {
    let single_line = text.replace(['\n', '\r', '\t'], " ");
    if single_line.chars().count() <= width {
        return single_line;
    }
    let mut clipped: String = single_line.chars().take(width.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

/// A plain text table: the first row is the header; columns are padded to the widest cell
/// (in characters), the last column is not padded.
fn table(out: &mut impl Write, rows: &[Vec<String>]) -> io::Result<()> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::from(" ");
        for (c, cell) in row.iter().enumerate() {
            line.push(' ');
            line.push_str(cell);
            if c + 1 < row.len() {
                let pad = widths[c] - cell.chars().count();
                line.extend(std::iter::repeat_n(' ', pad + 1));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// Prints the report as tables.
pub fn render_text(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let now = report.now;
    let mut by_health: HashMap<Health, usize> = HashMap::new();
    for feed in &report.feeds {
        *by_health.entry(feed.health).or_default() += 1;
    }
    let tally: Vec<String> = Health::ALL
        .iter()
        .map(|h| format!("{} {}", by_health.get(h).copied().unwrap_or(0), h.as_str()))
        .collect();
    writeln!(out, "Feeds ({}): {}", report.feeds.len(), tally.join(", "))?;
    let mut rows = vec![
        [
            "FEED",
            "STATE",
            "LAST SUCCESS",
            "FAILS",
            "NEXT POLL",
            "ENTRIES",
            "LAST NEW",
            "NOTE",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for feed in &report.feeds {
        let note = match (feed.health, &feed.last_error, feed.usual_pause_secs) {
            (Health::Failing, Some(error), _) => clip(error, 70),
            (Health::Silent, _, Some(pause)) => format!(
                "nothing new for {}; usually at most {} between new entries",
                short_duration(since(now, feed.last_new_entry.unwrap_or(now))),
                short_duration(Duration::from_secs(pause))
            ),
            _ => String::new(),
        };
        rows.push(vec![
            clip(&feed.name, 32),
            feed.health.as_str().to_string(),
            ago(now, feed.last_success),
            feed.consecutive_failures.to_string(),
            until(now, feed.next_poll),
            feed.entries_seen.to_string(),
            ago(now, feed.last_new_entry),
            note,
        ]);
    }
    table(out, &rows)?;

    writeln!(
        out,
        "\nRules ({}): entries first matched",
        report.rules.len()
    )?;
    let mut rows = vec![["RULE", "24H", "7D"].map(String::from).to_vec()];
    for rule in &report.rules {
        rows.push(vec![
            clip(&rule.name, 40),
            rule.hits_24h.to_string(),
            rule.hits_7d.to_string(),
        ]);
    }
    table(out, &rows)?;

    writeln!(out, "\nOutbox:")?;
    let mut rows = vec![
        ["DESTINATION", "QUEUED", "DEAD", "SENT", "OLDEST QUEUED"]
            .map(String::from)
            .to_vec(),
    ];
    for destination in &report.outbox {
        let name = if destination.configured {
            clip(&destination.name, 32)
        } else {
            format!("{} (not configured)", clip(&destination.name, 32))
        };
        rows.push(vec![
            name,
            destination.queued.to_string(),
            destination.dead.to_string(),
            destination.sent.to_string(),
            match destination.oldest_queued {
                Some(at) => ago(now, Some(at)),
                None => "-".into(),
            },
        ]);
    }
    table(out, &rows)?;
    writeln!(out, "\nstate: {} (as of {})", report.database, now)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60;
    const HOUR: i64 = 3600;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn nights_count_as_the_long_pauses_they_are() {
        // Every 20 minutes from 08:00 to 20:00 for a week, nothing at night.
        let mut arrivals = Vec::new();
        for day in 0..7 {
            for slot in 0..=36 {
                arrivals.push(t(day * 24 * HOUR + 8 * HOUR + slot * 20 * MIN));
            }
        }
        let pause = usual_pause(&arrivals).expect("enough pauses");
        // Nights (12 h) take half of the time: the usual pause is the night.
        assert_eq!(pause, Duration::from_secs(12 * 3600));
        let threshold = silence_threshold(pause, Duration::from_secs(900));
        assert_eq!(threshold, Duration::from_secs(36 * 3600));
    }

    #[test]
    fn a_steady_feed_has_a_short_usual_pause_and_a_floor_applies() {
        let arrivals: Vec<Timestamp> = (0..200).map(|i| t(i * 5 * MIN)).collect();
        let pause = usual_pause(&arrivals).expect("enough pauses");
        assert_eq!(pause, Duration::from_secs(300));
        // 3 × 5 min is less than 3 poll intervals (45 min) and the 1 h floor.
        assert_eq!(
            silence_threshold(pause, Duration::from_secs(900)),
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn one_long_outage_does_not_make_the_rhythm_weeks_long() {
        // Daily for 30 days, except one 3-day gap.
        let mut arrivals: Vec<Timestamp> = (0..30).map(|d| t(d * 24 * HOUR)).collect();
        arrivals.retain(|a| {
            let day = (a.as_second() - 1_700_000_000) / (24 * HOUR);
            !(10..13).contains(&day)
        });
        let pause = usual_pause(&arrivals).expect("enough pauses");
        assert_eq!(pause, Duration::from_secs(24 * 3600));
    }

    #[test]
    fn too_little_history_is_no_rhythm() {
        let arrivals: Vec<Timestamp> = (0..4).map(|i| t(i * HOUR)).collect();
        assert_eq!(usual_pause(&arrivals), None);
        assert_eq!(usual_pause(&[t(0); 6]), None);
    }

    #[test]
    fn health_prefers_failing_then_silent() {
        let mut state = FeedState::new("u", "n", t(0));
        assert_eq!(assess(None, None, Duration::ZERO, t(0)), Health::Pending);
        assert_eq!(
            assess(Some(&state), None, Duration::ZERO, t(0)),
            Health::Pending
        );
        state.last_success = Some(t(10 * 24 * HOUR));
        state.last_new_entry = Some(t(0));
        let day = Some(Duration::from_secs(86_400));
        let interval = Duration::from_secs(900);
        assert_eq!(
            assess(Some(&state), day, interval, t(2 * 24 * HOUR)),
            Health::Ok
        );
        assert_eq!(
            assess(Some(&state), day, interval, t(4 * 24 * HOUR)),
            Health::Silent
        );
        assert_eq!(
            assess(Some(&state), None, interval, t(40 * 24 * HOUR)),
            Health::Ok
        );
        state.consecutive_failures = 2;
        assert_eq!(
            assess(Some(&state), day, interval, t(4 * 24 * HOUR)),
            Health::Failing
        );
    }

    #[test]
    fn durations_are_short_and_tables_align() {
        assert_eq!(short_duration(Duration::from_secs(45)), "45s");
        assert_eq!(short_duration(Duration::from_secs(720)), "12m");
        assert_eq!(short_duration(Duration::from_secs(3 * 3600)), "3h");
        assert_eq!(short_duration(Duration::from_secs(9 * 86_400)), "9d");
        let mut out = Vec::new();
        table(
            &mut out,
            &[
                vec!["A".into(), "BB".into(), "C".into()],
                vec!["Київ".into(), "1".into(), "x".into()],
            ],
        )
        .expect("write");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(text, "  A     BB  C\n  Київ  1   x\n");
        assert_eq!(clip("a\nbcdef", 4), "a b…");
    }
}
