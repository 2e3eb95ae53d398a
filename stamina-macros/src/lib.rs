//! The `#[retry]` attribute of the `stamina` crate. Use it through `stamina::retry`, whose docs
//! are its reference: this crate is an implementation detail, and its version is pinned by
//! `stamina`'s.
//!
//! The attribute is a pipeline, one concern per module: `args` (the table of arguments and their
//! values), `item` (the fn and its shape), `types` (what the fn's types say, read from its tokens), `validate`
//! (the rules across arguments and the fn), `expand` (the code), `fallback` (what to emit on an
//! error).

mod args;
mod expand;
mod fallback;
mod item;
mod types;
mod validate;

use proc_macro::TokenStream;

/// Retries a fn on the errors that `on` names. See `stamina::retry` for the reference.
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
                format!("`#[stamina::retry]` applies to fns and methods: {error}"),
            );
            return fallback::with_tokens(&error, item);
        }
    };
    let result = syn::parse2::<args::Args>(args).and_then(|args| validate::check(args, &parsed));
    match result {
        Ok((plan, shape)) => expand::expand(&plan, shape, parsed),
        Err(error) => fallback::with_fn(&error, parsed),
    }
}
