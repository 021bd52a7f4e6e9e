//! Calendar arithmetic, written once: RRSIG's `YYYYMMDDHHmmSS` times
//! (RFC 4034 3.2) and the RFC 3339 timestamps of logs and `/status`.
//! Proleptic Gregorian, UTC (H. Hinnant's algorithms).

use std::time::SystemTime;

/// `2024-05-01T12:34:56.789Z`
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// `YYYYMMDDHHmmSS` (UTC) to seconds since 1970, modulo 2^32 as RFC 4034
/// 3.1.5 says.
pub fn parse_timestamp(text: &[u8]) -> Option<u32> {
    timestamp_secs(text).map(|s| (s & 0xffff_ffff) as u32)
}

/// `YYYYMMDDHHmmSS` (UTC) to seconds since 1970 (BIND key files' timing
/// fields).
pub fn timestamp_secs(text: &[u8]) -> Option<u64> {
    if text.len() != 14 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        text.get(from..to)?
            .iter()
            .try_fold(0i64, |acc, d| Some(acc * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (num(0, 4)?, num(4, 6)?, num(6, 8)?);
    let (hour, minute, second) = (num(8, 10)?, num(10, 12)?, num(12, 14)?);
    if year < 1970
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second;
    u64::try_from(secs).ok()
}

/// `YYYYMMDDHHmmSS` in UTC (RRSIG times, BIND key-file timing fields).
pub fn format_timestamp(secs: u64) -> String {
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// `Wed Dec  2 13:32:08 2026`, the C `ctime` form BIND writes in key-file
/// comments.
pub fn format_ctime(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = (secs / 86_400) as i64;
    let (y, m, d) = civil_from_days(days);
    let rem = secs % 86_400;
    format!(
        "{} {} {d:2} {:02}:{:02}:{:02} {y}",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 of a date.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_rfc3339() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_714_566_896_789);
        assert_eq!(rfc3339(t), "2024-05-01T12:34:56.789Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&rfc3339(leap)[..10], "2000-02-29");
    }

    #[test]
    fn parses_rrsig_times_and_round_trips() {
        assert_eq!(parse_timestamp(b"20240501123456"), Some(1_714_566_896));
        assert_eq!(parse_timestamp(b"19700101000000"), Some(0));
        assert_eq!(parse_timestamp(b"20241301000000"), None);
        assert_eq!(parse_timestamp(b"2024050112345"), None);
        for days in [0, 11_016, 19_844, 47_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m.into(), d.into()), days);
        }
    }

    #[test]
    fn timestamps_match_known_dates() {
        // RFC 4034 3.2: 20100909100439 is the RFC 6605 example expiration.
        assert_eq!(timestamp_secs(b"20100909100439"), Some(1_284_026_679));
        assert_eq!(format_timestamp(1_284_026_679), "20100909100439");
        assert_eq!(format_timestamp(0), "19700101000000");
        assert_eq!(timestamp_secs(b"2010090910043"), None);
        // The ctime form of the comment lines in BIND key files.
        let t = |s: &[u8]| format_ctime(timestamp_secs(s).unwrap());
        assert_eq!(t(b"20261202133208"), "Wed Dec  2 13:32:08 2026");
        assert_eq!(t(b"20240229000000"), "Thu Feb 29 00:00:00 2024");
    }
}
