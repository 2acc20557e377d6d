//! Lenient parsing of the date strings found in feeds.
//!
//! Feeds are supposed to use RFC 822 (RSS) or RFC 3339 (Atom, JSON Feed), but real
//! documents use every variant of both and some localised forms. This module turns all the
//! forms feedparser accepts into an instant: RFC 822 with any zone name, full month names,
//! missing seconds, time or weekday, stray commas; asctime; W3C-DTF / ISO 8601 with a space
//! instead of `T`, missing parts, fractions or compact forms; and the Korean, Greek and
//! Hungarian localised dates. Anything it cannot read with certainty is rejected (`None`)
//! rather than guessed: a wrong date is worse than a missing one.

use std::sync::OnceLock;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::Offset;
use regex::Regex;
use unicode_normalization::UnicodeNormalization;

/// Parses a feed date string into an instant. A string without a zone is taken as UTC.
pub fn parse_date(input: &str) -> Option<Timestamp> {
    let text = input.trim();
    if text.is_empty() || text.len() > 100 {
        return None;
    }
    if let Some(ts) = parse_canonical_rfc2822(text) {
        return Some(ts);
    }
    if !text.is_ascii()
        && let Some(ts) = parse_korean(text)
    {
        return Some(ts);
    }
    let text = translate_month_names(text);
    let text = text.trim();
    if text.starts_with(|c: char| c.is_ascii_digit() || c == '-')
        && let Some(ts) = parse_iso(text)
    {
        return Some(ts);
    }
    parse_rfc822(text)
}

/// The form nearly every RSS feed writes (`Sat, 28 Nov 2026 01:00:00 +0000` or `GMT`),
/// read by jiff's strict RFC 2822 parser: a fast path that gives what [`parse_rfc822`]
/// gives. Left to the lenient parser: zone names other than GMT (jiff reads any it does not
/// know as UTC, the lenient parser knows more of them, MSK and CEST among them) and
/// three-digit years (jiff adds 1900, the lenient parser rejects them).
fn parse_canonical_rfc2822(text: &str) -> Option<Timestamp> {
    let zone = text.rsplit(' ').next()?;
    let numeric = zone.len() == 5
        && zone.starts_with(['+', '-'])
        && zone[1..].bytes().all(|b| b.is_ascii_digit());
    if !(numeric || zone == "GMT") {
        return None;
    }
    let three_digits = |token: &str| token.len() == 3 && token.bytes().all(|b| b.is_ascii_digit());
    if text.split_ascii_whitespace().any(three_digits) {
        return None;
    }
    jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(text)
        .ok()
}

/// Converts a date string to feed-rs's chrono type, so feed-rs dates use the same rules.
pub fn parse_date_chrono(input: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let ts = parse_date(input)?;
    chrono::DateTime::from_timestamp(ts.as_second(), ts.subsec_nanosecond().max(0) as u32)
}

fn instant(date: Date, time: Time, offset_seconds: i32) -> Option<Timestamp> {
    let offset = Offset::from_seconds(offset_seconds).ok()?;
    offset.to_timestamp(DateTime::from_parts(date, time)).ok()
}

fn two_digit_year(year: i32) -> i32 {
    // RFC 2822 §4.3: 00-49 are 2000-2049, 50-99 are 1950-1999.
    if year < 50 { 2000 + year } else { 1900 + year }
}

/// English month number for a name or abbreviation ("Jan", "January", "Sept").
fn month_number(word: &str) -> Option<i8> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let lower = word.to_ascii_lowercase();
    if lower.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.starts_with(&lower) || (lower == "sept"))
        .and_then(|i| i8::try_from(i + 1).ok())
}

fn is_weekday(word: &str) -> bool {
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let lower = word.to_ascii_lowercase();
    let lower = lower.trim_end_matches('.');
    lower.len() >= 2
        && DAYS
            .iter()
            .any(|d| d.starts_with(lower) || (lower.len() > 3 && lower.starts_with(&d[..3])))
}

/// Replaces non-English month names with English abbreviations, for the ISO parser
/// (Hungarian feeds write `2004-július-13T9:15-05:00`).
fn translate_month_names(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    const ENGLISH: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if !word.is_empty() {
            match foreign_month(word) {
                Some(m) => out.push_str(ENGLISH[usize::try_from(m - 1).unwrap_or(0)]),
                None => out.push_str(word),
            }
            word.clear();
        }
    };
    for c in text.chars() {
        if c.is_alphabetic() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Month number of a name or abbreviation in the languages of the feeds a European news
/// monitor meets: Portuguese, Spanish, Italian, French, German, Dutch, Hungarian, Greek,
/// Ukrainian and Russian (full names, genitive forms and abbreviations all start with one
/// of these stems).
fn foreign_month(word: &str) -> Option<i8> {
    // Accents and case vary between sources ("Ιούλ", "ΙΟΥΛ", "Μαΐ", "févr."), so compare
    // the lower-cased base letters.
    let base: String = word
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .filter(|c| *c != '.')
        .collect();
    if base.chars().count() < 3 || base.chars().count() > 12 {
        return None;
    }
    const STEMS: &[(&str, i8)] = &[
        ("jan", 1),
        ("ene", 1),
        ("gen", 1),
        ("feb", 2),
        ("fev", 2),
        ("mar", 3),
        ("mrz", 3),
        ("mrt", 3),
        ("apr", 4),
        ("abr", 4),
        ("avr", 4),
        ("mai", 5),
        ("maj", 5),
        ("mag", 5),
        ("mei", 5),
        ("may", 5),
        ("jun", 6),
        ("juin", 6),
        ("giu", 6),
        ("jul", 7),
        ("juil", 7),
        ("lug", 7),
        ("aug", 8),
        ("ago", 8),
        ("aou", 8),
        ("sep", 9),
        ("set", 9),
        ("szep", 9),
        ("oct", 10),
        ("okt", 10),
        ("ott", 10),
        ("out", 10),
        ("nov", 11),
        ("dec", 12),
        ("dic", 12),
        ("dez", 12),
        // Greek
        ("ιαν", 1),
        ("φεβ", 2),
        ("μαρ", 3),
        ("μαω", 3),
        ("απρ", 4),
        ("μαι", 5),
        ("ιουν", 6),
        ("ιον", 6),
        ("ιουλ", 7),
        ("ιολ", 7),
        ("αυγ", 8),
        ("σεπ", 9),
        ("οκτ", 10),
        ("νοε", 11),
        ("δεκ", 12),
        // Ukrainian
        ("січ", 1),
        ("лют", 2),
        ("бер", 3),
        ("кві", 4),
        ("тра", 5),
        ("чер", 6),
        ("лип", 7),
        ("сер", 8),
        ("вер", 9),
        ("жов", 10),
        ("лис", 11),
        ("гру", 12),
        // Russian (where it differs from the stems above)
        ("янв", 1),
        ("фев", 2),
        ("апр", 4),
    ];
    const MORE_RUSSIAN: &[(&str, i8)] = &[
        ("мар", 3),
        ("ма", 5),
        ("июн", 6),
        ("июл", 7),
        ("авг", 8),
        ("сен", 9),
        ("окт", 10),
        ("ноя", 11),
        ("дек", 12),
    ];
    // Order matters only for the short Russian "ма" (май, мая), tried after "мар".
    STEMS
        .iter()
        .chain(MORE_RUSSIAN.iter())
        .find(|(stem, _)| base.starts_with(stem))
        .map(|(_, month)| *month)
}

/// Korean blog-engine formats: `2004년 05월 28일 01:31:15` and `2004-05-25 오후 11:23:17`,
/// both in Korean Standard Time.
fn parse_korean(text: &str) -> Option<Timestamp> {
    static ONBLOG: OnceLock<Option<Regex>> = OnceLock::new();
    static NATE: OnceLock<Option<Regex>> = OnceLock::new();
    const KST: i32 = 9 * 3600;
    let onblog = ONBLOG
        .get_or_init(|| {
            Regex::new(r"^(\d{4})년\s*(\d{1,2})월\s*(\d{1,2})일\s+(\d{1,2}):(\d{2}):(\d{2})$").ok()
        })
        .as_ref()?;
    let nate = NATE
        .get_or_init(|| {
            Regex::new(r"^(\d{4})-(\d{1,2})-(\d{1,2})\s+(오전|오후)\s+(\d{1,2}):(\d{2}):(\d{2})$")
                .ok()
        })
        .as_ref()?;
    let num = |s: &str| s.parse::<i32>().ok();
    if let Some(c) = onblog.captures(text) {
        let date = civil_date(num(&c[1])?, num(&c[2])?, num(&c[3])?)?;
        let time = civil_time(num(&c[4])?, num(&c[5])?, num(&c[6])?)?;
        return instant(date, time, KST);
    }
    if let Some(c) = nate.captures(text) {
        let date = civil_date(num(&c[1])?, num(&c[2])?, num(&c[3])?)?;
        let mut hour = num(&c[5])?;
        if &c[4] == "오후" && hour < 12 {
            hour += 12;
        }
        let time = civil_time(hour, num(&c[6])?, num(&c[7])?)?;
        return instant(date, time, KST);
    }
    None
}

fn civil_date(year: i32, month: i32, day: i32) -> Option<Date> {
    Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()
}

fn civil_time(hour: i32, minute: i32, second: i32) -> Option<Time> {
    Time::new(
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        i8::try_from(second).ok()?,
        0,
    )
    .ok()
}

/// A tiny cursor over ASCII date text.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor {
            s: s.as_bytes(),
            i: 0,
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn digits(&mut self) -> &'a str {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or("")
    }
    fn letters(&mut self) -> &'a str {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or("")
    }
    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }
    fn rest(&self) -> &'a str {
        std::str::from_utf8(&self.s[self.i..]).unwrap_or("")
    }
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }
}

/// W3C-DTF and the ISO 8601 forms feeds use: `2003-12-31T10:14:55.12+01:00`,
/// `2003-12-31 10:14:55`, `2003-12-31`, `2003-12`, `2003`, `2003-335` (ordinal), a
/// three-digit zero-padded month, and the two-digit-year compact forms `031231`,
/// `03-12-31`, `-0312`, `-03-12`, `03335`.
fn parse_iso(text: &str) -> Option<Timestamp> {
    let mut c = Cursor::new(text);
    let date = iso_date(&mut c)?;
    let mut time = Time::midnight();
    let mut offset = 0;
    if !c.done() {
        let before_separator = c.i;
        if !(c.eat(b'T') || c.eat(b't')) {
            c.skip_spaces();
        }
        if c.i == before_separator && !c.done() {
            return None;
        }
        time = iso_time(&mut c)?;
        c.skip_spaces();
        if !c.done() {
            offset = zone(c.rest())?;
        }
    }
    instant(date, time, offset)
}

fn iso_date(c: &mut Cursor) -> Option<Date> {
    if c.eat(b'-') {
        // -YYMM or -YY-MM: year and month of a two-digit-year century.
        let first = c.digits();
        let (yy, mm) = match first.len() {
            4 => (&first[..2], &first[2..]),
            2 if c.eat(b'-') => (first, c.digits()),
            _ => return None,
        };
        return civil_date(two_digit_year(yy.parse().ok()?), mm.parse().ok()?, 1);
    }
    let first = c.digits();
    match first.len() {
        4 => {
            let year: i32 = first.parse().ok()?;
            if !c.eat(b'-') {
                return if c.done() {
                    civil_date(year, 1, 1)
                } else {
                    None
                };
            }
            let month_text = if c.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
                c.letters()
            } else {
                c.digits()
            };
            let numeric = month_text.bytes().all(|b| b.is_ascii_digit());
            if numeric && month_text.len() == 3 && c.peek() != Some(b'-') {
                // YYYY-DDD, an ordinal date.
                return ordinal_date(year, month_text.parse().ok()?);
            }
            let month = if numeric {
                if month_text.is_empty() || month_text.len() > 3 {
                    return None;
                }
                month_text.parse().ok()?
            } else {
                i32::from(month_number(month_text)?)
            };
            if !c.eat(b'-') {
                return if c.done() {
                    civil_date(year, month, 1)
                } else {
                    None
                };
            }
            let day = c.digits();
            if day.is_empty() || day.len() > 2 {
                return None;
            }
            civil_date(year, month, day.parse().ok()?)
        }
        2 if c.eat(b'-') => {
            // YY-MM-DD
            let mm = c.digits();
            if mm.len() != 2 || !c.eat(b'-') {
                return None;
            }
            let dd = c.digits();
            if dd.len() != 2 {
                return None;
            }
            civil_date(
                two_digit_year(first.parse().ok()?),
                mm.parse().ok()?,
                dd.parse().ok()?,
            )
        }
        6 => civil_date(
            two_digit_year(first[..2].parse().ok()?),
            first[2..4].parse().ok()?,
            first[4..].parse().ok()?,
        ),
        8 => civil_date(
            first[..4].parse().ok()?,
            first[4..6].parse().ok()?,
            first[6..].parse().ok()?,
        ),
        5 => {
            // YYDDD, a two-digit-year ordinal date.
            ordinal_date(
                two_digit_year(first[..2].parse().ok()?),
                first[2..].parse().ok()?,
            )
        }
        _ => None,
    }
}

fn ordinal_date(year: i32, day: i16) -> Option<Date> {
    Date::new(i16::try_from(year).ok()?, 1, 1)
        .ok()?
        .with()
        .day_of_year(day)
        .build()
        .ok()
}

/// `H:MM`, `HH:MM:SS`, with an optional fraction that is truncated.
fn iso_time(c: &mut Cursor) -> Option<Time> {
    let hour = c.digits();
    if hour.is_empty() || hour.len() > 2 || !c.eat(b':') {
        return None;
    }
    let minute = c.digits();
    if minute.len() != 2 {
        return None;
    }
    let mut second = "0";
    if c.eat(b':') {
        second = c.digits();
        if second.len() != 2 {
            return None;
        }
        if (c.eat(b'.') || c.eat(b',')) && c.digits().is_empty() {
            return None;
        }
    }
    civil_time(
        hour.parse().ok()?,
        minute.parse().ok()?,
        second.parse().ok()?,
    )
}

/// A zone: `Z`, `+HH:MM`, `+HHMM`, `+HH`, a name (`GMT`, `EST`, `MEST`, `Etc/GMT`), or a
/// name with an offset (`GMT-01:01`, `UTC+3`). Returns the offset in seconds.
fn zone(text: &str) -> Option<i32> {
    let text = text.trim();
    let text = text.strip_prefix("Etc/").unwrap_or(text);
    if text.is_empty() {
        return Some(0);
    }
    let first = text.as_bytes()[0];
    if first == b'+' || first == b'-' {
        return numeric_offset(text);
    }
    let split = text
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (name, rest) = text.split_at(split);
    let base = named_zone(name)?;
    let rest = rest.trim();
    if rest.is_empty() {
        return Some(base);
    }
    if matches!(name.to_ascii_uppercase().as_str(), "GMT" | "UTC" | "UT") {
        return numeric_offset(rest).map(|o| base + o);
    }
    None
}

fn numeric_offset(text: &str) -> Option<i32> {
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &text[1..];
    let (hours, minutes) = match body.split_once(':') {
        Some((h, m)) => (h, m),
        None if body.len() == 4 => body.split_at(2),
        None if body.len() <= 2 => (body, "00"),
        None => return None,
    };
    if hours.is_empty()
        || hours.len() > 2
        || minutes.len() != 2
        || !hours
            .bytes()
            .chain(minutes.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let hours: i32 = hours.parse().ok()?;
    let minutes: i32 = minutes.parse().ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

/// Zone abbreviations seen in feeds, in seconds east of UTC. The North American short
/// forms without S/D (`ET`, `PT`...) are taken as standard time, as feedparser does.
fn named_zone(name: &str) -> Option<i32> {
    let hours = match name.to_ascii_uppercase().as_str() {
        "Z" | "UT" | "UTC" | "GMT" | "WET" | "ZULU" => 0,
        "BST" | "CET" | "MET" | "WEST" | "IST" => 1,
        "CEST" | "MEST" | "EET" | "SAST" => 2,
        "EEST" | "MSK" => 3,
        "AST" | "AT" | "EDT" => -4,
        "EST" | "ET" | "CDT" => -5,
        "CST" | "CT" | "MDT" => -6,
        "MST" | "MT" | "PDT" => -7,
        "PST" | "PT" | "AKDT" => -8,
        "AKST" | "HDT" => -9,
        "HST" => -10,
        "JST" | "KST" => 9,
        "HKT" | "AWST" | "SGT" => 8,
        "AEST" => 10,
        "AEDT" => 11,
        "NZST" => 12,
        "NZDT" => 13,
        _ => return None,
    };
    Some(hours * 3600)
}

/// RFC 822 / RFC 2822 dates and their common corruptions, plus asctime
/// (`Sun Jan  4 16:29:06 2004`), JavaScript's `Date.toString` form
/// (`Thu Aug 30 2012 17:26:16 +0200`) and `2006/09/15 08:19:53 EDT`.
fn parse_rfc822(text: &str) -> Option<Timestamp> {
    let mut tokens: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .collect();
    let month_of = |token: &str| -> Option<i8> {
        let word = token.trim_end_matches('.');
        if !word.chars().next().is_some_and(char::is_alphabetic) {
            return None;
        }
        month_number(word).or_else(|| foreign_month(word))
    };
    // A leading word is the weekday, in whatever language, unless it is the only month
    // name ("mar" is Tuesday in Spanish and March in several languages).
    if let Some(first) = tokens.first()
        && first.chars().all(char::is_alphabetic)
        && (is_weekday(first)
            || month_of(first).is_none()
            || tokens[1..].iter().any(|t| month_of(t).is_some()))
    {
        tokens.remove(0);
    }
    let mut day: Option<i32> = None;
    let mut month: Option<i32> = None;
    let mut year: Option<i32> = None;
    let mut time: Option<Time> = None;
    let mut offset: Option<i32> = None;
    let mut month_first = false;
    for (index, token) in tokens.iter().enumerate() {
        if token.contains(':') && time.is_none() && token.starts_with(|c: char| c.is_ascii_digit())
        {
            time = Some(clock(token)?);
        } else if token.contains('/') && token.starts_with(|c: char| c.is_ascii_digit()) {
            let mut parts = token.split('/');
            let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() || y.len() != 4 {
                return None;
            }
            year = Some(y.parse().ok()?);
            month = Some(m.parse().ok()?);
            day = Some(d.parse().ok()?);
        } else if token.bytes().all(|b| b.is_ascii_digit()) {
            let value: i32 = token.parse().ok()?;
            if day.is_none()
                && token.len() <= 2
                && (month.is_none() || month_first)
                && year.is_none()
            {
                day = Some(value);
            } else if year.is_some() && time.is_none() && token.len() == 4 {
                // Military time: `03 Apr 02 1500 GMT`.
                time = Some(civil_time(value / 100, value % 100, 0)?);
            } else if year.is_none() && (token.len() == 4 || token.len() == 2) {
                year = Some(if token.len() == 2 {
                    two_digit_year(value)
                } else {
                    value
                });
            } else {
                return None;
            }
        } else if month.is_none()
            && let Some(m) = month_of(token)
        {
            month = Some(i32::from(m));
            month_first = day.is_none();
        } else if let (Some(t), true) = (
            time,
            token.eq_ignore_ascii_case("pm") || token.eq_ignore_ascii_case("am"),
        ) {
            let hour = t.hour();
            let hour = match (token.eq_ignore_ascii_case("pm"), hour) {
                (true, h) if h < 12 => h + 12,
                (false, 12) => 0,
                (_, h) => h,
            };
            time = Some(Time::new(hour, t.minute(), t.second(), 0).ok()?);
        } else if offset.is_none() && time.is_some() {
            // Everything after the time up to an optional year is the zone.
            let rest: Vec<&str> = tokens[index..].to_vec();
            let (zone_tokens, trailing_year) = match rest.last() {
                Some(last)
                    if year.is_none()
                        && last.len() == 4
                        && last.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    (&rest[..rest.len() - 1], Some(last.parse::<i32>().ok()?))
                }
                _ => (&rest[..], None),
            };
            offset = Some(zone(&zone_tokens.join(""))?);
            if trailing_year.is_some() {
                year = trailing_year;
            }
            break;
        } else {
            return None;
        }
    }
    let date = civil_date(year?, month?, day?)?;
    instant(date, time.unwrap_or(Time::midnight()), offset.unwrap_or(0))
}

/// `HH:MM` or `HH:MM:SS`, one-digit fields allowed.
fn clock(token: &str) -> Option<Time> {
    let parts: Vec<&str> = token.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return None;
    }
    let mut values = [0i32; 3];
    for (value, part) in values.iter_mut().zip(&parts) {
        let part = part.split('.').next().unwrap_or(part);
        if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *value = part.parse().ok()?;
    }
    civil_time(values[0], values[1], values[2])
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        /// The fast path reads the canonical form exactly as the lenient parser does.
        #[test]
        fn canonical_rfc2822_agrees_with_the_lenient_parser(
            second in 0i64..4_102_444_800,
            quarter_hours in -48i32..=56,
            weekday in proptest::bool::ANY,
            gmt in proptest::bool::ANY,
            two_digit_year in proptest::bool::ANY,
        ) {
            let offset = if gmt { 0 } else { quarter_hours * 15 * 60 };
            let zone = jiff::tz::TimeZone::fixed(
                jiff::tz::Offset::from_seconds(offset).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?,
            );
            let Ok(instant) = jiff::Timestamp::from_second(second) else {
                return Ok(());
            };
            let local = instant.to_zoned(zone);
            let year = local.year();
            if two_digit_year && !(1950..=2049).contains(&year) {
                return Ok(());
            }
            let year = if two_digit_year { format!("{:02}", year % 100) } else { year.to_string() };
            let zone = if gmt { "GMT".to_string() } else { local.strftime("%z").to_string() };
            let text = format!(
                "{}{} {} {year} {} {zone}",
                if weekday { local.strftime("%a, ").to_string() } else { String::new() },
                local.strftime("%d"),
                local.strftime("%b"),
                local.strftime("%H:%M:%S"),
            );
            let fast = super::parse_canonical_rfc2822(&text);
            proptest::prop_assert!(fast.is_some(), "{text} not read by the fast path");
            proptest::prop_assert_eq!(fast, super::parse_rfc822(&text), "{}", text);
            proptest::prop_assert_eq!(fast, Some(instant), "{}", text);
        }
    }

    #[test]
    fn the_fast_path_leaves_zone_names_and_three_digit_years_to_the_lenient_parser() {
        for text in [
            "Sat, 28 Nov 2026 04:00:00 MSK",
            "Sat, 28 Nov 2026 04:00:00 CEST",
            "Sat, 28 Nov 2026 04:00:00 EST",
            "28 Nov 126 04:00:00 +0000",
            "Sat, 28 Nov 2026 04:00:00",
        ] {
            assert_eq!(super::parse_canonical_rfc2822(text), None, "{text}");
        }
        assert_eq!(
            super::parse_date("Sat, 28 Nov 2026 04:00:00 MSK"),
            super::parse_date("Sat, 28 Nov 2026 01:00:00 GMT")
        );
    }

    use super::*;

    fn iso(input: &str) -> Option<String> {
        parse_date(input).map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
    }

    #[test]
    fn rfc822_variants() {
        for (input, expected) in [
            ("Sat, 07 Sep 2002 00:00:01 GMT", "2002-09-07T00:00:01Z"),
            ("Thu, 01 Jan 04 19:48:21 GMT", "2004-01-01T19:48:21Z"),
            ("Tue,  5 Mar 2013 10:00:00 +0100", "2013-03-05T09:00:00Z"),
            ("Wed,12 Jun 2019 08:00:00 -0000", "2019-06-12T08:00:00Z"),
            ("Fri, 30 Oct 2015 08:57:00 MEST", "2015-10-30T06:57:00Z"),
            ("Tue, 17 February 2009 16:31:00 ET", "2009-02-17T21:31:00Z"),
            ("Mon, 26 January 2004 16:31:00 PT", "2004-01-27T00:31:00Z"),
            ("Sat, 02 Mar 2019", "2019-03-02T00:00:00Z"),
            ("Sat, 02 Mar 2019 07:30 EST", "2019-03-02T12:30:00Z"),
            ("Mon, 13 Feb, 2012 06:28:00 UTC", "2012-02-13T06:28:00Z"),
            ("Thu, 09 Aug 2018 11:47:32 Etc/GMT", "2018-08-09T11:47:32Z"),
            (
                "Sun, 19 Feb 2012 22:40:00 GMT+02:00",
                "2012-02-19T20:40:00Z",
            ),
            ("Sun, 19 Feb 2012 22:40:00 -01:30", "2012-02-20T00:10:00Z"),
            (
                "Thursday, 12 Mar 2020 10:00:00 +0000",
                "2020-03-12T10:00:00Z",
            ),
            ("Thu, 01 Jan 0100 00:00:01 +0100", "0099-12-31T23:00:01Z"),
        ] {
            assert_eq!(iso(input).as_deref(), Some(expected), "{input}");
        }
    }

    #[test]
    fn asctime_and_other_english_orders() {
        assert_eq!(
            iso("Sun Jan  4 16:29:06 2004").as_deref(),
            Some("2004-01-04T16:29:06Z")
        );
        assert_eq!(
            iso("Sun Jul 15 01:16:00 +0000 2012").as_deref(),
            Some("2012-07-15T01:16:00Z")
        );
        assert_eq!(
            iso("Thu Aug 30 2012 17:26:16 +0200").as_deref(),
            Some("2012-08-30T15:26:16Z")
        );
        assert_eq!(
            iso("Fri, 2006/09/15 08:19:53 EDT").as_deref(),
            Some("2006-09-15T12:19:53Z")
        );
        assert_eq!(
            iso("Sat, Dec 16 2023 02:02:33 PM").as_deref(),
            Some("2023-12-16T14:02:33Z")
        );
        assert_eq!(
            iso("03 Apr 02 1500 GMT").as_deref(),
            Some("2002-04-03T15:00:00Z")
        );
    }

    #[test]
    fn w3cdtf_and_iso_variants() {
        for (input, expected) in [
            ("2003-12-31T10:14:55Z", "2003-12-31T10:14:55Z"),
            ("2003-12-31T10:14:55-08:00", "2003-12-31T18:14:55Z"),
            ("2007-04-23T23:25:47.538+10:00", "2007-04-23T13:25:47Z"),
            ("2003-12-31", "2003-12-31T00:00:00Z"),
            ("2003-12", "2003-12-01T00:00:00Z"),
            ("2003", "2003-01-01T00:00:00Z"),
            ("2004-02-28T18:14:55-08:00", "2004-02-29T02:14:55Z"),
            ("2004-07-08 23:56:58", "2004-07-08T23:56:58Z"),
            ("2004-07-08 23:56:58.0", "2004-07-08T23:56:58Z"),
            ("2004-07-08 23:56:58 -00:20", "2004-07-09T00:16:58Z"),
            ("2019-05-06T07:08:09+0200", "2019-05-06T05:08:09Z"),
            ("2003-012-31T10:14:55+00:00", "2003-12-31T10:14:55Z"),
            ("031231", "2003-12-31T00:00:00Z"),
            ("03-12-31", "2003-12-31T00:00:00Z"),
            ("-0312", "2003-12-01T00:00:00Z"),
            ("-03-12", "2003-12-01T00:00:00Z"),
            ("03335", "2003-12-01T00:00:00Z"),
        ] {
            assert_eq!(iso(input).as_deref(), Some(expected), "{input}");
        }
    }

    #[test]
    fn localised_dates() {
        assert_eq!(
            iso("Κυρ, 11 Ιούλ 2004 12:00:00 EST").as_deref(),
            Some("2004-07-11T17:00:00Z")
        );
        assert_eq!(
            iso("2004-július-13T9:15-05:00").as_deref(),
            Some("2004-07-13T14:15:00Z")
        );
        assert_eq!(
            iso("2004년 05월 28일  01:31:15").as_deref(),
            Some("2004-05-27T16:31:15Z")
        );
        assert_eq!(
            iso("2004-05-25 오후 11:23:17").as_deref(),
            Some("2004-05-25T14:23:17Z")
        );
        assert_eq!(
            iso("Seg, 24 Set 2018 19:42:40 -0300").as_deref(),
            Some("2018-09-24T22:42:40Z")
        );
        assert_eq!(
            iso("mer, 16 nov 2022 00:38:15 +0100").as_deref(),
            Some("2022-11-15T23:38:15Z")
        );
        assert_eq!(
            iso("mar, 01 mar 2022 10:00:00 +0100").as_deref(),
            Some("2022-03-01T09:00:00Z")
        );
        assert_eq!(
            iso("Di, 05 Mär 2024 08:00:00 +0100").as_deref(),
            Some("2024-03-05T07:00:00Z")
        );
        assert_eq!(
            iso("Пн, 12 лют 2024 10:00:00 +0200").as_deref(),
            Some("2024-02-12T08:00:00Z")
        );
        assert_eq!(
            iso("12 февраля 2024 10:00:00 +0300").as_deref(),
            Some("2024-02-12T07:00:00Z")
        );
    }

    #[test]
    fn garbage_is_rejected() {
        for input in [
            "",
            "yesterday",
            "Sun, 16 Dec 2012 1:2:3:4 GMT",
            "Sun, 16 zzz 2012 11:47:32 GMT",
            "Sun, Dec x 2012 11:47:32 GMT",
            "Sun, 16 Dec zz 11:47:32 GMT",
            "Sun, 16 Dec 2012 11:47:32 +zz:00",
            "Sun, 16 Dec 2012 11:47:32 +00:zz",
            "Sun, 99 Jun 2009 12:00:00 GMT",
            "9999-12-31T23:59:59-99:99",
            "2003-12-31T25:14:55Z",
            "2003-12-31T10:61:55Z",
            "2003-12-31T10:14:61Z",
            "013",
            "2013-01-27-01",
            "2013-01-28T11:30:00-06:00Textra",
            "2013-xx-27",
            "2013-01-28T09:xx:00Z",
            "2013-01-28T09:00:00+00:xx",
        ] {
            assert_eq!(iso(input), None, "{input}");
        }
    }
}
