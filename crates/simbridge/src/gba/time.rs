//! UTC date-times as used on Ub (`xs:dateTime` in the bootstrapping XML) and by the key API
//! (RFC 3339).
//!
//! Parsing goes through `jiff` (1.x, default features off: no time zone database): it is a
//! well-kept date-time crate that already is in the build (env_logger uses it for timestamps), so
//! it costs no new dependency, and it reads RFC 3339 and the ISO 8601 forms `xs:dateTime` uses
//! (fractions, `Z` or `±hh:mm`, lower-case `t`/`z`). `chrono` or `time` would add crates for the
//! same job.

use super::GbaError;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (times before 1970 count as 0).
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A time from seconds since the Unix epoch.
pub fn from_unix_secs(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// Formats as `YYYY-MM-DDThh:mm:ssZ` (whole seconds, UTC).
pub fn format_utc(t: SystemTime) -> String {
    let secs = i64::try_from(unix_secs(t)).unwrap_or(i64::MAX);
    match jiff::Timestamp::from_second(secs) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        // Beyond jiff's range (year 9999): the largest time it can write.
        Err(_) => "9999-12-31T23:59:59Z".to_string(),
    }
}

fn bad(s: &str) -> GbaError {
    GbaError::BadTime(s.chars().take(40).collect())
}

fn to_system_time(ts: jiff::Timestamp, s: &str) -> Result<SystemTime, GbaError> {
    // Sub-second parts are dropped: lifetimes are whole seconds on both sides.
    let secs = u64::try_from(ts.as_second()).map_err(|_| bad(s))?;
    Ok(from_unix_secs(secs))
}

/// Parses an RFC 3339 date-time with a zone (`Z` or `±hh:mm`), as the key API sends; a time
/// without a zone is rejected here, since RFC 3339 requires one.
pub fn parse_utc(s: &str) -> Result<SystemTime, GbaError> {
    // jiff also takes some ISO 8601 forms beyond RFC 3339 (a zone name in brackets); refuse them.
    if s.contains('[') {
        return Err(bad(s));
    }
    let ts: jiff::Timestamp = s.parse().map_err(|_| bad(s))?;
    to_system_time(ts, s)
}

/// Parses an `xs:dateTime` (XML Schema Part 2 §3.2.7) as the BSF sends the key lifetime: with a
/// zone as [`parse_utc`], and without one read as UTC — the BSF means UTC (TS 24.109 Annex C's
/// example carries `Z`), and refusing would throw away an AKA run that succeeded.
pub fn parse_xs_datetime(s: &str) -> Result<SystemTime, GbaError> {
    let s = s.trim();
    if let Ok(t) = parse_utc(s) {
        return Ok(t);
    }
    // jiff also reads a bare date as midnight; xs:dateTime always has the time.
    if s.contains('[') || !s.get(10..11).is_some_and(|t| t.eq_ignore_ascii_case("t")) {
        return Err(bad(s));
    }
    let civil: jiff::civil::DateTime = s.parse().map_err(|_| bad(s))?;
    let ts = jiff::tz::Offset::UTC
        .to_timestamp(civil)
        .map_err(|_| bad(s))?;
    to_system_time(ts, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_instants() {
        // 2020-10-28T23:36:26Z, the lifetime in the 24.109 trace = 1603928186.
        let t = parse_utc("2020-10-28T23:36:26Z").expect("valid");
        assert_eq!(unix_secs(t), 1_603_928_186);
        assert_eq!(format_utc(t), "2020-10-28T23:36:26Z");
        assert_eq!(
            unix_secs(parse_utc("2020-10-29T01:36:26.5+02:00").expect("offset")),
            1_603_928_186
        );
        assert_eq!(
            unix_secs(parse_utc("2020-10-28t23:36:26z").expect("lower case")),
            1_603_928_186
        );
        assert_eq!(format_utc(from_unix_secs(0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_utc(from_unix_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn xs_datetime_without_a_zone_is_utc() {
        for s in [
            "2020-10-28T23:36:26",
            "2020-10-28T23:36:26.250",
            " 2020-10-28T23:36:26Z ",
            "2020-10-29T00:36:26+01:00",
        ] {
            assert_eq!(
                unix_secs(parse_xs_datetime(s).expect(s)),
                1_603_928_186,
                "{s}"
            );
        }
        // RFC 3339 (the key API) still needs the zone.
        assert!(parse_utc("2020-10-28T23:36:26").is_err());
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "2020-10-28",
            "2020-13-28T23:36:26Z",
            "2020-10-28T23:36:26.Z",
            "x020-10-28T23:36:26Z",
            "1969-12-31T23:59:59Z",
            "2020-10-28T23:36:2éZ",
            "2020-10-28T23:36:26Z[Europe/Paris]",
            "2020-02-30T00:00:00Z",
        ] {
            assert!(parse_utc(s).is_err(), "{s}");
            assert!(parse_xs_datetime(s).is_err(), "{s}");
        }
    }
}
