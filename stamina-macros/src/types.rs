//! What the attribute can tell of the fn's types by reading them, before rustc knows them: the
//! error and `Ok` types where the return type writes them, whether the error type may not be
//! `'static`, and the text of a type as the user wrote it (for the `error_type` label).
//!
//! A proc macro sees tokens, not types: `io::Result<T>` hides its error type, and a generic
//! parameter of the enclosing `impl` looks like any other type name. Every answer here is
//! therefore a reading of the tokens, conservative where a wrong answer would not compile.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{GenericArgument, GenericParam, Generics, PathArguments, Type};

/// The generic arguments of a type's last path segment, if it is named `name` (`Result`,
/// `io::Result`, `std::result::Result`).
fn args_of<'t>(ty: &'t Type, name: &str) -> Option<Vec<&'t Type>> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return Some(Vec::new());
    };
    Some(
        args.args
            .iter()
            .filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .collect(),
    )
}

/// The error type of a `Result<T, E>` as written, or `None` for an alias that hides it
/// (`io::Result<T>`).
pub(crate) fn error_type(ret: &Type) -> Option<&Type> {
    args_of(ret, "Result")
        .filter(|args| args.len() == 2)
        .map(|args| args[1])
}

/// The `Ok` type of a `Result<T, E>` or of an alias `Result<T>` (`io::Result<T>`,
/// `reqwest::Result<T>`, whose one argument is the `Ok` type by convention).
pub(crate) fn ok_type(ret: &Type) -> Option<&Type> {
    args_of(ret, "Result")
        .filter(|args| matches!(args.len(), 1 | 2))
        .map(|args| args[0])
}

/// Whether the error of a fn returning `ret` may have a type that is not `'static`, so that
/// hooks must not be shown it as a `dyn Error + 'static` (rustc would require `'static` of it at
/// the fn, and reject a borrowed or generic error type that compiles without the attribute).
///
/// It may, when the error type (or the whole return type, where an alias hides the error)
/// names a lifetime other than `'static`, a reference, `Self`, a generic type parameter of the
/// fn, or a name that reads as a type parameter by Rust's convention (one capital letter,
/// digits after it: `T`, `E`, `T2`): a parameter of the enclosing `impl` looks like that, and
/// the attribute cannot see the `impl`.
pub(crate) fn may_borrow(ret: &Type, generics: &Generics) -> bool {
    let params = type_params(generics);
    if let Some(error) = error_type(ret) {
        return mentions_generic(error.to_token_stream(), &params);
    }
    // `io::Result<T>`, `anyhow::Result<T>`: the one argument is the `Ok` type, by convention,
    // and the hidden error type does not depend on it; only a lifetime may reach it.
    if args_of(ret, "Result").is_some_and(|args| args.len() == 1) {
        return mentions_lifetime(ret.to_token_stream());
    }
    mentions_generic(ret.to_token_stream(), &params)
}

/// Whether `tokens` name a lifetime other than `'static`, or a reference.
fn mentions_lifetime(tokens: TokenStream) -> bool {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    tokens.iter().enumerate().any(|(i, token)| match token {
        TokenTree::Group(group) => mentions_lifetime(group.stream()),
        TokenTree::Punct(p) => is_borrow(p, tokens.get(i + 1)),
        _ => false,
    })
}

/// A `&`, or the `'` of a lifetime other than `'static`.
fn is_borrow(p: &proc_macro2::Punct, next: Option<&TokenTree>) -> bool {
    match p.as_char() {
        '&' => true,
        '\'' => !matches!(next, Some(TokenTree::Ident(id)) if id == "static"),
        _ => false,
    }
}

/// The fn's generic type and const parameters, by name.
pub(crate) fn type_params(generics: &Generics) -> Vec<String> {
    generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Type(t) => Some(t.ident.to_string()),
            GenericParam::Const(c) => Some(c.ident.to_string()),
            GenericParam::Lifetime(_) => None,
        })
        .collect()
}

/// Whether `tokens` (of a type) name a lifetime other than `'static`, a reference, `Self`, one
/// of `params`, or a one-letter type parameter.
fn mentions_generic(tokens: TokenStream, params: &[String]) -> bool {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    tokens.iter().enumerate().any(|(i, token)| match token {
        TokenTree::Group(group) => mentions_generic(group.stream(), params),
        TokenTree::Punct(p) => is_borrow(p, tokens.get(i + 1)),
        TokenTree::Ident(ident) => {
            let name = ident.to_string();
            // `'a`: the lifetime's name, seen above.
            let lifetime =
                i > 0 && matches!(&tokens[i - 1], TokenTree::Punct(p) if p.as_char() == '\'');
            !lifetime && (name == "Self" || params.contains(&name) || looks_like_parameter(&name))
        }
        TokenTree::Literal(_) => false,
    })
}

/// `T`, `E`, `T2`: a type parameter by Rust's naming convention.
fn looks_like_parameter(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase()) && chars.all(|c| c.is_ascii_digit())
}

/// A type as the user wrote it, for a label (`io::Error`, `Box<dyn Error + Send>`), or `None`
/// when it names something generic (`MyError<T>`), whose label is then the full name of the
/// type rustc finds.
pub(crate) fn written(ty: &Type, generics: &Generics) -> Option<String> {
    let tokens = ty.to_token_stream();
    if mentions_generic(tokens.clone(), &type_params(generics)) {
        return None;
    }
    let mut text = String::new();
    write_tokens(tokens, &mut text);
    Some(text)
}

/// Tokens as a reader writes them: `io::Error`, `Box<dyn Error + Send>`, `(A, B)`.
fn write_tokens(tokens: TokenStream, out: &mut String) {
    let mut previous_word = false;
    for token in tokens {
        match token {
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    proc_macro2::Delimiter::Parenthesis => ("(", ")"),
                    proc_macro2::Delimiter::Bracket => ("[", "]"),
                    proc_macro2::Delimiter::Brace => ("{", "}"),
                    proc_macro2::Delimiter::None => ("", ""),
                };
                out.push_str(open);
                write_tokens(group.stream(), out);
                out.push_str(close);
                previous_word = false;
            }
            TokenTree::Ident(ident) => {
                if previous_word {
                    out.push(' ');
                }
                out.push_str(&ident.to_string());
                previous_word = true;
            }
            TokenTree::Literal(lit) => {
                if previous_word {
                    out.push(' ');
                }
                out.push_str(&lit.to_string());
                previous_word = true;
            }
            TokenTree::Punct(p) => {
                match p.as_char() {
                    c @ ('+' | '=') => {
                        out.push(' ');
                        out.push(c);
                        out.push(' ');
                    }
                    c @ (',' | ';') => {
                        out.push(c);
                        out.push(' ');
                    }
                    c => out.push(c),
                }
                previous_word = false;
            }
        }
    }
}

/// The `Item` of `impl Stream<Item = X>` or `impl Iterator<Item = X>`, if written and a
/// `Result` (`Result<T, E>`, `io::Result<T>`, or any alias whose name ends in `Result`).
pub(crate) fn item_type(ret: &Type) -> Option<&Type> {
    let Type::ImplTrait(impl_trait) = ret else {
        return None;
    };
    impl_trait.bounds.iter().find_map(|bound| {
        let syn::TypeParamBound::Trait(t) = bound else {
            return None;
        };
        let PathArguments::AngleBracketed(args) = &t.path.segments.last()?.arguments else {
            return None;
        };
        args.args.iter().find_map(|arg| match arg {
            GenericArgument::AssocType(assoc) if assoc.ident == "Item" => {
                Some(&assoc.ty).filter(|ty| names_a_result(ty))
            }
            _ => None,
        })
    })
}

/// A path type whose last segment's name ends in `Result`.
fn names_a_result(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    path.path
        .segments
        .last()
        .is_some_and(|s| s.ident.to_string().ends_with("Result"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(s: &str) -> Type {
        syn::parse_str(s).unwrap()
    }

    fn borrows(ret: &str, generics: &str) -> bool {
        let generics: Generics = syn::parse_str(generics).unwrap();
        may_borrow(&ty(ret), &generics)
    }

    #[test]
    fn an_error_that_may_borrow_or_be_generic_is_told_apart() {
        for (ret, generics) in [
            ("Result<(), Borrowed<'_>>", ""),
            ("Result<(), Borrowed<'a>>", "<'a>"),
            ("Result<(), &'a str>", "<'a>"),
            ("Result<(), GenericErr<T>>", ""),
            ("Result<(), Failure<Item>>", "<Item>"),
            ("Result<u32, Self::Error>", ""),
            ("Result<(), E>", ""),
            ("io::Result<&'a str>", ""),
            ("PResult<'_, u32>", ""),
        ] {
            assert!(borrows(ret, generics), "{ret}");
        }
        for ret in [
            "Result<(), io::Error>",
            "Result<&'a str, MyError>",
            "io::Result<String>",
            "anyhow::Result<T>",
            "Result<(), Box<dyn Error + Send + Sync>>",
            "Result<(), Cow<'static, str>>",
        ] {
            assert!(!borrows(ret, "<'a>"), "{ret}");
        }
    }

    #[test]
    fn types_read_as_written() {
        let generics = Generics::default();
        let text = |s: &str| written(&ty(s), &generics);
        assert_eq!(text("io :: Error").as_deref(), Some("io::Error"));
        assert_eq!(
            text("Box<dyn std::error::Error + Send + Sync>").as_deref(),
            Some("Box<dyn std::error::Error + Send + Sync>")
        );
        assert_eq!(
            text("reqwest::Response").as_deref(),
            Some("reqwest::Response")
        );
        assert_eq!(
            text("(io::Error, MyError)").as_deref(),
            Some("(io::Error, MyError)")
        );
        assert_eq!(text("MyError<T>"), None);
    }

    #[test]
    fn results_and_items_are_found_where_written() {
        let text = |t: Option<&Type>| t.map(|t| t.to_token_stream().to_string());
        assert_eq!(
            text(ok_type(&ty("reqwest::Result<reqwest::Response>"))).as_deref(),
            Some("reqwest :: Response")
        );
        assert_eq!(
            text(error_type(&ty("Result<u8, E2>"))).as_deref(),
            Some("E2")
        );
        assert_eq!(text(error_type(&ty("io::Result<u8>"))), None);
        assert_eq!(
            text(item_type(&ty("impl Stream<Item = Result<u32, E>> + Send"))).as_deref(),
            Some("Result < u32 , E >")
        );
        assert_eq!(text(item_type(&ty("impl Iterator"))), None);
        assert_eq!(text(item_type(&ty("impl Iterator<Item = u32>"))), None);
    }
}
