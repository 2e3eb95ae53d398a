//! A [`RetryPolicy`] in a service's own configuration file (feature `serde`).
//!
//! Written by hand rather than derived: the format has human durations and `"none"` for no
//! limit, and a stamina user then needs `serde` alone, not `serde_derive` and `syn` too.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use super::{ConfigError, RetryPolicy, TimeoutMode};
use crate::nesting::Nesting;

const FIELDS: &[&str] = &[
    "attempts",
    "timeout",
    "wait_initial",
    "wait_max",
    "wait_jitter",
    "wait_exp_base",
    "timeout_mode",
    "min_attempt_time",
    "nested",
    "heal_after",
    "heal_after_items",
];

/// The units of a duration, as the attribute's literals take them, and their length in
/// nanoseconds. A bare number is seconds, as in stamina.
const UNITS: [(&str, u128); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("min", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Reads a policy from a configuration file: every field is optional and defaults to stamina's
/// value; an unknown field is an error, and so is a value [`RetryPolicy::validate`] refuses.
///
/// | field | takes | example |
/// |---|---|---|
/// | `attempts` | a whole number of at least 1, or `"none"` (or `null`) for no limit | `5` |
/// | `timeout` | a duration, or `"none"` (or `null`) for no limit | `"10s"` |
/// | `wait_initial`, `wait_max`, `wait_jitter` | a duration | `"250ms"` |
/// | `wait_exp_base` | a number of at least 1 | `2` |
/// | `timeout_mode` | `"after_failure"` (stamina's) or `"deadline"`: see [`TimeoutMode`] | `"deadline"` |
/// | `min_attempt_time` | a duration | `"50ms"` |
/// | `nested` | `"retry"` (stamina's) or `"once"`: see [`Nesting`](crate::Nesting); absent, the switch decides | `"once"` |
/// | `heal_after` | for streams: a duration, or `"none"` | `"60s"` |
/// | `heal_after_items` | for streams: a whole number, or `"none"` | `1000` |
///
/// A duration is a string with a unit (`"250ms"`, `"1.5s"`, `"2min"`, `"1h"`; the units are
/// `ns`, `us` or `µs`, `ms`, `s`, `min` and `h`, as in the attribute) or a number of seconds
/// (`45`, `0.5`, as in stamina).
///
/// ```
/// # fn main() -> Result<(), serde_json::Error> {
/// use std::time::Duration;
/// use stamina::RetryPolicy;
///
/// let policy: RetryPolicy = serde_json::from_str(r#"{ "attempts": 5, "timeout": "10s", "wait_initial": "50ms" }"#)?;
/// assert_eq!(policy, RetryPolicy::new().attempts(5).timeout(Duration::from_secs(10)).wait_initial(Duration::from_millis(50)));
///
/// let error = serde_json::from_str::<RetryPolicy>(r#"{ "attempts": 0 }"#).unwrap_err();
/// assert!(error.to_string().contains("`attempts` must be at least 1"));
/// # Ok(()) }
/// ```
impl<'de> Deserialize<'de> for RetryPolicy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct("RetryPolicy", FIELDS, PolicyVisitor)
    }
}

struct PolicyVisitor;

impl<'de> Visitor<'de> for PolicyVisitor {
    type Value = RetryPolicy;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a retry policy")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RetryPolicy, A::Error> {
        let mut policy = RetryPolicy::new();
        let mut seen = [false; FIELDS.len()];
        while let Some(key) = map.next_key::<String>()? {
            let Some(index) = FIELDS.iter().position(|f| *f == key) else {
                return Err(de::Error::unknown_field(&key, FIELDS));
            };
            if std::mem::replace(&mut seen[index], true) {
                return Err(de::Error::duplicate_field(FIELDS[index]));
            }
            policy = match FIELDS[index] {
                "attempts" => match map.next_value::<Limit<Count>>()?.0 {
                    Some(Count(n)) => policy.try_attempts(n).map_err(invalid)?,
                    None => policy.no_attempt_limit(),
                },
                "timeout" => match map.next_value::<Limit<Human>>()?.0 {
                    Some(Human(d)) => policy.try_timeout(d).map_err(invalid)?,
                    None => policy.no_timeout(),
                },
                "wait_initial" => policy.wait_initial(map.next_value::<Human>()?.0),
                "wait_max" => policy.wait_max(map.next_value::<Human>()?.0),
                "wait_jitter" => policy.wait_jitter(map.next_value::<Human>()?.0),
                "min_attempt_time" => policy.min_attempt_time(map.next_value::<Human>()?.0),
                "timeout_mode" => policy.timeout_mode(match map.next_value::<String>()?.as_str() {
                    "after_failure" => TimeoutMode::AfterFailure,
                    "deadline" => TimeoutMode::Deadline,
                    other => {
                        return Err(de::Error::unknown_variant(
                            other,
                            &["after_failure", "deadline"],
                        ));
                    }
                }),
                "nested" => policy.nested(match map.next_value::<String>()?.as_str() {
                    "retry" => Nesting::Retry,
                    "once" => Nesting::Once,
                    other => return Err(de::Error::unknown_variant(other, &["retry", "once"])),
                }),
                "heal_after" => match map.next_value::<Limit<Human>>()?.0 {
                    Some(Human(d)) => policy.heal_after(d),
                    None => RetryPolicy {
                        heal_after: None,
                        ..policy
                    },
                },
                "heal_after_items" => match map.next_value::<Limit<Count>>()?.0 {
                    Some(Count(n)) => policy.heal_after_items(n),
                    None => RetryPolicy {
                        heal_after_items: None,
                        ..policy
                    },
                },
                _ => policy
                    .try_wait_exp_base(map.next_value::<f64>()?)
                    .map_err(invalid)?,
            };
        }
        Ok(policy)
    }
}

fn invalid<E: de::Error>(error: ConfigError) -> E {
    E::custom(error)
}

/// A value, or no limit: `"none"` or `null`.
struct Limit<T>(Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Limit<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(LimitVisitor(std::marker::PhantomData))
            .map(Limit)
    }
}

/// `"none"` and `null` are no limit; anything else goes to `T`.
struct LimitVisitor<T>(std::marker::PhantomData<T>);

macro_rules! to_value {
    ($($method:ident($ty:ty)),*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Option<T>, E> {
            T::deserialize(de::IntoDeserializer::<E>::into_deserializer(v)).map(Some)
        }
    )*};
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for LimitVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value, or \"none\" for no limit")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<T>, E> {
        if v == "none" {
            return Ok(None);
        }
        T::deserialize(de::value::StrDeserializer::<E>::new(v)).map(Some)
    }

    to_value!(
        visit_u64(u64),
        visit_i64(i64),
        visit_f64(f64),
        visit_bool(bool)
    );
}

/// `attempts`: a whole number that fits a `u32`.
struct Count(u32);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl Visitor<'_> for CountVisitor {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number of attempts, or \"none\" for no limit")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                u32::try_from(v)
                    .map(Count)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                u32::try_from(v)
                    .map(Count)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
        }
        deserializer.deserialize_u32(CountVisitor)
    }
}

/// A duration in human form: `"250ms"`, or a number of seconds.
struct Human(Duration);

impl<'de> Deserialize<'de> for Human {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HumanVisitor;
        impl Visitor<'_> for HumanVisitor {
            type Value = Human;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration: \"250ms\", \"10s\", \"2min\", or a number of seconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Human, E> {
                parse_duration(v)
                    .map(Human)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Human, E> {
                Ok(Human(Duration::from_secs(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Human, E> {
                u64::try_from(v)
                    .map(|v| Human(Duration::from_secs(v)))
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Human, E> {
                Duration::try_from_secs_f64(v)
                    .map(Human)
                    .map_err(|_| E::invalid_value(de::Unexpected::Float(v), &self))
            }
        }
        deserializer.deserialize_any(HumanVisitor)
    }
}

/// `"250ms"`, `"1.5s"`, `"2min"`, `"45"` (seconds): exact to the nanosecond, rounded to the
/// nearest. `None` for anything else, a negative number and an overflow included.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_ns = match unit.trim() {
        "" => 1_000_000_000,
        unit => UNITS.iter().find(|(u, _)| *u == unit)?.1,
    };
    let number = number.replace('_', "");
    let (whole, fraction) = number.split_once('.').unwrap_or((&number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return None;
    }
    let digits: u128 = format!("{whole}{fraction}").parse().ok()?;
    let scale = 10u128.checked_pow(u32::try_from(fraction.len()).ok()?)?;
    let scaled = digits.checked_mul(unit_ns)?;
    let nanos = scaled / scale + u128::from(scaled % scale >= scale.div_ceil(2));
    let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
    Some(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// A duration in the largest unit that shows it exactly: `"250ms"`, `"10s"`, `"1h"`.
fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    for (unit, len) in UNITS.iter().rev().filter(|(u, _)| *u != "µs") {
        if nanos % len == 0 && (nanos != 0 || *unit == "s") {
            return format!("{}{unit}", nanos / len);
        }
    }
    format!("{nanos}ns")
}

/// Writes the policy in the form [`Deserialize`](#impl-Deserialize<'de>-for-RetryPolicy) reads:
/// every field, durations in their largest exact unit.
impl Serialize for RetryPolicy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("RetryPolicy", FIELDS.len())?;
        match self.attempts {
            Some(n) => s.serialize_field("attempts", &n)?,
            None => s.serialize_field("attempts", "none")?,
        }
        match self.timeout {
            Some(d) => s.serialize_field("timeout", &format_duration(d))?,
            None => s.serialize_field("timeout", "none")?,
        }
        s.serialize_field("wait_initial", &format_duration(self.wait_initial))?;
        s.serialize_field("wait_max", &format_duration(self.wait_max))?;
        s.serialize_field("wait_jitter", &format_duration(self.wait_jitter))?;
        s.serialize_field("wait_exp_base", &self.wait_exp_base)?;
        let mode = match self.timeout_mode {
            TimeoutMode::AfterFailure => "after_failure",
            TimeoutMode::Deadline => "deadline",
        };
        s.serialize_field("timeout_mode", mode)?;
        s.serialize_field("min_attempt_time", &format_duration(self.min_attempt_time))?;
        match self.nesting {
            Some(Nesting::Once) => s.serialize_field("nested", "once")?,
            Some(_) => s.serialize_field("nested", "retry")?,
            None => s.skip_field("nested")?,
        }
        match self.heal_after {
            Some(d) => s.serialize_field("heal_after", &format_duration(d))?,
            None => s.serialize_field("heal_after", "none")?,
        }
        match self.heal_after_items {
            Some(n) => s.serialize_field("heal_after_items", &n)?,
            None => s.serialize_field("heal_after_items", "none")?,
        }
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(json: &str) -> Result<RetryPolicy, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn durations_read_in_human_form() {
        for (text, expected) in [
            ("250ms", Duration::from_millis(250)),
            ("10s", Duration::from_secs(10)),
            ("1.5s", Duration::from_millis(1500)),
            ("2min", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("100us", Duration::from_micros(100)),
            ("100µs", Duration::from_micros(100)),
            ("7ns", Duration::from_nanos(7)),
            ("45", Duration::from_secs(45)),
            ("0.3", Duration::from_millis(300)),
            ("1_000ms", Duration::from_secs(1)),
            (" 5 s ", Duration::from_secs(5)),
        ] {
            assert_eq!(parse_duration(text), Some(expected), "{text:?}");
        }
        for bad in [
            "",
            "ms",
            "5m",
            "5 days",
            "-1s",
            "1.2.3s",
            "1e3s",
            "99999999999999999999999h",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_field_is_optional_and_defaults_to_stamina() {
        assert_eq!(from("{}"), Ok(RetryPolicy::new()));
        assert_eq!(
            from(r#"{"attempts": "none", "timeout": null, "wait_jitter": 0, "wait_max": 2.5}"#),
            Ok(RetryPolicy::new()
                .no_attempt_limit()
                .no_timeout()
                .wait_jitter(Duration::ZERO)
                .wait_max(Duration::from_millis(2500)))
        );
    }

    #[test]
    fn invalid_values_are_errors_that_name_the_rule() {
        for (json, message) in [
            (r#"{"attempts": 0}"#, "`attempts` must be at least 1"),
            (r#"{"timeout": "0s"}"#, "a `timeout` of zero"),
            (
                r#"{"wait_exp_base": 0.5}"#,
                "`wait_exp_base` must be a finite number",
            ),
            (r#"{"attempts": -1}"#, "a whole number of attempts"),
            (r#"{"attempts": 5000000000}"#, "a whole number of attempts"),
            (r#"{"attempts": "five"}"#, "a whole number of attempts"),
            (r#"{"timeout": "5m"}"#, "a duration"),
            (r#"{"wait_max": -1}"#, "a duration"),
            (r#"{"wait_max": "none"}"#, "a duration"),
            (r#"{"atempts": 3}"#, "unknown field `atempts`"),
            (r#"{"timeout_mode": "hard"}"#, "unknown variant `hard`"),
            (
                r#"{"attempts": 3, "attempts": 4}"#,
                "duplicate field `attempts`",
            ),
        ] {
            let error = from(json).expect_err(json);
            assert!(error.contains(message), "{json}: {error}");
        }
    }

    #[test]
    fn serializing_round_trips() {
        for policy in [
            RetryPolicy::new(),
            RetryPolicy::new()
                .no_attempt_limit()
                .no_timeout()
                .wait_initial(Duration::from_millis(250))
                .wait_max(Duration::from_nanos(1_500_000_001))
                .wait_jitter(Duration::ZERO)
                .wait_exp_base(1.5)
                .timeout_mode(TimeoutMode::Deadline)
                .min_attempt_time(Duration::from_millis(50))
                .nested(Nesting::Once)
                .heal_after(Duration::from_secs(60))
                .heal_after_items(1000),
            RetryPolicy::new().nested(Nesting::Retry),
        ] {
            let json = serde_json::to_string(&policy).unwrap();
            assert_eq!(from(&json), Ok(policy), "{json}");
        }
        assert_eq!(
            serde_json::to_string(&RetryPolicy::new()).unwrap(),
            r#"{"attempts":10,"timeout":"45s","wait_initial":"100ms","wait_max":"5s","wait_jitter":"1s","wait_exp_base":2.0,"timeout_mode":"after_failure","min_attempt_time":"0s","heal_after":"none","heal_after_items":"none"}"#
        );
    }
}
