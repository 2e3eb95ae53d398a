//! The fn under the attribute: its attributes, visibility and signature, parsed; its body kept as
//! tokens, parsed only to recognise a body that `#[async_trait]` rewrote.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::{
    AttrStyle, Attribute, Block, Error, Expr, Local, ReturnType, Signature, Stmt, Token, Type,
    Visibility, braced, token,
};

use crate::types;

/// A fn, a method or an associated fn, with or without a body.
pub(crate) struct RetryFn {
    /// The outer attributes, then the body's inner ones (`#![allow(..)]`) made outer: the body
    /// moves into a closure, where inner attributes are not allowed.
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    /// `None` for a declaration without a body (`fn f(&self) -> R;` in a trait).
    pub(crate) body: Option<Body>,
    /// The `;` of a declaration without a body.
    semi: Option<Token![;]>,
}

/// A fn body as written, braces included.
pub(crate) struct Body {
    pub(crate) brace: token::Brace,
    pub(crate) stmts: TokenStream,
}

impl Parse for RetryFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        if input.peek(Token![;]) {
            let semi = input.parse()?;
            return Ok(RetryFn {
                attrs,
                vis,
                sig,
                body: None,
                semi: Some(semi),
            });
        }
        let content;
        let brace = braced!(content in input);
        for mut inner in content.call(Attribute::parse_inner)? {
            inner.style = AttrStyle::Outer;
            attrs.push(inner);
        }
        let stmts = content.parse()?;
        Ok(RetryFn {
            attrs,
            vis,
            sig,
            body: Some(Body { brace, stmts }),
            semi: None,
        })
    }
}

impl ToTokens for RetryFn {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        for attr in &self.attrs {
            attr.to_tokens(tokens);
        }
        self.vis.to_tokens(tokens);
        self.sig.to_tokens(tokens);
        match &self.body {
            Some(body) => body.to_tokens(tokens),
            None => self.semi.unwrap_or_default().to_tokens(tokens),
        }
    }
}

impl ToTokens for Body {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.brace
            .surround(tokens, |tokens| self.stmts.to_tokens(tokens));
    }
}

/// A fn body that `#[async_trait]` rewrote, with the original body found inside it.
///
/// `#[async_trait]` on an impl runs before the `#[retry]` on one of its fns, and turns
/// `async fn f(&self) -> R { body }` into a plain fn that boxes an `async move` block:
///
/// ```text
/// fn f<'life0, 'async_trait>(&'life0 self) -> Pin<Box<dyn Future<Output = R> + Send + 'async_trait>> {
///     Box::pin(async move {
///         if let Some(__ret) = None::<R> { return __ret; }
///         let __self = self;
///         let __ret: R = { body };
///         __ret
///     })
/// }
/// ```
///
/// The retry loop goes in place of `{ body }`, around it.
pub(crate) struct AsyncTrait {
    block: Block,
    /// `R`: the async fn's own return type.
    pub(crate) ret: Type,
    /// The original body, braces included.
    pub(crate) body: Body,
}

impl AsyncTrait {
    /// Recognises the shape: the body's last statement calls a path that ends in `Box::pin`
    /// with one `async move` block (`tracing-attributes` checks the same), and that block has
    /// the `let __ret: R = ..;` statement.
    pub(crate) fn of(body: &Body) -> Option<Self> {
        let stmts = syn::parse::Parser::parse2(Block::parse_within, body.stmts.clone()).ok()?;
        let mut block = Block {
            brace_token: body.brace,
            stmts,
        };
        let local = ret_local(&mut block)?;
        let syn::Pat::Type(typed) = &local.pat else {
            return None;
        };
        let ret = (*typed.ty).clone();
        let init = local.init.as_ref()?;
        // `#[async_trait]` keeps the body's braces: `let __ret: R = { body };`.
        let original = match &*init.expr {
            Expr::Block(inner) if inner.attrs.is_empty() && inner.label.is_none() => Body {
                brace: inner.block.brace_token,
                stmts: {
                    let stmts = &inner.block.stmts;
                    quote::quote!(#(#stmts)*)
                },
            },
            other => Body {
                brace: body.brace,
                stmts: other.to_token_stream(),
            },
        };
        Some(AsyncTrait {
            block,
            ret,
            body: original,
        })
    }

    /// The rewritten fn's body, with `run` in place of the original body.
    pub(crate) fn with_body(mut self, run: TokenStream) -> TokenStream {
        if let Some(init) = ret_local(&mut self.block).and_then(|local| local.init.as_mut()) {
            *init.expr = Expr::Verbatim(run);
        }
        let stmts = &self.block.stmts;
        quote::quote!(#(#stmts)*)
    }
}

/// The `let __ret: R = ..;` statement (without `else`) in the `Box::pin(async move { .. })` that
/// ends `block`: the one place that knows `#[async_trait]`'s shape.
fn ret_local(block: &mut Block) -> Option<&mut Local> {
    let Some(Stmt::Expr(Expr::Call(call), None)) = block.stmts.last_mut() else {
        return None;
    };
    if !is_box_pin(&call.func) || call.args.len() != 1 {
        return None;
    }
    let Some(Expr::Async(inner)) = call.args.first_mut() else {
        return None;
    };
    inner.capture?;
    inner.block.stmts.iter_mut().find_map(|stmt| {
        let Stmt::Local(local) = stmt else {
            return None;
        };
        let syn::Pat::Type(typed) = &local.pat else {
            return None;
        };
        let syn::Pat::Ident(ident) = &*typed.pat else {
            return None;
        };
        let plain = local
            .init
            .as_ref()
            .is_some_and(|init| init.diverge.is_none());
        (ident.ident == "__ret" && plain).then_some(local)
    })
}

fn is_box_pin(func: &Expr) -> bool {
    let Expr::Path(path) = func else { return false };
    let mut segments = path.path.segments.iter().rev();
    matches!(
        (segments.next(), segments.next()),
        (Some(pin), Some(boxed)) if pin.ident == "pin" && boxed.ident == "Box"
    )
}

/// How the body runs, and the fn's return type with `impl Trait` made `_` (a type that can be
/// written in the body).
pub(crate) enum Shape {
    /// A plain fn: each attempt is a closure.
    Sync { ret: Type },
    /// An `async fn`: each attempt is an `async` block.
    Async { ret: Type },
    /// A fn that `#[async_trait]` rewrote: the loop goes inside its boxed `async move` block.
    AsyncTrait(AsyncTrait),
    /// A fn that returns `impl Stream<Item = Result<..>>` (or `impl Iterator`, with `iter`): the
    /// body makes each attempt's stream. `item`: the `Item` type as written, which fixes the
    /// error type before `on` is checked (a body may leave it to inference: `.map(Ok)`).
    Stream { iter: bool, item: Option<Type> },
}

impl Shape {
    /// Whether the fn's error type may not be `'static`: see [`types::may_borrow`]. A stream
    /// whose item type is not written is assumed to.
    pub(crate) fn may_borrow(&self, generics: &syn::Generics) -> bool {
        match self {
            Shape::Sync { ret } | Shape::Async { ret } => types::may_borrow(ret, generics),
            Shape::AsyncTrait(async_trait) => types::may_borrow(&async_trait.ret, generics),
            Shape::Stream { item: Some(ty), .. } => types::may_borrow(ty, generics),
            Shape::Stream { item: None, .. } => true,
        }
    }
}

/// Which expansion the fn needs.
pub(crate) fn shape(item: &RetryFn) -> syn::Result<Shape> {
    let Some(body) = &item.body else {
        return Err(Error::new_spanned(
            &item.sig,
            "`#[stamina::retry]` needs a fn with a body; put it on the fn that implements this one",
        ));
    };
    // A fn without a return type returns `()`, which the runtime's `Result` check reports, at
    // the fn's name.
    let ret = match &item.sig.output {
        ReturnType::Default => syn::parse_quote_spanned!(item.sig.ident.span()=> ()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    let streamed = stream_kind(&ret);
    if item.sig.asyncness.is_some() {
        if streamed.is_some() {
            return Err(Error::new_spanned(
                ret,
                "`#[stamina::retry]` retries a stream from a plain fn that returns it: remove `async`; for a stream that needs an `async` connect first, use `RetryingCaller::reconnect`",
            ));
        }
        return Ok(Shape::Async {
            ret: erase_impl_trait(&ret),
        });
    }
    if let Some(iter) = streamed {
        let item = types::item_type(&ret).map(erase_impl_trait);
        return Ok(Shape::Stream { iter, item });
    }
    if let Some(async_trait) = AsyncTrait::of(body) {
        return Ok(Shape::AsyncTrait(async_trait));
    }
    if let Type::ImplTrait(_) = ret {
        return Err(Error::new_spanned(
            ret,
            "`#[stamina::retry]` needs a fn that returns `Result<T, E>`, `impl Stream<Item = Result<T, E>>` or `impl Iterator<Item = Result<T, E>>`, not another `impl Trait`; for a future, make the fn an `async fn`",
        ));
    }
    Ok(Shape::Sync {
        ret: erase_impl_trait(&ret),
    })
}

/// `Some(false)` for `impl Stream<..>`, `Some(true)` for `impl Iterator<..>` (by the trait's
/// last path segment: `futures::Stream`, `tokio_stream::Stream` and `Stream` alike).
fn stream_kind(ret: &Type) -> Option<bool> {
    let Type::ImplTrait(impl_trait) = ret else {
        return None;
    };
    impl_trait.bounds.iter().find_map(|bound| match bound {
        syn::TypeParamBound::Trait(t) => match t.path.segments.last()?.ident.to_string().as_str() {
            "Stream" => Some(false),
            "Iterator" => Some(true),
            _ => None,
        },
        _ => None,
    })
}

/// `impl Trait` cannot be written inside a fn body; `_` infers the same type. (A walk of its
/// own rather than syn's `visit-mut`, a syn feature no other common proc macro turns on: users
/// would compile it for this alone.)
fn erase_impl_trait(ty: &Type) -> Type {
    fn erase(ty: &mut Type) {
        match ty {
            Type::ImplTrait(impl_trait) => {
                *ty = syn::parse_quote_spanned!(impl_trait.impl_token.span=> _);
            }
            Type::Path(path) => {
                if let Some(qself) = &mut path.qself {
                    erase(&mut qself.ty);
                }
                for segment in &mut path.path.segments {
                    if let syn::PathArguments::AngleBracketed(args) = &mut segment.arguments {
                        for arg in &mut args.args {
                            if let syn::GenericArgument::Type(ty) = arg {
                                erase(ty);
                            }
                        }
                    }
                }
            }
            Type::Tuple(tuple) => tuple.elems.iter_mut().for_each(erase),
            Type::Reference(reference) => erase(&mut reference.elem),
            Type::Array(array) => erase(&mut array.elem),
            Type::Slice(slice) => erase(&mut slice.elem),
            Type::Paren(paren) => erase(&mut paren.elem),
            Type::Group(group) => erase(&mut group.elem),
            Type::Ptr(ptr) => erase(&mut ptr.elem),
            _ => {}
        }
    }
    let mut ty = ty.clone();
    erase(&mut ty);
    ty
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(tokens: &TokenStream) -> Body {
        let item: RetryFn = syn::parse2(quote::quote!(fn f() -> R #tokens)).unwrap();
        item.body.unwrap()
    }

    #[test]
    fn recognises_the_async_trait_shape_and_replaces_the_body() {
        let rewritten = body(&quote::quote!({
            Box::pin(async move {
                if let Some(__ret) = None::<R> {
                    return __ret;
                }
                let __self = self;
                let __ret: R = { original() };
                __ret
            })
        }));
        let found = AsyncTrait::of(&rewritten).expect("the shape");
        assert_eq!(found.ret.to_token_stream().to_string(), "R");
        assert_eq!(found.body.stmts.to_string(), "original ()");
        let replaced = found.with_body(quote::quote!({ retried() })).to_string();
        assert!(
            replaced.contains("let __ret : R = { retried () } ;"),
            "{replaced}"
        );
    }

    #[test]
    fn other_bodies_are_not_the_shape() {
        assert!(AsyncTrait::of(&body(&quote::quote!({ Box::pin(async { 1 }) }))).is_none());
        assert!(AsyncTrait::of(&body(&quote::quote!({ Box::pin(async move { 1 }) }))).is_none());
        assert!(AsyncTrait::of(&body(&quote::quote!({ Ok(1) }))).is_none());
    }

    #[test]
    fn impl_trait_becomes_inferred_wherever_it_is() {
        let erased = |s: &str| {
            let ty = erase_impl_trait(&syn::parse_str(s).unwrap());
            quote::ToTokens::to_token_stream(&ty).to_string()
        };
        assert_eq!(erased("Result<impl Display, E>"), "Result < _ , E >");
        assert_eq!(
            erased("io::Result<(impl A, &'a [impl B])>"),
            "io :: Result < (_ , & 'a [_]) >"
        );
        assert_eq!(
            erased("Result<Vec<impl C>, Box<dyn Error>>"),
            "Result < Vec < _ > , Box < dyn Error > >"
        );
    }
}
