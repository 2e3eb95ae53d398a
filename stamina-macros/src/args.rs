//! The attribute's arguments: `on = ..`, `attempts = ..`, `timeout = ..` and the others, parsed
//! by hand with `lookahead1` so that unknown input gets "expected one of ..".
//!
//! Parsing checks the form of each value and records its span; the rules that look at a value's
//! meaning (`attempts = 0`, a negative duration) are in `validate.rs`.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Error, Expr, Ident, LitStr, Path, Token, Type};

/// The custom keywords, one per argument (`crate` is a Rust keyword already).
pub(crate) mod kw {
    syn::custom_keyword!(on);
    syn::custom_keyword!(attempts);
    syn::custom_keyword!(timeout);
    syn::custom_keyword!(wait_initial);
    syn::custom_keyword!(wait_max);
    syn::custom_keyword!(wait_jitter);
    syn::custom_keyword!(wait_exp_base);
    syn::custom_keyword!(name);
}

/// Every argument's name, in the order the docs list them.
pub(crate) const NAMES: [&str; 9] = [
    "on",
    "attempts",
    "timeout",
    "wait_initial",
    "wait_max",
    "wait_jitter",
    "wait_exp_base",
    "name",
    "crate",
];

/// An argument's value with the span of its key, for errors about the argument as a whole.
pub(crate) struct Keyed<T> {
    pub(crate) key: Span,
    pub(crate) value: T,
}

/// The parsed arguments; each is `None` when not given.
pub(crate) struct Args {
    pub(crate) on: Option<Keyed<On>>,
    pub(crate) attempts: Option<Keyed<Attempts>>,
    pub(crate) timeout: Option<Keyed<Seconds>>,
    pub(crate) wait_initial: Option<Keyed<Seconds>>,
    pub(crate) wait_max: Option<Keyed<Seconds>>,
    pub(crate) wait_jitter: Option<Keyed<Seconds>>,
    pub(crate) wait_exp_base: Option<Keyed<Number>>,
    pub(crate) name: Option<Keyed<LitStr>>,
    pub(crate) krate: Option<Keyed<Path>>,
    /// Where to point "missing `on`": the arguments, or the attribute when there are none.
    pub(crate) span: Span,
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

/// `attempts = 5`, `attempts = None` or a constant expression of type `u32`.
pub(crate) enum Attempts {
    None,
    Literal(syn::LitInt),
    Expr(Expr),
}

/// A duration: `None` (for `timeout`), a literal number of seconds, or a `Duration` expression.
pub(crate) enum Seconds {
    None(Span),
    /// A literal, maybe negated: `45`, `0.5`, `-1`.
    Literal(NumberLit),
    /// A path such as `f64::INFINITY`, which is a number but never a valid duration.
    NonFinite(Expr),
    Expr(Expr),
}

/// `wait_exp_base`: a literal or a constant expression of type `f64`.
pub(crate) enum Number {
    Literal(NumberLit),
    NonFinite(Expr),
    Expr(Expr),
}

/// A numeric literal as written, with its sign.
pub(crate) struct NumberLit {
    pub(crate) negative: bool,
    pub(crate) lit: syn::Lit,
    pub(crate) span: Span,
}

impl NumberLit {
    /// The literal's value as `f64` (`inf` for a float literal too large for it).
    pub(crate) fn value(&self) -> syn::Result<f64> {
        let magnitude = match &self.lit {
            syn::Lit::Int(i) => i.base10_parse::<u128>()? as f64,
            syn::Lit::Float(f) => f.base10_parse::<f64>()?,
            _ => unreachable!("only numeric literals are kept"),
        };
        Ok(if self.negative { -magnitude } else { magnitude })
    }
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args {
            on: None,
            attempts: None,
            timeout: None,
            wait_initial: None,
            wait_max: None,
            wait_jitter: None,
            wait_exp_base: None,
            name: None,
            krate: None,
            span: if input.is_empty() {
                Span::call_site()
            } else {
                input.span()
            },
        };
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::on) {
                let key = value_of::<kw::on>(input, "on = std::io::Error")?;
                let value = parse_on(input)?;
                set_once(&mut args.on, "on", key, value)?;
            } else if lookahead.peek(kw::attempts) {
                let key = value_of::<kw::attempts>(input, "attempts = 5")?;
                let value = parse_attempts(input)?;
                set_once(&mut args.attempts, "attempts", key, value)?;
            } else if lookahead.peek(kw::timeout) {
                let key = value_of::<kw::timeout>(input, "timeout = 45")?;
                let value = parse_seconds(input)?;
                set_once(&mut args.timeout, "timeout", key, value)?;
            } else if lookahead.peek(kw::wait_initial) {
                let key = value_of::<kw::wait_initial>(input, "wait_initial = 0.1")?;
                let value = parse_seconds(input)?;
                set_once(&mut args.wait_initial, "wait_initial", key, value)?;
            } else if lookahead.peek(kw::wait_max) {
                let key = value_of::<kw::wait_max>(input, "wait_max = 5")?;
                let value = parse_seconds(input)?;
                set_once(&mut args.wait_max, "wait_max", key, value)?;
            } else if lookahead.peek(kw::wait_jitter) {
                let key = value_of::<kw::wait_jitter>(input, "wait_jitter = 1")?;
                let value = parse_seconds(input)?;
                set_once(&mut args.wait_jitter, "wait_jitter", key, value)?;
            } else if lookahead.peek(kw::wait_exp_base) {
                let key = value_of::<kw::wait_exp_base>(input, "wait_exp_base = 2")?;
                let value = parse_number(input)?;
                set_once(&mut args.wait_exp_base, "wait_exp_base", key, value)?;
            } else if lookahead.peek(kw::name) {
                let key = value_of::<kw::name>(input, "name = \"my_crate::fetch\"")?;
                let value = parse_value::<LitStr>(input, "name", "a string literal")?;
                set_once(&mut args.name, "name", key, value)?;
            } else if lookahead.peek(Token![crate]) {
                let key = value_of::<Token![crate]>(input, "crate = ::my_reexport::stamina")?;
                let value = parse_value(input, "crate", "a path to the `stamina` crate")?;
                set_once(&mut args.krate, "crate", key, value)?;
            } else if input.peek(Ident::peek_any) {
                return Err(unknown_argument(&input.call(Ident::parse_any)?));
            } else {
                return Err(lookahead.error());
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(args)
    }
}

/// Parses `key =` and returns the key's span; a key without `=` and a value is an error that
/// shows the form.
fn value_of<K: Parse + Spanned>(input: ParseStream<'_>, example: &str) -> syn::Result<Span> {
    let key = input.parse::<K>()?.span();
    let name = example.split(' ').next().unwrap_or(example);
    let missing = || Error::new(key, format!("`{name}` needs a value, like `{example}`"));
    if !input.peek(Token![=]) {
        return Err(missing());
    }
    input.parse::<Token![=]>()?;
    if input.is_empty() || input.peek(Token![,]) {
        return Err(missing());
    }
    Ok(key)
}

/// Stores an argument's value, or reports it as given twice. The one place that detects
/// duplicates, for every key alike.
fn set_once<T>(slot: &mut Option<Keyed<T>>, name: &str, key: Span, value: T) -> syn::Result<()> {
    if slot.is_some() {
        return Err(Error::new(
            key,
            format!("duplicate argument `{name}`; give each argument once"),
        ));
    }
    *slot = Some(Keyed { key, value });
    Ok(())
}

/// Parses a value of a fixed syntax, with an error that names the argument.
fn parse_value<T: Parse>(input: ParseStream<'_>, name: &str, what: &str) -> syn::Result<T> {
    let span = input.span();
    input
        .parse()
        .map_err(|_| Error::new(span, format!("`{name}` takes {what}")))
}

/// The error for an unknown key, with the nearest known one.
fn unknown_argument(ident: &Ident) -> Error {
    let given = ident.unraw().to_string();
    let message = match nearest(&given) {
        Some(known) => format!("unknown argument `{given}`; did you mean `{known}`?"),
        None => format!(
            "unknown argument `{given}`; expected one of {}",
            NAMES.map(|n| format!("`{n}`")).join(", ")
        ),
    };
    Error::new(ident.span(), message)
}

/// The known name closest to `given`, if any is close enough to be a typo of it.
fn nearest(given: &str) -> Option<&'static str> {
    let lower = given.to_ascii_lowercase();
    NAMES
        .iter()
        .map(|&known| (edit_distance(&lower, known), known))
        .filter(|&(distance, known)| {
            distance <= (known.len() / 3).max(1)
                || (known.len() > 2 && (lower.contains(known) || known.contains(lower.as_str())))
        })
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, known)| known)
}

/// Levenshtein distance, on bytes (argument names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// `on`: a closure, a type, a tuple of types, a predicate fn's path, or another expression.
///
/// The rule for paths is Rust's naming convention: a last segment that starts with an uppercase
/// letter (`io::Error`, `E`) is a type, one that starts with a lowercase letter or `_`
/// (`is_transient`, `Self::should_retry`) is a fn. Primitive types (`u8`, `str`) are types.
fn parse_on(input: ParseStream<'_>) -> syn::Result<On> {
    if starts_closure(input) {
        return Ok(On::Value(input.parse()?));
    }
    let fork = input.fork();
    if let Ok(ty) = fork.parse::<Type>() {
        if (fork.is_empty() || fork.peek(Token![,])) && !has_parenthesized_args(&ty) {
            let ty: Type = input.parse()?;
            return classify_on(ty);
        }
    }
    let expr: Expr = input.parse().map_err(|e| {
        Error::new(
            e.span(),
            "`on` takes an error type (`on = io::Error`), a tuple of error types, a closure or the path of a predicate fn",
        )
    })?;
    Ok(On::Value(expr))
}

/// `check(MyError)` parses as a type (`Fn(A)`-style arguments) but is a call.
fn has_parenthesized_args(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    path.path
        .segments
        .iter()
        .any(|s| matches!(s.arguments, syn::PathArguments::Parenthesized(_)))
}

fn starts_closure(input: ParseStream<'_>) -> bool {
    input.peek(Token![|])
        || input.peek(Token![||])
        || input.peek(Token![move])
        || (input.peek(Token![async]) && !input.peek2(syn::token::Brace))
        || input.peek(Token![static])
        || input.peek(Token![for])
}

fn classify_on(ty: Type) -> syn::Result<On> {
    match ty {
        Type::Paren(paren) => classify_on(*paren.elem),
        Type::Tuple(tuple) if tuple.elems.is_empty() => Err(Error::new(
            tuple.span(),
            "`on = ()` names no error type; name at least one, like `on = (io::Error, MyError)`",
        )),
        Type::Tuple(tuple) => {
            let mut types = Vec::with_capacity(tuple.elems.len());
            for elem in tuple.elems {
                if let Some(segment) = fn_segment(&elem) {
                    return Err(Error::new(
                        elem.span(),
                        format!(
                            "a tuple in `on` lists error types, and `{segment}` is a fn by the naming rule (a lowercase last segment); to combine predicates, use a closure: `on = |e| {segment}(e) || ..`"
                        ),
                    ));
                }
                types.push(elem);
            }
            Ok(On::Types(types))
        }
        Type::Path(mut path) if fn_segment(&Type::Path(path.clone())).is_some() => {
            // In an expression, generic arguments need the turbofish: `is_transient::<E>`.
            for segment in &mut path.path.segments {
                if let syn::PathArguments::AngleBracketed(args) = &mut segment.arguments {
                    args.colon2_token.get_or_insert_with(Default::default);
                }
            }
            Ok(On::Fn(Expr::Path(syn::ExprPath {
                attrs: Vec::new(),
                qself: path.qself,
                path: path.path,
            })))
        }
        other => Ok(On::Types(vec![other])),
    }
}

/// The last segment of a path type that names a fn by the naming rule.
fn fn_segment(ty: &Type) -> Option<String> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    let name = last.ident.unraw().to_string();
    let first = name.chars().next()?;
    let primitive = path.qself.is_none()
        && path.path.segments.len() == 1
        && path.path.leading_colon.is_none()
        && PRIMITIVES.contains(&name.as_str());
    (!primitive && (first.is_lowercase() || first == '_')).then_some(name)
}

const PRIMITIVES: [&str; 17] = [
    "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64",
    "i128", "isize", "f32", "f64",
];

fn parse_attempts(input: ParseStream<'_>) -> syn::Result<Attempts> {
    let expr = unwrap_some(input.parse::<Expr>()?);
    Ok(match expr {
        Expr::Path(p) if is_option_variant(&p, "None") => Attempts::None,
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(lit),
            ..
        }) => Attempts::Literal(lit),
        Expr::Lit(syn::ExprLit { lit, .. }) => {
            return Err(Error::new(
                lit.span(),
                "`attempts` takes a whole number, like `attempts = 5`, or `None` for no limit",
            ));
        }
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            ..
        }) => {
            return Err(Error::new(
                expr.span(),
                "`attempts` must be at least 1; use `attempts = None` for no limit",
            ));
        }
        other => Attempts::Expr(other),
    })
}

/// `Some(x)` is `x`: `attempts` and `timeout` take `None` for no limit, so users write `Some`.
fn unwrap_some(expr: Expr) -> Expr {
    if let Expr::Call(call) = &expr {
        if let Expr::Path(p) = &*call.func {
            if is_option_variant(p, "Some") && call.args.len() == 1 {
                return call.args[0].clone();
            }
        }
    }
    expr
}

/// `None`, `Option::None`, `::core::option::Option::None` and the like (`variant` for `Some`).
fn is_option_variant(path: &syn::ExprPath, variant: &str) -> bool {
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

fn parse_seconds(input: ParseStream<'_>) -> syn::Result<Seconds> {
    let expr = unwrap_some(input.parse::<Expr>()?);
    if let Expr::Path(p) = &expr {
        if is_option_variant(p, "None") {
            return Ok(Seconds::None(p.span()));
        }
    }
    Ok(match classify_number(expr)? {
        Classified::Literal(lit) => Seconds::Literal(lit),
        Classified::NonFinite(expr) => Seconds::NonFinite(expr),
        Classified::Other(expr) => Seconds::Expr(expr),
    })
}

fn parse_number(input: ParseStream<'_>) -> syn::Result<Number> {
    let expr = input.parse::<Expr>()?;
    if let Expr::Path(p) = &expr {
        if is_option_variant(p, "None") {
            return Err(Error::new_spanned(
                p,
                "`wait_exp_base` cannot be `None`; it takes a number of at least 1, like `2`",
            ));
        }
    }
    Ok(match classify_number(expr)? {
        Classified::Literal(lit) => Number::Literal(lit),
        Classified::NonFinite(expr) => Number::NonFinite(expr),
        Classified::Other(expr) => Number::Expr(expr),
    })
}

enum Classified {
    Literal(NumberLit),
    NonFinite(Expr),
    Other(Expr),
}

/// Sorts a value into a numeric literal (maybe negated), a non-finite float constant
/// (`f64::NAN`, `f64::INFINITY`, ..) or anything else.
fn classify_number(expr: Expr) -> syn::Result<Classified> {
    let span = expr.span();
    let (negative, inner) = match expr {
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr: inner,
            ..
        }) => (true, *inner),
        other => (false, other),
    };
    match inner {
        Expr::Lit(syn::ExprLit {
            lit: lit @ (syn::Lit::Int(_) | syn::Lit::Float(_)),
            ..
        }) => Ok(Classified::Literal(NumberLit {
            negative,
            lit,
            span,
        })),
        Expr::Lit(syn::ExprLit { lit, .. }) => Err(Error::new(
            lit.span(),
            "expected a number of seconds (`45`, `0.5`) or a `Duration` expression",
        )),
        Expr::Path(p) if is_non_finite(&p) => Ok(Classified::NonFinite(Expr::Path(p))),
        other if negative => Ok(Classified::Other(Expr::Unary(syn::ExprUnary {
            attrs: Vec::new(),
            op: syn::UnOp::Neg(syn::Token![-](span)),
            expr: Box::new(other),
        }))),
        other => Ok(Classified::Other(other)),
    }
}

/// `f64::NAN`, `core::f32::INFINITY`, `f64::NEG_INFINITY` and the like.
fn is_non_finite(path: &syn::ExprPath) -> bool {
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

impl ToTokens for NumberLit {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        if self.negative {
            syn::Token![-](self.span).to_tokens(tokens);
        }
        self.lit.to_tokens(tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_name() {
        assert_eq!(nearest("attempt"), Some("attempts"));
        assert_eq!(nearest("max_attempts"), Some("attempts"));
        assert_eq!(nearest("wait_exp"), Some("wait_exp_base"));
        assert_eq!(nearest("timout"), Some("timeout"));
        assert_eq!(nearest("wait_min"), Some("wait_max"));
        assert_eq!(nearest("Timeout"), Some("timeout"));
        assert_eq!(nearest("flavor"), None);
    }

    fn error(args: &str) -> String {
        match syn::parse_str::<Args>(args) {
            Ok(_) => panic!("`{args}` parsed"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_every_argument() {
        let args: Args = syn::parse_str(
            "on = io::Error, attempts = 3, timeout = None, wait_initial = 0.5, wait_max = Duration::MAX, \
             wait_jitter = 0, wait_exp_base = 1.5, name = \"x\", crate = ::my::stamina,",
        )
        .unwrap();
        assert!(matches!(args.on.unwrap().value, On::Types(t) if t.len() == 1));
        assert!(matches!(args.attempts.unwrap().value, Attempts::Literal(_)));
        assert!(matches!(args.timeout.unwrap().value, Seconds::None(_)));
        assert!(matches!(args.wait_max.unwrap().value, Seconds::Expr(_)));
        assert!(matches!(
            args.wait_exp_base.unwrap().value,
            Number::Literal(_)
        ));
        assert_eq!(args.name.unwrap().value.value(), "x");
    }

    #[test]
    fn sorts_on_by_the_naming_rule() {
        let on = |s: &str| syn::parse_str::<Args>(s).unwrap().on.unwrap().value;
        assert!(matches!(on("on = (A, b::C)"), On::Types(t) if t.len() == 2));
        assert!(matches!(on("on = (A)"), On::Types(t) if t.len() == 1));
        assert!(matches!(on("on = is_transient"), On::Fn(_)));
        assert!(matches!(on("on = Self::should_retry"), On::Fn(_)));
        assert!(matches!(on("on = |e| e.is_timeout()"), On::Value(_)));
        assert!(matches!(on("on = move |e: &E| true"), On::Value(_)));
        assert!(matches!(on("on = statuses(&[502, 503])"), On::Value(_)));
        assert!(matches!(on("on = check(MyError)"), On::Value(_)));
        // `is_transient<E>` as a type path becomes a turbofish.
        let On::Fn(path) = on("on = is_transient<E>") else {
            panic!("not a fn")
        };
        assert_eq!(quote::quote!(#path).to_string(), "is_transient :: < E >");
    }

    #[test]
    fn odd_input_is_an_error() {
        for (args, message) in [
            ("on", "`on` needs a value"),
            ("on =", "`on` needs a value"),
            ("on = , attempts = 2", "`on` needs a value"),
            ("crate", "`crate` needs a value"),
            ("= 3", "expected one of"),
            ("on = E attempts = 3", "expected `,`"),
            ("on = E, on = F", "duplicate argument `on`"),
            ("on = E, timout = 3", "did you mean `timeout`?"),
            ("on = E, flavor = 3", "expected one of `on`, `attempts`"),
            ("on = E, attempts = 1.5", "whole number"),
            ("on = E, attempts = -1", "at least 1"),
            ("on = E, timeout = \"10\"", "a number of seconds"),
            ("on = E, wait_exp_base = None", "cannot be `None`"),
            ("on = E, name = 5", "`name` takes a string literal"),
            ("on = ()", "names no error type"),
            ("on = (A, is_b)", "`is_b` is a fn by the naming rule"),
        ] {
            let got = error(args);
            assert!(got.contains(message), "`{args}`: {got}");
        }
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", "on"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

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

    #[test]
    fn naming_rule() {
        let fn_path = |s: &str| fn_segment(&syn::parse_str(s).unwrap());
        assert_eq!(fn_path("is_transient").as_deref(), Some("is_transient"));
        assert_eq!(
            fn_path("Self::should_retry").as_deref(),
            Some("should_retry")
        );
        assert_eq!(fn_path("retry::<E>").as_deref(), Some("retry"));
        assert_eq!(fn_path("std::io::Error"), None);
        assert_eq!(fn_path("E"), None);
        assert_eq!(fn_path("u8"), None);
        assert_eq!(fn_path("Box<dyn std::error::Error>"), None);
    }
}
