//! Digest schedules: when a digest falls due, in the destination's time zone.
//!
//! A schedule is written the way people say it: `"hourly"`, `"hourly :30"`,
//! `"daily 08:00"`, `"weekdays 08:00"`, `"weekends 10:00"`, `"monday 08:00"`,
//! `"weekly monday 08:00"`, `"mon,thu 08:00, 17:30"` or just `"08:00"` (daily).
//!
//! Wall-clock times are resolved with jiff in the configured zone, so they stay right across
//! DST changes: a time that does not exist on the day the clocks go forward (02:30 in a
//! 02:00→03:00 gap) fires at the first instant after the gap, and a time that occurs twice
//! when the clocks go back fires once, at its first occurrence. Hourly schedules count real
//! hours: the repeated hour of a fall-back night gets its digest, the skipped one does not.

use std::fmt;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// Longest run of slots [`Schedule::latest_due`] walks through (a daemon down for years
/// with an hourly digest still starts in microseconds).
const MAX_SLOT_WALK: usize = 200_000;

/// When digests fall due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every hour, at this minute of the local clock.
    Hourly {
        /// Minute past the hour (0–59).
        minute: u8,
    },
    /// On the given weekdays, at the given local times.
    Days {
        /// Monday first.
        days: [bool; 7],
        /// Local times (hour, minute), sorted.
        times: Vec<(u8, u8)>,
    },
}

/// What a valid schedule looks like, for error messages.
pub const SCHEDULE_HELP: &str = "expected e.g. \"hourly\", \"hourly :30\", \"daily 08:00\", \"weekdays 08:00\", \"weekly monday 08:00\" or \"mon,thu 08:00, 17:30\"";

const DAY_NAMES: [(&str, &str); 7] = [
    ("mon", "monday"),
    ("tue", "tuesday"),
    ("wed", "wednesday"),
    ("thu", "thursday"),
    ("fri", "friday"),
    ("sat", "saturday"),
    ("sun", "sunday"),
];

impl Schedule {
    /// Parses a schedule; the error says what was not understood.
    pub fn parse(text: &str) -> Result<Self, String> {
        let lowered = text.trim().to_lowercase();
        let words: Vec<&str> = lowered
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty() && *w != "at" && *w != "every" && *w != "on")
            .collect();
        let Some((&first, rest)) = words.split_first() else {
            return Err(format!("empty schedule; {SCHEDULE_HELP}"));
        };
        if first == "hourly" || first == "hour" {
            let minute = match rest {
                [] => 0,
                [minute] => parse_minute(minute)?,
                _ => return Err(format!("cannot read {text:?}; {SCHEDULE_HELP}")),
            };
            return Ok(Schedule::Hourly { minute });
        }
        let mut days = [false; 7];
        let mut times = Vec::new();
        let mut any_day_word = false;
        for word in &words {
            match *word {
                "daily" | "day" | "days" | "everyday" => {
                    days = [true; 7];
                    any_day_word = true;
                }
                "weekly" => {}
                "weekdays" | "weekday" => {
                    days[..5].iter_mut().for_each(|d| *d = true);
                    any_day_word = true;
                }
                "weekends" | "weekend" => {
                    days[5..].iter_mut().for_each(|d| *d = true);
                    any_day_word = true;
                }
                other if other.contains(':') => times.push(parse_time(other)?),
                other => match day_index(other) {
                    Some(index) => {
                        days[index] = true;
                        any_day_word = true;
                    }
                    None => {
                        return Err(format!(
                            "cannot read {other:?} in schedule {text:?}; {SCHEDULE_HELP}"
                        ));
                    }
                },
            }
        }
        if words.contains(&"weekly") && days.iter().filter(|d| **d).count() == 0 {
            return Err(format!(
                "a weekly schedule needs a day, e.g. \"weekly monday 08:00\"; {SCHEDULE_HELP}"
            ));
        }
        if !any_day_word {
            days = [true; 7];
        }
        if times.is_empty() {
            return Err(format!(
                "schedule {text:?} has no time of day; {SCHEDULE_HELP}"
            ));
        }
        times.sort_unstable();
        times.dedup();
        Ok(Schedule::Days { days, times })
    }

    /// The first slot strictly after `after`, in `tz`.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Timestamp {
        match self {
            Schedule::Hourly { minute } => {
                // Walk real minutes: a repeated hour is a real hour, a skipped one is not.
                let start = after.as_second().div_euclid(60) * 60 + 60;
                let mut candidate = Timestamp::from_second(start).unwrap_or(after);
                for _ in 0..(3 * 60 + 24 * 60) {
                    let local = candidate.to_zoned(tz.clone());
                    if local.minute() as u8 == *minute {
                        return candidate;
                    }
                    candidate = candidate
                        .checked_add(SignedDuration::from_secs(60))
                        .unwrap_or(candidate);
                }
                // Unreachable for real zones (each hour has every minute); an hour later is
                // a safe answer for anything else.
                after
                    .checked_add(SignedDuration::from_hours(1))
                    .unwrap_or(after)
            }
            Schedule::Days { days, times } => {
                let today: Date = after.to_zoned(tz.clone()).date();
                for offset in 0..=8 {
                    let Ok(date) = today.checked_add(jiff::Span::new().days(offset)) else {
                        break;
                    };
                    if !days[weekday_index(date.weekday())] {
                        continue;
                    }
                    for &(hour, minute) in times {
                        let civil = date.at(hour as i8, minute as i8, 0, 0);
                        // Gap: the instant after the gap; fold: the first occurrence.
                        let Ok(zoned) = tz.to_ambiguous_zoned(civil).compatible() else {
                            continue;
                        };
                        let at = zoned.timestamp();
                        if at > after {
                            return at;
                        }
                    }
                }
                after
                    .checked_add(SignedDuration::from_hours(24))
                    .unwrap_or(after)
            }
        }
    }

    /// The latest slot in `(last, now]`, if any fell due: a digest missed several times while
    /// the daemon was down is sent once, for the latest slot.
    pub fn latest_due(&self, last: Timestamp, now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let mut slot = self.next_after(last, tz);
        if slot > now {
            return None;
        }
        for _ in 0..MAX_SLOT_WALK {
            let next = self.next_after(slot, tz);
            if next > now || next <= slot {
                return Some(slot);
            }
            slot = next;
        }
        Some(slot)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Hourly { minute } => write!(f, "hourly at :{minute:02}"),
            Schedule::Days { days, times } => {
                let count = days.iter().filter(|d| **d).count();
                let which = if count == 7 {
                    "daily".to_string()
                } else if days[..5].iter().all(|d| *d) && count == 5 {
                    "weekdays".to_string()
                } else if days[5..].iter().all(|d| *d) && count == 2 {
                    "weekends".to_string()
                } else {
                    DAY_NAMES
                        .iter()
                        .zip(days)
                        .filter(|(_, on)| **on)
                        .map(|((short, _), _)| *short)
                        .collect::<Vec<_>>()
                        .join(",")
                };
                let times: Vec<String> = times
                    .iter()
                    .map(|(h, m)| format!("{h:02}:{m:02}"))
                    .collect();
                write!(f, "{which} {}", times.join(", "))
            }
        }
    }
}

fn weekday_index(day: Weekday) -> usize {
    day.to_monday_zero_offset() as usize
}

fn day_index(word: &str) -> Option<usize> {
    let word = word.trim_end_matches('s');
    DAY_NAMES
        .iter()
        .position(|(short, long)| word == *short || word == long.trim_end_matches('s'))
}

fn parse_minute(text: &str) -> Result<u8, String> {
    let digits = text.trim_start_matches(':');
    match digits.parse::<u8>() {
        Ok(minute) if minute < 60 && !digits.is_empty() => Ok(minute),
        _ => Err(format!(
            "minute {text:?} is not between :00 and :59; e.g. \"hourly :30\""
        )),
    }
}

fn parse_time(text: &str) -> Result<(u8, u8), String> {
    let invalid = || format!("time {text:?} is not a 24-hour time such as 08:00 or 17:30");
    let (hour, minute) = text.split_once(':').ok_or_else(invalid)?;
    let hour: u8 = hour.parse().map_err(|_| invalid())?;
    let minute: u8 = minute.parse().map_err(|_| invalid())?;
    if hour > 23 || minute > 59 {
        return Err(invalid());
    }
    Ok((hour, minute))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kyiv() -> TimeZone {
        TimeZone::get("Europe/Kyiv").expect("tzdb has Europe/Kyiv")
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    #[test]
    fn parses_what_people_write() {
        assert_eq!(
            Schedule::parse("hourly"),
            Ok(Schedule::Hourly { minute: 0 })
        );
        assert_eq!(
            Schedule::parse("hourly at :30"),
            Ok(Schedule::Hourly { minute: 30 })
        );
        let weekdays = Schedule::parse("weekdays 08:00").expect("valid");
        assert_eq!(weekdays.to_string(), "weekdays 08:00");
        let weekly = Schedule::parse("weekly on Monday at 8:05").expect("valid");
        assert_eq!(weekly.to_string(), "mon 08:05");
        let two = Schedule::parse("mon,thu 17:30, 08:00").expect("valid");
        assert_eq!(two.to_string(), "mon,thu 08:00, 17:30");
        assert_eq!(
            Schedule::parse("08:00").map(|s| s.to_string()),
            Ok("daily 08:00".into())
        );
        for bad in [
            "",
            "weekdays",
            "fortnightly 08:00",
            "daily 25:00",
            "weekly 08:00",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn weekdays_skip_the_weekend_in_local_time() {
        let schedule = Schedule::parse("weekdays 08:00").expect("valid");
        // Friday 2026-11-27 09:00 Kyiv (07:00Z) → Monday 2026-11-30 08:00 Kyiv (06:00Z).
        let next = schedule.next_after(at("2026-11-27T07:00:00Z"), &kyiv());
        assert_eq!(next, at("2026-11-30T06:00:00Z"));
    }

    #[test]
    fn daily_digest_follows_the_local_clock_across_spring_forward() {
        // Kyiv: 2026-03-29 03:00 EET → 04:00 EEST.
        let schedule = Schedule::parse("daily 08:00").expect("valid");
        let before = schedule.next_after(at("2026-03-28T07:00:00Z"), &kyiv());
        assert_eq!(before, at("2026-03-29T05:00:00Z"), "08:00 EEST is 05:00Z");
        // A time inside the gap fires right after it, once.
        let gap = Schedule::parse("daily 03:30").expect("valid");
        let slot = gap.next_after(at("2026-03-28T12:00:00Z"), &kyiv());
        assert_eq!(slot, at("2026-03-29T01:30:00Z"), "04:30 EEST");
        let following = gap.next_after(slot, &kyiv());
        assert_eq!(following, at("2026-03-30T00:30:00Z"), "03:30 EEST next day");
    }

    #[test]
    fn a_repeated_time_at_fall_back_fires_once() {
        // Kyiv: 2026-10-25 04:00 EEST → 03:00 EET; 03:30 happens twice.
        let schedule = Schedule::parse("daily 03:30").expect("valid");
        let first = schedule.next_after(at("2026-10-24T12:00:00Z"), &kyiv());
        assert_eq!(first, at("2026-10-25T00:30:00Z"), "the first 03:30 (EEST)");
        let next = schedule.next_after(first, &kyiv());
        assert_eq!(next, at("2026-10-26T01:30:00Z"), "not the second 03:30");
    }

    #[test]
    fn hourly_counts_real_hours_across_fall_back() {
        let schedule = Schedule::Hourly { minute: 0 };
        let mut slot = at("2026-10-24T23:30:00Z");
        let mut slots = Vec::new();
        for _ in 0..4 {
            slot = schedule.next_after(slot, &kyiv());
            slots.push(slot);
        }
        // Every real hour, even though the local clock shows 03:00 twice.
        let expected: Vec<Timestamp> = [
            "2026-10-25T00:00:00Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T02:00:00Z",
            "2026-10-25T03:00:00Z",
        ]
        .iter()
        .map(|t| at(t))
        .collect();
        assert_eq!(slots, expected);
    }

    #[test]
    fn missed_slots_collapse_into_the_latest() {
        let schedule = Schedule::parse("daily 08:00").expect("valid");
        let last = at("2026-11-20T06:00:00Z");
        let now = at("2026-11-27T09:00:00Z");
        assert_eq!(
            schedule.latest_due(last, now, &kyiv()),
            Some(at("2026-11-27T06:00:00Z"))
        );
        assert_eq!(
            schedule.latest_due(at("2026-11-27T06:00:00Z"), now, &kyiv()),
            None
        );
    }
}
