//! `Retry-After`: delta-seconds and the three HTTP-date forms of RFC 9110.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use http::header::RETRY_AFTER;

/// The longest `Retry-After` a [`Classifier`](super::Classifier) honours by default: 60 s. A longer hint is
/// clamped to it.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The delta-seconds that a value too large to represent stands for, as RFC 9111 section 1.2.2
/// has caches read it: 2^31 s.
const SATURATED_SECONDS: u64 = 1 << 31;

/// The wait that a `Retry-After` value asks for, read at `now`: delta-seconds or an HTTP-date
/// (IMF-fixdate, RFC 850 or asctime); `None` for a value that is neither.
///
/// Whitespace around the value is ignored. Delta-seconds too large to represent stand for
/// 2^31 s (RFC 9111 section 1.2.2); a date at or before `now` is zero. Never clamped: the
/// [`Classifier`](super::Classifier) clamps.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use stamina::http::parse_retry_after;
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
/// assert_eq!(parse_retry_after(b"120", now), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after(b"Sun, 06 Nov 1994 08:50:37 GMT", now), Some(Duration::from_secs(60)));
/// assert_eq!(parse_retry_after(b"soon", now), None);
/// ```
#[must_use]
pub fn parse_retry_after(value: &[u8], now: SystemTime) -> Option<Duration> {
    let value = value.trim_ascii();
    if value.is_empty() {
        return None;
    }
    if value.iter().all(u8::is_ascii_digit) {
        let seconds = value.iter().try_fold(0u64, |n, digit| {
            n.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        });
        return Some(Duration::from_secs(
            seconds.map_or(SATURATED_SECONDS, |s| s.min(SATURATED_SECONDS)),
        ));
    }
    let date = httpdate::parse_http_date(std::str::from_utf8(value).ok()?).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wait that a response's `Retry-After` header asks for, now: [`parse_retry_after`] of its
/// first value; `None` without one, or for a value that is not valid.
#[must_use]
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?;
    parse_retry_after(value.as_bytes(), SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example date.
    fn example() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777)
    }

    fn parse(value: &str) -> Option<Duration> {
        parse_retry_after(value.as_bytes(), example())
    }

    #[test]
    fn delta_seconds() {
        assert_eq!(parse("0"), Some(Duration::ZERO));
        assert_eq!(parse("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse("007"), Some(Duration::from_secs(7)));
    }

    #[test]
    fn delta_seconds_that_overflow_saturate_at_two_to_the_31() {
        let saturated = Some(Duration::from_secs(1 << 31));
        assert_eq!(parse("2147483648"), saturated);
        assert_eq!(parse("99999999999"), saturated);
        assert_eq!(parse(&"9".repeat(400)), saturated);
        assert_eq!(parse("18446744073709551616"), saturated);
    }

    #[test]
    fn http_dates_in_all_three_formats() {
        let minute = Some(Duration::from_secs(60));
        assert_eq!(parse("Sun, 06 Nov 1994 08:50:37 GMT"), minute);
        assert_eq!(parse("Sunday, 06-Nov-94 08:50:37 GMT"), minute);
        assert_eq!(parse("Sun Nov  6 08:50:37 1994"), minute);
    }

    #[test]
    fn a_date_in_the_past_is_zero() {
        assert_eq!(parse("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        assert_eq!(parse("Thu, 01 Jan 1970 00:00:00 GMT"), Some(Duration::ZERO));
    }

    #[test]
    fn bad_values_are_ignored() {
        for bad in [
            "",
            "   ",
            "-1",
            "+5",
            "1.5",
            "5s",
            "0x10",
            "soon",
            "Sun, 06 Nov 1994 25:00:00 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37",
            "١٢٣",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        assert_eq!(parse_retry_after(&[0xff, 0xfe], example()), None);
    }
}
