//! A [`RetryPolicy`] in a service's own configuration file (feature `serde`): the policy's plain
//! data, derived, and converted into a policy through [`RetryPolicy::validate`], so that a file
//! can say nothing that the setters could not, and nothing that the checked forms refuse.

use std::marker::PhantomData;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::{self, Serializer};
use serde::{Deserialize, Serialize};

use super::{Guarded, RetryPolicy, TimeoutMode, policy_fields};
use crate::budget::BudgetChoice;
use crate::duration::{self, Human};
use crate::error::Spelling;
use crate::nesting::Nesting;
use crate::throttle::ThrottleChoice;

/// The file form of a policy, from the policy's own rows ([`policy_fields`]): a field of each
/// one's form in a file, and the conversions both ways.
macro_rules! file_form {
    ([] $($(#[doc = $doc:literal])* $(#[serde $($file:tt)*])* $name:ident: $ty:ty = $default:expr;)*) => {
        /// Every field is optional (stamina's default); an unknown one is an error.
        #[derive(Deserialize, Serialize)]
        #[serde(deny_unknown_fields, default, rename = "RetryPolicy")]
        struct File {
            $($(#[serde $($file)*])* $name: <$ty as InFile>::Form,)*
        }

        impl From<&RetryPolicy> for File {
            fn from(p: &RetryPolicy) -> Self {
                File { $($name: InFile::to_form(&p.$name),)* }
            }
        }

        impl From<File> for Unchecked {
            fn from(f: File) -> Self {
                Unchecked(RetryPolicy { $($name: InFile::from_form(f.$name),)* })
            }
        }
    };
}

policy_fields!(file_form);

/// A policy read from a file, before [`RetryPolicy::validate`].
struct Unchecked(RetryPolicy);

impl Default for File {
    fn default() -> Self {
        File::from(&RetryPolicy::DEFAULT)
    }
}

impl TryFrom<File> for RetryPolicy {
    type Error = String;

    fn try_from(f: File) -> Result<Self, String> {
        let Unchecked(policy) = f.into();
        match policy.validate() {
            Ok(()) => Ok(policy),
            Err(e) => Err(e.display_in(Spelling::File).to_string()),
        }
    }
}

/// A field's type, and its form in a file.
trait InFile: Sized {
    type Form: Serialize + for<'de> Deserialize<'de>;
    fn to_form(&self) -> Self::Form;
    fn from_form(form: Self::Form) -> Self;
}

impl InFile for Option<u32> {
    type Form = Limit<Count>;
    fn to_form(&self) -> Limit<Count> {
        Limit(self.map(Count))
    }
    fn from_form(form: Limit<Count>) -> Self {
        form.0.map(|c| c.0)
    }
}

impl InFile for Option<Duration> {
    type Form = Limit<Text>;
    fn to_form(&self) -> Limit<Text> {
        Limit(self.map(Text))
    }
    fn from_form(form: Limit<Text>) -> Self {
        form.0.map(|t| t.0)
    }
}

impl InFile for Duration {
    type Form = Text;
    fn to_form(&self) -> Text {
        Text(*self)
    }
    fn from_form(form: Text) -> Self {
        form.0
    }
}

impl InFile for f64 {
    type Form = f64;
    fn to_form(&self) -> f64 {
        *self
    }
    fn from_form(form: f64) -> Self {
        form
    }
}

impl InFile for TimeoutMode {
    type Form = Mode;
    fn to_form(&self) -> Mode {
        match self {
            TimeoutMode::AfterFailure => Mode::AfterFailure,
            TimeoutMode::Deadline => Mode::Deadline,
        }
    }
    fn from_form(form: Mode) -> Self {
        match form {
            Mode::AfterFailure => TimeoutMode::AfterFailure,
            Mode::Deadline => TimeoutMode::Deadline,
        }
    }
}

impl InFile for Option<Nesting> {
    type Form = Option<Nested>;
    fn to_form(&self) -> Option<Nested> {
        self.map(|n| match n {
            Nesting::Retry => Nested::Retry,
            Nesting::Once => Nested::Once,
        })
    }
    fn from_form(form: Option<Nested>) -> Self {
        form.map(|n| match n {
            Nested::Retry => Nesting::Retry,
            Nested::Once => Nesting::Once,
        })
    }
}

/// Not in a file (`#[serde(skip)]`): a policy read from one has stamina's default.
#[derive(Default, Deserialize, Serialize)]
struct Skipped;

impl InFile for BudgetChoice {
    type Form = Skipped;
    fn to_form(&self) -> Skipped {
        Skipped
    }
    fn from_form(Skipped: Skipped) -> Self {
        BudgetChoice::Process
    }
}

impl InFile for Guarded {
    type Form = Skipped;
    fn to_form(&self) -> Skipped {
        Skipped
    }
    fn from_form(Skipped: Skipped) -> Self {
        // The file names no budget and no throttle: the defaults'.
        Guarded::DEFAULT
    }
}

impl InFile for ThrottleChoice {
    type Form = Skipped;
    fn to_form(&self) -> Skipped {
        Skipped
    }
    fn from_form(Skipped: Skipped) -> Self {
        ThrottleChoice::Off
    }
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    AfterFailure,
    Deadline,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
enum Nested {
    Retry,
    Once,
}

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
/// | `min_attempt_time` | a duration, with `"timeout_mode": "deadline"` | `"50ms"` |
/// | `nested` | `"retry"` (stamina's) or `"once"`: see [`Nesting`](crate::Nesting); absent, the switch decides | `"once"` |
/// | `heal_after` | for streams: a duration longer than zero, or `"none"` | `"60s"` |
/// | `heal_after_items` | for streams: a whole number, or `"none"` | `1000` |
///
/// A duration is a string in the attribute's grammar (`"250ms"`, `"1.5s"`, `"2.5e-3"`,
/// `"90min"`; the units are `ns`, `us` or `µs`, `ms`, `s`, `min` and `h`) or a number of
/// seconds (`45`, `0.5`, as in stamina). A budget is code, not configuration: a policy read
/// from a file uses the process's budget, if any.
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
        RetryPolicy::try_from(File::deserialize(deserializer)?).map_err(de::Error::custom)
    }
}

/// Writes the policy in the form its `Deserialize` reads, every field, durations in their
/// largest exact unit, so that it reads back equal. A policy that
/// [`validate`](RetryPolicy::validate) refuses (`attempts(0)`, a zero timeout or `heal_after`, a
/// `wait_exp_base` below 1, NaN or infinite, a `min_attempt_time` outside deadline mode) is an
/// error naming the rule: a file could not hold it. The budget is not written.
impl Serialize for RetryPolicy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Err(e) = self.validate() {
            return Err(ser::Error::custom(e.display_in(Spelling::File)));
        }
        File::from(self).serialize(serializer)
    }
}

/// A value, or no limit: `"none"` or `null`.
struct Limit<T>(Option<T>);

impl<T> Default for Limit<T> {
    fn default() -> Self {
        Limit(None)
    }
}

impl<T: Serialize> Serialize for Limit<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(value) => value.serialize(serializer),
            None => serializer.serialize_str("none"),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Limit<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(LimitVisitor(PhantomData))
            .map(Limit)
    }
}

/// `"none"` and `null` are no limit; anything else goes to `T`.
struct LimitVisitor<T>(PhantomData<T>);

macro_rules! to_value {
    ($($method:ident($ty:ty)),*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Option<T>, E> {
            T::deserialize(de::IntoDeserializer::<E>::into_deserializer(v)).map(Some)
        }
    )*};
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for LimitVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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

/// A whole number that fits a `u32`: `attempts`, `heal_after_items`.
#[derive(Serialize)]
#[serde(transparent)]
struct Count(u32);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl Visitor<'_> for CountVisitor {
            type Value = Count;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a whole number, or \"none\" for no limit")
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

/// A duration in human form: a string in [the one grammar](crate::duration), or a number of
/// seconds.
struct Text(Duration);

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&Human(self.0))
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl Visitor<'_> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration: \"250ms\", \"10s\", \"2min\", or a number of seconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                duration::parse(v)
                    .map(Text)
                    .map_err(|e| E::custom(format_args!("{e}, not {v:?}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(Duration::from_secs(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                u64::try_from(v)
                    .map(|v| Text(Duration::from_secs(v)))
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Duration::try_from_secs_f64(v)
                    .map(Text)
                    .map_err(|_| E::invalid_value(de::Unexpected::Float(v), &self))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(json: &str) -> Result<RetryPolicy, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
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
    fn invalid_values_are_errors_that_name_the_rule_in_the_files_spelling() {
        for (json, message) in [
            (r#"{"attempts": 0}"#, "`attempts` must be at least 1"),
            (r#"{"attempts": 0}"#, r#"`"attempts": 1`"#),
            (
                r#"{"timeout": "0s"}"#,
                r#"no time limit: `"timeout": "none"`"#,
            ),
            (
                r#"{"wait_exp_base": 0.5}"#,
                "`wait_exp_base` must be a finite number",
            ),
            (
                r#"{"heal_after": "0s"}"#,
                "`heal_after` must be longer than zero",
            ),
            (
                r#"{"min_attempt_time": "50ms"}"#,
                r#"add `"timeout_mode": "deadline"`"#,
            ),
            (r#"{"attempts": -1}"#, "a whole number"),
            (r#"{"attempts": 5000000000}"#, "a whole number"),
            (r#"{"attempts": "five"}"#, "a whole number"),
            (r#"{"timeout": "5m"}"#, "unknown unit"),
            (r#"{"timeout": "-1s"}"#, "cannot be negative"),
            (r#"{"wait_max": -1}"#, "a duration"),
            (r#"{"wait_max": "none"}"#, "a duration"),
            (r#"{"atempts": 3}"#, "unknown field `atempts`"),
            (r#"{"budget": 3}"#, "unknown field `budget`"),
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
    fn serializing_round_trips_every_valid_policy() {
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
            RetryPolicy::new()
                .wait_max(Duration::MAX)
                .attempts(u32::MAX),
            RetryPolicy::new().wait_exp_base(f64::MAX),
        ] {
            let json = serde_json::to_string(&policy).unwrap();
            assert_eq!(from(&json), Ok(policy), "{json}");
        }
        assert_eq!(
            serde_json::to_string(&RetryPolicy::new()).unwrap(),
            r#"{"attempts":10,"timeout":"45s","wait_initial":"100ms","wait_max":"5s","wait_jitter":"1s","wait_exp_base":2.0,"timeout_mode":"after_failure","min_attempt_time":"0s","heal_after":"none","heal_after_items":"none"}"#
        );
    }

    #[test]
    fn a_policy_that_a_file_could_not_hold_does_not_serialize() {
        // Regression: these serialized to text that reading back refused (NaN as `null`).
        for (policy, rule) in [
            (
                RetryPolicy::new().attempts(0),
                "`attempts` must be at least 1",
            ),
            (
                RetryPolicy::new().timeout(Duration::ZERO),
                "a `timeout` of zero",
            ),
            (RetryPolicy::new().wait_exp_base(0.5), "`wait_exp_base`"),
            (
                RetryPolicy::new().wait_exp_base(f64::NAN),
                "`wait_exp_base`",
            ),
            (
                RetryPolicy::new().wait_exp_base(f64::INFINITY),
                "`wait_exp_base`",
            ),
            (
                RetryPolicy::new().heal_after(Duration::ZERO),
                "`heal_after`",
            ),
            (
                RetryPolicy::new().min_attempt_time(Duration::from_millis(5)),
                "`min_attempt_time`",
            ),
        ] {
            let error = serde_json::to_string(&policy).expect_err(rule).to_string();
            assert!(error.contains(rule), "{error}");
        }
    }
}
