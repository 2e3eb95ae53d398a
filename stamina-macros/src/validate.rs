//! The rules: what the arguments mean and whether the fn can be retried. Every check keeps the
//! span of what it looks at, so that the error points at the offending value; all of them run,
//! and their errors are reported together (one per mistake).

use std::time::Duration;

use proc_macro2::Span;
use syn::visit_mut::VisitMut;
use syn::{Block, Error, Expr, LitStr, Path, ReturnType, Stmt, Type};

use crate::args::{Args, Attempts, Keyed, Number, NumberLit, On, Seconds};
use crate::item::RetryFn;

/// What `expand` needs: the checked configuration and the shape of the fn.
pub(crate) struct Plan {
    /// The runtime crate's path: `::stamina` or the `crate = ..` override.
    pub(crate) krate: Path,
    pub(crate) on: On,
    pub(crate) on_span: Span,
    pub(crate) attempts: Option<Limit<u32>>,
    pub(crate) timeout: Option<Limit<Wait>>,
    pub(crate) wait_initial: Option<Wait>,
    pub(crate) wait_max: Option<Wait>,
    pub(crate) wait_jitter: Option<Wait>,
    pub(crate) wait_exp_base: Option<Base>,
    pub(crate) name: Option<LitStr>,
    pub(crate) shape: Shape,
}

/// A bound that may be absent: `attempts = None`, `timeout = None`.
pub(crate) enum Limit<T> {
    None,
    Some(T),
    /// A constant expression, checked by const evaluation.
    Expr(Expr),
}

/// A duration: known here (from a literal number of seconds), or a `Duration` expression.
pub(crate) enum Wait {
    Const(Duration),
    Expr(Expr),
}

/// `wait_exp_base`: known here, or a constant `f64` expression.
pub(crate) enum Base {
    Const(f64),
    Expr(Expr),
}

/// How the body runs.
pub(crate) enum Shape {
    /// A plain fn: each attempt is a closure.
    Sync { ret: Type },
    /// An `async fn`: each attempt is an `async` block.
    Async { ret: Type },
    /// A fn that `#[async_trait]` rewrote: the loop goes inside its `Box::pin(async move { .. })`,
    /// around the original body (`let __ret: R = { body };`, the statement at `index`).
    AsyncTrait {
        block: Block,
        index: usize,
        ret: Type,
    },
}

/// Collects errors so that every mistake is reported at once.
#[derive(Default)]
struct Errors(Option<Error>);

impl Errors {
    fn push(&mut self, error: Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn finish<T>(self, value: impl FnOnce() -> T) -> syn::Result<T> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(value()),
        }
    }
}

/// Checks the arguments against each other and against the fn.
pub(crate) fn check(args: Args, item: &RetryFn) -> syn::Result<Plan> {
    let mut errors = Errors::default();

    if let Some(attr) = item.attrs.iter().find(|a| is_retry(a.path())) {
        errors.push(Error::new_spanned(
            attr,
            "`#[retry]` is applied twice; merge the arguments into one `#[retry(..)]`",
        ));
    }
    if let Some(constness) = item.sig.constness {
        errors.push(Error::new(
            constness.span,
            "`#[retry]` cannot retry a `const fn`: waiting between attempts is not possible in const evaluation; remove `const`",
        ));
    }
    let shape = match shape(item) {
        Ok(shape) => Some(shape),
        Err(e) => {
            errors.push(e);
            None
        }
    };

    let on = args.on.map(|Keyed { key, value }| (value, key));
    if on.is_none() {
        errors.push(Error::new(
            args.span,
            "missing `on`: name the errors to retry, like `on = std::io::Error`, or pass a predicate, like `on = |e: &MyError| e.is_transient()`",
        ));
    }
    let attempts = args
        .attempts
        .and_then(|a| keep(&mut errors, attempts(a.value)));
    let timeout = args
        .timeout
        .and_then(|t| keep(&mut errors, limit_wait("timeout", t.value)));
    let mut wait = |name: &str, arg: Option<Keyed<Seconds>>| {
        arg.and_then(|w| keep(&mut errors, plain_wait(name, w.value)))
    };
    let wait_initial = wait("wait_initial", args.wait_initial);
    let wait_max = wait("wait_max", args.wait_max);
    let wait_jitter = wait("wait_jitter", args.wait_jitter);
    let wait_exp_base = args
        .wait_exp_base
        .and_then(|b| keep(&mut errors, base(b.value)));

    errors.finish(|| {
        let (on, on_span) = on.expect("checked above");
        Plan {
            krate: args
                .krate
                .map_or_else(|| syn::parse_quote!(::stamina), |k| k.value),
            on,
            on_span,
            attempts,
            timeout,
            wait_initial,
            wait_max,
            wait_jitter,
            wait_exp_base,
            name: args.name.map(|n| n.value),
            shape: shape.expect("checked above"),
        }
    })
}

fn keep<T>(errors: &mut Errors, result: syn::Result<T>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// `#[retry]`, `#[stamina::retry]`, or any other path that ends in `retry`.
pub(crate) fn is_retry(path: &Path) -> bool {
    path.segments.last().is_some_and(|s| s.ident == "retry")
}

/// Which expansion the fn needs, and its return type with `impl Trait` made `_` (a type that
/// can be written in the body).
fn shape(item: &RetryFn) -> syn::Result<Shape> {
    let Some(body) = &item.body else {
        return Err(Error::new_spanned(
            &item.sig,
            "`#[retry]` needs a fn with a body; put it on the fn that implements this one",
        ));
    };
    let ret = match &item.sig.output {
        ReturnType::Default => {
            return Err(Error::new_spanned(
                &item.sig.ident,
                "`#[stamina::retry]` needs a fn that returns `Result<T, E>`, not `()`",
            ));
        }
        ReturnType::Type(_, ty) => &**ty,
    };
    if item.sig.asyncness.is_some() {
        return Ok(Shape::Async {
            ret: erase_impl_trait(ret),
        });
    }
    if let Some(block) = body.async_trait_block() {
        return async_trait(block, ret);
    }
    if let Type::ImplTrait(_) = ret {
        return Err(Error::new_spanned(
            ret,
            "`#[stamina::retry]` needs a fn that returns `Result<T, E>`, not `impl Trait`; for a future, make the fn an `async fn`",
        ));
    }
    Ok(Shape::Sync {
        ret: erase_impl_trait(ret),
    })
}

/// Finds the original body in a fn that `#[async_trait]` rewrote: `let __ret: R = { body };`.
fn async_trait(block: Block, ret: &Type) -> syn::Result<Shape> {
    let Some(Stmt::Expr(Expr::Call(call), None)) = block.stmts.last() else {
        unreachable!("checked by `async_trait_block`")
    };
    let Some(Expr::Async(inner)) = call.args.first() else {
        unreachable!("checked by `async_trait_block`")
    };
    let found = inner.block.stmts.iter().enumerate().find_map(|(i, stmt)| {
        let Stmt::Local(local) = stmt else {
            return None;
        };
        let syn::Pat::Type(typed) = &local.pat else {
            return None;
        };
        let syn::Pat::Ident(ident) = &*typed.pat else {
            return None;
        };
        let init = local.init.as_ref()?;
        (ident.ident == "__ret" && init.diverge.is_none()).then(|| (i, (*typed.ty).clone()))
    });
    match found {
        Some((index, ret)) => Ok(Shape::AsyncTrait { block, index, ret }),
        None => Err(Error::new_spanned(
            ret,
            "`#[retry]` cannot find the body of this `#[async_trait]` fn; write it as a plain `async fn` calling a `#[retry]` helper",
        )),
    }
}

/// `impl Trait` cannot be written inside a fn body; `_` infers the same type.
fn erase_impl_trait(ty: &Type) -> Type {
    struct Erase;
    impl VisitMut for Erase {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(impl_trait) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](impl_trait.impl_token.span),
                });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut ty = ty.clone();
    Erase.visit_type_mut(&mut ty);
    ty
}

fn attempts(value: Attempts) -> syn::Result<Limit<u32>> {
    match value {
        Attempts::None => Ok(Limit::None),
        Attempts::Expr(expr) => Ok(Limit::Expr(expr)),
        Attempts::Literal(lit) => match lit.base10_parse::<u32>() {
            Ok(0) => Err(Error::new(
                lit.span(),
                "`attempts` must be at least 1; use `attempts = None` for no limit",
            )),
            Ok(n) => Ok(Limit::Some(n)),
            Err(_) => Err(Error::new(
                lit.span(),
                "`attempts` must fit in a `u32`; use `attempts = None` for no limit",
            )),
        },
    }
}

fn limit_wait(name: &str, value: Seconds) -> syn::Result<Limit<Wait>> {
    match value {
        Seconds::None(_) => Ok(Limit::None),
        Seconds::Literal(lit) => {
            let wait = seconds(name, &lit)?;
            if wait.is_zero() {
                return Err(Error::new_spanned(
                    &lit,
                    format!(
                        "`{name} = 0` means no retries at all; use `attempts = 1` to try once, or `{name} = None` for no limit"
                    ),
                ));
            }
            Ok(Limit::Some(Wait::Const(wait)))
        }
        Seconds::NonFinite(expr) => Err(Error::new_spanned(
            expr,
            format!(
                "`{name}` must be a finite number of seconds; use `{name} = None` for no limit"
            ),
        )),
        Seconds::Expr(expr) => Ok(Limit::Some(Wait::Expr(expr))),
    }
}

fn plain_wait(name: &str, value: Seconds) -> syn::Result<Wait> {
    match value {
        Seconds::None(span) => Err(Error::new(
            span,
            format!(
                "`{name}` cannot be `None`; it takes a number of seconds (`0.5`) or a `Duration`"
            ),
        )),
        Seconds::Literal(lit) => Ok(Wait::Const(seconds(name, &lit)?)),
        Seconds::NonFinite(expr) => Err(Error::new_spanned(
            expr,
            format!("`{name}` must be a finite number of seconds"),
        )),
        Seconds::Expr(expr) => Ok(Wait::Expr(expr)),
    }
}

/// A literal number of seconds as a `Duration`, exactly as the runtime would round it.
fn seconds(name: &str, lit: &NumberLit) -> syn::Result<Duration> {
    let value = lit.value()?;
    if value.is_nan() || value.is_infinite() {
        return Err(Error::new_spanned(
            lit,
            format!("`{name}` must be a finite number of seconds"),
        ));
    }
    if value < 0.0 || lit.negative {
        let fix = if name == "timeout" {
            "; use `timeout = None` for no limit".to_owned()
        } else {
            format!("; use `{name} = 0` for no wait")
        };
        return Err(Error::new_spanned(
            lit,
            format!("`{name}` cannot be negative{fix}"),
        ));
    }
    if let syn::Lit::Int(int) = &lit.lit {
        // Whole seconds stay exact, whatever their size.
        return int
            .base10_parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| {
                Error::new_spanned(lit, format!("`{name}` is too large for a `Duration`"))
            });
    }
    Duration::try_from_secs_f64(value)
        .map_err(|_| Error::new_spanned(lit, format!("`{name}` is too large for a `Duration`")))
}

fn base(value: Number) -> syn::Result<Base> {
    let message = |got: &str| {
        format!(
            "`wait_exp_base` must be a finite number of at least 1, got {got}; use `wait_exp_base = 1` for waits that do not grow"
        )
    };
    match value {
        Number::Literal(lit) => {
            let base = lit.value()?;
            // NaN fails the comparison.
            let at_least_one = base >= 1.0;
            if at_least_one && base.is_finite() {
                Ok(Base::Const(base))
            } else {
                let got = quote::ToTokens::to_token_stream(&lit).to_string();
                Err(Error::new_spanned(lit, message(&got.replace(' ', ""))))
            }
        }
        Number::NonFinite(expr) => {
            let got = quote::ToTokens::to_token_stream(&expr).to_string();
            Err(Error::new_spanned(expr, message(&got.replace(' ', ""))))
        }
        Number::Expr(expr) => Ok(Base::Expr(expr)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_of(value: &str) -> syn::Result<Duration> {
        let args: Args = syn::parse_str(&format!("on = E, wait_max = {value}")).unwrap();
        match plain_wait("wait_max", args.wait_max.unwrap().value)? {
            Wait::Const(d) => Ok(d),
            Wait::Expr(_) => panic!("`{value}` is an expression"),
        }
    }

    #[test]
    fn literal_seconds_convert_exactly() {
        assert_eq!(wait_of("0.1").unwrap(), Duration::from_millis(100));
        assert_eq!(wait_of("45").unwrap(), Duration::from_secs(45));
        assert_eq!(wait_of("2.5e-3").unwrap(), Duration::from_micros(2500));
        assert_eq!(wait_of("0").unwrap(), Duration::ZERO);
        assert_eq!(
            wait_of("18446744073709551615").unwrap(),
            Duration::from_secs(u64::MAX)
        );
    }

    #[test]
    fn bad_literal_seconds_are_errors() {
        for (value, message) in [
            ("-1", "cannot be negative"),
            ("-0.0", "cannot be negative"),
            ("1e400", "finite"),
            ("f64::NAN", "finite"),
            ("18446744073709551616", "too large"),
            ("1e20", "too large"),
            ("None", "cannot be `None`"),
        ] {
            let got = wait_of(value).unwrap_err().to_string();
            assert!(got.contains(message), "`{value}`: {got}");
        }
    }

    #[test]
    fn exp_base_below_one_or_not_finite_is_an_error() {
        let base_of = |value: &str| {
            let args: Args = syn::parse_str(&format!("on = E, wait_exp_base = {value}")).unwrap();
            base(args.wait_exp_base.unwrap().value)
        };
        // Exact: both sides are the same literal's value.
        assert!(matches!(base_of("1"), Ok(Base::Const(b)) if b.to_bits() == 1.0_f64.to_bits()));
        assert!(matches!(base_of("2.5"), Ok(Base::Const(b)) if b.to_bits() == 2.5_f64.to_bits()));
        assert!(matches!(base_of("BASE"), Ok(Base::Expr(_))));
        for value in ["0.5", "0", "-2", "f64::INFINITY", "core::f64::NAN", "1e400"] {
            assert!(base_of(value).is_err(), "{value}");
        }
    }
}
