//! Human-friendly units in the config file: durations (`"90s"`, `"15m"`, `"2h"`, `"1d"`,
//! `"1h30m"`) and byte sizes (`"16MiB"`, `"512KiB"`, `"2MB"`).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration written the way people write them: `"90s"`, `"15m"`, `"2h"`, `"1d"`, `"1h30m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// The wrapped duration.
    pub fn get(self) -> Duration {
        self.0
    }

    /// Builds one from seconds (for defaults in code).
    pub const fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }
}

/// What a valid duration looks like, for error messages.
pub const DURATION_HELP: &str =
    "expected a duration such as \"90s\", \"15m\", \"2h\", \"1d\" or \"1h30m\"";

/// Parses `"90s"`, `"15m"`, `"2h"`, `"1d"`, `"1w"`, `"1h30m"`, `"500ms"`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("empty duration; {DURATION_HELP}"));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits_end == 0 {
            return Err(format!("invalid duration {text:?}; {DURATION_HELP}"));
        }
        let number: u64 = rest[..digits_end]
            .parse()
            .map_err(|_| format!("number too large in duration {text:?}"))?;
        rest = &rest[digits_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = rest[..unit_end].trim();
        rest = &rest[unit_end..];
        let part = match unit {
            "ms" => Duration::from_millis(number),
            "s" | "sec" | "secs" => Duration::from_secs(number),
            "m" | "min" | "mins" => Duration::from_secs(number.saturating_mul(60)),
            "h" | "hr" | "hrs" => Duration::from_secs(number.saturating_mul(3600)),
            "d" | "day" | "days" => Duration::from_secs(number.saturating_mul(86_400)),
            "w" | "week" | "weeks" => Duration::from_secs(number.saturating_mul(7 * 86_400)),
            "" => {
                return Err(format!("duration {text:?} has no unit; {DURATION_HELP}"));
            }
            other => {
                return Err(format!(
                    "unknown unit {other:?} in duration {text:?}; {DURATION_HELP}"
                ));
            }
        };
        total = total.saturating_add(part);
    }
    Ok(total)
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text)
            .map(HumanDuration)
            .map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        if secs == 0 {
            return write!(f, "{}ms", self.0.as_millis());
        }
        let (d, h, m, s) = (
            secs / 86_400,
            secs % 86_400 / 3600,
            secs % 3600 / 60,
            secs % 60,
        );
        for (value, unit) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
            if value > 0 {
                write!(f, "{value}{unit}")?;
            }
        }
        Ok(())
    }
}

/// A byte size: an integer number of bytes, or a string such as `"16MiB"`, `"512KiB"`,
/// `"2MB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

/// What a valid byte size looks like, for error messages.
pub const SIZE_HELP: &str = "expected a size such as 16777216, \"16MiB\", \"512KiB\" or \"2MB\"";

/// Parses `"16MiB"`, `"512KiB"`, `"2MB"`, `"1GiB"`, `"100B"` or a bare number of bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number: u64 = text[..split]
        .parse()
        .map_err(|_| format!("invalid size {text:?}; {SIZE_HELP}"))?;
    let factor: u64 = match text[split..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" | "k" => 1024,
        "mb" => 1000 * 1000,
        "mib" | "m" => 1024 * 1024,
        "gb" => 1000 * 1000 * 1000,
        "gib" | "g" => 1024 * 1024 * 1024,
        other => {
            return Err(format!(
                "unknown unit {other:?} in size {text:?}; {SIZE_HELP}"
            ));
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(text) => parse_size(&text)
                .map(ByteSize)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_the_forms_people_write() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    }

    #[test]
    fn bad_durations_say_what_is_expected() {
        for bad in ["", "15", "m", "15 minutes", "1x", "-5m"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn durations_display_compactly() {
        assert_eq!(HumanDuration::from_secs(5400).to_string(), "1h30m");
        assert_eq!(HumanDuration::from_secs(86_400).to_string(), "1d");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16MiB"), Ok(16 * 1024 * 1024));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999999GiB").is_err());
    }
}
