//! UTC date-times as used on Ub (`xs:dateTime` in the bootstrapping XML) and by the key API
//! (RFC 3339), written by hand: two small functions do not justify a date/time crate.

use super::GbaError;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01 (`civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

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
    let secs = unix_secs(t) as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Parses `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)` (xs:dateTime / RFC 3339 with a zone). Fractions
/// are dropped; a time without a zone is rejected, since its instant would be a guess.
pub fn parse_utc(s: &str) -> Result<SystemTime, GbaError> {
    let bad = || GbaError::BadTime(s.chars().take(40).collect());
    let num = |a: usize, b: usize| -> Result<i64, GbaError> {
        let part = s.get(a..b).ok_or_else(bad)?;
        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse::<i64>().map_err(|_| bad())
    };
    let b = s.as_bytes();
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(sep(4, b'-')
        && sep(7, b'-')
        && (sep(10, b'T') || sep(10, b't'))
        && sep(13, b':')
        && sep(16, b':'))
    {
        return Err(bad());
    }
    let (y, mo, d, h, mi, se) = (
        num(0, 4)?,
        num(5, 7)?,
        num(8, 10)?,
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    let mut rest = s.get(19..).ok_or_else(bad)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(bad());
        }
        rest = frac.get(n..).ok_or_else(bad)?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest.get(3..4) == Some(":") =>
        {
            let hh: i64 = rest
                .get(1..3)
                .and_then(|x| x.parse().ok())
                .ok_or_else(bad)?;
            let mm: i64 = rest
                .get(4..6)
                .and_then(|x| x.parse().ok())
                .ok_or_else(bad)?;
            let o = hh * 3600 + mm * 60;
            if rest.starts_with('-') {
                -o
            } else {
                o
            }
        }
        _ => return Err(bad()),
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset;
    let secs = u64::try_from(secs).map_err(|_| bad())?;
    Ok(from_unix_secs(secs))
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
        assert_eq!(format_utc(from_unix_secs(0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_utc(from_unix_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "2020-10-28",
            "2020-10-28T23:36:26",
            "2020-13-28T23:36:26Z",
            "2020-10-28T23:36:26.Z",
            "x020-10-28T23:36:26Z",
            "2020-10-28T23:36:26+0200",
            "1969-12-31T23:59:59Z",
            "2020-10-28T23:36:2éZ",
        ] {
            assert!(parse_utc(s).is_err(), "{s}");
        }
    }
}
