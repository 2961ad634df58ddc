//! The extraction timestamp: one value per run, UTC, microseconds.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

/// Formats microseconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS.ffffff` (UTC).
///
/// ```
/// assert_eq!(
///     transmogrify_core::format_timestamp(1_700_000_000_123_456),
///     "2023-11-14 22:13:20.123456"
/// );
/// ```
pub fn format_timestamp(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{frac:06}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Parses `YYYY-MM-DD HH:MM:SS[.ffffff]` (or with a `T`, and an optional trailing `Z`;
/// seconds may be left out) as UTC microseconds since the Unix epoch. A time that
/// does not exist (February 30th, hour 24, a leap second, a sign) is `None`, never
/// another instant.
///
/// ```
/// use transmogrify_core::parse_timestamp;
/// assert_eq!(parse_timestamp("2023-11-14T22:13:20.123456Z"), Some(1_700_000_000_123_456));
/// assert_eq!(parse_timestamp("2024-02-29 00:00:00"), Some(1_709_164_800_000_000));
/// assert_eq!(parse_timestamp("2026-02-29 00:00:00"), None);
/// assert_eq!(parse_timestamp("2026-01-01 -1:00:00"), None);
/// ```
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim().trim_end_matches('Z');
    let (date, time) = text.split_once([' ', 'T']).unwrap_or((text, "00:00:00"));
    let mut dp = date.splitn(3, '-');
    let y: i64 = digits(dp.next()?, 4)?;
    let m: u32 = digits(dp.next()?, 2)?;
    let d: u32 = digits(dp.next()?, 2)?;
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut tp = hms.splitn(3, ':');
    let hh: i64 = digits(tp.next()?, 2)?;
    let mm: i64 = digits(tp.next()?, 2)?;
    let ss: i64 = tp.next().map_or(Some(0), |s| digits(s, 2))?;
    if hh > 23 || mm > 59 || ss > 59 || frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let micros: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().ok()?
    };
    let days = days_from_civil(y, m, d);
    Some(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1_000_000) + micros)
}

/// A field of one to `most` ASCII digits (no sign, no spaces).
fn digits<T: std::str::FromStr>(field: &str, most: usize) -> Option<T> {
    if field.is_empty() || field.len() > most || !field.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    field.parse().ok()
}

/// Days in month `m` of year `y` (proleptic Gregorian).
fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

// Howard Hinnant's algorithms for the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_across_eras() {
        for micros in [
            0,
            -1,
            951_782_400_000_000,
            1_709_210_096_999_999,
            -62_135_596_800_000_000,
        ] {
            let text = format_timestamp(micros);
            assert_eq!(parse_timestamp(&text), Some(micros), "{text}");
        }
        assert_eq!(format_timestamp(-1), "1969-12-31 23:59:59.999999");
        assert_eq!(
            format_timestamp(951_782_400_000_000),
            "2000-02-29 00:00:00.000000"
        );
        assert_eq!(parse_timestamp("2024-13-01 00:00:00"), None);
    }

    #[test]
    fn times_that_do_not_exist_are_refused() {
        for text in [
            "2026-02-29 00:00:00",
            "1900-02-29 00:00:00",
            "2026-04-31 12:00:00",
            "2026-01-32 00:00:00",
            "2026-00-10 00:00:00",
            "2026-01-00 00:00:00",
            "2026-01-01 24:00:00",
            "2026-01-01 23:60:00",
            "2026-01-01 23:59:60",
            "2026-01-01 -1:00:00",
            "2026-01-01 00:-5:00",
            "2026-01-01 00:00:-1",
            "2026-01-01 +1:00:00",
            "+2026-01-01 00:00:00",
            "2026-1x-01 00:00:00",
            "2026-01-01 00:00:00.1234567",
            "2026-01-01 00:00:00.12a",
            "2026-01-01 0:00:000",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text}");
        }
        for (text, micros) in [
            ("2000-02-29 00:00:00", 951_782_400_000_000),
            ("2024-02-29T23:59:59.999999Z", 1_709_251_199_999_999),
            ("2026-04-30 12:00", 1_777_550_400_000_000),
            ("1970-01-01", 0),
        ] {
            assert_eq!(parse_timestamp(text), Some(micros), "{text}");
        }
    }
}
