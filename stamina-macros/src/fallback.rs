//! What to emit on an error: the compile error, and the fn as written, so that the user sees one
//! error per mistake and the IDE keeps resolving the fn and its callers.

use proc_macro2::TokenStream;
use quote::ToTokens;

use crate::item::RetryFn;
use crate::validate::is_retry;

/// The errors and the fn unchanged, but for any other `#[retry]` on it: that one would report
/// its own errors (or expand), and a fn retried twice is one mistake.
pub(crate) fn with_fn(error: &syn::Error, mut item: RetryFn) -> TokenStream {
    item.attrs.retain(|attr| !is_retry(attr.path()));
    let mut tokens = error.to_compile_error();
    item.to_tokens(&mut tokens);
    tokens
}

/// The error and the input as it came, for input that is not a fn.
pub(crate) fn with_tokens(error: &syn::Error, item: TokenStream) -> TokenStream {
    let mut tokens = error.to_compile_error();
    tokens.extend(item);
    tokens
}
