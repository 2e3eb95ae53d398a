//! Literals as values: their form (a sign, a suffix), and `None` and `Some(..)`; what a
//! duration's text means is the runtime's one grammar.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Error, Expr, Lit};

/// The integer suffixes `attempts` accepts: any integer type, since the value is what counts.
const INTEGER_SUFFIXES: [&str; 13] = [
    "", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
];

/// A literal value as written: its sign, the literal, and the span of both.
pub(super) struct Literal<'a> {
    negative: bool,
    lit: &'a Lit,
    span: Span,
}

impl<'a> Literal<'a> {
    /// `expr` as a literal, maybe negated; `None` for any other expression.
    pub(super) fn of(expr: &'a Expr) -> Option<Self> {
        let (negative, inner) = match expr {
            Expr::Unary(syn::ExprUnary {
                op: syn::UnOp::Neg(_),
                expr: inner,
                ..
            }) => (true, &**inner),
            other => (false, other),
        };
        match inner {
            Expr::Lit(syn::ExprLit { lit, .. }) => Some(Literal {
                negative,
                lit,
                span: expr.span(),
            }),
            _ => None,
        }
    }

    fn error(&self, message: String) -> Error {
        Error::new(self.span, message)
    }

    /// The digits and the suffix of a numeric literal.
    fn parts(&self, name: &str, what: &str) -> syn::Result<(&str, &str, bool)> {
        match self.lit {
            Lit::Int(int) => Ok((int.base10_digits(), int.suffix(), false)),
            Lit::Float(float) => Ok((float.base10_digits(), float.suffix(), true)),
            _ => Err(self.error(format!("`{name}` takes {what}"))),
        }
    }

    pub(super) fn count(&self, name: &str) -> syn::Result<u32> {
        let what = "a whole number, like `attempts = 5`, or `None` for no limit";
        let (digits, suffix, float) = self.parts(name, what)?;
        if float || self.negative {
            return Err(self.error(format!("`{name}` takes {what}")));
        }
        if !INTEGER_SUFFIXES.contains(&suffix) {
            return Err(self.error(format!(
                "`{name}` takes a whole number; `{suffix}` is not an integer type (accepted suffixes: {})",
                list(&INTEGER_SUFFIXES[1..])
            )));
        }
        digits
            .parse()
            .map_err(|_| self.error(format!("`{name}` must fit in a `u32`")))
    }

    /// The literal's text for the runtime's duration grammar: a number, not a string.
    pub(super) fn duration(&self, name: &str) -> syn::Result<String> {
        let what = if name == "hedge" {
            "a delay (`50ms`), a `Hedging` (`hedge = LOOKUP`) or a `static` `HedgeEstimator` (`hedge = SEARCH`, an adaptive delay)"
        } else {
            "a duration: seconds (`45`, `0.5`), a literal with a unit (`250ms`), or a `Duration` expression"
        };
        let text = match self.lit {
            Lit::Int(int) => int.to_string(),
            Lit::Float(float) => float.to_string(),
            _ => return Err(self.error(format!("`{name}` takes {what}"))),
        };
        Ok(if self.negative {
            format!("-{text}")
        } else {
            text
        })
    }

    pub(super) fn number(&self, name: &str) -> syn::Result<f64> {
        let what = "a number, like `wait_exp_base = 2`";
        let (digits, suffix, _) = self.parts(name, what)?;
        if !matches!(suffix, "" | "f32" | "f64") {
            return Err(self.error(format!(
                "`{name}` takes a number; `{suffix}` is not a float type (accepted suffixes: `f32`, `f64`)"
            )));
        }
        let value: f64 = digits
            .parse()
            .map_err(|_| self.error(format!("`{name}` takes {what}")))?;
        Ok(if self.negative { -value } else { value })
    }
}

fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("`{s}`")).collect();
    quoted.join(", ")
}

/// `Some(x)` is `x`: `attempts` and `timeout` take `None` for no limit, so users write `Some`.
pub(super) fn unwrap_some(expr: Expr) -> Expr {
    if let Expr::Call(call) = &expr {
        if let Expr::Path(p) = &*call.func {
            if is_option_variant(p, "Some") && call.args.len() == 1 {
                return call.args[0].clone();
            }
        }
    }
    expr
}

pub(super) fn is_none(expr: &Expr) -> bool {
    matches!(expr, Expr::Path(p) if is_option_variant(p, "None"))
}

/// `None`, `Option::None`, `::core::option::Option::None` and the like (`variant` for `Some`).
pub(super) fn is_option_variant(path: &syn::ExprPath, variant: &str) -> bool {
    let segments: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let Some((last, init)) = segments.split_last() else {
        return false;
    };
    let full = ["core", "option", "Option"];
    path.qself.is_none()
        && last == variant
        && path.path.segments.iter().all(|s| s.arguments.is_none())
        && (init.is_empty()
            || init.ends_with(&["Option".to_owned()])
                && (full.ends_with(&init.iter().map(String::as_str).collect::<Vec<_>>())
                    || init.len() == 3 && init[0] == "std" && init[1..] == full[1..]))
}

/// `f64::NAN`, `core::f32::INFINITY`, `f64::NEG_INFINITY` and the like.
pub(super) fn is_non_finite(expr: &Expr) -> bool {
    let Expr::Path(path) = expr else {
        return false;
    };
    let segments: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    matches!(
        segments.as_slice(),
        [.., float, constant]
            if (float == "f64" || float == "f32")
                && matches!(constant.as_str(), "NAN" | "INFINITY" | "NEG_INFINITY")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_variants() {
        let is = |s: &str, v: &str| is_option_variant(&syn::parse_str(s).unwrap(), v);
        for none in [
            "None",
            "Option::None",
            "option::Option::None",
            "core::option::Option::None",
        ] {
            assert!(is(none, "None"), "{none}");
        }
        assert!(is("::core::option::Option::None", "None"));
        assert!(is("::std::option::Option::None", "None"));
        assert!(is("Some", "Some"));
        assert!(!is("my::None", "None"));
        assert!(!is("Option::<u32>::None", "None"));
        assert!(!is("None", "Some"));
    }
}
