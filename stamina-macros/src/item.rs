//! The fn under the attribute: its attributes, visibility and signature, parsed; its body kept as
//! tokens, parsed only for the `#[async_trait]` check.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::{AttrStyle, Attribute, Block, Expr, Signature, Stmt, Token, Visibility, braced, token};

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

impl Body {
    /// The body of a fn that `#[async_trait]` rewrote: `Box::pin(async move { .. })`, parsed.
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
    /// The same check as `tracing-attributes`': the body's last statement calls a path that ends
    /// in `Box::pin` with one `async move` block.
    pub(crate) fn async_trait_block(&self) -> Option<Block> {
        let stmts = syn::parse::Parser::parse2(Block::parse_within, self.stmts.clone()).ok()?;
        let is_boxed_async = match stmts.last()? {
            Stmt::Expr(Expr::Call(call), None) => {
                is_box_pin(&call.func)
                    && call.args.len() == 1
                    && matches!(&call.args[0], Expr::Async(block) if block.capture.is_some())
            }
            _ => false,
        };
        is_boxed_async.then(|| Block {
            brace_token: self.brace,
            stmts,
        })
    }
}

fn is_box_pin(func: &Expr) -> bool {
    let Expr::Path(path) = func else { return false };
    let mut segments = path.path.segments.iter().rev();
    matches!(
        (segments.next(), segments.next()),
        (Some(pin), Some(boxed)) if pin.ident == "pin" && boxed.ident == "Box"
    )
}
