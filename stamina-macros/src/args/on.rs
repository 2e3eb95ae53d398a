//! `on`: error types, a predicate fn or a closure, told apart by Rust's naming rule.

use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{Error, Expr, Token, Type};

use super::On;

/// `on`: a closure, a type, a tuple of types, a predicate fn's path, or another expression.
///
/// The rule for paths is Rust's naming convention: a last segment that starts with an uppercase
/// letter (`io::Error`, `E`) is a type, one that starts with a lowercase letter or `_`
/// (`is_transient`, `Self::should_retry`) is a fn. Primitive types (`u8`, `str`) are types.
pub(super) fn parse_on(input: ParseStream<'_>) -> syn::Result<On> {
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
pub(super) fn fn_segment(ty: &Type) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::super::{Args, Value};
    use super::*;

    fn args(s: &str) -> Args {
        match syn::parse_str::<Args>(s) {
            Ok(args) => args,
            Err(e) => panic!("`{s}`: {e}"),
        }
    }

    #[test]
    fn sorts_on_by_the_naming_rule() {
        let on = |s: &str| match args(s).list.into_iter().next().unwrap().value {
            Value::On(on) => on,
            _ => panic!("`{s}`"),
        };
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
