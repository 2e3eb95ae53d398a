//! `throttle`: a throttle of the fn's own (`adaptive`, `adaptive(k = .., ..)`,
//! `rate_limiter`), the path of a `static`, or an expression read per call.

use proc_macro2::Span;
use syn::{Error, Expr, Ident};

use super::literal::{Literal, is_none};
use super::{Kind, Value};

/// A throttle written in the attribute, for the fn alone.
pub(crate) struct InlineThrottle {
    /// `adaptive` or `rate_limiter`: the `Throttle` constructor.
    pub(crate) kind: Ident,
    /// The settings, each a `Throttle` setter by name, in the order given.
    pub(crate) settings: Vec<Setting>,
}

/// One `key = value` of an [`InlineThrottle`].
pub(crate) struct Setting {
    pub(crate) key: Ident,
    pub(crate) value: Value,
    pub(crate) span: Span,
}

/// The settings of `throttle = adaptive(..)`: the setter, what it takes, and the `__private`
/// const fn that applies the runtime's rule to it.
const THROTTLE_SETTINGS: &[(&str, Kind, Option<&str>)] = &[
    ("k", Kind::Number, Some("throttle_k")),
    (
        "window",
        Kind::Duration { none: None },
        Some("throttle_window"),
    ),
    (
        "max_rejection",
        Kind::Number,
        Some("throttle_max_rejection"),
    ),
    ("min_requests", Kind::Count { none: "" }, None),
    ("rejections", Kind::Variant { ty: "Rejections" }, None),
];

/// `throttle = ..`: a throttle of the fn's own, a `static`, or an expression read per call.
pub(super) fn parse_throttle(expr: Expr) -> syn::Result<Value> {
    const KINDS: &str = "`throttle` takes `adaptive`, `adaptive(k = 2, window = 2min, max_rejection = 0.9, min_requests = 20)`, `rate_limiter`, or a `static Throttle` (`throttle = MY_THROTTLE`)";
    if is_none(&expr) {
        return Err(Error::new_spanned(
            &expr,
            format!(
                "`throttle` cannot be `None`: a call has no throttle unless it names one (remove it); {KINDS}"
            ),
        ));
    }
    let kind_of = |path: &Expr| match path {
        Expr::Path(p) if p.qself.is_none() => p
            .path
            .get_ident()
            .filter(|i| *i == "adaptive" || *i == "rate_limiter")
            .cloned(),
        _ => None,
    };
    if let Some(kind) = kind_of(&expr) {
        return Ok(Value::Throttle(InlineThrottle {
            kind,
            settings: Vec::new(),
        }));
    }
    let Expr::Call(call) = &expr else {
        return Ok(match &expr {
            Expr::Path(p) if p.qself.is_none() => Value::Const(expr),
            _ => Value::Runtime(expr),
        });
    };
    let Some(kind) = kind_of(&call.func) else {
        return Ok(Value::Runtime(expr));
    };
    if kind == "rate_limiter" && !call.args.is_empty() {
        return Err(Error::new_spanned(
            &call.args,
            "`rate_limiter` takes no settings: its constants are the AWS SDKs' (write `throttle = rate_limiter`)",
        ));
    }
    let mut settings: Vec<Setting> = Vec::new();
    for arg in &call.args {
        let setting = throttle_setting(arg)?;
        if settings.iter().any(|s| s.key == setting.key) {
            return Err(Error::new_spanned(
                &setting.key,
                format!("duplicate setting `{}`; give each once", setting.key),
            ));
        }
        settings.push(setting);
    }
    Ok(Value::Throttle(InlineThrottle { kind, settings }))
}

/// One `key = value` of `throttle = adaptive(..)`, read as its setting takes it.
fn throttle_setting(arg: &Expr) -> syn::Result<Setting> {
    let (key, value) = match arg {
        Expr::Assign(assign) => match &*assign.left {
            Expr::Path(p) => match p.path.get_ident() {
                Some(key) => (key.clone(), &*assign.right),
                None => return Err(Error::new_spanned(p, "expected a setting's name, like `k`")),
            },
            _ => {
                return Err(Error::new_spanned(
                    &assign.left,
                    "expected a setting's name, like `k`",
                ));
            }
        },
        _ => {
            return Err(Error::new_spanned(
                arg,
                "expected `key = value`, like `k = 1.1`: `adaptive` takes `k`, `window`, `max_rejection`, `min_requests` and `rejections`",
            ));
        }
    };
    let Some((name, kind, _)) = THROTTLE_SETTINGS.iter().find(|(name, ..)| key == name) else {
        return Err(Error::new_spanned(
            &key,
            format!(
                "unknown setting `{key}` of `adaptive`: it takes `k`, `window`, `max_rejection`, `min_requests` and `rejections`"
            ),
        ));
    };
    let span = syn::spanned::Spanned::span(value);
    if let Kind::Variant { .. } = kind {
        let variant = match value {
            Expr::Path(p) if p.qself.is_none() => p.path.get_ident().cloned(),
            _ => None,
        };
        let Some(variant) = variant.filter(|v| *v == "Retried" || *v == "Throttling") else {
            return Err(Error::new_spanned(
                value,
                "`rejections` takes `Retried` (every failure that `on` retries, the default) or `Throttling` (only throttling decisions: 429, `RESOURCE_EXHAUSTED`)",
            ));
        };
        return Ok(Setting {
            key,
            value: Value::Ident(variant),
            span,
        });
    }
    let read = match Literal::of(value) {
        Some(lit) => match kind {
            Kind::Number => lit.number(name).map(Value::Number)?,
            Kind::Duration { .. } => lit.duration(name).map(Value::Duration)?,
            _ => lit.count(name).map(Value::Count)?,
        },
        None => Value::Const(value.clone()),
    };
    Ok(Setting {
        key,
        value: read,
        span,
    })
}

/// The `__private` check of a setting of `throttle = adaptive(..)`, if it has one.
pub(crate) fn throttle_check(key: &Ident) -> Option<&'static str> {
    THROTTLE_SETTINGS
        .iter()
        .find(|(name, ..)| key == name)
        .and_then(|(_, _, check)| *check)
}
