//! The one grammar of a duration written as text: `250ms`, `1.5s`, `2.5e-3`, `90min`, `45`.
//!
//! The attribute's literals (`timeout = 10s`, const-evaluated where the expansion names them,
//! so that a bad one is a compile error at the literal) and a configuration file's strings
//! (feature `serde`) both read durations here, so that what one accepts the other accepts.
//!
//! A duration is a decimal number (digits, `_` between them, an optional fraction and an
//! optional exponent, `e-3`) and an optional unit: `ns`, `us` or `µs`, `ms`, `s`, `min`, `h`;
//! none is seconds, as in stamina. It is exact to the nanosecond, rounded to the nearest.
//! Anything else is an error: a sign, another unit (`5m` could mean minutes or milliseconds,
//! `3d` is not listed), and a value beyond `Duration::MAX`.

use std::fmt;
use std::time::Duration;

/// The units, their text and their length in nanoseconds, largest first (the order
/// [`Human`] tries them in).
const UNITS: [(&str, u128); 7] = [
    ("h", 3_600_000_000_000),
    ("min", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("µs", 1_000),
    ("ns", 1),
];

/// Why a text is not a duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DurationError {
    /// No number where one was expected.
    NotANumber,
    /// A sign.
    Negative,
    /// A unit that is not one of the listed ones.
    UnknownUnit,
    /// More than `Duration::MAX`.
    TooLarge,
}

impl DurationError {
    /// The rule, with what the grammar takes.
    pub(crate) const fn message(self) -> &'static str {
        match self {
            DurationError::NotANumber => {
                "a duration is a number of seconds (`45`, `0.5`) or a number with a unit (`250ms`, `1.5s`, `2min`)"
            }
            DurationError::Negative => "a duration cannot be negative (no wait: `0`)",
            DurationError::UnknownUnit => {
                "unknown unit: a duration takes one of `ns`, `us`, `µs`, `ms`, `s`, `min`, `h` (none is seconds; `m` is neither minutes nor milliseconds)"
            }
            DurationError::TooLarge => "a duration too large for a `Duration`",
        }
    }
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// `text` as a duration, by the grammar of the [module docs](self). Leading and trailing
/// whitespace, and whitespace before the unit, are allowed.
pub(crate) const fn parse(text: &str) -> Result<Duration, DurationError> {
    let bytes = text.as_bytes();
    let mut end = bytes.len();
    while end > 0 && bytes[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    let mut i = 0;
    while i < end && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    if i < end && bytes[i] == b'-' {
        return Err(DurationError::Negative);
    }
    let number = match Number::read(bytes, i, end) {
        Ok(number) => number,
        Err(e) => return Err(e),
    };
    let mut i = number.end;
    while i < end && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    let Some(unit) = unit_of(bytes, i, end) else {
        return Err(DurationError::UnknownUnit);
    };
    let Some(significand) = number.significand else {
        return Err(DurationError::TooLarge);
    };
    let Some(scaled) = significand.checked_mul(unit) else {
        return Err(DurationError::TooLarge);
    };
    // value = significand * 10^shift * unit
    let nanos = if number.shift >= 0 {
        match pow10(number.shift.unsigned_abs()) {
            Some(scale) => match scaled.checked_mul(scale) {
                Some(nanos) => nanos,
                None => return Err(DurationError::TooLarge),
            },
            None if scaled == 0 => 0,
            None => return Err(DurationError::TooLarge),
        }
    } else {
        match pow10(number.shift.unsigned_abs()) {
            // Rounded to the nearest nanosecond.
            Some(scale) => scaled / scale + (scaled % scale >= scale.div_ceil(2)) as u128,
            // 10^39 and beyond: less than half a nanosecond.
            None => 0,
        }
    };
    let secs = nanos / 1_000_000_000;
    if secs > u64::MAX as u128 {
        return Err(DurationError::TooLarge);
    }
    Ok(Duration::new(secs as u64, (nanos % 1_000_000_000) as u32))
}

/// A decimal number as read: `significand * 10^shift`.
struct Number {
    /// `None` when it overflows a `u128`.
    significand: Option<u128>,
    shift: i32,
    /// Where the number ends in the text.
    end: usize,
}

impl Number {
    /// The number at `bytes[i..end]`: digits with `_` between them, an optional fraction and an
    /// optional exponent (`e-3`, `E+2`).
    const fn read(bytes: &[u8], mut i: usize, end: usize) -> Result<Self, DurationError> {
        let mut significand: Option<u128> = Some(0);
        let mut digits = 0;
        let mut fraction_digits: i32 = 0;
        let mut in_fraction = false;
        while i < end {
            let b = bytes[i];
            if b.is_ascii_digit() {
                significand = match significand {
                    Some(n) => match n.checked_mul(10) {
                        Some(n) => n.checked_add((b - b'0') as u128),
                        None => None,
                    },
                    None => None,
                };
                digits += 1;
                if in_fraction {
                    fraction_digits += 1;
                }
            } else if b == b'.' && !in_fraction {
                in_fraction = true;
            } else if b != b'_' || digits == 0 {
                // `_` is a separator between digits, as in Rust's literals.
                break;
            }
            i += 1;
        }
        if digits == 0 {
            return Err(DurationError::NotANumber);
        }
        let mut exponent: i32 = 0;
        if i < end && (bytes[i] == b'e' || bytes[i] == b'E') {
            i += 1;
            let negative = i < end && bytes[i] == b'-';
            if i < end && (bytes[i] == b'-' || bytes[i] == b'+') {
                i += 1;
            }
            let mut exponent_digits = 0;
            while i < end && (bytes[i].is_ascii_digit() || bytes[i] == b'_' && exponent_digits > 0)
            {
                // Beyond 10^9 any duration is zero or too large: saturate.
                if bytes[i] != b'_' && exponent < 1_000_000_000 {
                    exponent = exponent * 10 + (bytes[i] - b'0') as i32;
                }
                if bytes[i] != b'_' {
                    exponent_digits += 1;
                }
                i += 1;
            }
            if exponent_digits == 0 {
                return Err(DurationError::NotANumber);
            }
            if negative {
                exponent = -exponent;
            }
        }
        Ok(Number {
            significand,
            shift: exponent - fraction_digits,
            end: i,
        })
    }
}

/// The length of the unit `bytes[start..end]` in nanoseconds (none: seconds).
const fn unit_of(bytes: &[u8], start: usize, end: usize) -> Option<u128> {
    if start == end {
        return Some(1_000_000_000);
    }
    let mut u = 0;
    while u < UNITS.len() {
        let (name, nanos) = UNITS[u];
        let name = name.as_bytes();
        if name.len() == end - start {
            let mut k = 0;
            while k < name.len() && name[k] == bytes[start + k] {
                k += 1;
            }
            if k == name.len() {
                return Some(nanos);
            }
        }
        u += 1;
    }
    None
}

/// `10^n`, if it fits a `u128`.
const fn pow10(n: u32) -> Option<u128> {
    if n > 38 { None } else { Some(10u128.pow(n)) }
}

/// A duration in the largest unit that writes it exactly, as [`parse`] reads it back:
/// `250ms`, `10s`, `1h`, `1500000001ns`; zero is `0s`.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(
    not(feature = "serde"),
    allow(dead_code, reason = "the file form's (feature `serde`)")
)]
pub(crate) struct Human(pub(crate) Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        for (unit, len) in UNITS {
            if unit != "µs" && nanos % len == 0 {
                return write!(f, "{}{unit}", nanos / len);
            }
        }
        unreachable!("every duration is a whole number of nanoseconds")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_exactly() {
        for (text, expected) in [
            ("250ms", Duration::from_millis(250)),
            ("1.5s", Duration::from_millis(1500)),
            ("2.5e-3", Duration::from_micros(2500)),
            ("2.5E-3s", Duration::from_micros(2500)),
            ("1e3ms", Duration::from_secs(1)),
            ("1h", Duration::from_secs(3600)),
            ("90min", Duration::from_secs(5400)),
            ("0", Duration::ZERO),
            ("10us", Duration::from_micros(10)),
            ("1µs", Duration::from_micros(1)),
            ("7ns", Duration::from_nanos(7)),
            ("45", Duration::from_secs(45)),
            ("0.3", Duration::from_millis(300)),
            (".5", Duration::from_millis(500)),
            ("5.", Duration::from_secs(5)),
            ("1_000ms", Duration::from_secs(1)),
            (" 5 s ", Duration::from_secs(5)),
            ("0.5ns", Duration::from_nanos(1)),
            ("0.4ns", Duration::ZERO),
            ("1e-9", Duration::from_nanos(1)),
            ("1e-400", Duration::ZERO),
            ("0e400", Duration::ZERO),
            ("18446744073709551615", Duration::from_secs(u64::MAX)),
            ("18446744073709551615.999999999", Duration::MAX),
        ] {
            assert_eq!(parse(text), Ok(expected), "{text:?}");
        }
    }

    #[test]
    fn anything_else_is_an_error_that_says_why() {
        use DurationError::{Negative, NotANumber, TooLarge, UnknownUnit};
        for (text, error) in [
            ("", NotANumber),
            ("ms", NotANumber),
            (".", NotANumber),
            ("_1", NotANumber),
            ("1e", NotANumber),
            ("+1s", NotANumber),
            ("-1s", Negative),
            ("5m", UnknownUnit),
            ("3fortnights", UnknownUnit),
            ("5 days", UnknownUnit),
            ("1.2.3s", UnknownUnit),
            ("0x10", UnknownUnit),
            ("1s2", UnknownUnit),
            ("1e400s", TooLarge),
            ("1e20", TooLarge),
            ("18446744073709551616", TooLarge),
            ("99999999999999999999999999999999999999999h", TooLarge),
        ] {
            assert_eq!(parse(text), Err(error), "{text:?}");
        }
    }

    #[test]
    fn written_durations_read_back() {
        for d in [
            Duration::ZERO,
            Duration::from_millis(250),
            Duration::from_secs(10),
            Duration::from_secs(3600),
            Duration::from_secs(5400),
            Duration::from_micros(7),
            Duration::from_nanos(1_500_000_001),
            Duration::MAX,
        ] {
            let text = Human(d).to_string();
            assert_eq!(parse(&text), Ok(d), "{text}");
        }
        assert_eq!(Human(Duration::from_secs(5400)).to_string(), "90min");
        assert_eq!(Human(Duration::from_micros(7)).to_string(), "7us");
    }
}
