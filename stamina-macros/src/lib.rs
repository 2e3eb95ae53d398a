//! The `#[retry]` attribute of [`stamina`](https://docs.rs/stamina). Use it through
//! `stamina::retry`: this crate is an implementation detail, and its version is pinned by
//! `stamina`'s.
//!
//! The attribute is a pipeline, one concern per module: `args` (the attribute's arguments),
//! `item` (the fn), `validate` (the rules), `expand` (the code), `fallback` (what to emit on an
//! error).
#![doc(test(attr(deny(warnings))))]

mod args;
mod expand;
mod fallback;
mod item;
mod validate;

use proc_macro::TokenStream;

#[doc = include_str!("retry.md")]
#[proc_macro_attribute]
pub fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    run(args.into(), item.into()).into()
}

/// parse -> validate -> expand; any error goes to `fallback`.
fn run(args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let parsed: item::RetryFn = match syn::parse2(item.clone()) {
        Ok(parsed) => parsed,
        Err(error) => {
            let error = syn::Error::new(
                error.span(),
                format!("`#[retry]` applies to fns and methods: {error}"),
            );
            return fallback::with_tokens(&error, item);
        }
    };
    let result = syn::parse2::<args::Args>(args).and_then(|args| validate::check(args, &parsed));
    let plan = match result {
        Ok(plan) => plan,
        Err(error) => return fallback::with_fn(&error, parsed),
    };
    expand::expand(&plan, parsed)
}
