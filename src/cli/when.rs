//! [`When`]: a point in time as `--since` and `--until` take it, an RFC 3339 time or a duration
//! ago.

use std::time::Duration;

use keyward_core::time::Timestamp;

use super::args::parse_duration;

/// A time given on the command line. A duration ago is resolved when the command runs, by
/// [`at`](Self::at).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum When {
    /// This time.
    At(Timestamp),
    /// This long before the command runs.
    Ago(Duration),
}

impl When {
    /// The time this names when it is `now`.
    pub(crate) fn at(self, now: Timestamp) -> Timestamp {
        match self {
            Self::At(at) => at,
            Self::Ago(ago) => now.minus(ago),
        }
    }
}

/// `2026-12-01T00:00:00Z` (RFC 3339 in UTC: `Z`, `+00:00` or no offset) or a duration ago (`24h`,
/// `7d`, `1h 30m`).
pub(crate) fn parse_when(text: &str) -> Result<When, String> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(When::At(at));
    }
    if text.starts_with(|c: char| c.is_ascii_digit()) && text.contains(['-', ':']) {
        return Err("not an RFC 3339 time in UTC (expected e.g. `2026-12-01T00:00:00Z`)".to_owned());
    }
    parse_duration(text).map(When::Ago).map_err(|_| {
        "expected an RFC 3339 time (`2026-12-01T00:00:00Z`) or a duration ago (`24h`, `7d`)".to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_ago() {
        let now: Timestamp = "2026-12-02T12:00:00Z".parse().expect("a time");
        let cases = [
            ("2026-12-01T00:00:00Z", "2026-12-01T00:00:00.000Z"),
            ("2026-12-01T00:00:00+00:00", "2026-12-01T00:00:00.000Z"),
            ("2026-12-01 00:00:00.250", "2026-12-01T00:00:00.250Z"),
            ("24h", "2026-12-01T12:00:00.000Z"),
            ("7d", "2026-11-25T12:00:00.000Z"),
            ("1h 30m", "2026-12-02T10:30:00.000Z"),
        ];
        for (text, expected) in cases {
            let when = parse_when(text).unwrap_or_else(|error| panic!("{text}: {error}"));
            assert_eq!(when.at(now).to_string(), expected, "{text}");
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for text in ["", "yesterday", "0s", "-1h", "soon 3"] {
            let error = parse_when(text).expect_err(text);
            assert!(error.contains("RFC 3339"), "{text}: {error}");
        }
        for text in ["2026-13-01T00:00:00Z", "2026-12-01T01:00:00+01:00"] {
            let error = parse_when(text).expect_err(text);
            assert!(
                error.starts_with("not an RFC 3339 time in UTC"),
                "{text}: {error}"
            );
        }
    }
}
