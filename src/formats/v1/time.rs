//! Times as python-subunit writes and reads them in v1: `time:` lines.

use crate::codec::packet::Timestamp;

/// The date and time of `ts` as python's `datetime` holds it: whole
/// microseconds (nanoseconds / 1000, rounded half to even, as `timedelta`
/// rounds), in UTC.
pub fn python_time(ts: Timestamp) -> String {
    let (q, r) = (u64::from(ts.nanos) / 1000, u64::from(ts.nanos) % 1000);
    let micros = match r {
        0..=499 => q,
        500 => q + (q & 1),
        _ => q + 1,
    };
    let total_micros = u64::from(ts.seconds) * 1_000_000 + micros;
    let (secs, micro) = (total_micros / 1_000_000, total_micros % 1_000_000);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{micro:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The days from 1970-01-01 to a Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2009-10-11 12:13:14.123456Z` and the ISO 8601 forms python-subunit's
/// iso8601 parser takes (`T` or space, optional fraction, `Z` or an
/// offset).
pub(super) fn parse_time(text: &[u8]) -> Option<Timestamp> {
    let text = std::str::from_utf8(text).ok()?.trim();
    let (date, time) = text.split_once(['T', ' '])?;
    let mut date_parts = date.splitn(3, '-');
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month: u32 = date_parts.next()?.parse().ok()?;
    let day: u32 = date_parts.next()?.parse().ok()?;
    let (clock, offset_secs) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else if let Some(at) = time.rfind(['+', '-']) {
        let (clock, offset) = time.split_at(at);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let offset = offset[1..].replace(':', "");
        let hours: i64 = offset.get(..2)?.parse().ok()?;
        let minutes: i64 = offset
            .get(2..)
            .filter(|m| !m.is_empty())
            .map_or(Some(0), |m| m.parse().ok())?;
        (clock, sign * (hours * 3600 + minutes * 60))
    } else {
        (time, 0)
    };
    let mut clock_parts = clock.splitn(3, ':');
    let hour: i64 = clock_parts.next()?.parse().ok()?;
    let minute: i64 = clock_parts.next()?.parse().ok()?;
    let seconds = clock_parts.next().unwrap_or("0");
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    let second: i64 = whole.parse().ok()?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // iso8601 keeps microseconds.
    let micros: u32 = format!("{fraction:0<6}").get(..6)?.parse().ok()?;
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    Some(Timestamp {
        seconds: u32::try_from(secs).ok()?,
        nanos: micros * 1000,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_to_microseconds_like_python() {
        let ts = |seconds, nanos| python_time(Timestamp { seconds, nanos });
        assert_eq!(ts(0, 0), "1970-01-01 00:00:00.000000Z");
        assert_eq!(
            ts(1_700_000_000, 123_456_789),
            "2023-11-14 22:13:20.123457Z"
        );
        assert_eq!(ts(1_700_000_000, 1_500), "2023-11-14 22:13:20.000002Z");
        assert_eq!(ts(1_700_000_000, 2_500), "2023-11-14 22:13:20.000002Z");
        assert_eq!(
            ts(1_700_000_000, 999_999_999),
            "2023-11-14 22:13:21.000000Z"
        );
        assert_eq!(ts(u32::MAX, 0), "2106-02-07 06:28:15.000000Z");
        assert_eq!(ts(951_782_400, 0), "2000-02-29 00:00:00.000000Z");
    }

    #[test]
    fn times_parse_back() {
        for (seconds, micros) in [
            (0, 0),
            (1_700_000_000, 123_457),
            (951_782_400, 5),
            (u32::MAX, 0),
        ] {
            let ts = Timestamp {
                seconds,
                nanos: micros * 1000,
            };
            assert_eq!(parse_time(python_time(ts).as_bytes()), Some(ts));
        }
        assert_eq!(
            parse_time(b"2009-10-11T12:13:14+02:00"),
            parse_time(b"2009-10-11 10:13:14Z")
        );
        assert_eq!(parse_time(b"yesterday"), None);
    }
}
