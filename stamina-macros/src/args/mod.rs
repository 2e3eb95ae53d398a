//! The attribute's arguments: one table ([`ARGS`]) says what each argument takes, and parsing
//! reads each value into one family of values ([`Value`]) by the argument's [`Kind`].
//!
//! Parsing owns the rules on a value's *form*: what a literal may be (a suffix, a sign), what is
//! a type and what is a fn in `on`. The rules on a value's *meaning* (`attempts` at least 1, a
//! finite `wait_exp_base` of at least 1, a non-zero `timeout`) are the runtime's, written once
//! in `stamina::RetryPolicy` and applied to the attribute's values by const evaluation, so that
//! a literal and a constant expression get the same check and the same text.
//!
//! A new value argument is one row here (its `setter` names the `RetryPolicy` setter) and, if
//! its form is new, one `Kind`; the expansion needs nothing more. The arguments with a grammar
//! of their own have a file each: `on` (`on.rs`) and `throttle` (`throttle.rs`); literals are
//! `literal.rs`, and the "did you mean" of an unknown argument `suggest.rs`.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Error, Expr, Ident, LitStr, Path, Token, Type};

mod literal;
mod on;
mod suggest;
mod throttle;

use self::literal::{Literal, is_non_finite, is_none, unwrap_some};
use self::on::parse_on;
use self::suggest::{expected_one_of, unknown_argument};
use self::throttle::parse_throttle;
pub(crate) use self::throttle::{InlineThrottle, throttle_check};

/// One argument of the attribute.
pub(crate) struct Spec {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    /// The argument in use, for "needs a value" errors.
    pub(crate) example: &'static str,
    /// The `RetryPolicy` setter that takes the value; `None` for the arguments that are not part
    /// of the policy (`on`, `policy`, `name`, `crate`).
    pub(crate) setter: Option<&'static str>,
    /// The `__private` const fn that applies the runtime's rule to the value, if any.
    pub(crate) check: Option<&'static str>,
}

/// What an argument takes.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    /// `on`: error types, or a predicate.
    On,
    /// An expression evaluated on each call: a `RetryPolicy` (or a reference to one) for
    /// `policy`, a `Sleeper` for `sleeper`, a result predicate for `on_ok`.
    Runtime,
    /// A whole number (`5`, `5u32`) or a constant `u32` expression; `None` calls the setter named
    /// here instead.
    Count { none: &'static str },
    /// A duration: a number of seconds or a literal with a unit (`250ms`), or a constant
    /// `Duration` expression; `None` calls the setter named here, if the argument takes `None`.
    Duration { none: Option<&'static str> },
    /// A number, or a constant `f64` expression.
    Number,
    /// A string literal.
    Str,
    /// A path.
    Path,
    /// An identifier that the body sees bound to the attempt under way.
    Binding,
    /// A variant of the runtime's enum named here (`timeout_mode = Deadline`), or a constant
    /// expression of that enum.
    Variant { ty: &'static str },
    /// A retry budget: the path of a `static` (part of the constant policy), `None` (no budget,
    /// not even the process's), or an expression evaluated on each call (a partition's budget).
    Budget,
    /// A throttle: the fn's own (`adaptive`, `adaptive(k = 1.1, ..)`, `rate_limiter`), the path
    /// of a `static`, or an expression evaluated on each call (a partition's throttle).
    Throttle,
}

/// Every argument, in the order the docs list them.
pub(crate) const ARGS: &[Spec] = &[
    Spec {
        name: "on",
        kind: Kind::On,
        example: "on = std::io::Error",
        setter: None,
        check: None,
    },
    Spec {
        name: "on_ok",
        kind: Kind::Runtime,
        example: "on_ok = |r: &Response| r.status() == 503",
        setter: None,
        check: None,
    },
    Spec {
        name: "policy",
        kind: Kind::Runtime,
        example: "policy = MY_POLICY",
        setter: None,
        check: None,
    },
    Spec {
        name: "attempts",
        kind: Kind::Count {
            none: "no_attempt_limit",
        },
        example: "attempts = 5",
        setter: Some("attempts"),
        check: Some("attempts"),
    },
    Spec {
        name: "timeout",
        kind: Kind::Duration {
            none: Some("no_timeout"),
        },
        example: "timeout = 45s",
        setter: Some("timeout"),
        check: Some("timeout"),
    },
    Spec {
        name: "wait_initial",
        kind: Kind::Duration { none: None },
        example: "wait_initial = 100ms",
        setter: Some("wait_initial"),
        check: None,
    },
    Spec {
        name: "wait_max",
        kind: Kind::Duration { none: None },
        example: "wait_max = 5s",
        setter: Some("wait_max"),
        check: None,
    },
    Spec {
        name: "wait_jitter",
        kind: Kind::Duration { none: None },
        example: "wait_jitter = 1s",
        setter: Some("wait_jitter"),
        check: None,
    },
    Spec {
        name: "wait_exp_base",
        kind: Kind::Number,
        example: "wait_exp_base = 2",
        setter: Some("wait_exp_base"),
        check: Some("wait_exp_base"),
    },
    Spec {
        name: "timeout_mode",
        kind: Kind::Variant { ty: "TimeoutMode" },
        example: "timeout_mode = Deadline",
        setter: Some("timeout_mode"),
        check: None,
    },
    Spec {
        name: "min_attempt_time",
        kind: Kind::Duration { none: None },
        example: "min_attempt_time = 50ms",
        setter: Some("min_attempt_time"),
        check: None,
    },
    Spec {
        name: "budget",
        kind: Kind::Budget,
        example: "budget = MY_BUDGET",
        setter: Some("budget"),
        check: None,
    },
    Spec {
        name: "throttle",
        kind: Kind::Throttle,
        example: "throttle = adaptive(k = 2)",
        setter: None,
        check: None,
    },
    Spec {
        name: "nested",
        kind: Kind::Variant { ty: "Nesting" },
        example: "nested = Once",
        setter: Some("nested"),
        check: None,
    },
    Spec {
        name: "heal_after",
        kind: Kind::Duration {
            none: Some("no_healing"),
        },
        example: "heal_after = 60s",
        setter: Some("heal_after"),
        check: Some("heal_after"),
    },
    Spec {
        name: "heal_after_items",
        kind: Kind::Count { none: "no_healing" },
        example: "heal_after_items = 1000",
        setter: Some("heal_after_items"),
        check: None,
    },
    Spec {
        name: "hedge",
        kind: Kind::Duration { none: None },
        example: "hedge = 50ms",
        setter: None,
        check: None,
    },
    Spec {
        name: "hedges",
        kind: Kind::Count { none: "" },
        example: "hedges = 2",
        setter: None,
        check: None,
    },
    Spec {
        name: "attempt",
        kind: Kind::Binding,
        example: "attempt = attempt",
        setter: None,
        check: None,
    },
    Spec {
        name: "sleeper",
        kind: Kind::Runtime,
        example: "sleeper = |wait| my_timer(wait)",
        setter: None,
        check: None,
    },
    Spec {
        name: "name",
        kind: Kind::Str,
        example: "name = \"my_crate::fetch\"",
        setter: None,
        check: None,
    },
    Spec {
        name: "crate",
        kind: Kind::Path,
        example: "crate = ::my_reexport::stamina",
        setter: None,
        check: None,
    },
];

/// An argument's value.
pub(crate) enum Value {
    On(On),
    /// `None`: no limit.
    None,
    /// A duration literal's text, sign included (`250ms`, `-1s`): read by the runtime's one
    /// grammar, by const evaluation, where a bad one is an error at the literal.
    Duration(String),
    /// A whole-number literal.
    Count(u32),
    /// A number literal.
    Number(f64),
    /// A constant expression, evaluated at compile time.
    Const(Expr),
    /// An expression evaluated on each call.
    Runtime(Expr),
    Str(LitStr),
    Path(Path),
    /// A name to bind, or a bare variant of an enum.
    Ident(Ident),
    /// `throttle = adaptive(..)` or `throttle = rate_limiter`: a throttle of the fn's own.
    Throttle(InlineThrottle),
}

/// What `on` names: the errors to retry.
pub(crate) enum On {
    /// `on = io::Error`, `on = (A, B)`: retry errors of these types.
    Types(Vec<Type>),
    /// `on = is_transient`, `on = Self::should_retry`: a predicate fn, called as `path(&error)`.
    Fn(Expr),
    /// `on = |e: &E| ..` or any other expression that evaluates to a predicate.
    Value(Expr),
}

/// One argument as given.
pub(crate) struct Arg {
    pub(crate) spec: &'static Spec,
    /// The key's span, for errors about the argument as a whole.
    pub(crate) key: Span,
    /// The value's span, where a check of it points.
    pub(crate) span: Span,
    pub(crate) value: Value,
}

/// The parsed arguments, in the order given.
pub(crate) struct Args {
    pub(crate) list: Vec<Arg>,
    /// Where to point "missing `on`": the arguments, or the attribute when there are none.
    pub(crate) span: Span,
}

#[cfg(test)]
impl Args {
    pub(crate) fn get(&self, name: &str) -> Option<&Arg> {
        self.list.iter().find(|arg| arg.spec.name == name)
    }
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let span = if input.is_empty() {
            Span::call_site()
        } else {
            input.span()
        };
        let mut list: Vec<Arg> = Vec::new();
        while !input.is_empty() {
            if !input.peek(Ident::peek_any) {
                return Err(Error::new(input.span(), expected_one_of("expected")));
            }
            let ident = input.call(Ident::parse_any)?;
            let name = ident.unraw().to_string();
            let Some(spec) = ARGS.iter().find(|spec| spec.name == name) else {
                return Err(unknown_argument(&ident));
            };
            let key = ident.span();
            let missing = || {
                Error::new(
                    key,
                    format!("`{name}` needs a value, like `{}`", spec.example),
                )
            };
            if !input.peek(Token![=]) {
                return Err(missing());
            }
            input.parse::<Token![=]>()?;
            if input.is_empty() || input.peek(Token![,]) {
                return Err(missing());
            }
            let first = input.span();
            let value = parse_value(input, spec)?;
            let span = match &value {
                Value::Const(expr) | Value::Runtime(expr) => expr.span(),
                _ => first,
            };
            // The one place that detects duplicates, for every key alike.
            if list.iter().any(|arg| arg.spec.name == name) {
                return Err(Error::new(
                    key,
                    format!("duplicate argument `{name}`; give each argument once"),
                ));
            }
            list.push(Arg {
                spec,
                key,
                span,
                value,
            });
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(Args { list, span })
    }
}

fn parse_value(input: ParseStream<'_>, spec: &'static Spec) -> syn::Result<Value> {
    let name = spec.name;
    match spec.kind {
        Kind::On => parse_on(input).map(Value::On),
        Kind::Runtime => Ok(Value::Runtime(input.parse()?)),
        Kind::Str => parse_as(input, name, "a string literal").map(Value::Str),
        Kind::Binding => {
            let error = |span| {
                Error::new(
                    span,
                    format!(
                        "`{name}` binds the attempt under way to a name for the body, like `{}`; the number of attempts is `attempts = ..`",
                        spec.example
                    ),
                )
            };
            let ident: Ident = input.parse().map_err(|e| error(e.span()))?;
            if ident == "_" || ident == "self" {
                return Err(error(ident.span()));
            }
            Ok(Value::Ident(ident))
        }
        Kind::Variant { .. } => {
            // A lone `CamelCase` name is a variant (`Deadline`); a `SCREAMING_CASE` one is a
            // constant (`MODE`), as is any longer path or expression.
            let expr: Expr = input.parse()?;
            match &expr {
                Expr::Path(p) if p.qself.is_none() => match p.path.get_ident() {
                    Some(ident) if !is_screaming(ident) => Ok(Value::Ident(ident.clone())),
                    _ => Ok(Value::Const(expr)),
                },
                _ => Ok(Value::Const(expr)),
            }
        }
        Kind::Path => parse_as(input, name, "a path to the `stamina` crate").map(Value::Path),
        Kind::Budget => {
            let expr: Expr = input.parse()?;
            if is_none(&expr) {
                return Ok(Value::None);
            }
            match &expr {
                // A `static` (or a path to one): part of the constant policy.
                Expr::Path(p) if p.qself.is_none() => Ok(Value::Const(expr)),
                _ => Ok(Value::Runtime(expr)),
            }
        }
        Kind::Throttle => parse_throttle(input.parse()?),
        Kind::Count { .. } => {
            let expr = unwrap_some(input.parse()?);
            if is_none(&expr) {
                return Ok(Value::None);
            }
            match Literal::of(&expr) {
                Some(lit) => lit.count(name).map(Value::Count),
                None => Ok(Value::Const(expr)),
            }
        }
        Kind::Duration { none } => {
            let expr = unwrap_some(input.parse()?);
            if is_none(&expr) {
                return match none {
                    Some(_) => Ok(Value::None),
                    None => Err(Error::new_spanned(
                        &expr,
                        format!(
                            "`{name}` cannot be `None`; it takes a duration (`{}`)",
                            spec.example
                        ),
                    )),
                };
            }
            if is_non_finite(&expr) {
                return Err(Error::new_spanned(
                    &expr,
                    format!(
                        "`{name}` must be a finite duration, like `{}`",
                        spec.example
                    ),
                ));
            }
            match Literal::of(&expr) {
                Some(lit) => lit.duration(name).map(Value::Duration),
                None => Ok(Value::Const(expr)),
            }
        }
        Kind::Number => {
            let expr: Expr = input.parse()?;
            if is_none(&expr) {
                return Err(Error::new_spanned(
                    &expr,
                    format!(
                        "`{name}` cannot be `None`; it takes a number, like `{}`",
                        spec.example
                    ),
                ));
            }
            match Literal::of(&expr) {
                Some(lit) => lit.number(name).map(Value::Number),
                None => Ok(Value::Const(expr)),
            }
        }
    }
}

/// `MODE`, `MY_MODE_2`: the name of a constant by Rust's naming convention.
fn is_screaming(ident: &Ident) -> bool {
    ident
        .to_string()
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Parses a value of a fixed syntax, with an error that names the argument.
fn parse_as<T: Parse>(input: ParseStream<'_>, name: &str, what: &str) -> syn::Result<T> {
    let span = input.span();
    input
        .parse()
        .map_err(|_| Error::new(span, format!("`{name}` takes {what}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Args {
        match syn::parse_str::<Args>(s) {
            Ok(args) => args,
            Err(e) => panic!("`{s}`: {e}"),
        }
    }

    fn error(s: &str) -> String {
        match syn::parse_str::<Args>(s) {
            Ok(_) => panic!("`{s}` parsed"),
            Err(e) => e.to_string(),
        }
    }

    fn value<'a>(args: &'a Args, name: &str) -> &'a Value {
        &args.get(name).expect(name).value
    }

    fn duration(s: &str) -> String {
        let parsed = args(&format!("on = E, wait_max = {s}"));
        match value(&parsed, "wait_max") {
            Value::Duration(d) => d.clone(),
            _ => panic!("`{s}` is not a duration literal"),
        }
    }

    #[test]
    fn every_argument_has_a_unique_name_and_a_setter_that_is_its_name() {
        for (i, spec) in ARGS.iter().enumerate() {
            assert!(ARGS[..i].iter().all(|other| other.name != spec.name));
            assert!(spec.example.starts_with(&format!("{} = ", spec.name)));
            if let Some(setter) = spec.setter {
                assert_eq!(setter, spec.name);
            }
        }
    }

    #[test]
    fn parses_every_argument() {
        let parsed = args(
            "on = io::Error, attempts = 3, timeout = None, wait_initial = 0.5, wait_max = Duration::MAX, \
             wait_jitter = 0, wait_exp_base = 1.5, name = \"x\", crate = ::my::stamina, policy = P,",
        );
        assert!(matches!(value(&parsed, "on"), Value::On(On::Types(t)) if t.len() == 1));
        assert!(matches!(value(&parsed, "attempts"), Value::Count(3)));
        assert!(matches!(value(&parsed, "timeout"), Value::None));
        assert!(matches!(value(&parsed, "wait_max"), Value::Const(_)));
        assert!(
            matches!(value(&parsed, "wait_exp_base"), Value::Number(b) if b.to_bits() == 1.5_f64.to_bits())
        );
        assert!(matches!(value(&parsed, "name"), Value::Str(s) if s.value() == "x"));
        assert!(matches!(value(&parsed, "policy"), Value::Runtime(_)));
        assert!(matches!(value(&parsed, "crate"), Value::Path(_)));
        let parsed = args(
            "on = E, attempt = a, timeout_mode = Deadline, min_attempt_time = 50ms, \
             wait_initial = 1",
        );
        assert!(matches!(value(&parsed, "attempt"), Value::Ident(i) if i == "a"));
        assert!(matches!(value(&parsed, "timeout_mode"), Value::Ident(i) if i == "Deadline"));
        assert!(matches!(
            value(&parsed, "min_attempt_time"),
            Value::Duration(d) if d == "50ms"
        ));
        let parsed = args("on = E, timeout_mode = MODE");
        assert!(matches!(value(&parsed, "timeout_mode"), Value::Const(_)));
    }

    #[test]
    fn duration_literals_go_to_the_runtime_as_written() {
        // The grammar is the runtime's (`stamina::duration`): the attribute hands it the text.
        for text in [
            "0.1",
            "45",
            "2.5e-3",
            "250ms",
            "1_000ms",
            "100µs",
            "5m",
            "3fortnights",
        ] {
            assert_eq!(duration(text), text);
        }
        assert_eq!(duration("-1s"), "-1s");
    }

    #[test]
    fn counts_take_integer_suffixes_and_nothing_else() {
        let count = |s: &str| match value(&args(&format!("on = E, attempts = {s}")), "attempts") {
            Value::Count(n) => *n,
            _ => panic!("`{s}`"),
        };
        assert_eq!(count("5"), 5);
        assert_eq!(count("5u32"), 5);
        assert_eq!(count("5usize"), 5);
        assert_eq!(count("Some(7)"), 7);
        assert!(matches!(
            value(&args("on = E, attempts = ATTEMPTS"), "attempts"),
            Value::Const(_)
        ));
    }

    #[test]
    fn odd_input_is_an_error() {
        for (input, message) in [
            ("on", "`on` needs a value"),
            ("on =", "`on` needs a value"),
            ("on = , attempts = 2", "`on` needs a value"),
            ("crate", "`crate` needs a value"),
            ("= 3", "expected one of `on`, `on_ok`, `policy`"),
            ("on = E attempts = 3", "expected `,`"),
            ("on = E, on = F", "duplicate argument `on`"),
            ("on = E, timout = 3", "did you mean `timeout`?"),
            (
                "on = E, flavor = 3",
                "expected one of `on`, `on_ok`, `policy`, `attempts`",
            ),
            ("on = E, attempts = 1.5", "whole number"),
            ("on = E, attempts = -1", "whole number"),
            ("on = E, attempts = 5ms", "`ms` is not an integer type"),
            ("on = E, attempts = 5000000000", "fit in a `u32`"),
            ("on = E, timeout = \"10\"", "takes a duration"),
            ("on = E, wait_max = f64::NAN", "finite duration"),
            ("on = E, wait_max = None", "cannot be `None`"),
            ("on = E, wait_exp_base = None", "cannot be `None`"),
            ("on = E, wait_exp_base = 2ms", "not a float type"),
            ("on = E, name = 5", "`name` takes a string literal"),
            (
                "on = E, attempt = 3",
                "the number of attempts is `attempts = ..`",
            ),
            ("on = E, attempt = _", "binds the attempt under way"),
            ("on = ()", "names no error type"),
            ("on = (A, is_b)", "`is_b` is a fn by the naming rule"),
        ] {
            let got = error(input);
            assert!(got.contains(message), "`{input}`: {got}");
        }
    }
}
