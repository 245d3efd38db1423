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

/// `ts` as python's `str()` of the `datetime` python-subunit decodes it
/// to (whole microseconds as [`python_time`] rounds them, in UTC):
/// `YYYY-MM-DD HH:MM:SS[.ffffff]+00:00`, the fraction left out when it is
/// zero, as python leaves it out.
pub fn python_str_time(ts: Timestamp) -> String {
    let total_micros = u64::from(ts.seconds) * 1_000_000 + python_micros(ts.nanos);
    let (secs, micro) = (total_micros / 1_000_000, total_micros % 1_000_000);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    let clock = format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    if micro == 0 {
        format!("{clock}+00:00")
    } else {
        format!("{clock}.{micro:06}+00:00")
    }
}

/// Writes times as [`python_time`] does, into the caller's buffer, without
/// formatting machinery: it keeps the date and clock of the last second it
/// wrote (tests close together in time share them), so most times cost
/// only their six digits of microseconds.
#[derive(Debug, Default)]
pub struct TimeFormatter {
    /// The second since the epoch `clock` holds, if any.
    second: Option<u64>,
    /// `YYYY-MM-DD HH:MM:SS.` of `second`.
    clock: [u8; 20],
}

impl TimeFormatter {
    /// Appends `ts` as [`python_time`] gives it: `YYYY-MM-DD HH:MM:SS.ffffffZ`.
    pub fn write(&mut self, ts: Timestamp, out: &mut Vec<u8>) {
        let total_micros = u64::from(ts.seconds) * 1_000_000 + python_micros(ts.nanos);
        let (secs, micro) = (total_micros / 1_000_000, total_micros % 1_000_000);
        if self.second != Some(secs) {
            let (days, rem) = (secs / 86_400, secs % 86_400);
            if self.second.is_none_or(|s| s / 86_400 != days) {
                let (year, month, day) = civil_from_days(days as i64);
                // At most 2106 (u32 seconds plus a carry), at least 1970:
                // always four digits, as python's `%04d` gives them.
                let year = year as u32;
                two_digits(&mut self.clock[0..2], year / 100);
                two_digits(&mut self.clock[2..4], year % 100);
                self.clock[4] = b'-';
                two_digits(&mut self.clock[5..7], month);
                self.clock[7] = b'-';
                two_digits(&mut self.clock[8..10], day);
                self.clock[10] = b' ';
            }
            let rem = rem as u32;
            two_digits(&mut self.clock[11..13], rem / 3600);
            self.clock[13] = b':';
            two_digits(&mut self.clock[14..16], rem / 60 % 60);
            self.clock[16] = b':';
            two_digits(&mut self.clock[17..19], rem % 60);
            self.clock[19] = b'.';
            self.second = Some(secs);
        }
        let mut text = [0u8; 27];
        text[..20].copy_from_slice(&self.clock);
        let micro = micro as u32;
        two_digits(&mut text[20..22], micro / 10_000);
        two_digits(&mut text[22..24], micro / 100 % 100);
        two_digits(&mut text[24..26], micro % 100);
        text[26] = b'Z';
        out.extend_from_slice(&text);
    }
}

/// Nanoseconds as python's `timedelta` keeps them: whole microseconds,
/// rounded half to even (the wire allows over a second's worth).
pub fn python_micros(nanos: u32) -> u64 {
    let (q, r) = (u64::from(nanos) / 1000, u64::from(nanos) % 1000);
    match r {
        0..=499 => q,
        500 => q + (q & 1),
        _ => q + 1,
    }
}

/// `00` to `99`, one after the other.
const DIGIT_PAIRS: [u8; 200] = {
    let mut pairs = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        pairs[2 * i] = b'0' + (i / 10) as u8;
        pairs[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    pairs
};

/// `value` (below 100) as two decimal digits.
fn two_digits(out: &mut [u8], value: u32) {
    let at = 2 * value as usize;
    out[..2].copy_from_slice(&DIGIT_PAIRS[at..at + 2]);
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

/// Reads `time:` lines' times, remembering the day of the last one read
/// in python-subunit's form (times in a run share their day).
#[derive(Debug, Default)]
pub(super) struct TimeReader {
    /// `YYYY-MM-DD` of the last date read (none yet: zero bytes, no date).
    date: [u8; 10],
    /// Its days since 1970-01-01.
    days: i64,
}

impl TimeReader {
    /// `2009-10-11 12:13:14.123456Z` and the ISO 8601 forms python-subunit's
    /// iso8601 parser takes (`T` or space, optional fraction, `Z` or an
    /// offset).
    pub(super) fn parse(&mut self, text: &[u8]) -> Option<Timestamp> {
        self.python_form(text).or_else(|| parse_any_time(text))
    }

    /// The form python-subunit writes, `2009-10-11 12:13:14.123456Z`, read
    /// straight from its bytes; `None` for anything else (which
    /// [`parse_any_time`] reads, giving the same for this form).
    fn python_form(&mut self, text: &[u8]) -> Option<Timestamp> {
        const FORM: &[u8; 27] = b"0000-00-00 00:00:00.000000Z";
        let text: &[u8; 27] = text.try_into().ok()?;
        // Digits where FORM has them, its separators elsewhere (`T` or a
        // space between date and time); no early exit, so it unrolls.
        let mut wrong = false;
        for (&b, &f) in text.iter().zip(FORM) {
            wrong |= match f {
                b'0' => b.wrapping_sub(b'0') > 9,
                b' ' => b != b' ' && b != b'T',
                _ => b != f,
            };
        }
        if wrong {
            return None;
        }
        let digit = |at: usize| u32::from(text[at] - b'0');
        let two = |at: usize| digit(at) * 10 + digit(at + 1);
        let days = if text[..10] == self.date {
            self.days
        } else {
            let (year, month, day) = (two(0) * 100 + two(2), two(5), two(8));
            if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
                return None;
            }
            let days = days_from_civil(i64::from(year), month, day);
            self.date.copy_from_slice(&text[..10]);
            self.days = days;
            days
        };
        let (hour, minute, second) = (two(11), two(14), two(17));
        let micros = (two(20) * 100 + two(22)) * 100 + two(24);
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
        Some(Timestamp {
            seconds: u32::try_from(secs).ok()?,
            nanos: micros * 1000,
        })
    }
}

/// [`TimeReader::parse`] without a day remembered.
#[cfg(test)]
fn parse_time(text: &[u8]) -> Option<Timestamp> {
    TimeReader::default().parse(text)
}

/// An ISO 8601 date and time (`2009-10-11T12:13:14.123456789+02:00`, a
/// space for the `T`, `Z` or an offset, an optional fraction) as python's
/// iso8601 parser reads it: to the microsecond, the rest of the fraction
/// dropped.
pub fn parse_iso8601(text: &str) -> Option<Timestamp> {
    parse_any_time(text.as_bytes())
}

/// Any form [`TimeReader::parse`] takes, through `str` and its parsers.
fn parse_any_time(text: &[u8]) -> Option<Timestamp> {
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
    fn str_of_a_time_leaves_out_a_zero_fraction_as_python_does() {
        let ts = |seconds, nanos| python_str_time(Timestamp { seconds, nanos });
        // Each checked against python: str(EPOCH + timedelta(seconds=s, microseconds=n / 1000)).
        assert_eq!(ts(0, 0), "1970-01-01 00:00:00+00:00");
        assert_eq!(
            ts(1_700_000_000, 123_456_789),
            "2023-11-14 22:13:20.123457+00:00"
        );
        assert_eq!(ts(1_700_000_000, 400), "2023-11-14 22:13:20+00:00");
        assert_eq!(ts(1_700_000_000, 999_999_999), "2023-11-14 22:13:21+00:00");
    }

    /// The formatter's text for each of `times`, in turn, against
    /// [`python_time`]'s (the formatting it replaces).
    fn check_formatter(times: impl IntoIterator<Item = Timestamp>) {
        let mut formatter = TimeFormatter::default();
        let mut out = Vec::new();
        for ts in times {
            out.clear();
            formatter.write(ts, &mut out);
            assert_eq!(
                String::from_utf8_lossy(&out),
                python_time(ts),
                "{ts:?} after the formatter cached {:?}",
                formatter.second
            );
        }
    }

    #[test]
    fn the_formatter_writes_what_python_time_gives() {
        // xorshift64*: random times, and times near one another so that the
        // cached date and clock are both reused and replaced.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        let mut times = Vec::new();
        let mut near = 1_700_000_000_u32;
        for _ in 0..200_000 {
            let r = next();
            let nanos = match r % 4 {
                // Anything the wire carries (up to 2^30 - 1, over a second).
                0 => (r >> 8) as u32 & ((1 << 30) - 1),
                // Halves of a microsecond, which round to even.
                1 => ((r >> 8) % 1_000_000) as u32 * 1000 + 500,
                // Next to a carry into the next second.
                2 => 999_999_000 + ((r >> 8) % 1000) as u32,
                _ => ((r >> 8) % 1_000_000_000) as u32,
            };
            let seconds = match (r >> 40) % 3 {
                0 => (r >> 2) as u32,
                1 => {
                    near = near.wrapping_add(((r >> 48) % 3) as u32).wrapping_sub(1);
                    near
                }
                _ => near.wrapping_sub(((r >> 48) % 200_000) as u32),
            };
            times.push(Timestamp { seconds, nanos });
        }
        check_formatter(times);
        // Year and month ends, leap days (2000 is a leap year, 2100 is not)
        // and the ends of the range, each second around them, with carries.
        let mut edges = Vec::new();
        for (year, month, day) in [
            (1970, 1, 1),
            (1972, 2, 29),
            (1999, 12, 31),
            (2000, 2, 28),
            (2000, 2, 29),
            (2000, 3, 1),
            (2000, 12, 31),
            (2004, 2, 29),
            (2023, 12, 31),
            (2024, 2, 29),
            (2099, 12, 31),
            (2100, 2, 28),
            (2100, 3, 1),
            (2106, 2, 7),
        ] {
            let midnight = days_from_civil(year, month, day) * 86_400;
            for at in [midnight - 1, midnight, midnight + 86_399, midnight + 86_400] {
                let Ok(seconds) = u32::try_from(at) else {
                    continue;
                };
                for nanos in [
                    0,
                    499,
                    500,
                    999_999_499,
                    999_999_500,
                    999_999_501,
                    1_073_741_823,
                ] {
                    edges.push(Timestamp { seconds, nanos });
                }
            }
        }
        edges.push(Timestamp {
            seconds: u32::MAX,
            nanos: 999_999_999,
        });
        check_formatter(edges.iter().copied());
        check_formatter(edges.iter().rev().copied());
    }

    #[test]
    fn python_form_reads_what_the_general_parser_reads() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        };
        let mut formatter = TimeFormatter::default();
        // One that remembers days from line to line, and one that never does.
        let mut reader = TimeReader::default();
        let mut python_form = |text: &[u8]| {
            let read = reader.python_form(text);
            assert_eq!(read, TimeReader::default().python_form(text));
            read
        };
        let mut text = Vec::new();
        let (mut fast, mut general) = (0, 0);
        for _ in 0..200_000 {
            let r = next();
            text.clear();
            formatter.write(
                Timestamp {
                    seconds: (r >> 16) as u32,
                    nanos: (r % 1_000_000) as u32 * 1000,
                },
                &mut text,
            );
            let ts = parse_any_time(&text);
            assert!(ts.is_some());
            assert_eq!(python_form(&text), ts, "{}", String::from_utf8_lossy(&text));
            // Bytes changed for any of a few that matter here: digits out
            // of range, other separators, another length.
            let changes = (next() % 3) as usize;
            for _ in 0..changes {
                let r = next();
                let at = (r % 27) as usize;
                let pool = b"09:- TZz.+1\x00\xff";
                text[at] = pool[(r >> 8) as usize % pool.len()];
            }
            if r & (1 << 63) != 0 {
                text.truncate((r >> 32) as usize % 28);
            }
            let (a, b) = (python_form(&text), parse_any_time(&text));
            if a.is_some() {
                assert_eq!(a, b, "{}", String::from_utf8_lossy(&text));
                fast += 1;
            } else if b.is_some() {
                general += 1;
            }
            assert_eq!(parse_time(&text), b);
        }
        assert!(fast > 1000 && general > 100, "{fast} {general}");
        for text in [
            &b"2009-10-11T12:13:14.123456Z"[..],
            b"2009-02-31 23:59:60.000000Z",
            b"2106-02-07 06:28:15.999999Z",
            b"2106-02-07 06:28:16.000000Z",
            b"1969-12-31 23:59:59.999999Z",
            b"0000-03-01 00:00:00.000000Z",
        ] {
            assert_eq!(python_form(text), parse_any_time(text), "{text:?}");
            assert_eq!(parse_time(text), parse_any_time(text), "{text:?}");
        }
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
